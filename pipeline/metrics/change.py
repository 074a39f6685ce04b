"""Year-over-year change of metrics: each year against the year before, over the same agencies by default.

The change of a series compares the agencies counted in both years (``Filters.panel == 'matched'``) or all
reports of each year (``'all'``), with the coverage beside it (see :mod:`pipeline.metrics.aggregate` for how
metrics are counted).
"""

from __future__ import annotations

from dataclasses import replace

import duckdb
import polars as pl

from pipeline.filters import Filters
from pipeline.metrics.aggregate import aggregate, selection, unique_metrics
from pipeline.metrics.catalogue import Metric
from pipeline.metrics.sql import col, rate_code, report_terms, run
from pipeline.metrics.sums import pairs


def yoy(con: duckdb.DuckDBPyConnection, filters: Filters, metric_keys: list[str]) -> pl.DataFrame:
    """Each metric by year (over all reports of that year) with the change from the year before.

    ``filters.panel == 'matched'`` (default): the change compares the agencies counted in both years —
    ``matched_prev`` and ``matched_value`` are the metric over exactly those agencies, ``change`` their difference.
    ``'all'``: the change is ``value − prev_value`` over all reports of each year.  Either way the coverage is
    beside it: ``n_agencies`` (this year), ``n_agencies_prev`` (the year before), ``n_matched`` (both).
    ``change_pct`` = change ÷ the previous value (NULL when that is 0 or NULL).
    """
    every = aggregate(con, replace(filters, panel="all"), metric_keys, by=("year",))
    return with_change(every, _matched(con, filters, unique_metrics(metric_keys)), filters.panel)


def with_change(every: pl.DataFrame, matched: pl.DataFrame, panel: str) -> pl.DataFrame:
    """The columns of :func:`yoy` from the metrics by year over all reports (``every``: ``aggregate(…, by=("year",))``)
    and the sums over the agencies counted in both a year and the year before (``matched``: metric, year, n_matched,
    cur_num, cur_den, prev_num, prev_den; no row where no agency is in both); ``panel`` says which the change is of."""
    prev = every.select(
        "metric",
        (pl.col("year") + 1).alias("year"),
        pl.col("value").alias("prev_value"),
        pl.col("n_agencies").alias("n_agencies_prev"),
    )
    out = every.join(prev, on=["metric", "year"], how="left")
    out = out.join(matched, on=["metric", "year"], how="left").with_columns(
        pl.col("n_matched").fill_null(0),
        pl.col("n_agencies_prev").fill_null(0),
    )
    is_rate = pl.col("cur_den").is_not_null()
    out = out.with_columns(
        pl.when(is_rate)
        .then(pl.col("cur_num") / pl.col("cur_den"))
        .otherwise(pl.col("cur_num"))
        .alias("matched_value"),
        pl.when(is_rate)
        .then(pl.col("prev_num") / pl.col("prev_den"))
        .otherwise(pl.col("prev_num"))
        .alias("matched_prev"),
    ).drop("cur_num", "cur_den", "prev_num", "prev_den")
    if panel == "matched":
        change = pl.col("matched_value") - pl.col("matched_prev")
        base = pl.col("matched_prev")
    else:
        change = pl.col("value") - pl.col("prev_value")
        base = pl.col("prev_value")
    return (
        out.with_columns(change.alias("change"), base.alias("change_base"))
        .with_columns(
            pl.when(pl.col("change_base") != 0).then(pl.col("change") / pl.col("change_base")).alias("change_pct")
        )
        .sort("metric", "year")
    )


def _matched(con: duckdb.DuckDBPyConnection, filters: Filters, metrics: list[Metric]) -> pl.DataFrame:
    """Per metric and year, the agencies counted in both that year and the year before: (metric, year, n_matched,
    cur_num, cur_den, prev_num, prev_den); a (metric, year) without such an agency has no row."""
    stored = pairs(con, filters, metrics)  # the stored pairs of the headline metrics (pipeline.metrics.sums)
    g = stored if stored is not None else _pairs_scanned(con, filters, metrics)
    frames = [
        g.filter(pl.col(f"n_{i}") > 0).select(
            pl.lit(m.key).alias("metric"),
            pl.col("year").cast(pl.Int32),
            pl.col(f"n_{i}").cast(pl.Int64).alias("n_matched"),
            pl.col(f"an_{i}").alias("cur_num"),
            pl.col(f"ad_{i}").alias("cur_den"),
            pl.col(f"bn_{i}").alias("prev_num"),
            pl.col(f"bd_{i}").alias("prev_den"),
        )  # fmt: skip
        for i, m in enumerate(metrics)
    ]
    schema = {"metric": pl.String, "year": pl.Int32, "n_matched": pl.Int64,
              "cur_num": pl.Float64, "cur_den": pl.Float64, "prev_num": pl.Float64, "prev_den": pl.Float64}  # fmt: skip
    return pl.concat(frames).cast(schema) if frames else pl.DataFrame(schema=schema)  # type: ignore[arg-type]


def _pairs_scanned(con: duckdb.DuckDBPyConnection, filters: Filters, metrics: list[Metric]) -> pl.DataFrame:
    """The pairs' sums per year (columns of :func:`pipeline.metrics.sums.pairs`), by a self-join of the reports."""
    cells, where, params = selection(con, filters, [key for m in metrics for key in m.keys], for_sums=True)
    row, sums = ["w.agency_key", "w.year"], []
    for i, m in enumerate(metrics):
        if m.is_rate:
            num, den, _, _ = report_terms(m)
            row += [f"{rate_code(m)} = 0 AS ok_{i}", f"{num} AS num_{i}", f"{den} AS den_{i}"]
        else:
            c = col(m.numerator[0])
            row += [f"w.v__{c} IS NOT NULL AS ok_{i}", f"w.v__{c} AS num_{i}", f"CAST(NULL AS DOUBLE) AS den_{i}"]
        both = f"a.ok_{i} AND b.ok_{i}"
        sums += [f"sum(({both})::INTEGER) AS n_{i}", f"sum(CASE WHEN {both} THEN a.num_{i} END) AS an_{i}",
                 f"sum(CASE WHEN {both} THEN a.den_{i} END) AS ad_{i}",
                 f"sum(CASE WHEN {both} THEN b.num_{i} END) AS bn_{i}",
                 f"sum(CASE WHEN {both} THEN b.den_{i} END) AS bd_{i}"]  # fmt: skip
    sql = f"""WITH x AS (SELECT {", ".join(row)} FROM {cells} w
                         WHERE {where} AND w.agency IS NOT NULL AND w.year IS NOT NULL)
        SELECT a.year, {", ".join(sums)} FROM x a JOIN x b ON a.agency_key = b.agency_key AND b.year = a.year - 1
        GROUP BY a.year"""
    return run(con, sql, params)
