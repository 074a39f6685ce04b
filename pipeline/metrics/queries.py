"""The queries the pages (and ``xxgk metric``) call: each takes an open connection and the filters, returns polars.

Pages call them through :func:`pipeline.dashboard.data.query` as functions (``query(headline_by_year, filters)``),
never by name.  Every metric result carries the columns of :func:`pipeline.metrics.aggregate.aggregate` (who
was counted, who was left out and why) and, for rates, the small-number guard.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import duckdb
import polars as pl

from pipeline.filters import Filters
from pipeline.labels import REPORT_COLUMN_LABELS
from pipeline.metrics.aggregate import aggregate, guard, per_report
from pipeline.metrics.catalogue import HEADLINE_KEYS, catalogue, metric, outcome_groups
from pipeline.metrics.change import yoy
from pipeline.metrics.named import named_query
from pipeline.metrics.sql import cells_source, col, rate_code, report_rows, report_terms, run, selected_cte
from pipeline.registry import T4_GROUPS_ORDER, registry

BY_OPTIONS = ("year", "agency", "province", "city", "level", "agency_type")


@named_query(lambda s: {
    "year": ("rate.disclosure", ("year",)),
    "province level": ("count.t3.new_received.total", ("province", "level")),
    "none": ("rate.correction.review", ()),
    "agency year": ("share.granted", ("agency", "year")),
    "edition city": ("count.t2.admin_fees.amount_wan_yuan", ("edition", "city")),
})  # fmt: skip
def metric_table(
    con: duckdb.DuckDBPyConnection, filters: Filters, metric_key: str, by: tuple[str, ...] = ()
) -> pl.DataFrame:
    """One metric over the selection, optionally grouped: what ``xxgk metric`` prints and the pages draw."""
    metric(metric_key)
    return guard(aggregate(con, filters, [metric_key], by=by), filters.min_n)


# -- the selection ----------------------------------------------------------------------------------------------


def selected_reports(con: duckdb.DuckDBPyConnection, filters: Filters) -> pl.DataFrame:
    """The current reports matching the filters (one row each), with their synthetic flag and quality."""
    sel, params = selected_cte(filters)
    return run(
        con, f"WITH {sel} SELECT {', '.join(REPORT_COLUMN_LABELS)} FROM sel ORDER BY agency, year, report_id", params
    )


@named_query(lambda s: {"": ((s.agency,),)})
def chosen_reports(con: duckdb.DuckDBPyConnection, filters: Filters, agencies: tuple[str, ...]) -> pl.DataFrame:
    """The current reports of ``agencies`` in the selection, the sidebar's agency choice aside (对比's agencies)."""
    return selected_reports(con, replace(filters, agencies=tuple(agencies)))


@named_query()
def synthetic_share(con: duckdb.DuckDBPyConnection, filters: Filters) -> tuple[int, int]:
    """(synthetic reports, all reports) in the selection."""
    sel, params = selected_cte(filters)
    n_syn, n = con.sql(
        f"WITH {sel} SELECT count(*) FILTER (WHERE synthetic), count(*) FROM sel", params=params or None
    ).fetchall()[0]
    return int(n_syn), int(n)


@named_query()
def overview_counts(con: duckdb.DuckDBPyConnection, filters: Filters) -> dict[str, Any]:
    """Headline counts: agencies, reports, years, synthetic reports, reports with hard errors, missing reports.

    ``n_missing`` is the number of 缺报 cells of :func:`coverage_matrix`, counted without building it: every agency
    of the selection is expected in every year of the span, so it is Σ over the span's years of (agencies − agencies
    with a report that year).  An agency has at most one current report a year (the write path keeps one current
    version per agency and year), so the agencies with a report in a year are its reports with an agency name:
    one grouping by year gives every count but the number of distinct agencies.
    """
    source, agency_id = report_rows(con)
    where, params = filters.where("r")
    years_sql = ("SELECT unnest($f_years) AS year" if filters.years
                 else "SELECT year FROM per_year WHERE with_tables")  # fmt: skip
    names = ("n_agencies", "n_reports", "year_min", "year_max", "n_years", "n_synthetic", "n_failing", "n_warning",
             "n_missing")  # fmt: skip
    row = con.sql(
        f"""WITH sel AS (SELECT r.{agency_id} AS agency_id, r.year, r.edition, r.synthetic, r.n_errors, r.n_warnings
                         FROM {source} r WHERE {where}),
            per_year AS (SELECT year, count(*) AS n, count(agency_id) AS named,
                                count(*) FILTER (WHERE synthetic) AS synthetic,
                                count(*) FILTER (WHERE n_errors > 0) AS failing,
                                count(*) FILTER (WHERE n_warnings > 0) AS warning,
                                bool_or(edition IN ('2019', '2021')) AS with_tables
                         FROM sel GROUP BY year),
            agencies AS (SELECT count(DISTINCT agency_id) AS n FROM sel),
            yrs AS ({years_sql})
            SELECT (SELECT n FROM agencies), coalesce(sum(n), 0), min(year), max(year), count(year),
                   coalesce(sum(synthetic), 0), coalesce(sum(failing), 0), coalesce(sum(warning), 0),
                   (SELECT coalesce(sum((SELECT n FROM agencies) - coalesce(p.named, 0)), 0)
                    FROM yrs y LEFT JOIN per_year p ON p.year = y.year WHERE y.year IS NOT NULL)
            FROM per_year""",
        params=params or None,
    ).fetchall()[0]
    return {name: (int(v) if isinstance(v, int | float) and name != "year_min" and name != "year_max" else v)
            for name, v in zip(names, row, strict=True)}  # fmt: skip


# -- 总览 -------------------------------------------------------------------------------------------------------


@named_query()
def headline_by_year(con: duckdb.DuckDBPyConnection, filters: Filters) -> pl.DataFrame:
    """The overview's headline metrics per year (all reports) with the year-over-year change and its coverage."""
    return guard(yoy(con, filters, list(HEADLINE_KEYS)), filters.min_n)


