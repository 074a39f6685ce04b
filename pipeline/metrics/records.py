"""Queries that read records rather than metrics: the explorer's cells, findings, one report (the filter options:
:mod:`pipeline.metrics.options`)."""

from __future__ import annotations

from typing import Any

import duckdb
import polars as pl

from pipeline.derive import is_total
from pipeline.filters import Filters
from pipeline.metrics.named import named_query
from pipeline.metrics.sql import cells_source, col, has_table, run, selected_cte
from pipeline.registry import registry
from pipeline.store.cells import DERIVED, PRINTED

# report columns at the start of every explorer row: who, where, and how far to trust it
EXPLORER_REPORT_COLUMNS = ("report_id", "agency", "year", "edition", "province", "city", "county", "level",
                           "agency_type", "synthetic", "n_errors", "n_warnings")  # fmt: skip
DERIVED_SUFFIX = "__derived"

# The cells the explorer's example calls read: counts of 表三 and 表四, and an amount of 表二 (万元).
EXAMPLE_FIELDS = ["t3.new_received.total", "t3.granted.total", "t3.result_total.total", "t4.review.total",
                  "t2.admin_fees.amount_wan_yuan"]  # fmt: skip


def _sql_type(keys: list[str]) -> str:
    """BIGINT for count cells (so 6 exports as 6, not 6.0), DOUBLE as soon as an amount (万元) is involved."""
    return "DOUBLE" if any(registry()[k].is_amount for k in keys) else "BIGINT"


def _derived_source(con: duckdb.DuckDBPyConnection) -> str:
    if has_table(con, "derived"):
        return "derived"
    return (
        "(SELECT NULL::INTEGER AS report_id, NULL::VARCHAR AS key, NULL::DECIMAL(18,4) AS value, "
        "NULL::VARCHAR[] AS sources, NULL::VARCHAR AS method WHERE false)"
    )


@named_query(lambda s: {"": (EXAMPLE_FIELDS,)})
def explorer_long(con: duckdb.DuckDBPyConnection, filters: Filters, keys: list[str]) -> pl.DataFrame:
    """The filtered facts in long form: one row per (report, cell) with value, source text and status, and — for
    a blank 总计 — the derived value beside it (``derived_value``, ``derived_from``); the source stays blank."""
    for key in keys:
        col(key)
    sel, params = selected_cte(filters)
    params = {**params, "keys": list(keys)}
    report_cols = ", ".join(f"s.{c}" for c in EXPLORER_REPORT_COLUMNS)
    sql = f"""WITH {sel}
        SELECT {report_cols}, f.key, CAST(f.value AS {_sql_type(keys)}) AS value, f.raw, f.status,
               CAST(d.value AS {_sql_type(keys)}) AS derived_value, array_to_string(d.sources, ' + ') AS derived_from
        FROM sel s JOIN facts f USING (report_id)
        LEFT JOIN {_derived_source(con)} d ON d.report_id = f.report_id AND d.key = f.key
        WHERE list_contains($keys, f.key) AND f.status <> 'not_in_layout'
        ORDER BY s.agency, s.year, f.key"""
    df = run(con, sql, params)
    order = {k: i for i, k in enumerate(registry().by_key)}
    return (
        df.with_columns(pl.col("key").replace_strict(order, default=None, return_dtype=pl.Int64).alias("_o"))
        .sort(["agency", "year", "_o"])
        .drop("_o")
    )


@named_query(lambda s: {"": (EXAMPLE_FIELDS,)})
def explorer_wide(con: duckdb.DuckDBPyConnection, filters: Filters, keys: list[str]) -> pl.DataFrame:
    """Agency × year × chosen cells: one row per report, one column per registry key (NULL stays NULL); each
    总计 key also gets ``<key>__derived``, its derived value where the source left it blank.

    Read from ``report_cells`` (one row per report, a value and a state per key: :mod:`pipeline.store.cells`), not
    pivoted out of ``facts``: the printed number is the value of a printed cell (state 5), the derived total the
    value of a derived one (state 4); a blank, "/" or an unusable cell has no value in either column."""
    src = cells_source(con, list(keys))
    where, params = filters.where("r")
    cols = [f"r.{c}" for c in EXPLORER_REPORT_COLUMNS]
    for k in keys:
        typ, stem = _sql_type([k]), col(k)  # col refuses a key that is not in the registry
        cols.append(f'CAST(CASE WHEN r.s__{stem} = {PRINTED} THEN r.v__{stem} END AS {typ}) AS "{k}"')
        if is_total(k):
            cols.append(
                f'CAST(CASE WHEN r.s__{stem} = {DERIVED} THEN r.v__{stem} END AS {typ}) AS "{k}{DERIVED_SUFFIX}"'
            )
    return run(
        con, f"SELECT {', '.join(cols)} FROM {src} r WHERE {where} ORDER BY r.agency, r.year, r.report_id", params
    )


