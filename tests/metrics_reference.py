"""The metric queries' SQL as it was before ``report_cells`` (commit ca045cf), kept as the reference that the
faster queries are compared with (tests/test_store_scale.py): the cells of every query pivoted out of the long
``facts`` table, one row per report *and metric*, grouped per metric.  Test code only; never imported by the product.
"""

from __future__ import annotations

import dataclasses
from dataclasses import replace
from typing import Any

import duckdb
import polars as pl
from polars.testing import assert_frame_equal

from pipeline.derive import is_total
from pipeline.filters import Filters
from pipeline.metrics.catalogue import metric
from pipeline.metrics.change import with_change
from pipeline.metrics.explorer import DERIVED_SUFFIX, EXPLORER_REPORT_COLUMNS, _sql_type
from pipeline.metrics.records import derived_source as _derived_source
from pipeline.metrics.sql import (
    COUNTED,
    GROUP_COLUMNS,
    REASONS,
    TABLE_EDITIONS,
    col,
    has_table,
    report_terms,
    run,
    selected_cte,
)
from pipeline.store.cells import DERIVED, EMPTY, PRINTED, UNUSABLE

REPORT_COLUMNS = ("report_id", "agency", "year", "agency_type", "level", "province", "city", "edition")


def cells_cte(con: duckdb.DuckDBPyConnection, keys: list[str]) -> str:
    """``cells`` (long: printed facts + derived totals) and ``wide`` (one row per selected report) CTEs."""
    keys = list(dict.fromkeys(keys))
    for k in keys:
        col(k)
    key_list = ", ".join(f"'{k}'" for k in keys)
    derived = (
        f"""UNION ALL SELECT d.report_id, d.key, CAST(d.value AS DOUBLE), {DERIVED}
            FROM derived d JOIN sel USING (report_id) WHERE d.key IN ({key_list})"""
        if has_table(con, "derived")
        else ""
    )
    pivot = ",\n".join(
        f"max(value) FILTER (WHERE key = '{k}') AS v__{col(k)}, max(state) FILTER (WHERE key = '{k}') AS s__{col(k)}"
        for k in keys
    )
    return f"""cells AS (
            SELECT f.report_id, f.key, CAST(f.value AS DOUBLE) AS value,
                   CASE f.status WHEN 'ok' THEN {PRINTED} WHEN 'blank' THEN {EMPTY} WHEN 'null_marker' THEN {EMPTY}
                                 WHEN 'missing' THEN {UNUSABLE} WHEN 'ambiguous' THEN {UNUSABLE} END AS state
            FROM facts f JOIN sel USING (report_id) WHERE f.key IN ({key_list})
            {derived}),
        wide AS (SELECT report_id, {pivot} FROM cells GROUP BY report_id)"""


def _report_rows(
    con: duckdb.DuckDBPyConnection,
    filters: Filters,
    metric_keys: list[str],
    columns: str,
    where: str = "true",
    in_panel: str = "true",
) -> tuple[str, dict]:
    """``WITH sel, cells, wide … , pr AS (one row per selected report and metric)`` and its parameters.

    A report outside the trend's panel (``in_panel`` false) keeps its row, with the state ``not_in_panel``.
    """
    metrics = [metric(k) for k in metric_keys]
    if not metrics:
        raise ValueError("至少需要一个指标")
    sel, params = selected_cte(filters)
    keys = [key for m in metrics for key in m.keys]
    parts = []
    for m in metrics:
        num, den, state, derived = report_terms(m)
        if in_panel != "true":
            state = f"CASE WHEN ({state}) = 'no_table' OR ({in_panel}) THEN {state} ELSE 'not_in_panel' END"
        parts.append(
            f"""SELECT {columns}, '{m.key}' AS metric, {num} AS num, {den} AS den, {state} AS state,
                       {derived} AS uses_derived
                FROM sel s LEFT JOIN wide w USING (report_id) WHERE {where}"""
        )
    return f"WITH {sel}, {cells_cte(con, keys)}{{panel}}, pr AS ({' UNION ALL '.join(parts)})", params


def per_report(con: duckdb.DuckDBPyConnection, filters: Filters, metric_keys: list[str]) -> pl.DataFrame:
    """One row per (selected report, metric): numerator, denominator, value (NULL unless counted), state."""
    cols = ", ".join(f"s.{c}" for c in REPORT_COLUMNS)
    head, params = _report_rows(con, filters, metric_keys, cols)
    sql = (
        head.format(panel="")
        + f"""
        SELECT {", ".join(REPORT_COLUMNS)}, metric, num AS numerator, den AS denominator,
               CASE WHEN state = '{COUNTED}' THEN (CASE WHEN den IS NULL THEN num ELSE num / den END) END AS value,
               state, uses_derived
        FROM pr ORDER BY metric, year, agency"""
    )
    return run(con, sql, params)


