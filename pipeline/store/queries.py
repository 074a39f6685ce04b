"""Typed read queries of the command line and the upload page: ``fn(con, ...)``, run through ``Database.query``.

The dashboard's named queries live in :mod:`pipeline.metrics`.
"""

from __future__ import annotations

from typing import Any

import duckdb


def recent_findings(
    con: duckdb.DuckDBPyConnection, limit: int = 50, severity: str | None = None
) -> list[tuple[Any, ...]]:
    """Findings of current reports (and cross-year ones), newest report first:
    (report_id, agency, year, rule, severity, message, scope)."""
    where = "AND f.severity = ?" if severity else ""
    params: list[object] = [severity] if severity else []
    return con.execute(
        f"""SELECT r.report_id, r.agency, r.year, f.rule, f.severity, f.message, f.scope
            FROM findings f LEFT JOIN reports r USING (report_id)
            WHERE (r.is_current OR r.report_id IS NULL) {where}
            ORDER BY r.loaded_at DESC NULLS LAST, r.report_id DESC, f.severity, f.rule, f.message, f.scope
            LIMIT {int(limit)}""",
        params,
    ).fetchall()


def report_history(con: duckdb.DuckDBPyConnection, agency: str, year: int) -> list[tuple[Any, ...]]:
    """Every stored version of one agency's report for one year, oldest first: (report_id, is_current,
    replaced_by, sha256, source_path, loaded_at, n_errors, n_warnings)."""
    return con.execute(
        """SELECT report_id, is_current, replaced_by, sha256, source_path, loaded_at, n_errors, n_warnings
           FROM reports WHERE agency = ? AND year = ? ORDER BY report_id""",
        [agency, year],
    ).fetchall()


def report_ids(con: duckdb.DuckDBPyConnection, hashes: list[str]) -> dict[str, int]:
    """sha256 → report id of the stored reports among ``hashes``."""
    if not hashes:
        return {}
    rows = con.execute(
        "SELECT sha256, report_id FROM reports WHERE sha256 IN (SELECT unnest(?::VARCHAR[]))", [hashes]
    ).fetchall()
    return {sha: rid for sha, rid in rows}


def report_findings(con: duckdb.DuckDBPyConnection, report_id: int) -> list[tuple[Any, ...]]:
    """(rule, severity, message, scope) of one report's findings, errors first."""
    return con.execute(
        """SELECT rule, severity, message, scope FROM findings WHERE report_id = ?
           ORDER BY CASE severity WHEN 'error' THEN 0 WHEN 'warning' THEN 1 ELSE 2 END, rule""",
        [report_id],
    ).fetchall()