# -- data quality -----------------------------------------------------------------------------------------------


@named_query()
def findings_by_rule(con: duckdb.DuckDBPyConnection, filters: Filters) -> pl.DataFrame:
    sel, params = selected_cte(filters)
    sql = f"""WITH {sel}
        SELECT f.rule, f.severity, f.scope, count(*) AS n_findings, count(DISTINCT f.report_id) AS n_reports
        FROM findings f JOIN sel s USING (report_id)
        GROUP BY ALL ORDER BY n_findings DESC, f.rule"""
    return run(con, sql, params)


@named_query(lambda s: {"": (None,), "report": ("report",), "cross_year": ("cross_year",)})
def findings_list(
    con: duckdb.DuckDBPyConnection, filters: Filters, scope: str | None = None, limit: int = 5000
) -> pl.DataFrame:
    """Findings of the selected reports (newest year first); ``scope`` 'report' or 'cross_year' narrows."""
    sel, params = selected_cte(filters)
    params = {**params, "scope": scope}
    sql = f"""WITH {sel}
        SELECT s.report_id, s.agency, s.year, f.rule, f.severity, f.message, f.expected, f.actual,
               f.suspect_key, f.scope
        FROM findings f JOIN sel s USING (report_id)
        WHERE $scope IS NULL OR f.scope = $scope
        ORDER BY s.year DESC, s.agency, f.severity, f.rule, s.report_id, f.message, f.keys, f.expected, f.actual
        LIMIT {int(limit)}"""  # a total order: the same rows, in the same order, on every view and export
    return run(con, sql, params)


def failed_files(con: duckdb.DuckDBPyConnection, limit: int = 1000) -> pl.DataFrame:
    """Files that could not be loaded (ingest_log 'unreadable'), newest first. Not narrowed by the filters:
    such a file has no agency or year."""
    return run(
        con,
        f"""SELECT "at", source_path, message FROM ingest_log WHERE status = 'unreadable'
            ORDER BY "at" DESC LIMIT {int(limit)}""",
        {},
    )


@named_query()
def sources_summary(con: duckdb.DuckDBPyConnection, filters: Filters) -> pl.DataFrame:
    """Reports per source format and synthetic flag."""
    sel, params = selected_cte(filters)
    return run(
        con,
        f"WITH {sel} SELECT format, synthetic, count(*) AS n_reports FROM sel GROUP BY ALL ORDER BY n_reports DESC",
        params,
    )


# -- report detail ----------------------------------------------------------------------------------------------


def report_choices(con: duckdb.DuckDBPyConnection, filters: Filters) -> pl.DataFrame:
    """Selectable reports: every version (current first) of the reports matching the filters."""
    where, params = filters.where("r", current_only=False)
    return run(
        con,
        f"""SELECT report_id, agency, year, is_current FROM reports r WHERE {where}
            ORDER BY agency NULLS LAST, year, is_current DESC, report_id""",
        params,
    )


def report_detail(con: duckdb.DuckDBPyConnection, report_id: int) -> dict[str, Any] | None:
    """One report version: its row, facts, derived totals, findings, sections and every version of the same
    agency and year."""
    p = {"rid": int(report_id)}
    report = run(con, "SELECT * FROM reports WHERE report_id = $rid", p)
    if report.is_empty():
        return None
    row = report.row(0, named=True)
    facts = run(
        con,
        "SELECT key, CAST(value AS DOUBLE) AS value, raw, blank, status, loc, confidence, page, bbox FROM facts "
        "WHERE report_id = $rid",
        p,
    )
    derived = run(
        con,
        f"SELECT key, CAST(value AS DOUBLE) AS value, sources, method FROM {_derived_source(con)} d "
        "WHERE report_id = $rid",
        p,
    )
    findings = run(
        con,
        "SELECT rule, severity, message, keys, expected, actual, suspect_key, scope FROM findings "
        "WHERE report_id = $rid ORDER BY severity, rule",
        p,
    )
    sections = run(con, "SELECT section, heading, text FROM sections WHERE report_id = $rid", p)
    version_cols = "report_id, is_current, replaced_by, source_path, sha256, loaded_at, n_errors, n_warnings"
    if row["agency"] is not None and row["year"] is not None:
        versions = run(
            con,
            f"SELECT {version_cols} FROM reports WHERE agency = $agency AND year = $year ORDER BY report_id",
            {"agency": row["agency"], "year": row["year"]},
        )
    else:
        versions = report.select(version_cols.split(", "))
    return {"report": row, "facts": facts, "derived": derived, "findings": findings, "sections": sections,
            "versions": versions}  # fmt: skip
