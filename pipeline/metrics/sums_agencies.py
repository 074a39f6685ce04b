"""``agency_masks``: the distinct agencies a roll-up counts, stored beside ``metric_sums`` as year masks per agency.

The agencies a metric counted in a region are not additive over ``metric_sums``' groups (an agency with reports in
two years of a selection is one agency).  They are over agencies, and an agency has at most one current report per
year, so every question the stored sums answer about an agency's reports is a test on bits of years: one row per
agency and the report properties a roll-up filters or groups by (province, city, level, agency type — one row for an
agency that never moved) with, as bits of ``year - YEAR0`` (bit :data:`NO_YEAR` for a report without a year):

- ``years_``: its current member reports (named agency, not a summary report);
- ``pass_`` / ``fail_``: those with no error finding / with one (the quality filter: ``n_errors = 0`` / ``> 0``);
- ``e_<edition>``: those of each template edition;
- ``m__<metric>``: those each metric of :func:`masked_metrics` counted (a rate: state 0; a count: a value).

The reports a filter selects are then ``years_ & <years> & <editions> & <quality>``, the agencies of a group those
with a bit left, and the agencies a metric counted those with a bit of ``m__<metric>`` among them: a sum over at
most one row per agency, not a scan of every report.  A row is ``exact`` when no two of its reports share a bit
(two reports without a year, or a year outside the masks' span); a selection touching a row that is not answers by
the scan.  ``single``: the agency has one row (no need to merge its rows per group).
"""

from __future__ import annotations

import hashlib
from typing import Any

import duckdb
import polars as pl

from pipeline.filters import Filters
from pipeline.metrics.catalogue import Metric, catalogue
from pipeline.metrics.sql import TABLE_EDITIONS, col, rate_code, run
from pipeline.store.sums_file import ALIAS, narrowed, stored_meta

TABLE = "agency_masks"
YEAR0, YEAR_SPAN = 2000, 62  # as pipeline.metrics.sums: bits 0 … 61 are years
NO_YEAR = 62  # the bit of a report whose year was not recognised
ROW_KEYS = ("province", "city", "level", "agency_type")  # what a roll-up filters or groups by, besides the year
# the count metrics of the regional roll-up (pipeline.metrics.regions.ROLLUP_METRICS) and of the treemap; every rate
COUNTS = ("count.t3.new_received.total", "count.t3.result_total.total", "count.t4.review.total",
          "count.t4.suit_direct.total")  # fmt: skip


def masked_metrics() -> list[Metric]:
    """The metrics whose counted agencies are stored: the roll-up's counts and every rate."""
    c = catalogue()
    return [c[k] for k in COUNTS] + [m for m in c.values() if m.is_rate]


def _stem(key: str) -> str:
    return key.replace(".", "__")


def _counted(m: Metric) -> str:
    """Whether metric ``m`` counted the report ``s`` (as :func:`pipeline.metrics.aggregate.aggregate` decides)."""
    return f"{rate_code(m, alias='s')} = 0" if m.is_rate else f"s.v__{col(m.numerator[0])} IS NOT NULL"


def columns() -> list[tuple[str, str]]:
    """(column, condition on a report ``s``) of every stored mask."""
    out = [("years_", "true"), ("pass_", "s.n_errors = 0"), ("fail_", "s.n_errors > 0")]
    out += [(f"e_{e}", f"s.edition = '{e}'") for e in TABLE_EDITIONS]
    return out + [(f"m__{_stem(m.key)}", _counted(m)) for m in masked_metrics()]


def signature() -> str:
    text = "|".join(f"{n}:{c}" for n, c in columns()) + f"|{ROW_KEYS}|{YEAR0}|{NO_YEAR}"
    return hashlib.md5(text.encode()).hexdigest()[:16]


def rows_sql(current: str) -> str:
    """The ``agency_masks`` rows of the agencies of ``current`` (current ``report_cells`` rows holding every report
    of each agency they hold)."""
    slot = (f"CASE WHEN s.year IS NULL THEN 1::BIGINT << {NO_YEAR} WHEN s.year >= {YEAR0} AND s.year < "
            f"{YEAR0 + YEAR_SPAN} THEN 1::BIGINT << (s.year - {YEAR0}) END")  # fmt: skip
    masks = ", ".join(f"coalesce(bit_or(slot_) FILTER (WHERE {cond}), 0)::BIGINT AS {name}" for name, cond in columns())
    keys = ", ".join(f"s.{k}" for k in ROW_KEYS)
    return f"""SELECT agency_key, {", ".join(ROW_KEYS)}, {masks},
                      count(*) = count(DISTINCT slot_) AND bool_and(slot_ IS NOT NULL) AS exact,
                      count(*) OVER (PARTITION BY agency_key) = 1 AS single
               FROM (SELECT s.*, {slot} AS slot_ FROM ({current}) s
                     WHERE s.agency IS NOT NULL AND NOT coalesce(s.is_summary, false)) s
               GROUP BY s.agency_key, {keys}"""


