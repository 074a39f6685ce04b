"""SUM-1: a region's summary report against the sum of its members' reports, cell by cell (SQL over the store).

A summary report (``reports.is_summary``, recognised by :mod:`pipeline.summary`) covers a region: a province (no
city or county), a city (no county) or a county.  Its **members** are the current, non-summary reports of the same
year whose region lies inside it (same province; same city for a city; same county for a county) — every level
below, the region's own departments included; other summary reports inside the region are not members (their
members are counted directly).

Per cell of the summary's layout the rule compares the summary's value with Σ members' values, where a value is
the printed number, a blank 总计's derived value (:mod:`pipeline.derive`), 0 for a blank or "/" part cell (the
template's own arithmetic), and *unknown* for a cell that was not located, is ambiguous, or is a blank 总计 that
cannot be derived.  A cell is compared only when the summary's value and every member's value are known; a member
whose layout lacks the cell (another edition) is no member for that cell.  A difference is a **warning** (scope
``region``) on the summary report: it also appears when members' reports are missing from the store (the sum is
then too small), which is why the message gives the number of member reports summed.
"""

from __future__ import annotations

import duckdb
import polars as pl

from pipeline.derive import is_total
from pipeline.labels import TABLE_NAMES
from pipeline.registry import registry

RULE_SUMMARY = "SUM-1"
SCOPE = "region"
# a cell is compared when the summary's value and every member's are known and every member's layout has it
COMPARED = ("c.summary_value IS NOT NULL AND c.n_members > 0 AND c.n_with_cell = c.n_members "
            "AND c.n_unknown = 0")  # fmt: skip


def _num(expr: str) -> str:
    """A cell value as text: whole numbers without decimals, amounts (万元) with theirs."""
    return (f"(CASE WHEN ({expr}) = round({expr}) THEN CAST(CAST({expr} AS BIGINT) AS VARCHAR) "
            f"ELSE CAST(CAST(round({expr}, 4) AS DOUBLE) AS VARCHAR) END)")  # fmt: skip


def _cell_labels() -> pl.DataFrame:
    reg = registry()
    return pl.DataFrame(
        {
            "key": [f.key for f in reg.fields],
            "label": [f"{TABLE_NAMES[f.table]}「{f.label}」" for f in reg.fields],
            "is_total": [is_total(f.key) for f in reg.fields],
        }
    )


def summaries_cte(summary_where: str = "true") -> str:
    """``summaries AS (…)``: the current summary reports matching ``summary_where`` (on ``reports r``)."""
    return f"""summaries AS (
            SELECT report_id, agency, year, province, city, county FROM reports r
            WHERE r.is_current AND r.is_summary AND r.year IS NOT NULL AND r.province IS NOT NULL AND ({summary_where}))"""


def member_ctes(summary_where: str = "true") -> str:
    """``summaries AS (…), pairs AS (summary_id, member_id)``: the current summary reports matching
    ``summary_where`` (on ``reports r``) and every current non-summary report of the same year inside each one's
    region — the members whose cells it should be the sum of."""
    return f"""{summaries_cte(summary_where)},
        pairs AS (
            SELECT s.report_id AS summary_id, m.report_id AS member_id
            FROM summaries s JOIN reports m
              ON m.is_current AND NOT coalesce(m.is_summary, false) AND m.year = s.year
             AND m.province = s.province
             AND (s.city IS NULL OR m.city = s.city)
             AND (s.county IS NULL OR (m.county = s.county AND m.city IS NOT DISTINCT FROM s.city))
             AND m.report_id <> s.report_id)"""


# A member's or the summary's value of one cell: printed, derived, 0 for a blank part; NULL when unknown.
def comparison_sql(derived: str, summary_where: str = "true") -> str:
    """``WITH … SELECT summary_id, key, summary_value, member_sum, n_members, n_with_cell, n_unknown`` for every cell
    of the summaries matching ``summary_where`` (on ``reports r``); needs the registered frame ``_sum_cells``.

    Members depend only on a summary's year and region (a summary is never a member), so they are found and summed
    once per region, then joined to every summary of that region — the same pairs as :func:`member_ctes`, without
    summing the same members again for each copy of a region's summary (a province's many summaries in one year
    joined millions of member cells).  The derived totals are read for those reports only: a join with the whole
    table built a hash table of every derived total in the store (and spilled under a writer's memory limit)."""
    same_region = ("np.year = s.year AND np.province = s.province AND np.city IS NOT DISTINCT FROM s.city"
                   " AND np.county IS NOT DISTINCT FROM s.county")  # fmt: skip
    return f"""
        WITH {summaries_cte(summary_where)},
        regions AS (SELECT DISTINCT year, province, city, county FROM summaries),
        members AS (
            SELECT g.year, g.province, g.city, g.county, m.report_id AS member_id
            FROM regions g JOIN reports m
              ON m.is_current AND NOT coalesce(m.is_summary, false) AND m.year = g.year
             AND m.province = g.province
             AND (g.city IS NULL OR m.city = g.city)
             AND (g.county IS NULL OR (m.county = g.county AND m.city IS NOT DISTINCT FROM g.city))),
        n_pairs AS (SELECT year, province, city, county, count(*) AS n FROM members GROUP BY ALL),
        rel AS (SELECT report_id FROM summaries UNION SELECT member_id FROM members),
        vals AS (
            SELECT f.report_id, f.key,
                   CASE WHEN f.status = 'ok' THEN f.value
                        WHEN f.status IN ('blank', 'null_marker') THEN
                             coalesce(d.value, CASE WHEN l.is_total THEN NULL ELSE 0 END)
                   END AS v
            FROM facts f JOIN rel USING (report_id) JOIN _sum_cells l ON l.key = f.key
            LEFT JOIN (SELECT * FROM {derived} WHERE report_id IN (SELECT report_id FROM rel)) d
                 ON d.report_id = f.report_id AND d.key = f.key
            WHERE f.status <> 'not_in_layout'),
        sums AS (
            SELECT g.year, g.province, g.city, g.county, v.key, sum(v.v) AS total, count(*) AS n_with_cell,
                   count(*) FILTER (WHERE v.v IS NULL) AS n_unknown
            FROM members g JOIN vals v ON v.report_id = g.member_id
            GROUP BY ALL)
        SELECT s.report_id AS summary_id, s.agency, s.year, sv.key, sv.v AS summary_value, x.total AS member_sum,
               coalesce(np.n, 0) AS n_members, coalesce(x.n_with_cell, 0) AS n_with_cell,
               coalesce(x.n_unknown, 0) AS n_unknown
        FROM summaries s JOIN vals sv ON sv.report_id = s.report_id
        LEFT JOIN n_pairs np ON {same_region}
        LEFT JOIN sums x ON {same_region.replace("np.", "x.")} AND x.key = sv.key"""


