"""Timeliness and coverage: was each report published by its deadline, and which agencies have not published.

- :func:`timeliness_reports`: every selected report with its publication date, the date's source, the deadline
  (31 January of the following year, 条例 第五十条), its status (on time / late / unknown: the same definition as
  :func:`pipeline.published.timeliness`) and how many days late;
- :func:`timeliness_by_year`: the statuses counted per year, with the on-time share among reports whose date is
  known (a rate: under the small-number guard when fewer than ``min_n`` reports have a date);
- :func:`not_published`: for one year, the agencies of the selection with a report in an earlier year but none for
  that year (缺报 / 尚未发布), with their last year reported.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import duckdb
import polars as pl

from pipeline.filters import Filters
from pipeline.metrics.listing import Listing, Window, windowed
from pipeline.metrics.named import named_query
from pipeline.metrics.sql import report_rows, run, selected_cte
from pipeline.published import LATE, ON_TIME, UNKNOWN, YEARS_AFTER

REPORT_COLUMNS = ("report_id", "agency", "year", "province", "city", "county", "level", "agency_type",
                  "synthetic", "published", "published_source")  # fmt: skip


# :func:`pipeline.published.timeliness` in SQL, over ``published`` and ``year`` (tests check the two agree)
_DEADLINE_SQL = "make_date(year + 1, 1, 31)"
_STATUS_SQL = (
    f"CASE WHEN year IS NULL OR published IS NULL OR published < make_date(year, 12, 1)"
    f" OR published > make_date(year + {YEARS_AFTER}, 12, 31) THEN '{UNKNOWN}'"
    f" WHEN published <= {_DEADLINE_SQL} THEN '{ON_TIME}' ELSE '{LATE}' END"
)
_DATED_SQL = f"{_DEADLINE_SQL} AS deadline, {_STATUS_SQL} AS status"  # the columns every report gets
_DAYS_LATE_SQL = f"CASE WHEN status = '{LATE}' THEN published - deadline END AS days_late"  # over those columns
TIMELINESS_ORDER = ["year DESC", "agency", "report_id"]  # newest year first; a total order


def _timeliness_rows(filters: Filters, status: str | None) -> tuple[str, dict[str, Any]]:
    """The selected reports (those of ``status`` only, when given) with deadline, status and days late; no order."""
    sel, params = selected_cte(filters)
    rows = f"""WITH {sel}, dated AS (SELECT {", ".join(REPORT_COLUMNS)}, {_DATED_SQL} FROM sel)
               SELECT *, {_DAYS_LATE_SQL} FROM dated"""
    if status is None:
        return rows, params
    if status not in (ON_TIME, LATE, UNKNOWN):
        raise ValueError(f"unknown timeliness status: {status!r}")
    return f"SELECT * FROM ({rows}) WHERE status = $status", {**params, "status": status}


def timeliness_reports(con: duckdb.DuckDBPyConnection, filters: Filters, status: str | None = None) -> pl.DataFrame:
    """The selected reports (of one ``status``, when given) with ``deadline``, ``status`` and ``days_late`` (NULL
    unless late), newest year first: the whole list (downloads, ``xxgk regions``)."""
    rows, params = _timeliness_rows(filters, status)
    return run(con, f"SELECT * FROM ({rows}) ORDER BY {', '.join(TIMELINESS_ORDER)}", params)


@named_query(lambda s: {"": (None, Window()), "late, page 2": (LATE, Window(offset=100))})
def timeliness_page(con: duckdb.DuckDBPyConnection, filters: Filters, status: str | None, window: Window) -> Listing:
    """One page of :func:`timeliness_reports`, and its length."""
    rows, params = _timeliness_rows(filters, status)
    count_sql = f"SELECT count(*) FROM ({rows})"
    return windowed(con, rows, count_sql, params, window, TIMELINESS_ORDER, set())


@named_query()
def timeliness_by_year(con: duckdb.DuckDBPyConnection, filters: Filters) -> pl.DataFrame:
    """Per year: reports on time, late, without a date; ``on_time_share`` = on time ÷ reports with a date, guarded
    (``guarded``) when fewer than ``filters.min_n`` reports have a date; per source, how many dates came from it."""
    # counted per (year, date, date source) in SQL — a few thousand rows, not one per report — each given the status
    # and days late of timeliness_reports, then weighted by the number of reports
    sel, params = selected_cte(filters)
    df = run(con, f"""WITH {sel}, dates AS (SELECT year, published, published_source, count(*) AS n FROM sel
                                            WHERE year IS NOT NULL GROUP BY ALL),
                      dated AS (SELECT *, {_DATED_SQL} FROM dates)
                      SELECT year, published_source, status, {_DAYS_LATE_SQL}, n FROM dated""", params)  # fmt: skip
    if df.is_empty():
        return pl.DataFrame(schema={"year": pl.Int32, "n_reports": pl.UInt32, "on_time": pl.UInt32,
                                    "late": pl.UInt32, "unknown": pl.UInt32, "on_time_share": pl.Float64,
                                    "guarded": pl.Boolean})  # fmt: skip
    n = pl.col("n")

    def reports(condition: pl.Expr) -> pl.Expr:
        return pl.when(condition).then(n).otherwise(0).sum().cast(pl.UInt32)

    out = df.group_by("year").agg(
        n.sum().cast(pl.UInt32).alias("n_reports"),
        reports(pl.col("status") == ON_TIME).alias("on_time"),
        reports(pl.col("status") == LATE).alias("late"),
        reports(pl.col("status") == UNKNOWN).alias("unknown"),
        *[reports(pl.col("published_source") == s).alias(f"from_{s}") for s in ("manifest", "page", "document")],
        pl.col("days_late")
        .repeat_by(n)
        .list.explode(keep_nulls=False, empty_as_null=False)
        .median()
        .alias("median_days_late"),
    )
    known = pl.col("on_time") + pl.col("late")
    return out.with_columns(
        pl.when(known > 0).then(pl.col("on_time") / known).alias("on_time_share"),
        ((known < filters.min_n) & (known > 0)).alias("guarded"),
    ).sort("year")


MISSING_ORDER = ["province NULLS LAST", "city NULLS FIRST", "county NULLS FIRST", "agency"]  # one name per agency


def _not_published_sql(con: duckdb.DuckDBPyConnection, filters: Filters, year: int) -> tuple[str, str, dict[str, Any]]:
    """(rows, count, params): the agencies not published in ``year`` without an order, and their count.

    Counted per agency (its integer key in report_cells), then the row of its last year joined back for where it
    was and what it was then (eight arg_max aggregates over a million rows cost more than the join): one row, as
    the write path keeps one current report per agency and year.  The count needs no join."""
    source, agency_id = report_rows(con)
    where, params = replace(filters, years=()).where("r")
    missing = f"""WITH sel AS (SELECT * FROM {source} r WHERE {where}),
        before AS (SELECT {agency_id} AS agency_id, max(year) AS last_year, count(*) AS n_reports_before,
                          bool_or(synthetic) AS synthetic
                   FROM sel WHERE {agency_id} IS NOT NULL AND year < $y GROUP BY 1),
        this AS (SELECT DISTINCT {agency_id} AS agency_id FROM sel WHERE year = $y AND {agency_id} IS NOT NULL),
        missing AS (SELECT * FROM before ANTI JOIN this USING (agency_id))"""
    rows = f"""{missing}
        SELECT $y AS year, s.agency, s.province, s.city, s.county, s.level, s.agency_type, m.last_year,
               m.n_reports_before, m.synthetic
        FROM missing m JOIN sel s ON s.{agency_id} = m.agency_id AND s.year = m.last_year"""
    return rows, f"{missing} SELECT count(*) FROM missing", {**params, "y": int(year)}


def not_published(con: duckdb.DuckDBPyConnection, filters: Filters, year: int) -> pl.DataFrame:
    """Agencies of the selection (any year) with a current report before ``year`` and none for ``year``, by region
    and name: the whole list (downloads, ``xxgk regions``).

    The year filter does not narrow who is expected (an agency is expected because it published before), only the
    other filters do; an agency whose name changed appears under its old name.
    """
    rows, _, params = _not_published_sql(con, filters, year)
    return run(con, f"SELECT * FROM ({rows}) ORDER BY {', '.join(MISSING_ORDER)}", params)


@named_query(lambda s: {"": (s.year, Window()), "page 2": (s.year, Window(offset=100))})
def not_published_page(con: duckdb.DuckDBPyConnection, filters: Filters, year: int, window: Window) -> Listing:
    """One page of :func:`not_published`, and its length."""
    rows, count, params = _not_published_sql(con, filters, year)
    return windowed(con, rows, count, params, window, MISSING_ORDER, set())


@named_query()
def expected_years(con: duckdb.DuckDBPyConnection, filters: Filters) -> list[int]:
    """Years for which a not-published list makes sense: every year after the first of the selection (ignoring the
    year filter), up to the year after the last one — newest first."""
    sel, params = selected_cte(replace(filters, years=()))
    row = con.sql(f"WITH {sel} SELECT min(year), max(year) FROM sel WHERE edition IN ('2019', '2021')",
                  params=params or None).fetchall()[0]  # fmt: skip
    if row[0] is None:
        return []
    return list(range(int(row[1]) + 1, int(row[0]), -1))


# -- tables for people and exports --------------------------------------------------------------------------------

REPORT_LABELS: dict[str, str] = {
    "report_id": "报告编号", "agency": "机关", "year": "年度", "province": "省份", "city": "市（地区）",
    "county": "区县", "level": "行政层级", "agency_type": "机关类型", "synthetic": "示例数据",
    "published": "发布日期", "published_source": "日期来源", "deadline": "法定期限", "status": "是否按时",
    "days_late": "逾期天数",
}  # fmt: skip
MISSING_LABELS: dict[str, str] = {
    "year": "年度", "agency": "机关", "province": "省份", "city": "市（地区）", "county": "区县",
    "level": "行政层级", "agency_type": "机关类型", "last_year": "最近一次报告年度",
    "n_reports_before": "此前报告份数", "synthetic": "示例数据",
}  # fmt: skip
NOTES: dict[str, str] = {
    "published": "报告的发布日期；来源见「日期来源」",
    "published_source": "清单登记 / 网页标注的发布时间 / 文件属性（创建时间：文件此时已存在，据此判为逾期是确定的，"
                        "判为按时仅供参考）",
    "deadline": "《政府信息公开条例》第五十条：每年 1 月 31 日前公布上一年度报告",
    "status": "按时 / 逾期 / 发布日期不详（没有可信的发布日期时不作判断）",
    "days_late": "发布日期晚于法定期限的天数",
    "last_year": "该机关在此年度之前最近一次有报告的年度",
}  # fmt: skip


def for_people(df: pl.DataFrame) -> pl.DataFrame:
    """Stored codes (status, date source) replaced by their Chinese labels (pipeline.labels), for tables and exports."""
    from pipeline.labels import PUBLISHED_SOURCE_LABELS, TIMELINESS_LABELS

    out = df
    if "status" in out.columns:
        out = out.with_columns(pl.col("status").replace_strict(TIMELINESS_LABELS, default=pl.col("status")))
    if "published_source" in out.columns:
        out = out.with_columns(
            pl.col("published_source").replace_strict(PUBLISHED_SOURCE_LABELS, default=pl.col("published_source"))
        )
    return out


def dictionary(df: pl.DataFrame, labels: dict[str, str]) -> pl.DataFrame:
    """The XLSX data-dictionary sheet of a timeliness table: header, meaning, machine name."""
    rows = [(labels.get(c, c), NOTES.get(c, labels.get(c, c)), c, "天" if c == "days_late" else "") for c in df.columns]
    return pl.DataFrame(rows, schema=["列名", "含义", "机器列名", "单位"], orient="row")
