"""Queries that read records rather than metrics: findings, one report (the explorer's cells:
:mod:`pipeline.metrics.explorer`; the filter options: :mod:`pipeline.metrics.options`)."""

from __future__ import annotations

from typing import Any

import duckdb
import polars as pl

from pipeline.filters import Filters
from pipeline.metrics.named import named_query
from pipeline.metrics.sql import has_table, run, selected_cte


def derived_source(con: duckdb.DuckDBPyConnection) -> str:
    """The ``derived`` table, or an empty relation of its columns in a database from before it."""
    if has_table(con, "derived"):
        return "derived"
    return (
        "(SELECT NULL::INTEGER AS report_id, NULL::VARCHAR AS key, NULL::DECIMAL(18,4) AS value, "
        "NULL::VARCHAR[] AS sources, NULL::VARCHAR AS method WHERE false)"
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
        f"SELECT key, CAST(value AS DOUBLE) AS value, sources, method FROM {derived_source(con)} d "
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