@named_query()
def headline_series(con: duckdb.DuckDBPyConnection, filters: Filters) -> pl.DataFrame:
    """The headline metrics as trend lines (same agencies every year unless ``filters.panel == 'all'``)."""
    return guard(aggregate(con, filters, list(HEADLINE_KEYS), by=("year",)), filters.min_n)


@named_query()
def panel_size(con: duckdb.DuckDBPyConnection, filters: Filters) -> dict[str, Any]:
    """The trend panel: agencies with a report in every year of the span, agencies in total, the span (summary
    reports are not in a sum, so not in its panel either)."""
    source, agency_id = report_rows(con)
    where, params = filters.where("r", for_sums=True)
    row = con.sql(
        f"""WITH sel AS (SELECT r.{agency_id} AS agency, r.year, r.edition FROM {source} r WHERE {where}),
            span AS (SELECT DISTINCT year FROM sel WHERE year IS NOT NULL AND edition IN ('2019', '2021')),
            per AS (SELECT agency, count(*) AS n FROM sel WHERE agency IS NOT NULL
                    AND year IN (SELECT year FROM span) GROUP BY agency)
            SELECT (SELECT count(*) FROM per WHERE n = (SELECT count(*) FROM span)), (SELECT count(*) FROM per),
                   (SELECT min(year) FROM span), (SELECT max(year) FROM span), (SELECT count(*) FROM span)""",
        params=params or None,
    ).fetchall()[0]
    return dict(zip(("n_panel", "n_agencies", "year_min", "year_max", "n_years"), row, strict=True))


# -- 主动公开 ----------------------------------------------------------------------------------------------------


