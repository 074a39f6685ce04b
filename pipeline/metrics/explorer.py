"""The explorer's tables (数据浏览与导出): the selected reports' chosen cells, wide or long, whole or a page.

- wide: one row per report, one column per chosen key (and ``<key>__derived`` for a 总计), read from
  ``report_cells``;
- long: one row per (report, cell) with the value, the source text, the cell's status and — for a blank 总计 — the
  derived value beside it.  The whole list reads ``facts`` (the record); a page finds its rows in ``report_cells``
  and reads only their source text and status from ``facts``.

Both lists are in a total order: agency, year, (long: the key's place in the registry,) report id.  A page
(:class:`~pipeline.metrics.listing.Window`) may sort by a column first; the whole list in the same order is
:func:`sort_whole` of the whole list (``tests/test_listing.py`` checks page against whole slice).
"""

from __future__ import annotations

from typing import Any

import duckdb
import polars as pl

from pipeline.derive import is_total
from pipeline.filters import Filters
from pipeline.metrics.listing import Listing, Window, order_sql, quoted, windowed
from pipeline.metrics.named import named_query
from pipeline.metrics.records import derived_source
from pipeline.metrics.sql import cells_source, col, run, selected_cte
from pipeline.registry import registry
from pipeline.store.cells import DERIVED, PRINTED

# report columns at the start of every explorer row: who, where, and how far to trust it
EXPLORER_REPORT_COLUMNS = ("report_id", "agency", "year", "edition", "province", "city", "county", "level",
                           "agency_type", "synthetic", "n_errors", "n_warnings")  # fmt: skip
LONG_COLUMNS = (*EXPLORER_REPORT_COLUMNS, "key", "value", "raw", "status", "derived_value", "derived_from")
# a long page sorts by these (the source text, status and derivation live in ``facts`` only: the page would have to
# read every selected cell's row there to sort by them)
LONG_SORTABLE = frozenset({*EXPLORER_REPORT_COLUMNS, "key", "value", "derived_value"})
DERIVED_SUFFIX = "__derived"
WIDE_ORDER = ["agency", "year", "report_id"]
LONG_ORDER = ["agency", "year", "ord", "report_id"]  # ord: the key's place in the registry

# The cells the explorer's example calls read: counts of 表三 and 表四, and an amount of 表二 (万元).
EXAMPLE_FIELDS = ["t3.new_received.total", "t3.granted.total", "t3.result_total.total", "t4.review.total",
                  "t2.admin_fees.amount_wan_yuan"]  # fmt: skip


def _sql_type(keys: list[str]) -> str:
    """BIGINT for count cells (so 6 exports as 6, not 6.0), DOUBLE as soon as an amount (万元) is involved."""
    return "DOUBLE" if any(registry()[k].is_amount for k in keys) else "BIGINT"


def _checked(keys: list[str]) -> list[str]:
    keys = list(dict.fromkeys(keys))
    for key in keys:
        col(key)  # refuses a key that is not in the registry
    return keys


def _as_shown(key: str, state: int, typ: str, alias: str = "") -> str:
    """The cell ``key``'s value where its state is ``state`` (PRINTED: the printed number; DERIVED: the derived
    total), else NULL, as ``typ``."""
    stem = col(key)
    return f"CAST(CASE WHEN {alias}s__{stem} = {state} THEN {alias}v__{stem} END AS {typ})"


def _registry_order() -> dict[str, int]:
    return {k: i for i, k in enumerate(registry().by_key)}


# -- wide -----------------------------------------------------------------------------------------------------------


def _wide_select(con: duckdb.DuckDBPyConnection, filters: Filters, keys: list[str]) -> tuple[str, str, dict[str, Any]]:
    """(rows, count, params): the wide rows of the selection without an order, and their count.

    Read from ``report_cells`` (one row per report, a value and a state per key: :mod:`pipeline.store.cells`), not
    pivoted out of ``facts``: the printed number is the value of a printed cell (state 5), the derived total the
    value of a derived one (state 4); a blank, "/" or an unusable cell has no value in either column."""
    keys = _checked(keys)
    src = cells_source(con, keys)
    where, params = filters.where("r")
    cols = [f"r.{c}" for c in EXPLORER_REPORT_COLUMNS]
    for k in keys:
        typ = _sql_type([k])
        cols.append(f"{_as_shown(k, PRINTED, typ, 'r.')} AS {quoted(k)}")
        if is_total(k):
            cols.append(f"{_as_shown(k, DERIVED, typ, 'r.')} AS {quoted(k + DERIVED_SUFFIX)}")
    rows = f"SELECT {', '.join(cols)} FROM {src} r WHERE {where}"
    return rows, f"SELECT count(*) FROM {src} r WHERE {where}", params