def aggregate(con: duckdb.DuckDBPyConnection, filters: Filters, metric_keys: list[str],
              by: tuple[str, ...] = ("year",), complete: bool = False) -> pl.DataFrame:  # fmt: skip
    """:func:`pipeline.metrics.aggregate.aggregate` (the same columns) as one SQL statement over the pivoted
    ``facts``: every (report, metric) a row with its state, the group's counts as FILTERed aggregates."""
    for b in by:
        if b not in GROUP_COLUMNS:
            raise KeyError(f"未知分组: {b!r}")
    panel, in_panel = panel_ctes(filters, by)
    where = "s.year IS NOT NULL" if "year" in by else "true"
    columns = ", ".join(["s.report_id", "s.agency", *(f"s.{b}" for b in by if b != "agency")])
    head, params = _report_rows(con, filters, metric_keys, columns, where, in_panel)
    head = head.format(panel=panel)
    if complete:
        # a report's own state: its first real reason (a row absent from its layout is no reason), else counted
        head += f""", pr2 AS (SELECT * REPLACE (
                coalesce(max(CASE WHEN state NOT IN ('{COUNTED}', 'no_table') THEN state END)
                             OVER (PARTITION BY report_id),
                         CASE WHEN bool_and(state = 'no_table') OVER (PARTITION BY report_id) THEN 'no_table' END,
                         CASE WHEN state = 'no_table' THEN 'absent' ELSE state END) AS state) FROM pr)"""
        source = "pr2"
    else:
        source = "pr"
    counted = f"state = '{COUNTED}'"
    group = ", ".join(by)
    group_sel = f"{group}, " if by else ""
    left = ", ".join(f"count(*) FILTER (WHERE state = '{r}') AS left_{r}" for r in REASONS)
    sql = f"""{head}
        SELECT {group_sel}metric,
               CASE WHEN bool_or(den IS NOT NULL) THEN sum(num) FILTER (WHERE {counted})
                                                       / sum(den) FILTER (WHERE {counted})
                    ELSE sum(num) FILTER (WHERE {counted}) END AS value,
               sum(num) FILTER (WHERE {counted}) AS numerator,
               sum(den) FILTER (WHERE {counted}) AS denominator,
               count(*) FILTER (WHERE {counted}) AS n_reports,
               count(DISTINCT agency) FILTER (WHERE {counted}) AS n_agencies,
               count(*) FILTER (WHERE {counted} AND uses_derived) AS n_derived,
               count(*) FILTER (WHERE state NOT IN ('{COUNTED}', 'absent')) AS n_left_out,
               {left}
        FROM {source} GROUP BY {group_sel}metric ORDER BY {", ".join(["metric", *by])}"""
    return _with_rate_value(run(con, sql, params))


def yoy(con: duckdb.DuckDBPyConnection, filters: Filters, metric_keys: list[str]) -> pl.DataFrame:
    """:func:`pipeline.metrics.change.yoy` with the metrics by year and the matched agencies' sums computed as before
    ``report_cells`` (a self-join of the per-report rows by agency name); the change is worked out from those by the
    product's :func:`~pipeline.metrics.change.with_change` (its arithmetic is checked against hand-counted values in
    ``tests/test_metrics.py``: the reference is about where the numbers are read from)."""
    every = aggregate(con, replace(filters, panel="all"), metric_keys, by=("year",))
    head, params = _report_rows(con, filters, metric_keys, "s.agency, s.year",
                                "s.agency IS NOT NULL AND s.year IS NOT NULL")  # fmt: skip
    sql = (
        head.format(panel="")
        + f""", c AS (SELECT * FROM pr WHERE state = '{COUNTED}')
        SELECT a.metric, a.year, count(*) AS n_matched, sum(a.num) AS cur_num, sum(a.den) AS cur_den,
               sum(b.num) AS prev_num, sum(b.den) AS prev_den
        FROM c a JOIN c b ON a.metric = b.metric AND a.agency = b.agency AND b.year = a.year - 1
        GROUP BY a.metric, a.year"""
    )
    return with_change(every, run(con, sql, params), filters.panel)


def _with_rate_value(df: pl.DataFrame) -> pl.DataFrame:
    """Counts carry no denominator; a rate's value is NULL where nothing was counted (never 0)."""
    if df.is_empty():
        return df
    is_rate = pl.col("metric").replace_strict({k: metric(k).is_rate for k in df["metric"].unique()})
    return df.with_columns(
        pl.when(is_rate).then(pl.col("denominator")).otherwise(None).alias("denominator"),
    )