def available(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether the attached sums hold ``agency_masks`` of this build (an older file has none: the scan counts)."""
    return stored_meta(con, "mask_signature") == signature()


def _selection(filters: Filters) -> tuple[str, str, dict[str, Any]] | None:
    """(condition on a row ``a``, the selected reports' bits as SQL over ``a``, parameters) — None where the
    masks cannot express the filters (county, agency, an edition without a mask, summary reports included)."""
    if filters.county is not None or filters.agencies or filters.include_summaries:
        return None
    if any(e not in TABLE_EDITIONS for e in filters.editions):
        return None
    clauses, params = ["true"], {}
    for name in ("province", "city"):
        if getattr(filters, name) is not None:
            clauses.append(f"a.{name} = $f_{name}")
            params[f"f_{name}"] = getattr(filters, name)
    for name, column in (("levels", "level"), ("agency_types", "agency_type")):
        if getattr(filters, name):
            clauses.append(f"list_contains($f_{name}, a.{column})")
            params[f"f_{name}"] = list(getattr(filters, name))
    bits = ["a.years_"]
    if filters.years:
        year_bits = sum(1 << (int(y) - YEAR0) for y in filters.years if YEAR0 <= int(y) < YEAR0 + YEAR_SPAN)
        bits.append(f"{year_bits}::BIGINT")
    if filters.editions:
        bits.append("(" + " | ".join(f"a.e_{e}" for e in sorted(set(filters.editions))) + ")")
    if filters.quality != "all":
        bits.append("a.fail_" if filters.quality == "fail" else "a.pass_")
    return " AND ".join(clauses), " & ".join(bits), params


def counted(con: duckdb.DuckDBPyConnection, filters: Filters, metrics: list[Metric],
            by: tuple[str, ...]) -> pl.DataFrame | None:  # fmt: skip
    """Per group of ``by`` (⊂ :data:`ROW_KEYS`): ``ag_all``, the agencies with a selected member report, and
    ``ag_<i>``, those metric ``i`` counted in one — what :func:`pipeline.metrics.aggregate.aggregate` counts over
    the reports; None where the masks cannot answer (the caller scans)."""
    keys = {m.key for m in masked_metrics()}
    if not set(by) <= set(ROW_KEYS) or any(m.key not in keys for m in metrics) or not available(con):
        return None
    selection = _selection(filters)
    if selection is None:
        return None
    cond, bits, params = selection
    group = [f"a.{b}" for b in by]
    sel = [*group, "a.agency_key", "a.single", "a.exact", f"{bits} AS s_",
           *(f"a.m__{_stem(m.key)} & ({bits}) AS m_{i}" for i, m in enumerate(metrics))]  # fmt: skip
    names = [*by, "agency_key", "single", "exact", "s_", *(f"m_{i}" for i in range(len(metrics)))]
    outer = ", ".join(by)
    merged = ", ".join([*by, "agency_key", "true", "bool_and(exact)", "bit_or(s_)",
                        *(f"bit_or(m_{i})" for i in range(len(metrics)))])  # fmt: skip
    counts = ", ".join(["count_if(s_ <> 0)::BIGINT AS ag_all", "bool_and(exact) AS exact_",
                        *(f"count_if(m_{i} <> 0)::BIGINT AS ag_{i}" for i in range(len(metrics)))])  # fmt: skip
    # an agency with several rows (it moved) is merged per group first; the others are one row each already
    sql = f"""WITH sel AS (SELECT {", ".join(sel)} FROM {ALIAS}.{TABLE} a WHERE {cond})
        SELECT {outer + ", " if by else ""}{counts} FROM (
            SELECT {", ".join(names)} FROM sel WHERE single
            UNION ALL SELECT {merged} FROM sel WHERE NOT single GROUP BY {", ".join([*by, "agency_key"])})
        {"GROUP BY " + outer if by else ""}"""
    df = run(con, narrowed(con, sql, TABLE, "a"), params)
    if not df["exact_"].fill_null(True).all():
        return None
    return df.drop("exact_").filter(pl.col("ag_all") > 0) if by else df.drop("exact_")


__all__ = ["TABLE", "available", "columns", "counted", "masked_metrics", "rows_sql", "signature"]