@named_query(lambda s: {"2021": ("2021",), "2019": ("2019",)})
def publication_by_year(con: duckdb.DuckDBPyConnection, filters: Filters, edition: str) -> pl.DataFrame:
    """表二 cells of one edition summed per year (2019 and 2021 columns are different keys, never merged)."""
    keys = [f"count.{f.key}" for f in registry().select(edition, "t2")]
    return aggregate(con, filters, keys, by=("year",))


@named_query(lambda s: {"": ("count.t3.new_received.total",), "rate": ("rate.disclosure",)})
def top_agencies(con: duckdb.DuckDBPyConnection, filters: Filters, metric_key: str, limit: int = 15) -> pl.DataFrame:
    """Agencies with the highest value over the selection: no empty bars (NULL and 0 are not ranked), and a rate
    under the small-number guard is not ranked either (``guard`` in :func:`metric_table`); equal values in
    agency-name order.

    The full per-agency table is 285 k rows at 1 M reports; it is computed only for the agencies that can make the
    list (:func:`_ranking_candidates`), which gives the same rows."""
    candidates = _ranking_candidates(con, filters, metric_key, limit)
    narrowed = filters if candidates is None else replace(filters, agencies=tuple(candidates))
    if candidates == []:
        narrowed = replace(filters, agencies=("",), years=(0,))  # nothing can be ranked: an empty table
    df = metric_table(con, narrowed, metric_key, ("agency",))
    ranked = df.filter(pl.col("value").is_not_null() & (pl.col("value") > 0) & ~pl.col("guarded"))
    return ranked.sort(["value", "agency"], descending=[True, False], nulls_last=True).head(limit)


MAX_CANDIDATES = 2000  # agencies tied at the cut of a ranking beyond which the whole table is ranked


def _ranking_candidates(con: duckdb.DuckDBPyConnection, filters: Filters, metric_key: str,
                        limit: int) -> list[str] | None:  # fmt: skip
    """The agencies whose value can be among the ``limit`` highest: each agency's value in one grouped scan (the
    sum of its counted reports' values; for a rate Σ numerator ÷ Σ denominator, ranked only where Σ denominator
    reaches ``filters.min_n``), and every agency within rounding of the ``limit``-th value (ties included).  None
    when that cannot be told this way (the unnamed reports' group is a candidate, or more than :data:`MAX_CANDIDATES` agencies tie at the cut):
    the caller then ranks the whole table."""
    m = metric(metric_key)
    where, params = filters.where("s", for_sums=True)  # a summary report adds nothing to a ranked value
    cells = cells_source(con, list(m.keys))
    if m.is_rate:
        num, den, _, _ = report_terms(m, alias="s")
        ok = f"({rate_code(m, alias='s')}) = 0"
        value = f"sum(CASE WHEN {ok} THEN {num} END) / sum(CASE WHEN {ok} THEN {den} END)"
        eligible = f"count(*) FILTER (WHERE {ok}) > 0 AND sum(CASE WHEN {ok} THEN {den} END) >= {int(filters.min_n)}"
    else:
        value = f"sum(s.v__{col(m.numerator[0])})"
        eligible = "true"
    rows = con.sql(
        f"""WITH ranked AS (SELECT * FROM (SELECT s.agency_key, {value} AS value FROM {cells} s
                                           WHERE {where} GROUP BY s.agency_key HAVING {eligible}) WHERE value > 0),
                 cut AS (SELECT value FROM ranked ORDER BY value DESC LIMIT 1 OFFSET {int(limit) - 1})
            SELECT agency_key, value FROM ranked
            WHERE value >= coalesce((SELECT value FROM cut), 0) * (1 - 1e-9)  -- sums in another order: last bits
            ORDER BY value DESC LIMIT {MAX_CANDIDATES + 1}""",
        params=params or None,
    ).fetchall()
    if len(rows) > MAX_CANDIDATES:  # ties past the limit by the thousand: rank the whole table
        return None
    keys = [key for key, _ in rows]
    if None in keys:
        return None
    if not keys:
        return []
    # the names of the chosen keys (looked up after ranking: carrying a name through the grouping costs more)
    names = con.sql(f"SELECT DISTINCT agency FROM {cells} s WHERE s.agency_key IN ({', '.join(str(int(k)) for k in keys)})"
                    ).fetchall()  # fmt: skip
    return sorted(name for (name,) in names)


