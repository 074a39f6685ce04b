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
from pipeline.store.cells import DERIVED, EMPTY, STATE_SQL, UNUSABLE, report_column
from pipeline.store.cells import REPORT_COLUMNS as CELL_REPORT_COLUMNS
from pipeline.store.cells import TABLE as CELLS_TABLE
from pipeline.store.relations import narrow_relation

COUNTED = "counted"
# why a report is left out of a metric (labels: pipeline.labels.LEFT_OUT_LABELS)
REASONS = ("not_derivable", "unusable", "zero_denominator", "empty", "not_in_panel", "no_table", "summary")
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


def selected_cte(filters: Filters, for_sums: bool = False) -> tuple[str, dict[str, Any]]:
    """``sel AS (the selected reports)``; ``for_sums``: the reports a sum is taken over (see :meth:`Filters.where`)."""
    where, params = filters.where("r", for_sums=for_sums)
    return f"sel AS (SELECT r.* FROM reports r WHERE {where})", params


def report_rows(con: duckdb.DuckDBPyConnection) -> tuple[str, str]:
    """(the cheapest relation with one row per report and the filter columns, the column that tells agencies
    apart in it): ``report_cells`` and its integer ``agency_key`` (hashing integers, not 285 k names, at 1 M
    reports), or ``reports`` and ``agency`` in a database from before ``report_cells``."""
    narrow = narrow_relation(con, CELLS_TABLE, list(CELL_REPORT_COLUMNS))
    if narrow is not None:
        return narrow, "agency_key"
    return (CELLS_TABLE, "agency_key") if has_table(con, CELLS_TABLE) else ("reports", "agency")


def cells_source(con: duckdb.DuckDBPyConnection, keys: list[str]) -> str:
    """The relation of per-report rows the metric queries scan: ``report_cells`` (:mod:`pipeline.store.cells`).

    Read straight from the segments, only the columns the query needs (:func:`pipeline.store.relations.narrow_relation`:
    binding the whole view costs more than many queries' work).  A database from before that table (opened read-only before its next write migrates it) gets the same columns —
    the report's filter columns, ``v__``/``s__`` of ``keys`` — pivoted out of ``reports``, ``facts`` and ``derived``.
    """
    keys = list(dict.fromkeys(keys))
    for k in keys:
        col(k)
    columns = [*CELL_REPORT_COLUMNS, *(f"{p}__{col(k)}" for k in keys for p in ("v", "s"))]
    narrow = narrow_relation(con, CELLS_TABLE, columns)
    if narrow is not None:
        return narrow
    if has_table(con, CELLS_TABLE):
        return CELLS_TABLE
    key_list = ", ".join(f"'{k}'" for k in keys) or "NULL"
    derived = (
        f"UNION ALL SELECT report_id, key, CAST(value AS DOUBLE), {DERIVED} FROM derived WHERE key IN ({key_list})"
        if has_table(con, "derived")
        else ""
    )
    pivot = "".join(
        f", CASE WHEN max(state) FILTER (WHERE key = '{k}') >= {DERIVED} THEN max(value) FILTER (WHERE key = '{k}') END"
        f" AS v__{col(k)}, max(state) FILTER (WHERE key = '{k}') AS s__{col(k)}"
        for k in keys
    )
    cells = f"""SELECT report_id{pivot} FROM (
            SELECT report_id, key, CAST(value AS DOUBLE) AS value, {STATE_SQL.format(status="status")} AS state
            FROM facts WHERE key IN ({key_list}) {derived}) GROUP BY report_id"""
    head = ", ".join(report_column(c, "r") for c in CELL_REPORT_COLUMNS)
    tail = "".join(f", c.v__{col(k)}, c.s__{col(k)}" for k in keys)
    return f"(SELECT {head}{tail} FROM reports r LEFT JOIN ({cells}) c USING (report_id))"


def _value(key: str, alias: str = "w") -> str:
    """A cell's contribution to a sum inside a rate: the printed or derived value, else 0.

    A blank part counts 0 (the template's arithmetic); a blank, underivable 总计 also yields 0 here, but the
    report's state is then ``not_derivable`` and it is not counted at all.
    """
    c = col(key)
    return f"(CASE WHEN {alias}.s__{c} >= {DERIVED} THEN {alias}.v__{c} ELSE 0 END)"


def _any(keys: tuple[str, ...], condition: str, alias: str = "w") -> str:
    return "(" + " OR ".join(condition.format(s=f"{alias}.s__{col(k)}") for k in keys) + ")" if keys else "false"