def wide_columns(keys: list[str]) -> list[str]:
    """The columns of the wide table for ``keys``: what a wide page may sort by."""
    keys = _checked(keys)
    return [*EXPLORER_REPORT_COLUMNS, *(c for k in keys for c in ([k, k + DERIVED_SUFFIX] if is_total(k) else [k]))]


def explorer_wide(con: duckdb.DuckDBPyConnection, filters: Filters, keys: list[str]) -> pl.DataFrame:
    """Agency × year × chosen cells, whole: one row per report, one column per registry key (NULL stays NULL); each
    总计 key also gets ``<key>__derived``, its derived value where the source left it blank."""
    rows, _, params = _wide_select(con, filters, keys)
    return run(con, f"{rows} ORDER BY {', '.join(WIDE_ORDER)}", params)


@named_query(
    lambda s: {"": (EXAMPLE_FIELDS, Window()), "sorted": (EXAMPLE_FIELDS, Window(100, 50, "t3.granted.total", True))}
)
def explorer_wide_page(con: duckdb.DuckDBPyConnection, filters: Filters, keys: list[str], window: Window) -> Listing:
    """One page of :func:`explorer_wide`, and its length."""
    rows, count, params = _wide_select(con, filters, keys)
    return windowed(con, rows, count, params, window, WIDE_ORDER, set(wide_columns(keys)))


# -- long -----------------------------------------------------------------------------------------------------------


def explorer_long(con: duckdb.DuckDBPyConnection, filters: Filters, keys: list[str]) -> pl.DataFrame:
    """The filtered facts in long form, whole: one row per (report, cell) with value, source text and status, and —
    for a blank 总计 — the derived value beside it (``derived_value``, ``derived_from``); the source stays blank."""
    keys = _checked(keys)
    sel, params = selected_cte(filters)
    order = _registry_order()
    params = {**params, "keys": keys, "ords": [order[k] for k in keys]}
    report_cols = ", ".join(f"s.{c}" for c in EXPLORER_REPORT_COLUMNS)
    typ = _sql_type(keys)
    sql = f"""WITH {sel}
        SELECT {report_cols}, f.key, CAST(f.value AS {typ}) AS value, f.raw, f.status,
               CAST(d.value AS {typ}) AS derived_value, array_to_string(d.sources, ' + ') AS derived_from
        FROM sel s JOIN facts f USING (report_id)
        LEFT JOIN {derived_source(con)} d ON d.report_id = f.report_id AND d.key = f.key
        WHERE list_contains($keys, f.key) AND f.status <> 'not_in_layout'
        ORDER BY s.agency, s.year, $ords[list_position($keys, f.key)], s.report_id"""
    return run(con, sql, params)


def _long_rows(src: str, keys: list[str], where: str, typ: str) -> str:
    """The long rows of the reports matching ``where`` as ``report_cells`` has them: every chosen cell in the
    report's layout (state not NULL), its printed value and its derived total.  The reports are read once (a
    materialised CTE), then unpivoted."""
    order = _registry_order()
    columns = ", ".join(EXPLORER_REPORT_COLUMNS)
    parts = " UNION ALL ".join(
        f"SELECT {columns}, '{k}' AS key, {order[k]} AS ord,"
        f" {_as_shown(k, PRINTED, typ)} AS value, {_as_shown(k, DERIVED, typ)} AS derived_value"
        f" FROM chosen WHERE s__{col(k)} IS NOT NULL"
        for k in keys
    )
    cells = ", ".join(f"r.v__{col(k)}, r.s__{col(k)}" for k in keys)
    chosen = f"SELECT {', '.join(f'r.{c}' for c in EXPLORER_REPORT_COLUMNS)}, {cells} FROM {src} r WHERE {where}"
    return f"WITH chosen AS MATERIALIZED ({chosen}) {parts}"


@named_query(lambda s: {"": (EXAMPLE_FIELDS, Window()), "sorted": (EXAMPLE_FIELDS, Window(100, 50, "value", True)),
                        "by region": (EXAMPLE_FIELDS, Window(0, 100, "province"))})  # fmt: skip
