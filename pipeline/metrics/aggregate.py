"""Metrics over many reports: per report, aggregated by report columns, year over year — with who was left out.

Aggregation rules (also shown on 指标说明):

- a count over several reports is the sum of the reports' printed or derived values; a blank or "/" part cell is
  not a number and is not counted (a result where no report has a value is NULL, never 0);
- a rate is pooled: Σ numerator ÷ Σ denominator over the reports it can be computed for (a blank 总计 derived
  from its parts counts; one that cannot be derived takes the report out of numerator *and* denominator; a
  denominator of 0 leaves the rate undefined for that report);
- every result says how many reports it counted, how many of those used a derived 总计, and how many it left out,
  by reason (``left_<reason>`` columns, :data:`pipeline.metrics.sql.REASONS`);
- a series over years compares the same agencies by default (``Filters.panel``, see
  :func:`pipeline.metrics.sql.panel_ctes`); year-over-year changes (:func:`pipeline.metrics.change.yoy`) compare the agencies counted in
  both years;
- the small-number guard (:func:`guard`) marks a rate whose denominator is below ``Filters.min_n``;
- a region's summary report repeats its members' numbers: it is left out of every sum, rate, trend and ranking
  (reason ``summary``, counted like the others) unless ``Filters.include_summaries``.

How it is computed (one scan of ``report_cells``, :mod:`pipeline.store.cells`): the selected reports are grouped by
the result's columns *and* by what decides a report's state beyond its own cells — inside the trend's panel or not,
has an agency name or not (and, for ``complete``, the report's own reason) — and each group gets plain sums and
counts per metric: for a count, Σv, count(v) (v is NULL unless the cell is printed or derived), count(s) and the
number of derived and of blank cells; for a rate, its per-report state code and counted numerator and denominator.
:func:`_combine` turns those small grouped rows into the result rows.  No per-metric FILTER, no per-metric
DISTINCT: at 1 M reports these were seconds (docs/storage.md).

Where the store has up-to-date stored sums (:mod:`pipeline.metrics.sums`: the same grouped pieces per group of
reports, 80 k rows at 1 M reports) the grouped rows are read from them instead of scanning; county and agency
filters or groupings, and panels a filter splits report by report, still scan.  Agencies per group of a result
not grouped by year are not additive over those groups: they come from the agencies' stored year masks
(:mod:`pipeline.metrics.sums_agencies`) where those answer, else they are counted over the reports.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import duckdb
import polars as pl

from pipeline.derive import is_total
from pipeline.filters import Filters
from pipeline.metrics.catalogue import Metric, metric
from pipeline.metrics.sql import (
    COUNTED,
    GROUP_COLUMNS,
    REASONS,
    cells_source,
    col,
    panel_ctes,
    rate_code,
    report_terms,
    run,
)
from pipeline.metrics.sums import grouped as stored_sums
from pipeline.metrics.sums_agencies import counted as stored_agencies

REPORT_COLUMNS = ("report_id", "agency", "year", "agency_type", "level", "province", "city", "edition")
# a rate's per-report state code (pipeline.metrics.sql.rate_code) → reason
RATE_REASONS = {1: "not_derivable", 2: "unusable", 3: "zero_denominator"}
# the reasons a report can have of its own in ``complete`` mode, ranked in the order of their names (the report's
# reason is the greatest, as ``max`` over the reason strings was)
# from this many metrics on, agencies per group are counted by a query of their own (below): DuckDB groups the rows
# by agency once per DISTINCT, which for one or two metrics is cheaper than a second scan
SEPARATE_AGENCY_COUNT = 3
RANK = {"empty": 1, "not_derivable": 2, "not_in_panel": 3, "unusable": 4, "zero_denominator": 5}


def per_report(con: duckdb.DuckDBPyConnection, filters: Filters, metric_keys: list[str]) -> pl.DataFrame:
    """One row per (selected report, metric): numerator, denominator, value (NULL unless counted), state."""
    metrics = [metric(k) for k in metric_keys]
    if not metrics:
        raise ValueError("至少需要一个指标")
    cells, where, params = selection(con, filters, [key for m in metrics for key in m.keys], for_sums=True)
    parts = []
    for m in metrics:
        num, den, state, derived = report_terms(m)
        parts.append(
            f"""SELECT {", ".join(REPORT_COLUMNS)}, '{m.key}' AS metric, {num} AS num, {den} AS den, {state} AS state,
                       {derived} AS uses_derived
                FROM {cells} w WHERE {where}"""
        )
    sql = f"""WITH pr AS ({" UNION ALL ".join(parts)})
        SELECT {", ".join(REPORT_COLUMNS)}, metric, num AS numerator, den AS denominator,
               CASE WHEN state = '{COUNTED}' THEN (CASE WHEN den IS NULL THEN num ELSE num / den END) END AS value,
               state, uses_derived
        FROM pr ORDER BY metric, year, agency"""
    return run(con, sql, params)


def selection(con: duckdb.DuckDBPyConnection, filters: Filters, keys: list[str], alias: str = "w",
               for_sums: bool = False) -> tuple[str, str, dict]:  # fmt: skip
    """(the per-report relation to scan, the filters' condition on it as ``alias``, their parameters);
    ``for_sums``: without the summary reports a sum leaves out (:meth:`Filters.where`)."""
    where, params = filters.where(alias, for_sums=for_sums)
    return cells_source(con, keys), where, params


def unique_metrics(metric_keys: list[str]) -> list[Metric]:
    metrics = [metric(k) for k in dict.fromkeys(metric_keys)]
    if not metrics:
        raise ValueError("至少需要一个指标")
    return metrics


def _reason_rank(m: Metric, i: int) -> str:
    """The rank (:data:`RANK`) of metric ``i``'s own reason to leave a report out, NULL when it has none."""
    if m.is_rate:
        ranks = " ".join(f"WHEN {code} THEN {RANK[reason]}" for code, reason in RATE_REASONS.items())
        return f"CASE code_{i} {ranks} END"
    c = col(m.numerator[0])
    empty = RANK["not_derivable"] if is_total(m.numerator[0]) else RANK["empty"]
    return f"CASE s__{c} WHEN 2 THEN {empty} WHEN 1 THEN {RANK['unusable']} END"


def aggregate(
    con: duckdb.DuckDBPyConnection,
    filters: Filters,
    metric_keys: list[str],
    by: tuple[str, ...] = ("year",),
    complete: bool = False,
) -> pl.DataFrame:
    """Metrics aggregated over the selected reports, grouped by report columns (``by`` ⊂ GROUP_COLUMNS).

    Columns: *by…, metric, value, numerator, denominator, n_reports (counted), n_agencies, n_derived (counted
    reports that used a derived 总计), n_left_out and ``left_<reason>`` for each reason in REASONS.
    ``complete``: count a report only where every metric of the query can be computed for it (the outcome bars:
    their parts then add up to the （七）总计 beside them).  A series over years leaves out reports whose year was
    not recognised (they have no place on the axis) and follows ``filters.panel``: reports of agencies outside the
    panel are left out as ``not_in_panel``.

    ``n_agencies`` of a group of one year (or one agency) counts its counted reports with an agency name: the write
    path keeps at most one current version per (agency, year), so that is the number of distinct agencies.
    """
    for b in by:
        if b not in GROUP_COLUMNS:
            raise KeyError(f"未知分组: {b!r}")
    metrics = unique_metrics(metric_keys)
    keys = [key for m in metrics for key in m.keys]
    cells, where, params = selection(con, filters, keys, alias="s")  # summary reports too: they are counted
    stored = stored_sums(con, filters, metrics, by, complete)
    if stored is not None and filters.panel == "matched" and "year" in by:
        filters = replace(filters, panel="all")  # the panel is in the stored rows' in_panel_ already
    summed = filters.where("s", for_sums=True)[0]
    panel, in_panel = panel_ctes(con, filters, by, f"{cells} s WHERE {summed}", params)
    if "year" in by:
        where += " AND s.year IS NOT NULL"
    per_agency = "year" in by or "agency" in by  # n_agencies from counts, else a DISTINCT per metric
    # per report: the result's columns, the flags that decide its state, each metric's terms
    summary = "false" if filters.include_summaries else "coalesce(s.is_summary, false)"
    row = [*(f"s.{b}" for b in by), f"({in_panel}) AS in_panel_", "s.agency IS NOT NULL AS has_agency_",
           f"{summary} AS summary_"]  # fmt: skip
    if not per_agency:
        row.append("s.agency_key AS agency_")
    terms = []
    for i, m in enumerate(metrics):
        if m.is_rate:
            num, den, _, derived = report_terms(m, alias="s")
            row += [f"{rate_code(m, alias='s')} AS code_{i}", f"{num} AS num_{i}", f"{den} AS den_{i}",
                    f"{derived} AS dv_{i}"]  # fmt: skip
        else:
            c = col(m.numerator[0])
            terms += [f"s.v__{c}", f"s.s__{c}"]
    row += list(dict.fromkeys(terms))
    groups = [*by, "in_panel_", "has_agency_", "summary_"]
    if complete:
        real = ", ".join(_reason_rank(m, i) for i, m in enumerate(metrics))
        none = " AND ".join(
            f"code_{i} = 6" if m.is_rate else f"s__{col(m.numerator[0])} IS NULL" for i, m in enumerate(metrics)
        )
        groups += ["reason_", "all_no_table_"]
        rows_sql = f"SELECT *, greatest({real}) AS reason_, ({none}) AS all_no_table_ FROM ({{rows}})"
    else:
        rows_sql = "{rows}"
    sums = ["count(*) AS rows_"]
    counted_by: list[str] = []  # per (group, agency): whether each metric counted one of its reports
    for i, m in enumerate(metrics):
        if m.is_rate:
            ok = f"code_{i} = 0"
            sums += [f"sum(CASE WHEN {ok} THEN num_{i} END) AS sn_{i}", f"sum(CASE WHEN {ok} THEN den_{i} END) AS sd_{i}",
                     f"sum(({ok})::INTEGER) AS c0_{i}", f"sum(({ok} AND dv_{i})::INTEGER) AS cdv_{i}",
                     *(f"sum((code_{i} = {code})::INTEGER) AS c{code}_{i}" for code in (1, 2, 3, 6))]  # fmt: skip
            counted = ok
        else:
            c = col(m.numerator[0])
            sums += [f"sum(v__{c}) AS sv_{i}", f"count(v__{c}) AS cv_{i}", f"count(s__{c}) AS cs_{i}",
                     f"sum((s__{c} = 4)::INTEGER) AS c4_{i}", f"sum((s__{c} = 2)::INTEGER) AS c2_{i}"]  # fmt: skip
            counted = f"v__{c} IS NOT NULL"
        if not per_agency:
            own = "reason_ IS NULL AND " if complete else ""
            if len(metrics) < SEPARATE_AGENCY_COUNT and stored is None:
                sums.append(f"count(DISTINCT CASE WHEN {own}{counted} THEN agency_ END) AS ag_{i}")
            else:
                counted_by.append(f"bool_or({own}{counted}) AS ag_{i}")
    rows = f"SELECT {', '.join(row)} FROM {cells} s WHERE {where}"
    if stored is None:
        sql = f"""{panel}
            SELECT {", ".join(groups)}, {", ".join(sums)}
            FROM ({rows_sql.format(rows=rows)})
            GROUP BY {", ".join(groups)}"""
        grouped = run(con, sql, params)
    else:  # the stored sums (pipeline.metrics.sums); agencies per group are not additive: counted below
        grouped = stored
    agencies = None
    if counted_by and stored is not None and not complete:  # the stored agencies' year masks, where they answer
        agencies = stored_agencies(con, filters, metrics, by)
    if agencies is not None:  # one row per group: its counts, on the group's row of named member reports
        agencies = agencies.drop("ag_all").with_columns(
            pl.lit(True).alias("in_panel_"), pl.lit(True).alias("has_agency_"), pl.lit(False).alias("summary_")
        )
        grouped = grouped.join(agencies, on=groups, how="left", nulls_equal=True)
    elif counted_by:
        # agencies counted per group: whether each metric counted a report of an agency, per (group, agency), then
        # counted per group — one grouping by agency for every metric, not one DISTINCT per metric (DuckDB groups
        # the rows by agency once per DISTINCT: seven times for the roll-up's seven metrics)
        flags = ", ".join(counted_by)
        counts = ", ".join(f"count(*) FILTER (WHERE agency_ IS NOT NULL AND ag_{i}) AS ag_{i}"
                           for i in range(len(metrics)))  # fmt: skip
        agencies = run(con, f"""{panel}
            SELECT {", ".join(groups)}, {counts} FROM (
                SELECT {", ".join(groups)}, agency_, {flags} FROM ({rows_sql.format(rows=rows)})
                GROUP BY {", ".join(groups)}, agency_)
            GROUP BY {", ".join(groups)}""", params)  # fmt: skip
        grouped = grouped.join(agencies, on=groups, how="left", nulls_equal=True)
    return _combine(grouped, metrics, by, complete, per_agency)


def _combine(g: pl.DataFrame, metrics: list[Metric], by: tuple[str, ...], complete: bool,
             per_agency: bool) -> pl.DataFrame:  # fmt: skip
    """One row per (group, metric) from the grouped sums of :func:`aggregate`."""
    inp, rows = pl.col("in_panel_"), pl.col("rows_")
    zero = pl.lit(0, pl.Int64)
    frames = []
    aggs: list[pl.Expr] = []
    names: list[list[str]] = []  # per metric: the sums it needs, named ``<name>__<metric index>`` in ``aggs``
    for i, m in enumerate(metrics):
        left: dict[str, pl.Expr] = {}
        if m.is_rate:
            counted, num, den, derived = pl.col(f"c0_{i}"), pl.col(f"sn_{i}"), pl.col(f"sd_{i}"), pl.col(f"cdv_{i}")
            no_table = pl.col(f"c6_{i}")
            has_table = rows - no_table
            for code, reason in RATE_REASONS.items():
                left[reason] = pl.col(f"c{code}_{i}")
        else:
            counted, num, den, derived = (
                pl.col(f"cv_{i}"),
                pl.col(f"sv_{i}"),
                pl.lit(None, pl.Float64),
                pl.col(f"c4_{i}"),
            )
            has_table = pl.col(f"cs_{i}")
            no_table = rows - has_table
            left["not_derivable" if is_total(m.numerator[0]) else "empty"] = pl.col(f"c2_{i}")
            left["unusable"] = has_table - counted - pl.col(f"c2_{i}")
        if complete:
            own_reason, all_nt = pl.col("reason_"), pl.col("all_no_table_")
            open_ = inp & own_reason.is_null() & ~all_nt
            out = {
                "counted": pl.when(open_).then(counted).otherwise(zero),
                "num": pl.when(open_).then(num), "den": pl.when(open_).then(den),
                "derived": pl.when(open_).then(derived).otherwise(zero),
                **{f"left_{r}": zero for r in REASONS},
            }  # fmt: skip
            out["left_no_table"] = pl.when(all_nt).then(rows).otherwise(zero)
            out["left_not_in_panel"] = pl.when(~inp & ~all_nt).then(rows).otherwise(zero)
            for r, rank in RANK.items():
                if r != "not_in_panel":
                    out[f"left_{r}"] = pl.when(inp & (own_reason == rank)).then(rows).otherwise(zero)
        else:
            out = {
                "counted": pl.when(inp).then(counted).otherwise(zero),
                "num": pl.when(inp).then(num), "den": pl.when(inp).then(den),
                "derived": pl.when(inp).then(derived).otherwise(zero),
                **{f"left_{r}": zero for r in REASONS},
            }  # fmt: skip
            for r, expr in left.items():
                out[f"left_{r}"] = pl.when(inp).then(expr).otherwise(zero)
            out["left_not_in_panel"] = pl.when(~inp).then(has_table).otherwise(zero)
            out["left_no_table"] = no_table
        out["agencies"] = (
            pl.when(pl.col("has_agency_")).then(out["counted"]).otherwise(zero) if per_agency else pl.col(f"ag_{i}")
        )
        # a summary report counts only as left out (reason ``summary``), whatever its cells hold
        summ = pl.col("summary_")
        out = {name: pl.when(summ).then(None if name in ("num", "den") else zero).otherwise(expr)
               for name, expr in out.items()}  # fmt: skip
        out["left_summary"] = pl.when(summ).then(rows).otherwise(zero)
        aggs += [expr.cast(pl.Float64 if name in ("num", "den") else pl.Int64).sum().alias(f"{name}__{i}")
                 for name, expr in out.items()]  # fmt: skip
        names.append(list(out))
    # one grouping for every metric (polars' cost per call, not per row, is what the outcome bars' 25 paid)
    if by:
        summed = g.group_by(list(by), maintain_order=True).agg(aggs)
    else:
        summed = g.select(aggs) if not g.is_empty() else pl.DataFrame()
    for i, m in enumerate(metrics):
        if summed.is_empty():
            break
        part = summed.select(*by, *(pl.col(f"{name}__{i}").alias(name) for name in names[i]))
        has = pl.col("counted") > 0
        n_agencies = pl.col("agencies")
        if "agency" in by:  # one agency per group: 1 when it has a counted report
            n_agencies = (has & pl.col("agency").is_not_null()).cast(pl.Int64)
        numerator = pl.when(has).then(pl.col("num"))
        denominator = pl.when(has).then(pl.col("den")) if m.is_rate else pl.lit(None, pl.Float64)
        frames.append(
            part.select(
                *by,
                pl.lit(m.key).alias("metric"),
                (numerator / denominator if m.is_rate else numerator).alias("value"),
                numerator.alias("numerator"),
                denominator.alias("denominator"),
                pl.col("counted").alias("n_reports"),
                n_agencies.cast(pl.Int64).alias("n_agencies"),
                pl.col("derived").alias("n_derived"),
                pl.sum_horizontal(*(f"left_{r}" for r in REASONS)).cast(pl.Int64).alias("n_left_out"),
                *(pl.col(f"left_{r}") for r in REASONS),
            )
        )
    schema: dict[str, Any] = {**{b: g.schema[b] for b in by}, "metric": pl.String, "value": pl.Float64, "numerator": pl.Float64,
              "denominator": pl.Float64, "n_reports": pl.Int64, "n_agencies": pl.Int64, "n_derived": pl.Int64,
              "n_left_out": pl.Int64, **{f"left_{r}": pl.Int64 for r in REASONS}}  # fmt: skip
    if not frames:
        return pl.DataFrame(schema=schema)
    return pl.concat(frames).cast(schema).sort(["metric", *by], nulls_last=True)  # type: ignore[arg-type]


def guard(df: pl.DataFrame, min_n: int) -> pl.DataFrame:
    """Add ``guarded``: a rate whose denominator is below ``min_n`` (shown greyed with its n, never as a number)."""
    if df.is_empty():
        return df.with_columns(pl.lit(None, pl.Boolean).alias("guarded"))
    is_rate = pl.col("metric").replace_strict({k: metric(k).is_rate for k in df["metric"].unique()})
    return df.with_columns(
        (is_rate & pl.col("value").is_not_null() & (pl.col("denominator") < min_n)).fill_null(False).alias("guarded")
    )


def with_missing_years(df: pl.DataFrame, series: list[str], years: list[int] | None = None) -> pl.DataFrame:
    """Add a row with a NULL value for every year a series lacks (inside ``years``, default its span).

    Plotly joins a line across a missing x; a NULL point breaks it, so a line never bridges a year without data.
    """
    if df.is_empty():
        return df
    present = [y for y in df["year"].to_list() if y is not None]
    if not present:
        return df
    span = years or list(range(min(present), max(present) + 1))
    keys = df.select(series).unique()
    grid = keys.join(pl.DataFrame({"year": span}, schema={"year": df.schema["year"]}), how="cross")
    return grid.join(df, on=[*series, "year"], how="left").sort([*series, "year"])


def drop_leading_empty_years(df: pl.DataFrame) -> pl.DataFrame:
    """Drop the years before the first year with any value (no empty slot at the start of an axis)."""
    with_value = df.filter(pl.col("value").is_not_null())
    if with_value.is_empty():
        return df.head(0)
    first = with_value["year"].min()
    return df.filter(pl.col("year") >= first)