def _rate_parts(m: Metric, alias: str) -> tuple[str, str, tuple[str, ...]]:
    num = "(" + " + ".join(_value(k, alias) for k in m.numerator) + ")"
    den = "(" + " + ".join(_value(k, alias) for k in m.denominator) + ")"
    if m.denominator_minus:
        den = f"({den} - " + " - ".join(_value(k, alias) for k in m.denominator_minus) + ")"
    return num, den, tuple(k for k in m.keys if is_total(k))


def report_terms(m: Metric, alias: str = "w") -> tuple[str, str, str, str]:
    """SQL per report (``alias`` = its ``report_cells`` row): (numerator, denominator, state, uses a derived value).

    For a count the numerator is the cell's value (NULL unless printed or derived) and the denominator NULL.
    """
    a = alias
    if not m.is_rate:
        (key,) = m.numerator
        c = col(key)
        empty_reason = "'not_derivable'" if is_total(key) else "'empty'"
        state = f"""CASE WHEN {a}.s__{c} >= {DERIVED} THEN '{COUNTED}' WHEN {a}.s__{c} = {EMPTY} THEN {empty_reason}
                         WHEN {a}.s__{c} = {UNUSABLE} THEN 'unusable' ELSE 'no_table' END"""
        num = f"CASE WHEN {a}.s__{c} >= {DERIVED} THEN {a}.v__{c} END"
        return num, "CAST(NULL AS DOUBLE)", state, f"({a}.s__{c} = {DERIVED})"
    num, den, totals = _rate_parts(m, a)
    state = f"""CASE WHEN {_any(m.denominator, "{s} IS NOT NULL", a)} IS NOT TRUE THEN 'no_table'
                     WHEN {_any(m.keys, "{s} = " + str(UNUSABLE), a)} THEN 'unusable'
                     WHEN {_any(totals, "{s} = " + str(EMPTY), a)} THEN 'not_derivable'
                     WHEN {den} <= 0 THEN 'zero_denominator'
                     ELSE '{COUNTED}' END"""
    return num, den, state, _any(m.keys, "{s} = " + str(DERIVED), a)


def rate_code(m: Metric, alias: str = "w") -> str:
    """A rate's per-report state (:func:`report_terms`) as a small integer: 0 counted, 1 not_derivable,
    2 unusable, 3 zero_denominator, 6 no_table (cheaper to count than strings)."""
    a = alias
    num, den, totals = _rate_parts(m, a)
    return f"""CASE WHEN {_any(m.denominator, "{s} IS NOT NULL", a)} IS NOT TRUE THEN 6
                    WHEN {_any(m.keys, "{s} = " + str(UNUSABLE), a)} THEN 2
                    WHEN {_any(totals, "{s} = " + str(EMPTY), a)} THEN 1
                    WHEN {den} <= 0 THEN 3
                    ELSE 0 END"""


def panel_ctes(con: duckdb.DuckDBPyConnection, filters: Filters, by: tuple[str, ...], source: str,
               params: dict[str, Any]) -> tuple[str, str]:  # fmt: skip
    """The balanced panel of a trend: (a ``WITH`` clause, condition on ``s``) — or ("", "true") when it does not
    apply.  ``source``: the selected reports (a relation with its condition, e.g. ``report_cells w WHERE …``),
    ``params`` its parameters.

    With ``filters.panel == 'matched'`` a series over years is drawn over the same agencies: those with a current
    report in every year of the span (the years of the selection whose reports carry tables).  When no agency
    reported in every year, the series falls back to all reports (pages and ``xxgk metric`` say so: see
    :func:`pipeline.metrics.queries.panel_size`).  A per-agency series is one agency already, and a result without
    years has no trend, so neither is narrowed.

    An agency has at most one current report a year (the write path keeps one current version per agency and
    year), so its number of reports in the span is its number of years there; agencies are told apart by
    ``agency_key`` (:mod:`pipeline.store.cells`).  The span (a handful of years) is read first and written into the
    query as constants: a year test on each row is then a plain comparison, not a join with a list.
    """
    if filters.panel != "matched" or "year" not in by or "agency" in by:
        return "", "true"
    editions = ", ".join(f"'{e}'" for e in TABLE_EDITIONS)
    span = [int(y) for (y,) in con.sql(
        f"SELECT DISTINCT year FROM {source} AND year IS NOT NULL AND edition IN ({editions}) ORDER BY year",
        params=params or None).fetchall()]  # fmt: skip
    if not span:  # no panel: every report is in the series
        return "", "true"
    years = ", ".join(str(y) for y in span)
    ctes = f"""WITH panel AS (SELECT agency_key FROM {source} AND agency IS NOT NULL AND year IN ({years})
                             GROUP BY agency_key HAVING count(*) = {len(span)})"""
    return ctes, ("(NOT EXISTS (SELECT 1 FROM panel) OR (s.year IN ("
                  f"{years}) AND s.agency_key IN (SELECT agency_key FROM panel)))")  # fmt: skip