def derived_source(con: duckdb.DuckDBPyConnection) -> str:
    found = con.execute(
        "SELECT count(*) FROM (SELECT table_name AS n FROM duckdb_tables() UNION ALL "
        "SELECT view_name FROM duckdb_views() WHERE NOT internal) WHERE n = 'derived'"
    ).fetchall()[0][0]
    return "derived" if found else ("(SELECT NULL::INTEGER AS report_id, NULL::VARCHAR AS key, "
                                    "NULL::DECIMAL(18,4) AS value WHERE false)")  # fmt: skip


def register_cells(con: duckdb.DuckDBPyConnection) -> None:
    con.register("_sum_cells", _cell_labels())


def touched_regions(new_reports: str, con: duckdb.DuckDBPyConnection | None = None) -> str:
    """A condition on ``reports r`` (a summary report): its region and year hold a report of ``new_reports`` (a
    relation with year, province, city, county — what one write added), i.e. its comparison may have changed.

    With ``con``, the years and provinces of ``new_reports`` are read now and written into the condition as
    constants too: every scan of ``reports`` it filters then skips what cannot match instead of testing each of
    the store's reports against the relation (the same rows: the constants only restate part of the condition)."""
    exists = f"""EXISTS (SELECT 1 FROM {new_reports} t WHERE t.year = r.year AND t.province = r.province
                       AND (r.city IS NULL OR t.city = r.city)
                       AND (r.county IS NULL OR (t.county = r.county AND t.city IS NOT DISTINCT FROM r.city)))"""
    if con is None:
        return exists
    rows = con.execute(f"SELECT DISTINCT year, province FROM {new_reports} WHERE year IS NOT NULL"
                       " AND province IS NOT NULL").fetchall()  # fmt: skip
    if not rows:
        return "false"
    years = ", ".join(sorted({str(int(y)) for y, _ in rows}))
    provinces = ", ".join(sorted({"'" + str(p).replace("'", "''") + "'" for _, p in rows}))
    return f"(r.year IN ({years}) AND r.province IN ({provinces}) AND {exists})"


def refresh_summaries(con: duckdb.DuckDBPyConnection, table: str = "findings", summary_where: str = "true") -> int:
    """Recompute the SUM-1 findings (replacing the previous ones) in one transaction; returns their total count.

    ``table``: where the findings are kept (the segmented store keeps them in its catalog, :mod:`pipeline.store.segments`).
    ``summary_where``: recompute only the summaries matching this condition on ``reports r`` (a write passes
    :func:`touched_regions` of the reports it added); the others' findings stay as they are.
    """
    if (
        summary_where != "true"
        and not con.execute(f"SELECT count(*) FROM reports r WHERE r.is_summary AND ({summary_where})").fetchall()[0][0]
    ):  # no summary report in the regions written to: nothing to recompute (most writes)
        return int(con.execute(f"SELECT count(*) FROM {table} WHERE scope = '{SCOPE}'").fetchall()[0][0])
    derived = derived_source(con)
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(f"DELETE FROM {table} WHERE scope = '{SCOPE}' AND (report_id IN "
                    f"(SELECT report_id FROM reports r WHERE {summary_where}) OR {summary_where == 'true'})")  # fmt: skip
        register_cells(con)
        # compared: the summary's value and every member's are known, and every member's layout has the cell
        con.execute(f"""
            INSERT INTO {table} (report_id, rule, severity, message, keys, expected, actual, scope)
            WITH c AS ({comparison_sql(derived, summary_where)})
            SELECT c.summary_id, '{RULE_SUMMARY}', 'warning',
                   c.agency || ' ' || c.year || ' 年' || l.label || '为 ' || {_num("c.summary_value")}
                   || '，区域内 ' || c.n_members || ' 份成员报告之和为 ' || {_num("c.member_sum")}
                   || '，相差 ' || {_num("c.summary_value - c.member_sum")}
                   || '（汇总报告应等于区域内各机关报告之和；成员报告缺报时合计偏小）',
                   [c.key], {_num("c.member_sum")}, {_num("c.summary_value")}, '{SCOPE}'
            FROM c JOIN _sum_cells l ON l.key = c.key
            WHERE {COMPARED} AND c.summary_value <> c.member_sum""")
        con.unregister("_sum_cells")
        n = con.execute(f"SELECT count(*) FROM {table} WHERE scope = '{SCOPE}'").fetchall()[0][0]
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    return int(n)
