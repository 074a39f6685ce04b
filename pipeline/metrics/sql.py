"""SQL building blocks of the metric queries: the selection, the per-report cell pivot, per-report metric terms.

Every cell a metric reads is pivoted per report into two columns: its analytic value and its *state*:

====  ==========  ==============================================================================
code  state       meaning
====  ==========  ==============================================================================
5     printed     the source printed a number (0 included)
4     derived     the source left a 总计 blank; the value is derived from its parts (table ``derived``)
2     empty       blank or a null marker ("/", "—", "无") and nothing could be derived
1     unusable    the cell was not located, or its text is ambiguous
NULL  absent      not in the report's layout (another edition, a legacy report, no such table)
====  ==========  ==============================================================================

From these each report gets, per metric, a numerator, a denominator and a :data:`COUNTED` state or the reason it
is left out (:data:`REASONS`).  A report is never counted with a made-up 0: an underivable 总计 takes the report
out of that rate's numerator *and* denominator.  Inside a rate, a blank *part* cell (an applicant column, a 表四
result) is 0, as in the template's own arithmetic.  Every value reaches DuckDB as a bound parameter; keys are
checked against the registry before they become column names.
"""

from __future__ import annotations

import re
from typing import Any

import duckdb
import polars as pl

from pipeline.derive import is_total
from pipeline.filters import Filters
from pipeline.metrics.catalogue import Metric
from pipeline.registry import registry

PRINTED, DERIVED, EMPTY, UNUSABLE = 5, 4, 2, 1
COUNTED = "counted"
# why a report is left out of a metric (labels: pipeline.labels.LEFT_OUT_LABELS)
REASONS = ("not_derivable", "unusable", "zero_denominator", "empty", "not_in_panel", "no_table")
GROUP_COLUMNS = {
    "year": "year",
    "agency": "agency",
    "agency_type": "agency_type",
    "level": "level",
    "province": "province",
    "city": "city",
    "county": "county",
    "edition": "edition",
}
TABLE_EDITIONS = ("2019", "2021")  # reports that carry the statistical tables
_KEY_RE = re.compile(r"^[a-z0-9_.]+$")


def col(key: str) -> str:
    """The pivot column stem of a registry key (``t3__granted__total``); refuses anything not in the registry."""
    if key not in registry() or not _KEY_RE.match(key):
        raise KeyError(f"未知字段: {key!r}")
    return key.replace(".", "__")


def run(con: duckdb.DuckDBPyConnection, sql: str, params: dict[str, Any]) -> pl.DataFrame:
    return con.sql(sql, params=params or None).pl()


def has_table(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    """Whether the database has ``name`` (a table, or a view onto one on a read-only connection)."""
    found = con.execute(
        "SELECT count(*) FROM (SELECT table_name AS n FROM duckdb_tables() UNION ALL "
        "SELECT view_name FROM duckdb_views() WHERE NOT internal) WHERE n = ?",
        [name],
    ).fetchall()
    return bool(found[0][0])


def selected_cte(filters: Filters) -> tuple[str, dict[str, Any]]:
    where, params = filters.where("r")
    return f"sel AS (SELECT r.* FROM reports r WHERE {where})", params


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


def _value(key: str) -> str:
    """A cell's contribution to a sum inside a rate: the printed or derived value, else 0.

    A blank part counts 0 (the template's arithmetic); a blank, underivable 总计 also yields 0 here, but the
    report's state is then ``not_derivable`` and it is not counted at all.
    """
    c = col(key)
    return f"(CASE WHEN w.s__{c} >= {DERIVED} THEN w.v__{c} ELSE 0 END)"


def _any(keys: tuple[str, ...], condition: str) -> str:
    return "(" + " OR ".join(condition.format(s=f"w.s__{col(k)}") for k in keys) + ")" if keys else "false"


def report_terms(m: Metric) -> tuple[str, str, str, str]:
    """SQL per report (alias ``w`` = wide): (numerator, denominator, state, uses a derived value).

    For a count the numerator is the cell's value (NULL unless printed or derived) and the denominator NULL.
    """
    if not m.is_rate:
        (key,) = m.numerator
        c = col(key)
        empty_reason = "'not_derivable'" if is_total(key) else "'empty'"
        state = f"""CASE WHEN w.s__{c} >= {DERIVED} THEN '{COUNTED}' WHEN w.s__{c} = {EMPTY} THEN {empty_reason}
                         WHEN w.s__{c} = {UNUSABLE} THEN 'unusable' ELSE 'no_table' END"""
        num = f"CASE WHEN w.s__{c} >= {DERIVED} THEN w.v__{c} END"
        return num, "CAST(NULL AS DOUBLE)", state, f"(w.s__{c} = {DERIVED})"
    num = "(" + " + ".join(_value(k) for k in m.numerator) + ")"
    den = "(" + " + ".join(_value(k) for k in m.denominator) + ")"
    if m.denominator_minus:
        den = f"({den} - " + " - ".join(_value(k) for k in m.denominator_minus) + ")"
    totals = tuple(k for k in m.keys if is_total(k))
    state = f"""CASE WHEN {_any(m.denominator, "{s} IS NOT NULL")} IS NOT TRUE THEN 'no_table'
                     WHEN {_any(m.keys, "{s} = " + str(UNUSABLE))} THEN 'unusable'
                     WHEN {_any(totals, "{s} = " + str(EMPTY))} THEN 'not_derivable'
                     WHEN {den} <= 0 THEN 'zero_denominator'
                     ELSE '{COUNTED}' END"""
    return num, den, state, _any(m.keys, "{s} = " + str(DERIVED))


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
