"""``metric_sums``: the metric queries' sums stored per group of reports, so a page need not scan a million rows.

One row per group of current reports that agree on everything :func:`pipeline.metrics.aggregate.aggregate` groups
or filters by, except the agency (:data:`KEYS`): year, province, city, level, agency type, edition, ``failing``
(n_errors > 0, the quality filter), ``is_summary``, ``has_agency``, and two properties of the report's agency —
``mask``, the years its current non-summary reports cover as bits (bit ``year - YEAR0``), and ``unstable``, whether
those reports differ in province, city, level or agency type.  County is not a key: with it there are as many
groups as reports (512 k groups at 1 M reports, 23 k without; 80 k with the agency's mask).

Per group the columns hold the additive pieces :func:`pipeline.metrics.aggregate._combine` needs (:func:`pieces`):
``rows_``; per registry key Σv, count(v), count(s), derived and blank cells; per rate metric its counted numerator
and denominator and the count of each per-report state; for the outcome bars (``complete``) the same of every
outcome row over the reports where all of them are known, and the reports by their reason to be left out.

The trend panel is a mask test: the agencies with a selected report in every year of the span are those whose mask
covers the span's bits — exact when a filter takes all of an agency's reports or none of them, which is why a group
keeps ``unstable`` (an agency that moved region or level: region and level filters then use the per-report path).

:func:`grouped` answers from it or returns None (the caller scans ``report_cells``): county or agency filters or
groupings, a store without an up-to-date ``metric_sums`` (:mod:`pipeline.store.sums_file`), and panel cases the
mask cannot decide (quality filter, summary reports included, an agency outside :data:`YEAR0` … +62 years).
"""

from __future__ import annotations

import hashlib
from typing import Any

import duckdb
import polars as pl

from pipeline.derive import is_total
from pipeline.filters import Filters
from pipeline.metrics.catalogue import HEADLINE_KEYS, Metric, catalogue, outcome_groups
from pipeline.metrics.sql import TABLE_EDITIONS, col, rate_code, report_terms, run
from pipeline.registry import registry
from pipeline.store.sums_file import ALIAS, narrowed, stored_meta

TABLE = "metric_sums"
YEAR0, YEAR_SPAN = 2000, 62  # mask bits: years YEAR0 … YEAR0 + YEAR_SPAN - 1
KEYS = ("year", "province", "city", "level", "agency_type", "edition", "failing", "is_summary", "has_agency", "mask",
        "unstable")  # fmt: skip
BY = ("year", "province", "city", "level", "agency_type", "edition")  # groupings it answers
RANKS = (1, 2, 4, 5)  # aggregate.RANK of a report's own reason in complete mode (not_in_panel is the group's)


def outcome_keys() -> list[str]:
    """The metrics of the outcome bars (``queries.outcomes_by_year``, complete mode): （七）总计 and every outcome row."""
    return ["count.t3.result_total.total", *(f"count.{k}" for _, keys in outcome_groups() for k in keys)]


def rates() -> list[Metric]:
    return [m for m in catalogue().values() if m.is_rate]


def _stem(key: str) -> str:
    return key.replace(".", "__")


def _reason(m: Metric, c: str) -> str:
    empty = 2 if is_total(m.numerator[0]) else 1  # aggregate.RANK: not_derivable / empty
    return f"CASE s.s__{c} WHEN 2 THEN {empty} WHEN 1 THEN 4 END"


