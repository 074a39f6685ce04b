"""Regional roll-ups (province → city → county → agency) and the check of regions' summary reports.

The roll-up is :func:`pipeline.metrics.aggregate.aggregate` grouped by the region one level below the selection
(every province; a province's cities once a province is chosen; a city's counties once a city is; a county's
agencies once a county is), with the small-number guard and the left-out counts every page shows.  Summary reports
(``reports.is_summary``: :mod:`pipeline.summary`) are left out of every sum — they repeat their members' numbers —
and shown beside them instead: :func:`summary_reports` and :func:`summary_cells` compare each with Σ its members
(the SUM-1 rule of :mod:`pipeline.validator.summary`).

A report with no city below its province is the province's own level (省本级); one with no county below its city is
the city's own level (市本级): such reports are a region of their own in the roll-up, never dropped.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import duckdb
import polars as pl

from pipeline.filters import Filters
from pipeline.metrics import sums, sums_agencies
from pipeline.metrics.aggregate import aggregate, guard
from pipeline.metrics.named import named_query
from pipeline.metrics.sql import report_rows, run
from pipeline.registry import registry
from pipeline.store.sums_file import ALIAS, narrowed
from pipeline.validator.summary import (
    RULE_SUMMARY,
    comparison_sql,
    derived_source,
    register_cells,
    summaries_cte,
)

ROLLUP_METRICS = (
    "count.t3.new_received.total",
    "count.t3.result_total.total",
    "rate.disclosure",
    "count.t4.review.total",
    "rate.correction.review",
    "count.t4.suit_direct.total",
    "rate.correction.suit_direct",
)
SIZE_METRIC = "count.t3.new_received.total"  # treemap area
COLOUR_METRIC = "rate.disclosure"  # treemap colour
OWN_LEVEL = {"province": "（省本级）", "city": "（市本级）", "county": "（本级）"}
LEVEL_LABELS = {"province": "省份", "city": "市（地区）", "county": "区县", "agency": "机关"}
_CHILD = {"province": "city", "city": "county", "county": "agency"}


def rollup_level(filters: Filters) -> str:
    """The region column the roll-up groups by: one level below what the filters chose."""
    if filters.province is None:
        return "province"
    if filters.city is None:
        return "city"
    return "county" if filters.county is None else "agency"


def members_only(filters: Filters) -> Filters:
    return replace(filters, include_summaries=False)


def _label_own_level(df: pl.DataFrame, column: str, parent: str | None) -> pl.DataFrame:
    """A NULL city (county) is the province's (city's) own level: name it so instead of dropping it."""
    own = OWN_LEVEL.get(parent or "", "（未识别）")
    return df.with_columns(pl.col(column).cast(pl.String).fill_null(own))


@named_query()
def region_rollup(con: duckdb.DuckDBPyConnection, filters: Filters) -> pl.DataFrame:
    """The roll-up metrics per region of :func:`rollup_level`, long form (one row per region and metric) with the
    guard, plus ``n_reports_all`` / ``n_agencies_all`` (every member report of the region, whatever a metric
    counted).  Columns ``region`` and ``region_level``."""
    level = rollup_level(filters)
    members = members_only(filters)
    df = guard(aggregate(con, members, list(ROLLUP_METRICS), by=(level,)), filters.min_n)
    sizes = _stored_sizes(con, members, level)
    if sizes is None:
        source, agency_id = report_rows(con)
        where, params = members.where("r", for_sums=True)
        sizes = run(con, f"""SELECT r.{level}, count(*) AS n_reports_all, count(DISTINCT r.{agency_id}) AS n_agencies_all
                             FROM {source} r WHERE {where} GROUP BY r.{level}""", params)  # fmt: skip
    parent = {"province": None, "city": "province", "county": "city", "agency": "county"}[level]
    df = _label_own_level(df.join(sizes, on=level, how="left", nulls_equal=True), level, parent)
    return df.rename({level: "region"}).with_columns(pl.lit(level).alias("region_level"))


def _stored_sizes(con: duckdb.DuckDBPyConnection, members: Filters, level: str) -> pl.DataFrame | None:
    """``n_reports_all`` / ``n_agencies_all`` per region from the stored sums (reports: ``metric_sums``' rows;
    agencies: the year masks of :mod:`pipeline.metrics.sums_agencies`), or None where they cannot answer."""
    selected = sums.where(members, for_sums=True) if sums.available(con) else None
    agencies = sums_agencies.counted(con, members, [], (level,)) if selected is not None else None
    if selected is None or agencies is None:
        return None
    cond, params = selected
    reports = run(con, narrowed(con, f"""SELECT g.{level}, sum(g.rows_)::BIGINT AS n_reports_all
        FROM {ALIAS}.{sums.TABLE} g WHERE {cond} GROUP BY g.{level} HAVING sum(g.rows_) <> 0""", sums.TABLE, "g"), params)  # fmt: skip
    return reports.join(agencies.rename({"ag_all": "n_agencies_all"}), on=level, how="left", nulls_equal=True).select(
        level, "n_reports_all", pl.col("n_agencies_all").fill_null(0)
    )


def rollup_wide(df: pl.DataFrame) -> pl.DataFrame:
    """One row per region: each metric's value (NULL where guarded or not computable), and for each rate its
    numerator, denominator, reports left out and whether the guard hid it."""
    if df.is_empty():
        return pl.DataFrame({"region": []}, schema={"region": pl.String})
    base = df.group_by("region").agg(pl.col("n_agencies_all").first(), pl.col("n_reports_all").first())
    for key in ROLLUP_METRICS:
        part = df.filter(pl.col("metric") == key)
        value = pl.when(pl.col("guarded")).then(None).otherwise(pl.col("value"))
        cols: list[Any] = [pl.col("region"), value.alias(key)]
        if key.startswith("rate."):
            cols += [pl.col("numerator").alias(f"{key}__num"), pl.col("denominator").alias(f"{key}__den"),
                     pl.col("n_left_out").alias(f"{key}__left"), pl.col("guarded").alias(f"{key}__guarded")]  # fmt: skip
        base = base.join(part.select(cols), on="region", how="left", nulls_equal=True)
    return base.sort(SIZE_METRIC, descending=True, nulls_last=True)


@named_query()
def rollup_tree(con: duckdb.DuckDBPyConnection, filters: Filters) -> pl.DataFrame:
    """Two levels for the treemap: each region of :func:`rollup_level` and its children (one level further down),
    with the size metric (Σ 本年新收) and the colour metric (公开率, guarded)."""
    level = rollup_level(filters)
    child = _CHILD.get(level, "agency")
    groups = (level,) if level == "agency" else (level, child)
    df = guard(aggregate(con, members_only(filters), [SIZE_METRIC, COLOUR_METRIC], by=groups), filters.min_n)
    parent = {"province": None, "city": "province", "county": "city", "agency": "county"}[level]
    df = _label_own_level(df, level, parent)
    if child != level and child in df.columns:
        df = _label_own_level(df, child, level)
    size = df.filter(pl.col("metric") == SIZE_METRIC).select(*groups, pl.col("value").alias("size"))
    colour = df.filter(pl.col("metric") == COLOUR_METRIC).select(
        *groups, pl.col("value").alias("rate"), "numerator", "denominator", "guarded"
    )
    out = size.join(colour, on=list(groups), how="left", nulls_equal=True)
    return out.rename({level: "region", **({child: "child"} if child != level else {})})


# -- summary reports --------------------------------------------------------------------------------------------


def _comparison(con: duckdb.DuckDBPyConnection, summary_where: str, params: dict[str, Any]) -> pl.DataFrame:
    register_cells(con)
    try:
        return run(con, comparison_sql(derived_source(con), summary_where), params)
    finally:
        con.unregister("_sum_cells")


@named_query()
def summary_reports(con: duckdb.DuckDBPyConnection, filters: Filters) -> pl.DataFrame:
    """The summary reports in the selection: region, members summed, cells that differ (the SUM-1 findings the
    write path keeps up to date — comparing every summary's cells here would join millions of member cells at a
    national store; :func:`summary_cells` compares one summary's cells when it is opened)."""
    where, params = replace(filters, include_summaries=True).where("r")
    # members counted per region first (a few thousand groups), then summed into each summary's region: the same
    # members as member_ctes' pairs, without joining every summary with every report of its province
    sql = f"""WITH {summaries_cte(where)},
        g AS (SELECT year, province, city, county, count(*) AS n FROM reports
              WHERE is_current AND NOT coalesce(is_summary, false) GROUP BY ALL),
        n_pairs AS (SELECT s.report_id AS summary_id, sum(g.n) AS n FROM summaries s JOIN g
                      ON g.year = s.year AND g.province = s.province AND (s.city IS NULL OR g.city = s.city)
                     AND (s.county IS NULL OR (g.county = s.county AND g.city IS NOT DISTINCT FROM s.city))
                    GROUP BY s.report_id),
        differ AS (SELECT report_id, count(*) AS n FROM findings WHERE rule = '{RULE_SUMMARY}' GROUP BY report_id)
        SELECT s.report_id, s.agency, s.year, concat_ws('', s.province, s.city, s.county) AS region,
               CAST(coalesce(p.n, 0) AS BIGINT) AS n_members, CAST(coalesce(d.n, 0) AS BIGINT) AS n_differ
        FROM summaries s LEFT JOIN n_pairs p ON p.summary_id = s.report_id
        LEFT JOIN differ d ON d.report_id = s.report_id
        ORDER BY s.year DESC, region, s.agency"""
    return run(con, sql, params)


def _compared_mask(cells: pl.DataFrame) -> list[bool]:
    """:data:`pipeline.validator.summary.COMPARED` on the comparison frame."""
    return (
        cells.select(
            (pl.col("summary_value").is_not_null() & (pl.col("n_members") > 0)
             & (pl.col("n_with_cell") == pl.col("n_members")) & (pl.col("n_unknown") == 0)).fill_null(False)
        ).to_series().to_list()
    )  # fmt: skip


def summary_cells(con: duckdb.DuckDBPyConnection, report_id: int) -> pl.DataFrame:
    """Every cell of one summary report: its value, Σ members, the difference, and why a cell was not compared."""
    cells = _comparison(con, "r.report_id = $rid", {"rid": int(report_id)})
    if cells.is_empty():
        return cells
    reg = registry()
    order = {k: i for i, k in enumerate(reg.by_key)}
    reason = (
        pl.when(pl.col("summary_value").is_null()).then(pl.lit("汇总报告此格未知（未定位或总计无法推算）"))
        .when(pl.col("n_members") == 0).then(pl.lit("区域内没有成员报告"))
        .when(pl.col("n_with_cell") < pl.col("n_members")).then(pl.lit("部分成员报告的版式没有此格"))
        .when(pl.col("n_unknown") > 0).then(pl.format("{} 份成员报告此格未知", pl.col("n_unknown")))
        .otherwise(pl.lit(""))
    )  # fmt: skip
    return (
        cells.with_columns(
            pl.col("key").replace_strict({k: f.label for k, f in reg.by_key.items()}, default=None).alias("label"),
            pl.col("key").replace_strict(order, default=None, return_dtype=pl.Int64).alias("_o"),
            pl.col("summary_value").cast(pl.Float64), pl.col("member_sum").cast(pl.Float64),
            reason.alias("not_compared"),
        )
        .with_columns((pl.col("summary_value") - pl.col("member_sum")).alias("difference"))
        .sort("_o").drop("_o")
        .select("key", "label", "summary_value", "member_sum", "difference", "n_members", "not_compared")
    )  # fmt: skip


__all__ = ["region_rollup", "rollup_level", "rollup_tree", "rollup_wide", "summary_cells", "summary_reports"]