def panel_ctes(filters: Filters, by: tuple[str, ...]) -> tuple[str, str]:
    """The balanced panel of a trend: (CTEs, condition on ``s``) — or ("", "true") when it does not apply.

    With ``filters.panel == 'matched'`` a series over years is drawn over the same agencies: those with a current
    report in every year of the span (the years of the selection whose reports carry tables).  When no agency
    reported in every year, the series falls back to all reports (pages and ``xxgk metric`` say so: see
    :func:`pipeline.metrics.queries.panel_size`).  A per-agency series is one agency already, and a result without years has no trend, so
    neither is narrowed.
    """
    if filters.panel != "matched" or "year" not in by or "agency" in by:
        return "", "true"
    editions = ", ".join(f"'{e}'" for e in TABLE_EDITIONS)
    ctes = f""", span AS (SELECT DISTINCT year FROM sel WHERE year IS NOT NULL AND edition IN ({editions})),
        panel AS (SELECT agency FROM sel WHERE agency IS NOT NULL AND year IN (SELECT year FROM span)
                  GROUP BY agency HAVING count(DISTINCT year) = (SELECT count(*) FROM span))"""
    return ctes, ("(NOT EXISTS (SELECT 1 FROM panel) OR (s.agency IN (SELECT agency FROM panel)"
                  " AND s.year IN (SELECT year FROM span)))")  # fmt: skip


def assert_same_result(new: Any, old: Any, what: str, rel_tol: float, abs_tol: float) -> None:
    """A query's result equals the reference's: frames by :func:`~polars.testing.assert_frame_equal` (rows, order,
    columns and types; sums of amounts up to the order of adding), results holding frames (a dataclass, a dict, a
    tuple) part by part, anything else by ``==``; the error names ``what``."""
    if isinstance(new, pl.DataFrame):
        assert isinstance(old, pl.DataFrame), what
        try:
            assert_frame_equal(new, old, check_exact=False, rel_tol=rel_tol, abs_tol=abs_tol)
        except AssertionError as exc:
            raise AssertionError(f"{what}: {exc}") from None
    elif dataclasses.is_dataclass(new) and not isinstance(new, type):
        assert type(new) is type(old), what
        for field in dataclasses.fields(new):
            assert_same_result(
                getattr(new, field.name), getattr(old, field.name), f"{what}.{field.name}", rel_tol, abs_tol
            )
    elif isinstance(new, dict):
        assert isinstance(old, dict) and list(new) == list(old), what
        for key in new:
            assert_same_result(new[key], old[key], f"{what}[{key!r}]", rel_tol, abs_tol)
    elif isinstance(new, tuple | list):
        assert type(new) is type(old) and len(new) == len(old), what
        for i, (a, b) in enumerate(zip(new, old, strict=True)):
            assert_same_result(a, b, f"{what}[{i}]", rel_tol, abs_tol)
    else:
        assert new == old, f"{what}: {new!r} != {old!r}"


# -- the explorer's wide table, as it was before it read report_cells ---------------------------------------------


def explorer_wide(con: duckdb.DuckDBPyConnection, filters: Filters, keys: list[str]) -> pl.DataFrame:
    """``explorer_wide`` as it was pivoted out of ``facts`` and ``derived`` before it read ``report_cells``."""
    sel, params = selected_cte(filters)
    report_cols = ", ".join(f"s.{c}" for c in EXPLORER_REPORT_COLUMNS)
    if not keys:
        return run(con, f"WITH {sel} SELECT {report_cols} FROM sel s ORDER BY s.agency, s.year, s.report_id", params)
    cols = []
    for k in keys:
        col(k)  # refuses a key that is not in the registry
        typ = _sql_type([k])
        cols.append(f"CAST(max(value) FILTER (WHERE key = '{k}' AND NOT is_derived) AS {typ}) AS \"{k}\"")
        if is_total(k):
            cols.append(
                f"CAST(max(value) FILTER (WHERE key = '{k}' AND is_derived) AS {typ}) AS \"{k}{DERIVED_SUFFIX}\""
            )
    key_list = ", ".join(f"'{k}'" for k in keys)
    sql = f"""WITH {sel},
        cells AS (SELECT f.report_id, f.key, f.value, false AS is_derived FROM facts f JOIN sel USING (report_id)
                  WHERE f.key IN ({key_list})
                  UNION ALL SELECT d.report_id, d.key, d.value, true FROM {_derived_source(con)} d
                  JOIN sel USING (report_id) WHERE d.key IN ({key_list})),
        wide AS (SELECT report_id, {", ".join(cols)} FROM cells GROUP BY report_id)
        SELECT {report_cols}, {", ".join(f'w."{name}"' for name in _wide_names(keys))}
        FROM sel s LEFT JOIN wide w USING (report_id)
        ORDER BY s.agency, s.year, s.report_id"""
    return run(con, sql, params)


def _wide_names(keys: list[str]) -> list[str]:
    return [name for k in keys for name in ([k, k + DERIVED_SUFFIX] if is_total(k) else [k])]