def pieces() -> list[tuple[str, str, str]]:
    """(column, type, per-report SQL over ``s``: a ``report_cells`` row plus ``code__<rate>`` and ``open_``,
    ``allnt_``, ``reason_``) of every summed column."""
    out = [("rows_", "BIGINT", "1")]
    for key in registry().by_key:
        c = col(key)
        out += [(f"sv__{c}", "DOUBLE", f"s.v__{c}"), (f"cv__{c}", "BIGINT", f"(s.v__{c} IS NOT NULL)::INTEGER"),
                (f"cs__{c}", "BIGINT", f"(s.s__{c} IS NOT NULL)::INTEGER"),
                (f"c4__{c}", "BIGINT", f"(s.s__{c} = 4)::INTEGER"), (f"c2__{c}", "BIGINT", f"(s.s__{c} = 2)::INTEGER")]  # fmt: skip
    for m in rates():
        r, code = _stem(m.key), f"s.code__{_stem(m.key)}"
        num, den, _, derived = report_terms(m, alias="s")
        out += [(f"rsn__{r}", "DOUBLE", f"CASE WHEN {code} = 0 THEN {num} END"),
                (f"rsd__{r}", "DOUBLE", f"CASE WHEN {code} = 0 THEN {den} END"),
                (f"rdv__{r}", "BIGINT", f"({code} = 0 AND {derived})::INTEGER"),
                *((f"r{k}__{r}", "BIGINT", f"({code} = {k})::INTEGER") for k in (0, 1, 2, 3, 6))]  # fmt: skip
    out += [("o_open", "BIGINT", "s.open_::INTEGER"), ("o_allnt", "BIGINT", "s.allnt_::INTEGER"),
            *((f"o_r{k}", "BIGINT", f"(s.reason_ = {k})::INTEGER") for k in RANKS)]  # fmt: skip
    for key in outcome_keys():
        c = col(key.removeprefix("count."))
        out += [(f"osv__{c}", "DOUBLE", f"CASE WHEN s.open_ THEN s.v__{c} END"),
                (f"ocv__{c}", "BIGINT", f"(s.open_ AND s.v__{c} IS NOT NULL)::INTEGER"),
                (f"oc4__{c}", "BIGINT", f"(s.open_ AND s.s__{c} = 4)::INTEGER")]  # fmt: skip
    for m in paired():
        r, both = _stem(m.key), f"(s.ok__{_stem(m.key)} AND s.pok__{_stem(m.key)})"
        out += [(f"p_n__{r}", "BIGINT", f"{both}::INTEGER"),
                *((f"p_{a}__{r}", "DOUBLE", f"CASE WHEN {both} THEN s.{c}__{r} END")
                  for a, c in (("an", "num"), ("ad", "den"), ("bn", "pnum"), ("bd", "pden")))]  # fmt: skip
    return out


def paired() -> list[Metric]:
    """The metrics whose year-over-year pairs (the same agency counted in a year and the year before) are stored:
    the overview's headline metrics (:func:`pipeline.metrics.change.yoy` over them)."""
    return [catalogue()[k] for k in HEADLINE_KEYS]


def _terms(m: Metric) -> tuple[str, str, str]:
    """(counted, numerator, denominator) of a report for the pairs, as :func:`pipeline.metrics.change._matched`."""
    if m.is_rate:
        num, den, _, _ = report_terms(m, alias="s")
        return f"s.code__{_stem(m.key)} = 0", num, den
    c = col(m.numerator[0])
    return f"s.v__{c} IS NOT NULL", f"s.v__{c}", "CAST(NULL AS DOUBLE)"


def signature() -> str:
    """Changes whenever the columns or their definitions do (a stored table of another build is not used)."""
    text = "|".join(f"{n}:{t}:{e}" for n, t, e in pieces()) + f"|{KEYS}|{YEAR0}"
    return hashlib.md5(text.encode()).hexdigest()[:16]


def cell_columns() -> list[str]:
    return [f"{p}__{col(k)}" for k in registry().by_key for p in ("v", "s")]


def _bit() -> str:
    return f"CASE WHEN year >= {YEAR0} AND year < {YEAR0 + YEAR_SPAN} THEN 1::BIGINT << (year - {YEAR0}) END"


MEMBER = "agency IS NOT NULL AND NOT coalesce(is_summary, false)"  # a report that counts in its agency's mask


def agencies_sql(current: str, signed: bool = False) -> str:
    """Per agency of ``current`` (see :func:`group_sql`): its ``mask``, whether a year falls ``outside`` the mask's
    span, and whether its reports are ``unstable`` (differ in province, city, level or agency type)."""
    side = ", side_" if signed else ""
    return f"""SELECT agency_key{side}, bit_or({_bit()}) FILTER (WHERE year IS NOT NULL) AS mask,
                      bool_or(year IS NOT NULL AND {_bit()} IS NULL) AS outside,
                      count(DISTINCT (province, city, level, agency_type)) > 1 AS unstable
               FROM ({current}) WHERE {MEMBER} GROUP BY agency_key{side}"""


