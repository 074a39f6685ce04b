"""Lists read a page at a time (:mod:`pipeline.metrics.listing`): every page of every list query is the same rows,
in the same order and types, as the same slice of the whole list in the same order, and its length is the whole
list's; a page sorted by a column puts NULLs last either way.  Over the hand-made store and the generated one
(three segments, blanks, null markers, derived totals, legacy reports, many ties in region, year and edition), and
one with reports of no recognised agency (ties in the list's own order)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from pipeline.filters import Filters
from pipeline.metrics import explorer as E
from pipeline.metrics.listing import Listing, Window
from pipeline.metrics.timeliness import not_published, not_published_page, timeliness_page, timeliness_reports
from pipeline.registry import registry
from pipeline.store import Database
from tests.dashboard_fixtures import build_db, hand_reports, shared_db

FILTERS = [Filters(), Filters(years=(2021,)), Filters(levels=("county",)), Filters(editions=("2019",))]
KEYS = [*E.EXAMPLE_FIELDS, "t3.unable_need_creation.total", "t2.regulations.issued"]


def windows(columns: list[str], total: int) -> list[Window]:
    """The first pages, a page across the middle, the last (short) page, past the end; each sortable column
    ascending and descending, at the start and further in."""
    sizes = [Window(0, 7), Window(5, 13), Window(max(0, total - 4), 10), Window(total + 3, 5)]
    sizes += [Window(0, total + 10)]
    for column in columns:
        for descending in (False, True):
            sizes += [Window(0, 9, column, descending), Window(11, 17, column, descending)]
    return sizes


def check_pages(page: Callable[[Window], Listing], whole: Callable[[Window], pl.DataFrame], columns: list[str]) -> int:
    """Every window's page against the whole list's slice; the number of rows compared."""
    everything = whole(Window())
    compared = 0
    for window in windows(columns, everything.height):
        found = page(window)
        expected = whole(window).slice(window.offset, window.limit)
        assert found.total == everything.height, window
        try:
            assert_frame_equal(found.rows, expected)
        except AssertionError as exc:
            raise AssertionError(f"{window}: {exc}") from None
        compared += found.rows.height
    return compared


@pytest.fixture(scope="module")
def unnamed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Twelve reports of 2021 whose agency was not recognised (no name in the text, none in the manifest): they tie
    on agency and year, so their cells interleave in the long table's order.  The first six (by report id) are of
    the 2019 edition and lack the 2021 edition's cells — the first rows of the group come from the last six."""
    by_name = {r.name: r for r in hand_reports()}
    old, new = by_name["bing_2020"], by_name["jia_2021"]
    anonymous = [replace(old, name=f"anon_a{i}", agency="", region="", year=2021) for i in range(6)]
    anonymous += [replace(new, name=f"anon_b{i}", agency="", region="") for i in range(6)]
    db = build_db(tmp_path_factory.mktemp("unnamed") / "unnamed.duckdb", anonymous)
    editions = Database(db).execute(
        "SELECT edition FROM reports WHERE is_current AND agency IS NULL AND year = 2021 ORDER BY report_id"
    )
    assert [e for (e,) in editions] == ["2019"] * 6 + ["2021"] * 6
    return db


@pytest.fixture(params=["hand", "generated", "unnamed"])
def db(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    if request.param == "hand":
        return shared_db(tmp_path_factory)
    return request.getfixturevalue(request.param)


# per explorer view: its page query, its whole query, the columns its pages are sorted by, rows compared at least
VIEWS = {
    "wide": (E.explorer_wide_page, E.explorer_wide, ["agency", "province", "year", "synthetic", "n_errors",
             "t3.granted.total", "t3.granted.total__derived", "t2.admin_fees.amount_wan_yuan"], 50),
    "long": (E.explorer_long_page, E.explorer_long, ["key", "value", "derived_value", "province", "year", "edition",
             "agency"], 200),
}  # fmt: skip


@pytest.mark.parametrize("view", list(VIEWS))
def test_explorer_pages_are_slices_of_the_whole_table(db: Path, view: str) -> None:
    """The long page finds its rows in report_cells and its source text in facts; the whole list reads facts only."""
    page_query, whole_query, columns, at_least = VIEWS[view]
    with Database(db).cursor() as con:
        compared = 0
        for filters in FILTERS:
            compared += check_pages(
                lambda w, f=filters: page_query(con, f, KEYS, w),
                lambda w, f=filters: E.sort_whole(whole_query(con, f, KEYS), w),
                columns,
            )
        assert compared > at_least
        if view == "long" and db.stem != "unnamed":
            blanks = E.explorer_long(con, Filters(), KEYS).filter(pl.col("status") != "ok")
            assert blanks.height, "the store has blank, '/' and unlocated cells to compare"


def test_a_long_page_with_counts_only_is_typed_as_counts(db: Path) -> None:
    counts = [k for k in KEYS if not registry()[k].is_amount]
    with Database(db).cursor() as con:
        found = E.explorer_long_page(con, Filters(), counts, Window(0, 50))
        assert found.rows.schema == E.explorer_long(con, Filters(), counts).schema
        assert found.rows["value"].dtype == pl.Int64


def test_timeliness_pages_are_slices_of_the_whole_list(db: Path) -> None:
    with Database(db).cursor() as con:
        for filters in FILTERS[:2]:
            for status in (None, "late", "unknown", "on_time"):
                check_pages(
                    lambda w, f=filters, s=status: timeliness_page(con, f, s, w),
                    lambda w, f=filters, s=status: timeliness_reports(con, f, s),
                    [],
                )


def test_not_published_pages_are_slices_of_the_whole_list(db: Path) -> None:
    with Database(db).cursor() as con:
        (last,) = con.execute("SELECT max(year) FROM reports").fetchall()[0]
        for filters in FILTERS[:3]:
            for year in (last, last + 1, last - 1):
                check_pages(
                    lambda w, f=filters, y=year: not_published_page(con, f, y, w),
                    lambda w, f=filters, y=year: not_published(con, f, y),
                    [],
                )


def test_a_page_refuses_a_column_it_cannot_sort_by(db: Path) -> None:
    with Database(db).cursor() as con:
        for bad in ("raw", "status", "report_id; DROP TABLE facts", "t3.granted.total"):
            with pytest.raises(ValueError, match="不能按该列排序"):
                E.explorer_long_page(con, Filters(), ["t2.regulations.issued"], Window(sort=bad))
        with pytest.raises(ValueError, match="不能按该列排序"):
            E.explorer_wide_page(con, Filters(), KEYS, Window(sort="raw"))
        with pytest.raises(ValueError, match="不能按该列排序"):
            timeliness_page(con, Filters(), None, Window(sort="agency"))