@named_query(lambda s: {"": (["rate.disclosure"],), "two metrics": (["rate.disclosure", "count.t4.review.total"],)})
def by_agency_type(con: duckdb.DuckDBPyConnection, filters: Filters, metric_keys: list[str]) -> pl.DataFrame:
    return guard(aggregate(con, filters, metric_keys, by=("agency_type",)), filters.min_n)


@named_query(lambda s: {"": (["rate.disclosure"],)})
def by_region(con: duckdb.DuckDBPyConnection, filters: Filters, metric_keys: list[str]) -> pl.DataFrame:
    """Metrics per province (per city once a province is chosen, per county once a city is), with the guard."""
    level = "province" if filters.province is None else "city"
    df = guard(aggregate(con, filters, metric_keys, by=(level,)), filters.min_n)
    return df.rename({level: "region"}).with_columns(pl.lit(level).alias("region_level"))


# -- 依申请公开 --------------------------------------------------------------------------------------------------


@named_query()
def applicants_by_year(con: duckdb.DuckDBPyConnection, filters: Filters) -> pl.DataFrame:
    """New requests per applicant type per year (表三 一、本年新收…, the six applicant columns)."""
    reg = registry()
    keys = [f"count.{reg.key_for('t3', 'new_received', c)}" for c, _ in reg.columns("t3") if c != "total"]
    return aggregate(con, filters, keys, by=("year",))


@named_query()
def outcomes_by_year(con: duckdb.DuckDBPyConnection, filters: Filters) -> pl.DataFrame:
    """Each outcome row's 总计 per year with its group, over the reports where every one of them (and the
    （七）总计, row ``result_total``) is known — printed or derived — so the bars add up to the total beside them."""
    reg = registry()
    rows = [("count.t3.result_total.total", "result_total", reg["t3.result_total.total"].row_label)]
    for label, keys in outcome_groups():
        rows += [(f"count.{key}", label, reg[key].row_label) for key in keys]
    df = aggregate(con, filters, [m for m, _, _ in rows], by=("year",), complete=True)
    labels = pl.DataFrame(rows, schema=["metric", "group", "row"], orient="row")
    return df.join(labels, on="metric", how="left")


@named_query()
def outcome_shares_by_year(con: duckdb.DuckDBPyConnection, filters: Filters) -> pl.DataFrame:
    keys = ["rate.disclosure"] + [m.key for m in catalogue().values() if m.group == "办理结果占比"]
    return guard(aggregate(con, filters, keys, by=("year",)), filters.min_n)


@named_query()
def backlog_by_year(con: duckdb.DuckDBPyConnection, filters: Filters) -> pl.DataFrame:
    reg = registry()
    keys = [f"count.{reg.key_for('t3', r, 'total')}" for r in ("carried_over", "carry_forward")]
    return aggregate(con, filters, keys, by=("year",))


# -- 复议诉讼 ----------------------------------------------------------------------------------------------------


@named_query()
def litigation_by_year(con: duckdb.DuckDBPyConnection, filters: Filters) -> pl.DataFrame:
    """Every 表四 cell summed per year, with group and result labels."""
    fields = registry().select(table="t4")
    df = aggregate(con, filters, [f"count.{f.key}" for f in fields], by=("year",))
    labels = pl.DataFrame(
        {
            "metric": [f"count.{f.key}" for f in fields],
            "group": [f.row_label for f in fields],
            "result": [f.col_label_short for f in fields],
            "col_key": [f.col_key for f in fields],
        }
    )
    return df.join(labels, on="metric", how="left")