def group_sql(current: str, names: list[str] | None = None, agencies: str | None = None, signed: bool = False) -> str:
    """The ``metric_sums`` rows of the reports of ``current`` (a relation of current ``report_cells`` rows holding
    every report of each agency it holds: the agency's mask is computed over them) — only the columns ``names``
    (default: all) besides the keys.  No step is materialised, so a query of a few columns reads and computes only
    what they need (:mod:`pipeline.metrics.sums_build` computes the table a few dozen columns at a time);
    ``agencies``: a table of :func:`agencies_sql` over ``current`` computed once for all such passes; ``signed``:
    ``current`` holds two states told apart by ``side_`` (-1: as they were, 1: as they are), each with its own
    masks, and the rows are their difference (one statement for a write's update)."""
    outcome = [m for m in (catalogue()[k] for k in outcome_keys())]
    ranks = ", ".join(_reason(m, col(m.numerator[0])) for m in outcome)
    none = " AND ".join(f"s.s__{col(m.numerator[0])} IS NULL" for m in outcome)
    codes = ", ".join(f"{rate_code(m, alias='s')} AS code__{_stem(m.key)}" for m in rates())
    member = MEMBER
    wanted = None if names is None else set(names)
    sign, side, on_side = (" * s.side_", ", side_", " AND p.side_ = s.side_") if signed else ("", "", "")
    sums = ", ".join(f"CAST(sum(({e}){sign}) AS {t}) AS {n}" for n, t, e in pieces() if wanted is None or n in wanted)
    stems = [(m, _stem(m.key)) for m in paired()]
    terms = ", ".join(f"{ok} AS ok__{r}, {num} AS num__{r}, {den} AS den__{r}"
                      for m, r in stems for ok, num, den in [_terms(m)])  # fmt: skip
    prev_terms = ", ".join(f"ok__{r}, num__{r}, den__{r}" for _, r in stems)
    prev_cols = ", ".join(f"coalesce(p.ok__{r}, false) AS pok__{r}, p.num__{r} AS pnum__{r}, p.den__{r} AS pden__{r}"
                          for _, r in stems)  # fmt: skip
    pairs_wanted = wanted is None or any(n.startswith("p_") for n in wanted)  # only they need the year before
    per = (f"""SELECT s.*, {prev_cols} FROM own s LEFT JOIN prev p
                ON s.agency IS NOT NULL AND NOT coalesce(s.is_summary, false) AND p.agency_key = s.agency_key
                   AND p.year = s.year - 1{on_side}""" if pairs_wanted else "SELECT s.* FROM own s")  # fmt: skip
    return f"""WITH cur AS NOT MATERIALIZED ({current}),
        ag AS NOT MATERIALIZED ({agencies_sql("SELECT * FROM cur", signed) if agencies is None else f"SELECT * FROM {agencies}"}),
        coded AS NOT MATERIALIZED (SELECT s.*, {codes} FROM cur s),
        own AS NOT MATERIALIZED (SELECT s.*, greatest({ranks}) AS reason_, ({none}) AS allnt_, {terms} FROM coded s),
        prev AS NOT MATERIALIZED (SELECT agency_key, year{side}, {prev_terms} FROM own s WHERE {member}),
        per AS NOT MATERIALIZED ({per}),
        keyed AS NOT MATERIALIZED (SELECT s.*, s.reason_ IS NULL AND NOT s.allnt_ AS open_, s.n_errors > 0 AS failing_,
                         coalesce(s.is_summary, false) AS summary_, s.agency IS NOT NULL AS has_agency_,
                         CASE WHEN NOT a.outside THEN a.mask END AS mask_, coalesce(a.unstable, false) AS unstable_
                  FROM per s LEFT JOIN ag a ON a.agency_key = s.agency_key AND s.agency IS NOT NULL{on_side.replace("p.", "a.")})
        SELECT year, province, city, level, agency_type, edition, failing_ AS failing, summary_ AS is_summary,
               has_agency_ AS has_agency, mask_ AS mask, unstable_ AS unstable, {sums}
        FROM keyed s GROUP BY ALL"""


# -- reading ------------------------------------------------------------------------------------------------------


