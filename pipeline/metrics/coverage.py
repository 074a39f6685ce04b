"""Which agency filed for which year: the agency × year status grid of 总览 and 数据质量.

A cell is 通过 / 有警告 / 有错误 for a filed (current) report and 缺报 for a year inside the selection's year span
with no current report from that agency.  The span is the filtered years, or every year of the selection with a
report in the 2019 or 2021 format (a handful of legacy 2018 reports must not make every other agency "missing"
for 2018).

At a national store the whole grid is millions of cells (285 k agencies × 7 years at 1 M reports): the pages read
:func:`coverage_grid` — the first :data:`GRID_AGENCIES` agencies in name order, pivoted in SQL, with the total —
and :func:`coverage_by_year` for the chart, never the whole :func:`coverage_matrix`.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import polars as pl

from pipeline.filters import Filters
from pipeline.metrics.named import named_query
from pipeline.metrics.sql import run, selected_cte

GRID_AGENCIES = 2_000  # agencies a page's grid lists (a table of more is neither read nor sent quickly)
MISSING = "缺报"


def _span_sql(filters: Filters) -> str:
    return ("SELECT unnest($f_years) AS year" if filters.years
            else "SELECT DISTINCT year FROM sel WHERE edition IN ('2019', '2021') AND year IS NOT NULL")  # fmt: skip


def _status_sql(report: str) -> str:
    return (f"CASE WHEN {report}.report_id IS NULL THEN '{MISSING}' WHEN {report}.n_errors > 0 THEN '有错误'"
            f" WHEN {report}.n_warnings > 0 THEN '有警告' ELSE '通过' END")  # fmt: skip


def coverage_matrix(con: duckdb.DuckDBPyConnection, filters: Filters) -> pl.DataFrame:
    """Every agency × year of the span (long form): agency, year, report_id, status, n_errors, n_warnings."""
    sel, params = selected_cte(filters)
    sql = f"""WITH {sel},
        yrs AS ({_span_sql(filters)}),
        ags AS (SELECT DISTINCT agency FROM sel WHERE agency IS NOT NULL),
        grid AS (SELECT a.agency, y.year FROM ags a CROSS JOIN yrs y WHERE y.year IS NOT NULL)
        SELECT g.agency, g.year, s.report_id, {_status_sql("s")} AS status, s.n_errors, s.n_warnings
        FROM grid g LEFT JOIN sel s ON s.agency = g.agency AND s.year = g.year
        ORDER BY g.agency, g.year"""
    return run(con, sql, params)


@dataclass(frozen=True)
class CoverageGrid:
    """The first agencies of the grid, one row each (机关 and one status column per year), and how many there are."""

    grid: pl.DataFrame
    n_agencies: int  # agencies in the whole grid (with ``only_missing``: those with at least one 缺报)


@named_query(lambda s: {"": (), "only missing": (True,)})
def coverage_grid(
    con: duckdb.DuckDBPyConnection, filters: Filters, only_missing: bool = False, limit: int = GRID_AGENCIES
) -> CoverageGrid:
    """The agency × year grid for a page: the first ``limit`` agencies in name order (``only_missing``: of the
    agencies missing a year), each agency's years as columns — the rows of :func:`coverage_matrix`, pivoted."""
    sel, params = selected_cte(filters)
    span = [r[0] for r in con.sql(f"WITH {sel} {_span_sql(filters)} ORDER BY 1", params=params or None).fetchall()]
    if not span:
        return CoverageGrid(pl.DataFrame({"agency": []}, schema={"agency": pl.String}), 0)
    years = ", ".join(str(int(y)) for y in span)
    having = f"HAVING count(DISTINCT year) FILTER (WHERE year IN ({years})) < {len(span)}" if only_missing else ""
    picked = f"""SELECT agency, count(*) OVER () AS n FROM sel WHERE agency IS NOT NULL
                 GROUP BY agency {having} ORDER BY agency LIMIT {int(limit)}"""
    sql = f"""WITH {sel}, picked AS ({picked})
        SELECT p.agency, p.n, y.year, {_status_sql("s")} AS status
        FROM picked p CROSS JOIN (SELECT unnest([{years}]) AS year) y
        LEFT JOIN sel s ON s.agency = p.agency AND s.year = y.year
        ORDER BY p.agency, y.year"""
    long = run(con, sql, params)
    if long.is_empty():
        return CoverageGrid(pl.DataFrame({"agency": []}, schema={"agency": pl.String}), 0)
    grid = long.pivot(on="year", index="agency", values="status", sort_columns=True)
    return CoverageGrid(grid.sort("agency"), int(long["n"][0]))


@named_query()
def coverage_by_year(con: duckdb.DuckDBPyConnection, filters: Filters) -> pl.DataFrame:
    """(year, status, len): how many agencies filed, with which result, or are missing, per year of the span —
    the counts of :func:`coverage_matrix` without building it."""
    sel, params = selected_cte(filters)
    sql = f"""WITH {sel},
        yrs AS ({_span_sql(filters)}),
        n_agencies AS (SELECT count(DISTINCT agency) AS n FROM sel WHERE agency IS NOT NULL),
        filed AS (SELECT s.year, {_status_sql("s")} AS status, count(*) AS len
                  FROM sel s WHERE s.agency IS NOT NULL AND s.year IN (SELECT year FROM yrs) GROUP BY ALL),
        missing AS (SELECT y.year, '{MISSING}' AS status,
                           (SELECT n FROM n_agencies) - coalesce((SELECT sum(len) FROM filed f WHERE f.year = y.year), 0)
                           AS len FROM yrs y)
        SELECT year, status, CAST(len AS BIGINT) AS len FROM (SELECT * FROM filed UNION ALL SELECT * FROM missing)
        WHERE len > 0 ORDER BY year, status"""
    return run(con, sql, params)