@named_query()
def correction_rates_by_year(con: duckdb.DuckDBPyConnection, filters: Filters) -> pl.DataFrame:
    keys = [f"rate.correction.{g}" for g in T4_GROUPS_ORDER]
    return guard(aggregate(con, filters, keys, by=("year",)), filters.min_n)


# -- 机关对比 ----------------------------------------------------------------------------------------------------


@named_query(lambda s: {"": ("rate.disclosure", [s.agency])})
def agency_series(
    con: duckdb.DuckDBPyConnection, filters: Filters, metric_key: str, agencies: list[str]
) -> pl.DataFrame:
    """One metric per chosen agency per year (the comparison page), with the guard."""
    narrowed = replace(filters, agencies=tuple(agencies)) if agencies else filters
    return metric_table(con, narrowed, metric_key, ("agency", "year"))


@named_query(lambda s: {"": ("rate.disclosure", s.year)})
def peer_ranking(con: duckdb.DuckDBPyConnection, filters: Filters, metric_key: str, year: int) -> pl.DataFrame:
    """Rank agencies within their peer group (same agency type and level, any region) for one year.

    Small-number guard: a rate whose denominator is below ``filters.min_n`` is kept in the table but marked
    ``eligible = false`` and gets no rank.  Counts are always eligible.  Rank 1 = highest value.
    """
    m = metric(metric_key)
    df = per_report(con, replace(filters, years=(int(year),)), [metric_key])
    if df.is_empty():
        return df.with_columns(
            pl.lit(None, pl.Boolean).alias("eligible"),
            pl.lit(None, pl.Int64).alias("rank"),
            pl.lit(None, pl.Int64).alias("group_size"),
        )
    eligible = pl.col("value").is_not_null()
    if m.is_rate:
        eligible = eligible & (pl.col("denominator") >= filters.min_n)
    df = df.with_columns(eligible.alias("eligible"))
    peers = ["agency_type", "level"]
    ranked = (
        df.filter(pl.col("eligible"))
        .with_columns(
            pl.col("value").rank(method="min", descending=True).over(peers).cast(pl.Int64).alias("rank"),
            pl.len().over(peers).cast(pl.Int64).alias("group_size"),
        )
        .select("report_id", "rank", "group_size")
    )
    return df.join(ranked, on="report_id", how="left").sort([*peers, "rank", "agency"], nulls_last=True)


@named_query(lambda s: {"": ("rate.disclosure", s.year), "count": ("count.t3.new_received.total", s.year - 1)})
def peer_groups(con: duckdb.DuckDBPyConnection, filters: Filters, metric_key: str, year: int) -> pl.DataFrame:
    """Peer groups of one year with how many agencies in each have a value that can be ranked (most first): the
    group sizes of :func:`peer_ranking`, counted in SQL (a report can be ranked when its value is computable and,
    for a rate, its denominator reaches ``filters.min_n``)."""
    m = metric(metric_key)
    narrowed = replace(filters, years=(int(year),))
    where, params = narrowed.where("w", for_sums=True)
    cells = cells_source(con, list(m.keys))
    if m.is_rate:
        _, den, _, _ = report_terms(m)
        eligible = f"({rate_code(m)}) = 0 AND {den} >= {int(filters.min_n)}"
    else:
        eligible = f"w.v__{col(m.numerator[0])} IS NOT NULL"
    df = run(con, f"""SELECT w.agency_type, w.level, count(*) FILTER (WHERE {eligible}) AS n_ranked,
                             count(*) AS n_agencies
                      FROM {cells} w WHERE {where} GROUP BY ALL""", params)  # fmt: skip
    return df.cast({"n_ranked": pl.UInt32, "n_agencies": pl.UInt32}).sort(
        ["n_ranked", "n_agencies", "agency_type", "level"], descending=[True, True, False, False], nulls_last=True
    )
