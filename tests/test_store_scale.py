"""The store laid out for scale: every named query gives what the SQL before ``report_cells`` gave, the write path's
``report_cells`` rows are the SQL pivot's, and the segment layout keeps its promises (atomic publish under
``kill -9``, published files never rewritten, merges and compaction change nothing a query returns).

The reference is ``tests/metrics_reference.py``: the metric SQL as it was (pivot of ``facts`` per query, one row per
report and metric), run against the same database.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from pipeline import metrics as M
from pipeline.derive import is_total
from pipeline.filters import Filters
from pipeline.metrics import named
from pipeline.metrics.explorer import DERIVED_SUFFIX, EXAMPLE_FIELDS
from pipeline.registry import registry
from pipeline.store import Database, relations
from pipeline.store import segment_files as segfiles
from pipeline.store import segments as seg
from pipeline.store.cells import cell_keys, cells_select
from tests import metrics_reference as reference
from tests.dashboard_fixtures import EVIL_AGENCY, SPARSE_AGENCY, shared_db

QUERIES = sys.modules["pipeline.metrics.queries"]
pytestmark = pytest.mark.usefixtures("close_cached_readers")


def _filter_sets(db: Path, which: str) -> list[Filters]:
    province, city = Database(db).execute(
        "SELECT province, city FROM reports WHERE city IS NOT NULL ORDER BY province, city LIMIT 1"
    )[0]
    agencies = tuple(a for (a,) in Database(db).execute(
        "SELECT DISTINCT agency FROM reports WHERE agency IS NOT NULL ORDER BY agency LIMIT 3"))  # fmt: skip
    if which == "hand":
        return [Filters(), Filters(panel="all", quality="fail"), Filters(agencies=agencies), Filters(years=(1999,))]
    return [
        Filters(),
        Filters(years=(2021, 2022, 2023)),
        Filters(province=province, levels=("县级", "市级")),
        Filters(province=province, city=city, panel="all", min_n=1),
        Filters(quality="pass", editions=("2021",)),
    ]


def _named_queries(db: Path) -> dict[str, Callable]:
    """Every call of every named query (:mod:`pipeline.metrics.named`), and the building blocks the reference
    replaces called directly."""
    with Database(db).cursor() as con:
        calls = named.every_call(named.Sample.of(con))
    return {
        **calls,
        "per_report": lambda c, f: M.per_report(c, f, ["count.t3.granted.total", "rate.correction.suit_direct"]),
        "aggregate complete": lambda c, f: M.aggregate(c, f, ["count.t3.result_total.total", "rate.disclosure",
                                                              "count.t2.regulations.issued"], complete=True),
        "yoy rates and counts": lambda c, f: M.yoy(c, f, ["rate.disclosure", "count.t3.carry_forward.total"]),
    }  # fmt: skip


def _reference(fn: Callable, *args: object) -> object:
    saved = (QUERIES.aggregate, QUERIES.per_report, QUERIES.yoy)
    QUERIES.aggregate, QUERIES.per_report, QUERIES.yoy = reference.aggregate, reference.per_report, reference.yoy
    try:
        return fn(*args)
    finally:
        QUERIES.aggregate, QUERIES.per_report, QUERIES.yoy = saved


def _same(new: object, old: object, what: str) -> None:
    # the same rows, columns and types; sums of amounts (万元) may differ in the last bits with the order of summing
    reference.assert_same_result(new, old, what, rel_tol=1e-12, abs_tol=1e-9)


@pytest.mark.parametrize("which", ["hand", "generated"])
def test_every_named_query_gives_what_the_pivot_sql_gave(which: str, generated: Path,
                                                          tmp_path_factory: pytest.TempPathFactory) -> None:  # fmt: skip
    db = shared_db(tmp_path_factory) if which == "hand" else generated
    queries = _named_queries(db)
    compared = 0
    with Database(db).cursor() as con:
        for filters in _filter_sets(db, which):
            for name, fn in queries.items():
                new = fn(con, filters)
                old = _reference(fn, con, filters)
                _same(new, old, f"{name} {filters.to_query()}")
                compared += 1
                if name == "headline_series" and filters == Filters():
                    assert not new.is_empty()  # the comparison is over real rows
    assert compared == len(queries) * len(_filter_sets(db, which))


@pytest.mark.parametrize("which", ["hand", "generated"])
def test_the_wide_explorer_from_report_cells_is_the_facts_pivot(which: str, generated: Path,
                                                                 tmp_path_factory: pytest.TempPathFactory) -> None:  # fmt: skip
    """Printed values, derived totals, blanks, "/" and 0 in the same columns, types and rows as the pivot of
    ``facts`` and ``derived`` gave: for the example fields, every 总计 key, and every key of the registry."""
    db = shared_db(tmp_path_factory) if which == "hand" else generated
    keys = list(registry().by_key)
    key_sets = [EXAMPLE_FIELDS, [k for k in keys if is_total(k)], keys]
    with Database(db).cursor() as con:
        for filters in _filter_sets(db, which):
            for chosen in key_sets:
                new = M.explorer_wide(con, filters, chosen)
                assert_frame_equal(new, reference.explorer_wide(con, filters, chosen))
                assert new.height == M.selected_reports(con, filters).height  # one row per selected report
        derived = M.explorer_wide(con, Filters(panel="all"), [k for k in keys if is_total(k)])
        assert derived.select(pl.col(f"^.*{DERIVED_SUFFIX}$").is_not_null().any()).row(0).count(True) > 0


@pytest.mark.parametrize("which", ["hand", "generated"])
def test_overview_counts_its_missing_reports_as_the_coverage_matrix_shows_them(
        which: str, generated: Path, tmp_path_factory: pytest.TempPathFactory) -> None:  # fmt: skip
    """``overview_counts`` counts 缺报 in SQL; the agency × year matrix the pages draw is the reference (the same
    filter sets as above, and a year span with a year nobody reported)."""
    db = shared_db(tmp_path_factory) if which == "hand" else generated
    with Database(db).cursor() as con:
        for filters in [*_filter_sets(db, which), Filters(years=(2020, 2031)), Filters(agencies=("no such",))]:
            counts = M.overview_counts(con, filters)
            matrix = M.coverage_matrix(con, filters)
            missing = int((matrix["status"] == "缺报").sum()) if not matrix.is_empty() else 0
            assert counts["n_missing"] == missing, filters
            reports = con.sql(f"SELECT count(*), count(DISTINCT agency) FROM reports r WHERE {filters.where('r')[0]}",
                              params=filters.where("r")[1] or None).fetchall()[0]  # fmt: skip
            assert (counts["n_reports"], counts["n_agencies"]) == reports, filters
        assert M.overview_counts(con, Filters())["n_missing"] > 0  # the comparison is over real gaps


@pytest.mark.parametrize("which", ["hand", "generated"])
def test_the_pages_coverage_grid_and_chart_are_the_coverage_matrix(
        which: str, generated: Path, tmp_path_factory: pytest.TempPathFactory) -> None:  # fmt: skip
    """The pages read the first agencies of the grid (pivoted in SQL) and per-year counts, never the whole matrix:
    both equal what the long matrix gives, for every filter set, with and without 只看有缺报的机关, cut or not."""
    db = shared_db(tmp_path_factory) if which == "hand" else generated
    cut_somewhere = False
    with Database(db).cursor() as con:
        for filters in [*_filter_sets(db, which), Filters(years=(2020, 2031)), Filters(agencies=("no such",))]:
            matrix = M.coverage_matrix(con, filters)
            counts = matrix.group_by("year", "status").len().sort("year", "status") if not matrix.is_empty() else None
            by_year = M.coverage_by_year(con, filters)
            if counts is None:
                assert by_year.is_empty(), filters
            else:
                assert by_year.select("year", "status", "len").to_dicts() == counts.with_columns(
                    pl.col("len").cast(pl.Int64)).to_dicts(), filters  # fmt: skip
            for only_missing in (False, True):
                agencies = matrix.filter(pl.col("status") == "缺报")["agency"].unique() if only_missing else (
                    matrix["agency"].unique())  # fmt: skip
                for limit in (3, 100_000):
                    got = M.coverage_grid(con, filters, only_missing, limit)
                    assert got.n_agencies == len(agencies), filters
                    expected = sorted(agencies.to_list())[:limit]
                    assert got.grid["agency"].to_list() == expected, filters
                    cut_somewhere |= got.n_agencies > limit
                    if expected:
                        wide = matrix.filter(pl.col("agency").is_in(expected)).pivot(
                            on="year", index="agency", values="status", sort_columns=True).sort("agency")  # fmt: skip
                        assert got.grid.to_dicts() == wide.to_dicts(), filters
    assert cut_somewhere  # the limit was exercised


@pytest.mark.parametrize("which", ["hand", "generated"])
def test_top_agencies_are_the_head_of_the_whole_ranking(which: str, generated: Path,
                                                        tmp_path_factory: pytest.TempPathFactory) -> None:  # fmt: skip
    """``top_agencies`` computes the per-agency table only for the agencies that can make the list; the head of the
    whole table (ranked the same way) is the reference — for counts and guarded rates, short lists that cut
    through ties, and a guard nothing passes."""
    db = shared_db(tmp_path_factory) if which == "hand" else generated
    compared = 0
    with Database(db).cursor() as con:
        for filters in [*_filter_sets(db, which), Filters(min_n=10**6), Filters(min_n=0)]:
            for key in ("count.t3.new_received.total", "rate.disclosure", "count.t4.review.total", "share.granted"):
                for limit in (1, 3, 15):
                    whole = M.metric_table(con, filters, key, ("agency",))
                    expected = whole.filter(pl.col("value").is_not_null() & (pl.col("value") > 0) & ~pl.col("guarded"))
                    expected = expected.sort(["value", "agency"], descending=[True, False], nulls_last=True).head(limit)
                    _same(M.top_agencies(con, filters, key, limit), expected, f"{key} {limit} {filters.to_query()}")
                    compared += expected.height
    assert compared > 50


@pytest.mark.parametrize("which", ["hand", "generated"])
def test_peer_groups_are_the_group_sizes_of_the_peer_ranking(which: str, generated: Path,
                                                             tmp_path_factory: pytest.TempPathFactory) -> None:  # fmt: skip
    """``peer_groups`` counts in SQL; the reference groups the per-report ranking (the pivot SQL's per_report)."""
    db = shared_db(tmp_path_factory) if which == "hand" else generated
    compared = 0
    with Database(db).cursor() as con:
        for filters in [*_filter_sets(db, which), Filters(min_n=0), Filters(min_n=10**6)]:
            for key in ("count.t3.new_received.total", "rate.disclosure", "rate.correction.review"):
                for year in (2021, 2023, 1999):
                    ranking = _reference(M.peer_ranking, con, filters, key, year)
                    expected = (
                        (
                            ranking.group_by("agency_type", "level")
                            .agg(pl.col("eligible").sum().alias("n_ranked"), pl.len().alias("n_agencies"))
                            .sort(
                                ["n_ranked", "n_agencies", "agency_type", "level"],
                                descending=[True, True, False, False],
                                nulls_last=True,
                            )
                        )
                        if not ranking.is_empty()
                        else pl.DataFrame(
                            schema={  # fmt: skip
                                "agency_type": pl.String,
                                "level": pl.String,
                                "n_ranked": pl.UInt32,
                                "n_agencies": pl.UInt32,
                            }
                        )
                    )
                    _same(M.peer_groups(con, filters, key, year), expected, f"{key} {year} {filters.to_query()}")
                    compared += expected.height
    assert compared > 20


def test_the_reference_sees_a_derived_total_and_a_replaced_version(tmp_path_factory: pytest.TempPathFactory) -> None:
    """The hand database exercises what the comparison must cover: derived totals, a replaced version (a
    ``retired`` row in a later segment), a report outside the panel, a legacy-free but blank-heavy report."""
    db = shared_db(tmp_path_factory)
    with Database(db).cursor() as con:
        rate = M.outcome_shares_by_year(con, Filters(agencies=(SPARSE_AGENCY,)))
        assert rate.filter(pl.col("metric") == "rate.disclosure")["n_derived"].to_list() == [1]
        assert con.execute("SELECT count(*) FROM reports WHERE NOT is_current").fetchall() == [(1,)]
        assert con.execute("SELECT count(*) FROM report_cells WHERE NOT is_current").fetchall() == [(1,)]
        assert con.execute("SELECT count(*) FROM reports WHERE agency = ?", [EVIL_AGENCY]).fetchall() == [(1,)]
    catalog = Database(db).file
    assert len(segfiles.referenced(catalog) or []) >= 2  # the replacement lives in another segment than the original


@pytest.mark.parametrize("inline", [True, False])
def test_the_narrow_relation_is_the_view_with_fewer_columns(inline: bool, tmp_path_factory: pytest.TempPathFactory,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    """What the metric queries scan instead of the 470-column views: the same rows (a replaced version included,
    its ids written in as constants or joined with ``retired``)."""
    if not inline:
        monkeypatch.setattr(relations, "MAX_INLINE_RETIRED", 0)
    db = shared_db(tmp_path_factory)
    columns = ["report_id", "agency", "year", "is_current", "v__t3__granted__total", "s__t3__granted__total"]
    with Database(db).cursor() as con:
        narrow = relations.narrow_relation(con, "report_cells", columns)
        assert narrow is not None and ("report_id IN (" in narrow) == inline
        got = con.sql(f"SELECT * FROM {narrow} ORDER BY report_id").pl()
        view = con.sql(f"SELECT {', '.join(columns)} FROM report_cells ORDER BY report_id").pl()
        assert not got["is_current"].all()  # the replaced version is there, not current
    assert_frame_equal(got, view)


def test_report_cells_written_by_the_write_path_equal_the_sql_pivot(generated: Path) -> None:
    with Database(generated).cursor() as con:
        written = con.sql("SELECT * FROM report_cells ORDER BY report_id").pl()
        pivoted = con.sql(f"SELECT * FROM ({cells_select()}) ORDER BY report_id").pl()
        assert written.height == con.execute("SELECT count(*) FROM reports").fetchall()[0][0] > 150
    assert_frame_equal(written, pivoted)
    states = written.select(pl.col("^s__.*$")).unpivot()["value"].value_counts()
    assert set(states["value"].drop_nulls().to_list()) >= {2, 4, 5}  # blank, derived, printed all compared


def test_report_cells_of_every_cell_state(tmp_path: Path) -> None:
    """Printed (0 included), derived, blank, "/", not located, ambiguous and not-in-layout cells: written by the
    write path exactly as the SQL pivot gives them, and told apart."""
    from pipeline.derive import derive
    from pipeline.model import Fact
    from tests.test_store import make_result, write_all

    r = make_result("states", values={"t3.granted.natural_person": 0, "t3.granted.total": None,
                                      "t3.partially_granted.total": 3})  # fmt: skip
    r.facts["t4.review.upheld"] = Fact("t4.review.upheld", None, "/", True, "line 9", None, "null_marker")
    r.facts["t4.review.corrected"] = Fact("t4.review.corrected", None, None, False, None, None, "missing")
    r.facts["t4.review.other"] = Fact("t4.review.other", None, "1?2", False, "line 9", None, "ambiguous")
    r.derived = derive(r.facts, "2021", "2021")  # as the parser does: the blank 总计 from its parts
    db = tmp_path / "x.duckdb"
    write_all(db, r)
    with Database(db).cursor() as con:
        written = con.sql("SELECT * FROM report_cells").pl()
        assert_frame_equal(written, con.sql(cells_select()).pl())
        row = written.row(0, named=True)
    cell = {k: (row[f"v__{k.replace('.', '__')}"], row[f"s__{k.replace('.', '__')}"]) for k in (
        "t3.granted.natural_person", "t3.granted.total", "t3.partially_granted.total", "t4.review.upheld",
        "t4.review.corrected", "t4.review.other", "t3.unable_need_creation.natural_person")}  # fmt: skip
    assert cell["t3.granted.natural_person"] == (0.0, 5)  # a printed 0
    assert cell["t3.granted.total"] == (0.0, 4)  # blank 总计, derived from its parts (all 0)
    assert cell["t3.partially_granted.total"] == (3.0, 5)
    assert cell["t4.review.upheld"] == (None, 2)  # "/"
    assert cell["t4.review.corrected"] == (None, 1)  # not located
    assert cell["t4.review.other"] == (None, 1)  # ambiguous


def test_report_cells_of_a_batch_of_several_reports(tmp_path: Path) -> None:
    """One write batch of reports with different values (decimals with up to four places, a value with more, which
    the store refuses: not storable, so ambiguous), a legacy report without tables and a file that is not a report: the rows the write path
    scatters per report and key are the SQL pivot's, row for row."""
    from decimal import Decimal

    from pipeline.model import Meta, ParseResult
    from tests.test_store import make_result, write_all

    results = [
        make_result(f"r{i}", agency=f"测试{i}局", values={"t3.granted.natural_person": v, "t3.new_requests.total": i})
        for i, v in enumerate([Decimal("2.5"), Decimal("0.1234"), Decimal("1.23456"), 7, None, Decimal("-0.0001")])
    ]
    legacy = ParseResult(path="/reports/legacy.txt", sha256="e" * 64, format="txt", facts={}, findings=[],
                         meta=Meta(agency="旧版局", year=2015, edition="legacy"))  # fmt: skip
    db = tmp_path / "x.duckdb"
    write_all(db, *results[:3], legacy, *results[3:])
    with Database(db).cursor() as con:
        written = con.sql("SELECT * FROM report_cells ORDER BY report_id").pl()
        assert written.height == 7
        assert_frame_equal(written, con.sql(f"SELECT * FROM ({cells_select()}) ORDER BY report_id").pl())
    values = written["v__t3__granted__natural_person"].to_list()
    assert values[:4] == [2.5, 0.1234, None, None] and values[4:] == [7.0, None, -0.0001]
    assert written["s__t3__granted__natural_person"].to_list() == [5, 5, 1, None, 5, 2, 5]
    assert written.filter(pl.col("agency") == "旧版局").select(pl.col("^s__.*$")).null_count().row(0) == (
        (1,) * len(cell_keys())
    )


def test_one_current_report_per_agency_and_year(generated: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    """What the aggregates rely on for agency counts and the panel (the write path retires the older version)."""
    for db in (generated, shared_db(tmp_path_factory)):
        dup = Database(db).execute(
            "SELECT agency, year, count(*) FROM reports WHERE is_current AND agency IS NOT NULL"
            " AND year IS NOT NULL GROUP BY ALL HAVING count(*) > 1"
        )
        assert dup == []


# -- the segment layout ------------------------------------------------------------------------------------------


def _files(folder: Path) -> dict[str, tuple[int, int, int]]:
    return {p.name: (p.stat().st_ino, p.stat().st_mtime_ns, p.stat().st_size) for p in folder.iterdir()}


def test_a_write_adds_a_segment_and_never_rewrites_a_published_file(generated: Path, tmp_path: Path) -> None:
    from tests.test_store import make_result, write_all

    db = tmp_path / "x.duckdb"
    write_all(db, make_result("a", agency="甲局"))
    folder = seg.segment_dir(db)
    before = _files(folder)
    catalog = (db.stat().st_ino, db.stat().st_size)
    write_all(db, make_result("b", agency="乙局"), make_result("a2", agency="甲局", values={"t3.granted.total": 7}))
    after = _files(folder)
    assert {k: v for k, v in after.items() if k in before} == before  # published segments untouched
    assert len(after) == len(before) + 1
    assert (db.stat().st_ino, db.stat().st_size) != catalog  # the catalog was swapped
    rows = Database(db).execute("SELECT agency, is_current, replaced_by IS NOT NULL FROM reports ORDER BY report_id")
    assert rows == [("甲局", False, True), ("乙局", True, False), ("甲局", True, False)]


def test_small_segments_are_merged_and_compaction_changes_no_result(tmp_path: Path) -> None:
    from tests.test_store import make_result, write_all

    db = tmp_path / "x.duckdb"
    for i in range(seg.SOFT_MAX_SEGMENTS + 4):
        write_all(db, make_result(f"r{i}", agency=f"局{i % 5}", year=2019 + i % 3, values={"t3.granted.total": i}))
    n = len(segfiles.referenced(Database(db).file) or [])
    assert 1 < n <= seg.SOFT_MAX_SEGMENTS  # merged as they accumulated
    query = "SELECT report_id, agency, year, is_current, replaced_by FROM reports ORDER BY report_id"
    cells = "SELECT report_id, is_current, v__t3__granted__total FROM report_cells ORDER BY report_id"
    before = (Database(db).execute(query), Database(db).execute(cells))
    assert Database(db).compact(full=True) == 1
    assert (Database(db).execute(query), Database(db).execute(cells)) == before
    listed = segfiles.referenced(Database(db).file) or set()
    assert len(listed) == 1
    assert {p.name for p in seg.segment_dir(Database(db).file).iterdir()} == listed  # the merged ones are gone


def _slow_writer(db: str, n: int) -> None:
    from tests.test_store import make_result

    with Database(db).write(batch_size=5) as session:
        for i in range(n):
            session.add(make_result(f"k{i}", agency=f"被杀局{i}"))


@pytest.mark.parametrize("delay", [0.2, 0.6, 1.2, 2.5])
def test_kill_9_at_any_moment_leaves_the_last_published_state(tmp_path: Path, delay: float) -> None:
    from tests.test_store import make_result, write_all

    db = tmp_path / "x.duckdb"
    write_all(db, make_result("base", agency="起始局"))
    ctx = multiprocessing.get_context("spawn")
    child = ctx.Process(target=_slow_writer, args=(str(db), 60))
    child.start()
    time.sleep(delay)
    if child.is_alive():
        os.kill(child.pid, signal.SIGKILL)
    child.join()
    Database.close_all()
    (n,) = Database(db).execute("SELECT count(*) FROM reports")[0]
    assert n in (1, 61)  # the state before the write, or the whole write — never part of it
    assert Database(db).execute("SELECT count(*) FROM report_cells")[0][0] == n
    # the next write removes what the killed writer left (a catalog copy, an unpublished segment)
    write_all(db, make_result("after", agency="之后局"))
    leftovers = [p.name for p in db.parent.iterdir() if ".ingest-" in p.name]
    assert leftovers == []
    listed = segfiles.referenced(db) or set()
    assert {p.name for p in seg.segment_dir(db).iterdir()} == listed