def explorer_long_page(con: duckdb.DuckDBPyConnection, filters: Filters, keys: list[str], window: Window) -> Listing:
    """One page of :func:`explorer_long`, and its length, without reading every selected cell's row in ``facts``.

    The page's rows are found in ``report_cells``.  Sorted by a report column (or in the list's own order), they
    come from the first ``offset + limit`` reports that have a chosen cell, plus every other report that ties with
    the last of them (the rows of a group of equal reports interleave by key): that is a top-N over reports, then
    the unpivot of a few hundred.  Sorted by a cell column (key, value, derived value), every selected cell is a
    candidate.  Only the page's rows then read their source text, status and derivation from ``facts``.
    """
    keys = _checked(keys)
    if window.sort is not None and window.sort not in LONG_SORTABLE:
        raise ValueError(f"不能按该列排序: {window.sort!r}")
    src = cells_source(con, keys)
    where, params = filters.where("r")
    present = [f"r.s__{col(k)} IS NOT NULL" for k in keys]
    count = f"SELECT coalesce(sum({' + '.join(f'({p})::BIGINT' for p in present)}), 0) FROM {src} r WHERE {where}"
    total = int(con.sql(count, params=params or None).fetchall()[0][0])
    sort = "ord" if window.sort == "key" else window.sort
    shown = Window(window.offset, window.limit, sort, window.descending)
    candidates = where
    if sort not in ("ord", "value", "derived_value"):  # a report column or none: the ranks of reports decide
        group = ([sort] if sort else []) + ["agency", "year"]
        report_order = order_sql(shown, ["agency", "year", "report_id"])
        top = con.sql(
            f"SELECT report_id, {', '.join(f'r.{g}' for g in group)} FROM {src} r"
            f" WHERE {where} AND ({' OR '.join(present)}) ORDER BY {report_order}"
            f" LIMIT {int(window.offset + window.limit)}",
            params=params or None,
        ).fetchall()
        if not top:
            return Listing(_empty_long(con, keys), total, window)
        ties = " AND ".join(f"r.{g} IS NOT DISTINCT FROM $tie_{i}" for i, g in enumerate(group))
        candidates = f"{where} AND (list_contains($top_ids, r.report_id) OR ({ties}))"
        params = {**params, "top_ids": [t[0] for t in top], **{f"tie_{i}": v for i, v in enumerate(top[-1][1:])}}
    rows = _long_rows(src, keys, candidates, _sql_type(keys))
    page = run(
        con,
        f"SELECT * FROM ({rows}) ORDER BY {order_sql(shown, LONG_ORDER)} LIMIT {int(window.limit)} OFFSET {int(window.offset)}",
        params,
    )
    return Listing(_with_sources(con, page.drop("ord"), keys), total, window)


def _with_sources(con: duckdb.DuckDBPyConnection, page: pl.DataFrame, keys: list[str]) -> pl.DataFrame:
    """The page's rows with their source text and status (``facts``) and the cells their derived totals come from
    (``derived``), read for the page's reports only."""
    ids = sorted(set(page["report_id"].to_list()))
    if not ids:
        return _long_frame(page, pl.DataFrame(), pl.DataFrame())
    in_ids = ", ".join(str(int(i)) for i in ids)  # integers from the store: a literal list lets the scan skip blocks
    facts = run(
        con,
        f"SELECT report_id, key, raw, status FROM facts WHERE report_id IN ({in_ids}) AND list_contains($keys, key)",
        {"keys": keys},
    )
    derived = run(
        con,
        f"SELECT report_id, key, array_to_string(sources, ' + ') AS derived_from FROM {derived_source(con)}"
        f" WHERE report_id IN ({in_ids}) AND list_contains($keys, key)",
        {"keys": keys},
    )
    return _long_frame(page, facts, derived)


def _long_frame(page: pl.DataFrame, facts: pl.DataFrame, derived: pl.DataFrame) -> pl.DataFrame:
    if facts.is_empty():
        facts = pl.DataFrame(schema={"report_id": pl.Int32, "key": pl.String, "raw": pl.String, "status": pl.String})
    if derived.is_empty():
        derived = pl.DataFrame(schema={"report_id": pl.Int32, "key": pl.String, "derived_from": pl.String})
    on = ["report_id", "key"]
    out = page.join(facts.cast({"report_id": page["report_id"].dtype}), on=on, how="left", maintain_order="left")
    out = out.join(derived.cast({"report_id": page["report_id"].dtype}), on=on, how="left", maintain_order="left")
    return out.select(LONG_COLUMNS)


def _empty_long(con: duckdb.DuckDBPyConnection, keys: list[str]) -> pl.DataFrame:
    """No rows, the columns and types of :func:`explorer_long`."""
    return explorer_long(con, Filters(years=(-1,)), keys).clear()


def sort_whole(df: pl.DataFrame, window: Window | None) -> pl.DataFrame:
    """A whole explorer table (already in its own order) in the order of ``window``: the rows its pages show."""
    if window is None or window.sort is None:
        return df
    if window.sort == "key":  # the key's place in the registry, as on the page
        order = pl.col("key").replace_strict(_registry_order(), default=None, return_dtype=pl.Int64)
        return df.sort(order, descending=window.descending, nulls_last=True, maintain_order=True)
    return df.sort(window.sort, descending=window.descending, nulls_last=True, maintain_order=True)
