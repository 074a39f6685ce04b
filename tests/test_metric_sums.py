"""The stored metric sums (``metric_sums``, :mod:`pipeline.metrics.sums`): every query that reads them gives what the
per-report scan of ``report_cells`` gives, on real stores (derived totals, blank / "/" / 0 cells, a replaced
version, region summary reports, reports outside the trend panel), for every filter combination they claim to
answer; the write path keeps them up to date by subtracting and adding what a write changed; a store without them
(or with a stale file) answers through the scan.

The comparison opens the same store twice: through :class:`pipeline.store.Database` (the sums attached) and through
:func:`pipeline.store.segments.open_reader` (no sums: the scan).  Each comparison also checks that the sums really
answered, so a test cannot pass by both sides scanning.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import duckdb
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from pipeline import metrics as M
from pipeline.filters import Filters
from pipeline.metrics import named, regions, sums, sums_agencies, sums_build, sums_update
from pipeline.store import Database
from pipeline.store import segments as seg
from pipeline.store.sums_file import attach, delta_path, leftovers, sums_path
from tests.dashboard_fixtures import shared_db
from tests.metrics_reference import assert_same_result
from tests.regional_fixtures import build_regional
from tests.test_store import make_result, write_all

pytestmark = pytest.mark.usefixtures("close_cached_readers")


def _filters(db: Path) -> list[Filters]:
    """Every kind of filter the sums answer (and the panel cases they decide by the agencies' year masks)."""
    province, city, level, a_type = Database(db).execute(
        "SELECT province, city, level, agency_type FROM reports ORDER BY city IS NULL, level IS NULL, province, city"
        " LIMIT 1"
    )[0]
    years = [y for (y,) in Database(db).execute("SELECT DISTINCT year FROM reports WHERE year IS NOT NULL ORDER BY 1")]
    return [
        Filters(),
        Filters(years=tuple(years[-2:])),
        Filters(years=(years[-1],)),
        Filters(province=province, levels=(level,)),
        Filters(province=province, city=city),
        Filters(agency_types=(a_type,), panel="all"),
        Filters(editions=("2021",)),
        Filters(quality="pass", panel="all"),
        Filters(quality="fail", panel="all", min_n=1),
        Filters(include_summaries=True, panel="all"),
    ]


def _compare(db: Path, only: set[str] | None = None) -> int:
    """Compare every call of every named query (:mod:`pipeline.metrics.named`; ``only``: those named) under every
    filter set; returns how many filter sets the sums answered."""
    answered = 0
    scan = seg.open_reader(Database(db).file)
    try:
        with Database(db).cursor() as con:
            assert sums.available(con), "the store has no up-to-date stored sums"
            queries = named.every_call(named.Sample.of(con))
            if only is not None:
                assert only <= set(queries), only - set(queries)
                queries = {name: fn for name, fn in queries.items() if name in only}
            for filters in _filters(db):
                if sums.grouped(con, filters, [M.metric("rate.disclosure")], ("year",), False) is not None:
                    answered += 1
                for name, fn in queries.items():
                    assert_same_result(fn(con, filters), fn(scan, filters), f"{name} {filters}", 1e-9, 1e-6)
    finally:
        scan.close()
    return answered


@pytest.fixture(scope="module")
def regional(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = build_regional(tmp_path_factory.mktemp("regional")).db
    sums_build.build(Database(db).file)
    return db


@pytest.fixture(scope="module")
def hand(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = shared_db(tmp_path_factory)
    sums_build.build(Database(db).file)
    return db


def test_the_sums_give_what_the_scan_gives_with_summary_reports_and_panels(regional: Path) -> None:
    assert Database(regional).execute("SELECT count(*) FROM reports WHERE is_summary")[0][0] > 0
    answered = _compare(regional)
    assert answered >= 7  # all but the quality / summaries panels, which the masks cannot decide
    rates = [M.metric("rate.disclosure")]
    with Database(regional).cursor() as con:  # the roll-ups' distinct agencies came from the stored year masks
        for filters in _filters(regional)[:-1]:  # (not with summary reports included: those scan)
            for by in (("province",), ("city",), ("level", "agency_type"), ()):
                assert sums_agencies.counted(con, filters, rates, by) is not None, (filters, by)
        assert sums_agencies.counted(con, Filters(include_summaries=True), rates, ("province",)) is None
        assert regions._stored_sizes(con, regions.members_only(Filters()), "province") is not None
    headline = [M.metric(k) for k in M.HEADLINE_KEYS]
    with Database(regional).cursor() as con:  # the year-over-year pairs of headline_by_year were stored ones
        for filters in _filters(regional)[:5]:  # (one year: no pair, rightly)
            assert sums.pairs(con, filters, headline) is not None, filters
        every = sums.pairs(con, Filters(), headline)
        assert every is not None and every.height > 0
        assert sums.pairs(con, Filters(quality="pass"), headline) is None


def test_the_sums_give_what_the_scan_gives_with_derived_totals_and_a_replaced_version(hand: Path) -> None:
    with Database(hand).cursor() as con:
        assert con.execute("SELECT count(*) FROM reports WHERE NOT is_current").fetchall() == [(1,)]
        assert con.execute("SELECT count(*) FROM derived").fetchall()[0][0] > 0
        states = {s for (s,) in con.execute("SELECT DISTINCT status FROM facts").fetchall()}
        assert {"ok", "blank"} <= states
    assert _compare(hand) >= 7


def test_what_the_sums_cannot_answer_is_scanned(hand: Path) -> None:
    agency = Database(hand).execute("SELECT agency FROM reports WHERE agency IS NOT NULL LIMIT 1")[0][0]
    county = Database(hand).execute("SELECT county FROM reports WHERE county IS NOT NULL LIMIT 1")
    rate = [M.metric("rate.disclosure")]
    with Database(hand).cursor() as con:
        assert sums.grouped(con, Filters(agencies=(agency,)), rate, ("year",), False) is None
        if county:
            assert sums.grouped(con, Filters(county=county[0][0]), rate, ("year",), False) is None
        assert sums.grouped(con, Filters(), rate, ("agency", "year"), False) is None
        assert sums.grouped(con, Filters(), rate, ("county",), False) is None
        assert sums.grouped(con, Filters(quality="pass"), rate, ("year",), False) is None  # panel + quality
        assert sums.grouped(con, Filters(), rate, ("year",), True) is None  # complete: only the outcome set
        assert sums.grouped(con, Filters(), rate, ("year",), False) is not None


def _state(db: Path, table: str = sums.TABLE, expected: bool = False) -> pl.DataFrame:
    """The stored sums as a reader sees them (main file and delta, rows summed per group), in a stable order;
    ``agency_masks`` with ``table``; ``expected``: computed afresh from the store's reports instead (one GROUP BY of
    every column, as a build's passes give: :func:`test_a_build_in_narrow_passes_equals_one_pass`)."""
    con = seg.open_reader(Database(db).file)
    try:
        current = f"SELECT * FROM {sums_build._cells(con)} WHERE is_current"
        if expected:
            source = f"({sums.group_sql(current)})" if table == sums.TABLE else f"({sums_agencies.rows_sql(current)})"
        else:
            assert attach(con, Database(db).file), "the stored sums do not match the store"
            source = f"sums.{table}"
        if table == sums_agencies.TABLE:
            return con.sql(f"SELECT * FROM {source}").pl().sort("agency_key", *sums_agencies.ROW_KEYS, nulls_last=True)
        names = [n for n, _, _ in sums.pieces()]
        df = con.sql(f"""SELECT {", ".join(sums.KEYS)}, {", ".join(f"sum({n}) AS {n}" for n in names)}
                         FROM {source} GROUP BY ALL HAVING sum(rows_) <> 0""").pl()  # appended rows folded
    finally:
        con.close()
    # a sum of no value is NULL in a build and 0 after subtracting: readers use a sum only where it counted a value
    return df.with_columns(pl.col(pl.Float64).fill_null(0)).sort(list(sums.KEYS), nulls_last=True)


def _assert_same_sums(left: pl.DataFrame, right: pl.DataFrame) -> None:
    """Counts (every integer column) exactly equal; sums of printed numbers (the DOUBLE columns) equal up to the
    order of floating-point additions — a write's update adds and subtracts, which may leave the last bits."""
    assert left.schema == right.schema
    ints = [c for c, t in left.schema.items() if t != pl.Float64]
    assert_frame_equal(left.select(ints), right.select(ints), check_exact=True)
    assert_frame_equal(left, right, check_exact=False, rel_tol=1e-9, abs_tol=1e-6)


@pytest.mark.parametrize("direct", [True, False], ids=["one-statement", "narrow-passes"])
def test_writes_update_the_sums_by_what_they_changed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                     direct: bool) -> None:  # fmt: skip
    """A write subtracts the touched agencies' reports as they were and adds them as they are, in the delta file
    beside the main one: main + delta equal a fresh computation after a new agency, a new year of a known agency
    (its mask changes), a replaced version, a report without agency, blank and "/" cells and a derived total —
    each write's delta taking in the one before; a large delta is folded into the main file; a compaction builds
    the main file afresh."""
    monkeypatch.setattr(sums_build, "DELTA_SHARE", 1.0)  # a tiny store: every write is a small share in spirit
    monkeypatch.setattr(sums_build, "DIRECT_REPORTS", 10_000 if direct else 0)
    db = tmp_path / "w.duckdb"
    write_all(db, make_result("a22", agency="甲局", year=2022, values={"t3.granted.total": 4}),
              make_result("a23", agency="甲局", year=2023), make_result("b23", agency="乙局", year=2023))  # fmt: skip
    assert sums_build.build(Database(db).file)["mode"] == "build"
    main = sums_path(Database(db).file).read_bytes()
    writes = [
        [make_result("b22", agency="乙局", year=2022, values={"t3.granted.total": None})],  # mask grows
        [make_result("a23v2", agency="甲局", year=2023, values={"t3.granted.total": 9})],  # replaces a23
        [
            make_result("n23", agency=None, year=2023),
            make_result("c24", agency="丙局", year=2024, values={"t3.result_total.total": None}),
        ],  # fmt: skip
    ]
    for i, results in enumerate(writes):
        if i == len(writes) - 1:
            monkeypatch.setattr(sums_update, "FOLD_ROWS", 0)  # the last write's delta is folded into the main file
        with Database(db).write() as session:
            for r in results:
                session.add(r)
            session.flush()
        assert isinstance(session.sums, dict) and session.sums["mode"] == "update", session.sums
        folded = i == len(writes) - 1
        assert delta_path(Database(db).file).is_file() != folded
        assert (sums_path(Database(db).file).read_bytes() == main) != folded  # the main file is untouched …
        _assert_same_sums(_state(db), _state(db, expected=True))  # … until the delta is folded into it
        assert_frame_equal(_state(db, sums_agencies.TABLE), _state(db, sums_agencies.TABLE, expected=True))
    assert Database(db).execute("SELECT count(*) FROM reports WHERE NOT is_current")[0][0] == 1
    assert _compare(db) >= 1
    appended = _state(db)
    Database(db).compact()  # builds afresh: one row per group again, the same sums
    con = duckdb.connect(str(sums_path(Database(db).file)), read_only=True)
    try:
        assert con.execute("SELECT count(*) FROM sums_meta WHERE key = 'appended'").fetchall() == [(0,)]
        n_groups = con.execute(f"SELECT count(*) FROM {sums.TABLE}").fetchall()[0][0]
    finally:
        con.close()
    assert n_groups == appended.height and not delta_path(Database(db).file).exists()
    _assert_same_sums(_state(db), appended)


def test_a_delta_not_of_the_main_file_is_not_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Readers take main + delta only when the delta was written on that main file for the store as it is: a
    delta left by a writer killed before a rebuild finished, or copied from elsewhere, makes them scan."""
    monkeypatch.setattr(sums_build, "DELTA_SHARE", 1.0)
    db = tmp_path / "d.duckdb"
    write_all(db, make_result("a22", agency="甲局", year=2022), make_result("b23", agency="乙局", year=2023))
    sums_build.build(Database(db).file)
    write_all(db, make_result("a23", agency="甲局", year=2023))
    with Database(db).cursor() as con:
        assert sums.available(con) and sums_agencies.available(con)  # main + delta
    delta = delta_path(Database(db).file).read_bytes()
    sums_build.build(Database(db).file)  # a new main file: the old delta is not its delta
    delta_path(Database(db).file).write_bytes(delta)
    Database.close_all()
    with Database(db).cursor() as con:
        assert sums.available(con)  # the main file matches the store: read alone
        _assert_same_sums(_state(db), _state(db, expected=True))
    write_all(db, make_result("c23", agency="丙局", year=2023))  # the stale delta is ignored and replaced
    _assert_same_sums(_state(db), _state(db, expected=True))


def test_a_store_without_sums_or_with_stale_ones_answers_by_the_scan(hand: Path, tmp_path: Path) -> None:
    copy = Database(hand).copy_to(tmp_path / "copy.duckdb")
    assert not sums_path(copy.file).exists()  # a copy has no sums: scanned
    with copy.cursor() as con:
        assert not sums.available(con)
        missing = M.outcome_shares_by_year(con, Filters())
    sums_path(copy.file).write_bytes(sums_path(Database(hand).file).read_bytes())
    Database.close_all()
    with copy.cursor() as con:
        assert sums.available(con)  # the same reports: the hand store's sums are this store's
        assert_frame_equal(M.outcome_shares_by_year(con, Filters()), missing, check_exact=False, rel_tol=1e-9)
    with copy.write() as session:  # a write follows them (a small one: by appending what it changed)
        session.add(make_result("extra", agency="新机关", year=2023))
        session.flush()
    assert isinstance(session.sums, dict) and session.sums["mode"] == "update"
    assert _compare(copy.file, {"outcome_shares_by_year"}) >= 1
    saved = sums_path(copy.file).read_bytes()  # the store changes while its sums are elsewhere: stale
    sums_path(copy.file).unlink()
    write_all(copy.file, make_result("later", agency="新机关", year=2024))
    sums_path(copy.file).write_bytes(saved)
    with copy.cursor() as con:
        assert not sums.available(con)  # not attached: their token is not the store's
        scanned = M.outcome_shares_by_year(con, Filters())
    with Database(hand).cursor() as con:
        assert not scanned.equals(M.outcome_shares_by_year(con, Filters()))  # the new reports are counted
    write_all(copy.file, make_result("last", agency="新机关", year=2022))
    assert not sums_path(copy.file).exists()  # a small store's write drops stale sums (a scan is fast there)


def test_a_build_in_narrow_passes_equals_one_pass(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The build computes a few columns per pass and puts the passes side by side by the order of their keys: the
    table equals the one GROUP BY of every column (the groups of every pass line up)."""
    db = tmp_path / "p.duckdb"
    write_all(db, make_result("a22", agency="甲局", year=2022, values={"t3.granted.total": 4}),
              make_result("a23", agency="甲局", year=2023), make_result("b23", agency="乙局", year=2023),
              make_result("n23", agency=None, year=2023), make_result("c24", agency="丙局", year=2024))  # fmt: skip
    monkeypatch.setattr(sums_build, "COLUMNS_PER_PASS", 10_000)  # one pass
    sums_build.build(Database(db).file)
    whole = _state(db)
    monkeypatch.setattr(sums_build, "COLUMNS_PER_PASS", 7)
    monkeypatch.setattr(sums_build, "PASS_ROWS", 0)  # 7 columns a pass, however few the reports
    sums_build.build(Database(db).file)
    assert whole.height >= 4
    # exactly equal, floats too: on one thread each pass adds a group's values in the same order as one GROUP BY
    # (measured at 100,000 reports: 54,972 groups × 1,359 columns, no difference)
    assert_frame_equal(_state(db), whole, check_exact=True)


def test_what_a_killed_sums_writer_left_is_deleted_at_the_next_write(tmp_path: Path) -> None:
    """A process killed while writing the sums leaves its temporary file, WAL and scratch folder (named with its
    pid); the next write deletes those of processes no longer running and keeps a running process's."""
    db = tmp_path / "k.duckdb"
    write_all(db, make_result("a23", agency="甲局", year=2023))
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    running = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        name = sums_path(Database(db).file).name
        left = [tmp_path / f".{name}.{dead.pid}.tmp", tmp_path / f".{name}.{dead.pid}.tmp.wal"]
        for p in left:
            p.write_bytes(b"partial")
        (tmp_path / f".{name}.{dead.pid}.tmpdir").mkdir()
        (tmp_path / f".{name}.{dead.pid}.tmpdir" / "scratch.duckdb").write_bytes(b"partial")
        kept = tmp_path / f".{name}.{running.pid}.tmp"
        kept.write_bytes(b"in progress")
        assert set(leftovers(Database(db).file)) == {*left, tmp_path / f".{name}.{dead.pid}.tmpdir"}
        write_all(db, make_result("b23", agency="乙局", year=2023))
        assert not any(p.exists() for p in left) and not (tmp_path / f".{name}.{dead.pid}.tmpdir").exists()
        assert kept.exists()
    finally:
        running.kill()
        running.wait()
    assert leftovers(Database(db).file) == [kept]