def available(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether the connection has an attached ``metric_sums`` of this build (:mod:`pipeline.store.sums_file`)."""
    return stored_meta(con, "signature") == signature()


def where(filters: Filters, for_sums: bool) -> tuple[str, dict[str, Any]] | None:
    """The filters as a condition on ``metric_sums`` (alias ``g``), or None when it cannot express them."""
    if filters.county is not None or filters.agencies:
        return None
    clauses, params = ["true"], {}
    if filters.years:
        clauses.append("list_contains($f_years, g.year)")
        params["f_years"] = list(filters.years)
    for name in ("province", "city"):
        if getattr(filters, name) is not None:
            clauses.append(f"g.{name} = $f_{name}")
            params[f"f_{name}"] = getattr(filters, name)
    for name, column in (("levels", "level"), ("agency_types", "agency_type"), ("editions", "edition")):
        if getattr(filters, name):
            clauses.append(f"list_contains($f_{name}, g.{column})")
            params[f"f_{name}"] = list(getattr(filters, name))
    if for_sums and not filters.include_summaries:
        clauses.append("NOT g.is_summary")
    if filters.quality != "all":
        clauses.append("g.failing" if filters.quality == "fail" else "NOT g.failing")
    return " AND ".join(clauses), params


def _in_panel(con: duckdb.DuckDBPyConnection, filters: Filters, by: tuple[str, ...]) -> str | None:
    """The panel condition on a group (``g``) — "true" where no panel applies — or None where the mask cannot
    decide it (see the module docstring)."""
    if filters.panel != "matched" or "year" not in by:
        return "true"
    if filters.include_summaries or filters.quality != "all":
        return None
    summed, params = where(filters, for_sums=True) or ("false", {})
    table = f"{ALIAS}.{TABLE}"
    editions = ", ".join(f"'{e}'" for e in TABLE_EDITIONS)
    # one pass over the selected groups: what the mask cannot decide, the span, the agencies' masks (≤ 2^years)
    outside, unstable, years, masks = con.sql(narrowed(con,
        f"""SELECT coalesce(bool_or(g.has_agency AND g.mask IS NULL), false), coalesce(bool_or(g.unstable), false),
                   list(DISTINCT g.year) FILTER (WHERE g.year IS NOT NULL AND g.edition IN ({editions})),
                   list(DISTINCT g.mask) FILTER (WHERE g.has_agency AND g.mask IS NOT NULL)
            FROM (SELECT g.year, g.edition, g.has_agency, g.mask, g.unstable FROM {table} g WHERE {summed}
                  GROUP BY ALL HAVING sum(g.rows_) <> 0) g""", TABLE, "g"), params=params or None).fetchall()[0]  # fmt: skip
    splits = filters.province or filters.city or filters.levels or filters.agency_types
    if outside or (unstable and splits) or (filters.editions and _editions_vary(con)):
        return None
    span = sorted(int(y) for y in years or [])
    if not span:
        return "true"
    if any(not YEAR0 <= y < YEAR0 + YEAR_SPAN for y in span):
        return None
    bits = sum(1 << (y - YEAR0) for y in span)
    if not any(int(m) & bits == bits for m in masks or []):  # no agency reported every year: no panel
        return "true"
    return f"(g.year IN ({', '.join(map(str, span))}) AND g.has_agency AND g.mask & {bits} = {bits})"


def _editions_vary(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether some year has reports of two editions (an edition filter then splits an agency's years)."""
    rows = con.execute(narrowed(con, f"""SELECT count(*) FROM (SELECT year FROM (SELECT g.year, g.edition
                           FROM {ALIAS}.{TABLE} g GROUP BY ALL HAVING sum(g.rows_) <> 0) GROUP BY year
                           HAVING count(*) > 1)""", TABLE, "g")).fetchall()  # fmt: skip
    return bool(rows[0][0])


def grouped(con: duckdb.DuckDBPyConnection, filters: Filters, metrics: list[Metric], by: tuple[str, ...],
            complete: bool) -> pl.DataFrame | None:  # fmt: skip
    """The grouped rows :func:`pipeline.metrics.aggregate._combine` takes (without the agency counts of a result
    not grouped by year), read from ``metric_sums`` — or None when it cannot answer (the caller scans)."""
    if not set(by) <= set(BY) or not available(con):
        return None
    if complete and sorted(m.key for m in metrics) != sorted(outcome_keys()):
        return None
    selected = where(filters, for_sums=False)
    in_panel = _in_panel(con, filters, by) if selected is not None else None
    if selected is None or in_panel is None:
        return None
    cond, params = selected
    if "year" in by:
        cond += " AND g.year IS NOT NULL"
    summary = "false" if filters.include_summaries else "g.is_summary"
    head = [*(f"g.{b}" for b in by), f"{in_panel} AS in_panel_", "g.has_agency AS has_agency_",
            f"{summary} AS summary_"]  # fmt: skip
    groups = ", ".join(str(i + 1) for i in range(len(head)))
    table = f"{ALIAS}.{TABLE} g WHERE {cond}"
    if not complete:
        cols = ["sum(g.rows_)::BIGINT AS rows_"]
        for i, m in enumerate(metrics):
            if m.is_rate:
                r = _stem(m.key)
                cols += [f"sum(g.rsn__{r}) AS sn_{i}", f"sum(g.rsd__{r}) AS sd_{i}", f"sum(g.r0__{r})::BIGINT AS c0_{i}",
                         f"sum(g.rdv__{r})::BIGINT AS cdv_{i}",
                         *(f"sum(g.r{k}__{r})::BIGINT AS c{k}_{i}" for k in (1, 2, 3, 6))]  # fmt: skip
            else:
                c = col(m.numerator[0])
                cols += [
                    f"sum(g.sv__{c}) AS sv_{i}",
                    *(f"sum(g.{p}__{c})::BIGINT AS {p}_{i}" for p in ("cv", "cs", "c4", "c2")),
                ]
        sql = f"SELECT {', '.join(head)}, {', '.join(cols)} FROM {table} GROUP BY {groups} HAVING sum(g.rows_) <> 0"
        return run(con, narrowed(con, sql, TABLE, "g"), params)
    cols = [f"sum(g.{n})::BIGINT AS {n}" for n in ("o_open", "o_allnt", *(f"o_r{k}" for k in RANKS))]
    for i, m in enumerate(metrics):
        c = col(m.numerator[0])
        cols += [
            f"sum(g.osv__{c}) AS sv_{i}",
            f"sum(g.ocv__{c})::BIGINT AS cv_{i}",
            f"sum(g.oc4__{c})::BIGINT AS c4_{i}",
        ]
    sql = f"SELECT {', '.join(head)}, {', '.join(cols)} FROM {table} GROUP BY {groups} HAVING sum(g.rows_) <> 0"
    wide = run(con, narrowed(con, sql, TABLE, "g"), params)
    # per group: its open reports with their sums, those without any table, those left out by their own reason
    keep = [*by, "in_panel_", "has_agency_", "summary_"]
    zeros = [pl.lit(0, pl.Int64).alias(f"{p}_{i}") for i in range(len(metrics)) for p in ("cs", "c2")]
    empty = [e for i in range(len(metrics)) for e in (pl.lit(None, pl.Float64).alias(f"sv_{i}"),
             pl.lit(0, pl.Int64).alias(f"cv_{i}"), pl.lit(0, pl.Int64).alias(f"c4_{i}"))]  # fmt: skip
    sums = [pl.col(f"{p}_{i}") for i in range(len(metrics)) for p in ("sv", "cv", "c4")]
    frames = [wide.select(*keep, pl.lit(None, pl.Int32).alias("reason_"), pl.lit(False).alias("all_no_table_"),
                          pl.col("o_open").alias("rows_"), *sums, *zeros),
              wide.select(*keep, pl.lit(None, pl.Int32).alias("reason_"), pl.lit(True).alias("all_no_table_"),
                          pl.col("o_allnt").alias("rows_"), *empty, *zeros)]  # fmt: skip
    frames += [wide.select(*keep, pl.lit(k, pl.Int32).alias("reason_"), pl.lit(False).alias("all_no_table_"),
                           pl.col(f"o_r{k}").alias("rows_"), *empty, *zeros) for k in RANKS]  # fmt: skip
    return pl.concat(frames)


def pairs(con: duckdb.DuckDBPyConnection, filters: Filters, metrics: list[Metric]) -> pl.DataFrame | None:
    """Per year, the sums of :func:`pipeline.metrics.change._matched` (``n_<i>``, ``an_<i>``, ``ad_<i>``, ``bn_<i>``,
    ``bd_<i>``) from the stored pairs — or None where they cannot say which pairs the filters keep: both reports
    of a pair must be selected, which the stored row (the later report's) decides only for filters that take all of
    an agency's reports or none (no quality or edition filter, summaries left out, no agency that moved)."""
    if not available(con) or not {m.key for m in metrics} <= set(HEADLINE_KEYS):
        return None
    if filters.include_summaries or filters.quality != "all" or filters.editions:
        return None
    selected = where(filters, for_sums=True)
    if selected is None:
        return None
    cond, params = selected
    splits = filters.province or filters.city or filters.levels or filters.agency_types
    table = f"{ALIAS}.{TABLE}"
    unstable = narrowed(con, f"SELECT count(*) FROM {table} g WHERE {cond} AND g.unstable AND g.rows_ <> 0", TABLE, "g")
    if splits and con.sql(unstable, params=params or None).fetchall()[0][0]:
        return None
    if filters.years:
        cond += " AND list_contains($f_years, g.year - 1)"  # the year before is selected too
    cols = []
    for i, m in enumerate(metrics):
        r = _stem(m.key)
        cols += [f"sum(g.p_n__{r})::BIGINT AS n_{i}",
                 *(f"sum(g.p_{a}__{r}) AS {a}_{i}" for a in ("an", "ad", "bn", "bd"))]  # fmt: skip
    sql = f"SELECT g.year, {', '.join(cols)} FROM {table} g WHERE {cond} AND g.year IS NOT NULL GROUP BY g.year"
    return run(con, narrowed(con, sql, TABLE, "g"), params)
