"""One page of a long list, computed in SQL: the selection's row count and the rows of the page shown.

A national store's lists run to a million rows (every report on 发布时效, every cell in the explorer).  A page shows
100 of them; building all of them to show 100 cost the page a third of a second to five seconds.  A list query
therefore has two forms: the *page* form (a :class:`Window` in, a :class:`Listing` out: the total and one page, in
the order the user chose, from a ``ORDER BY … LIMIT … OFFSET`` that DuckDB answers with a top-N scan) for the
page, and the *whole* form (every row, same order) for the downloads, built only when a download is asked for.

Orders are total (the list's own order ends in a unique column), so that a page is the same rows as the same slice
of the whole list (sorted the same way: :func:`pipeline.metrics.explorer.sort_whole`); ``tests/test_listing.py``
checks that for every list query.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import duckdb
import polars as pl

from pipeline.metrics.sql import run

PAGE_ROWS = 100  # rows of a list sent to the browser at once


@dataclass(frozen=True)
class Window:
    """The rows ``offset`` … ``offset + limit`` of a list, sorted by its column ``sort`` (NULLs last either way),
    then by the list's own order; ``sort`` None: the list's own order."""

    offset: int = 0
    limit: int = PAGE_ROWS
    sort: str | None = None
    descending: bool = False

    def __post_init__(self) -> None:
        if self.offset < 0 or self.limit < 1:
            raise ValueError(f"bad window: offset {self.offset}, limit {self.limit}")


@dataclass(frozen=True)
class Listing:
    """One page of a list and the length of the whole list."""

    rows: pl.DataFrame
    total: int
    window: Window


def quoted(column: str) -> str:
    return '"' + column.replace('"', '""') + '"'


def order_sql(window: Window | None, own_order: list[str], sortable: set[str] | None = None) -> str:
    """``ORDER BY`` terms: the window's sort column (checked against ``sortable``), then the list's own order."""
    terms = list(own_order)
    if window is not None and window.sort is not None:
        if sortable is not None and window.sort not in sortable:
            raise ValueError(f"不能按该列排序: {window.sort!r}")
        terms.insert(0, f"{quoted(window.sort)} {'DESC' if window.descending else 'ASC'} NULLS LAST")
    return ", ".join(terms)


def windowed(
    con: duckdb.DuckDBPyConnection,
    rows_sql: str,
    count_sql: str,
    params: dict[str, Any],
    window: Window,
    own_order: list[str],
    sortable: set[str] | None = None,
) -> Listing:
    """The page ``window`` of the rows of ``rows_sql`` (a SELECT without ORDER BY; its result columns are what the
    window sorts by) in ``own_order`` (terms over those columns, a total order), and the list's length from
    ``count_sql`` (a cheaper query that counts the same rows)."""
    total = int(con.sql(count_sql, params=params or None).fetchall()[0][0])
    order = order_sql(window, own_order, sortable)
    page = run(
        con,
        f"SELECT * FROM ({rows_sql}) ORDER BY {order} LIMIT {int(window.limit)} OFFSET {int(window.offset)}",
        params,
    )
    return Listing(page, total, window)
