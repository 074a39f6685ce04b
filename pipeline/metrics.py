"""Named metric queries for the dashboard: every metric is defined once here, with its formula and denominator.

A :class:`Metric` is a sum of registry cells (a count) or a ratio of two such sums (a rate).  Its formula text is
built from the registry's official labels, so the UI (指标说明, captions beside charts) and the SQL can never
disagree.  Every query takes an open DuckDB connection and a :class:`~pipeline.filters.Filters`, passes all
filter values as bound parameters and returns a polars DataFrame.

Aggregation rules (also shown on 指标说明):
- a count over several reports is the SQL ``sum`` of the reports' cells; blank / "/" cells (NULL) are skipped,
  and a group where every cell is NULL stays NULL — never 0;
- a rate over several reports is Σ numerator ÷ Σ denominator over the reports whose denominator is > 0
  (a pooled rate, not an average of rates); inside the numerator a blank cell counts as 0, as in the template's
  own arithmetic; the denominator and the number of reports are returned beside every rate.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import Any, Literal

import duckdb
import polars as pl

from pipeline.filters import Filters
from pipeline.registry import T4_GROUPS_ORDER, registry

TABLE_NAMES = {"t2": "表二", "t3": "表三", "t4": "表四"}
RESULT_BLOCK = "三、本年度办理结果"  # the block whose direct rows are outcome groups of their own
# t3 rows that are not outcomes (request counts and balances).
NON_OUTCOME_ROWS = ("new_received", "carried_over", "result_total", "carry_forward")
GROUP_COLUMNS = {
    "year": "r.year",
    "agency": "r.agency",
    "agency_type": "r.agency_type",
    "level": "r.level",
    "province": "r.province",
    "city": "r.city",
    "edition": "r.edition",
}
_KEY_RE = re.compile(r"^[a-z0-9_.]+$")

# Labels of report columns shown in tables and exports.
REPORT_COLUMN_LABELS = {
    "report_id": "报告编号",
    "agency": "机关",
    "year": "年度",
    "edition": "格式版本",
    "t3_layout": "表三版式",
    "province": "省份",
    "city": "市（地区）",
    "county": "区县",
    "level": "行政层级",
    "agency_type": "机关类型",
    "synthetic": "示例数据",
    "n_errors": "错误数",
    "n_warnings": "警告数",
    "format": "文件格式",
    "source_path": "来源文件",
}
STATUS_LABELS = {
    "ok": "有值",
    "blank": "空白",
    "null_marker": "空值标记",
    "missing": "未找到",
    "not_in_layout": "本版式无此项",
    "ambiguous": "有歧义",
}


def cell_name(key: str) -> str:
    """``表三「（一）予以公开 / 总计」`` — a registry cell named by its official labels."""
    f = registry()[key]
    return f"{TABLE_NAMES[f.table]}「{f.label}」"


@dataclass(frozen=True, slots=True)
class Metric:
    """A count (sum of cells) or a rate (numerator ÷ denominator) over registry cells."""

    key: str
    name: str
    kind: Literal["count", "rate"]
    numerator: tuple[str, ...]
    denominator: tuple[str, ...] = ()
    denominator_minus: tuple[str, ...] = ()
    unit: str = ""
    group: str = ""

    @property
    def is_rate(self) -> bool:
        return self.kind == "rate"

    @property
    def keys(self) -> tuple[str, ...]:
        return self.numerator + self.denominator + self.denominator_minus

    @property
    def numerator_text(self) -> str:
        return " + ".join(cell_name(k) for k in self.numerator)

    @property
    def denominator_text(self) -> str:
        """The denominator in words ('' for a count)."""
        if not self.is_rate:
            return ""
        text = " + ".join(cell_name(k) for k in self.denominator)
        if self.denominator_minus:
            text = f"{text} − " + " − ".join(cell_name(k) for k in self.denominator_minus)
        return text

    @property
    def formula(self) -> str:
        if not self.is_rate:
            return f"{self.name} = {self.numerator_text}"
        num = self.numerator_text
        num = f"（{num}）" if len(self.numerator) > 1 else num
        den = self.denominator_text
        den = f"（{den}）" if len(self.denominator) > 1 or self.denominator_minus else den
        return f"{self.name} = {num} ÷ {den}"


def outcome_groups() -> list[tuple[str, tuple[str, ...]]]:
    """表三 outcome groups in template order: (group label, its rows' 总计 keys), both editions merged.

    Rows directly under 三、本年度办理结果 are groups of their own (（一）予以公开 …); the rows of a sub-block such as
    （三）不予公开 form one group named by the block.  The 2019 single-row （六）其他处理 and the 2021 three sub-rows
    share the label （六）其他处理 and so the same group.
    """
    reg = registry()
    groups: dict[str, list[str]] = {}
    for row_key, row_label, block in reg.rows("t3"):
        if row_key in NON_OUTCOME_ROWS:
            continue
        label = row_label if block in ("", RESULT_BLOCK) else block
        groups.setdefault(label, []).append(reg.key_for("t3", row_key, "total"))
    return [(label, tuple(keys)) for label, keys in groups.items()]


@cache
def catalogue() -> dict[str, Metric]:
    """Every metric by key: the spec's rates, outcome and applicant shares, and a count per registry cell."""
    reg = registry()
    k = reg.key_for
    out: dict[str, Metric] = {}

    def add(m: Metric) -> None:
        out[m.key] = m

    result_total = (k("t3", "result_total", "total"),)
    add(
        Metric(
            "rate.disclosure",
            "公开率",
            "rate",
            (k("t3", "granted", "total"), k("t3", "partially_granted", "total")),
            result_total,
            group="依申请公开",
        )
    )
    for label, keys in outcome_groups():
        row_key = reg[keys[0]].row_key if len(keys) == 1 else reg[keys[0]].block
        add(
            Metric(
                f"share.{_slug(row_key, keys)}",
                f"{label}占比",
                "rate",
                keys,
                result_total,
                group="办理结果占比",
            )
        )
    new_total = k("t3", "new_received", "total")
    for col_key, col_label in reg.columns("t3"):
        if col_key == "total":
            continue
        add(
            Metric(
                f"share.applicant.{col_key}",
                f"{col_label}申请占比",
                "rate",
                (k("t3", "new_received", col_key),),
                (new_total,),
                group="申请人类型",
            )
        )
    for group in T4_GROUPS_ORDER:
        row_label = reg[k("t4", group, "total")].row_label
        add(
            Metric(
                f"rate.correction.{group}",
                f"{row_label}纠错率",
                "rate",
                (k("t4", group, "corrected"),),
                (k("t4", group, "total"),),
                (k("t4", group, "pending"),),
                group="复议诉讼",
            )
        )
    for f in reg.fields:
        add(
            Metric(
                f"count.{f.key}",
                cell_name(f.key),
                "count",
                (f.key,),
                unit=f.unit or "件",
                group=TABLE_NAMES[f.table],
            )
        )
    return out


def _slug(row_or_block: str, keys: tuple[str, ...]) -> str:
    if len(keys) == 1:
        return row_or_block
    # a block: name it by its rows' common prefix (denied_*, unable_*, not_processed_*, other_*)
    rows = [registry()[key].row_key for key in keys]
    prefix = rows[0].split("_", 1)[0]
    if rows[0].startswith("not_processed"):
        prefix = "not_processed"
    return prefix


def metric(key: str) -> Metric:
    """Look a metric up by key (``KeyError`` with the key for an unknown one)."""
    return catalogue()[key]


def rate_metrics() -> list[Metric]:
    return [m for m in catalogue().values() if m.is_rate]


# ---------------------------------------------------------------------------------------------------------------
# SQL building blocks


def _col(key: str) -> str:
    if key not in registry() or not _KEY_RE.match(key):
        raise KeyError(f"未知字段: {key!r}")
    return '"' + key.replace(".", "__") + '"'


def _selected_cte(filters: Filters) -> tuple[str, dict[str, Any]]:
    where, params = filters.where("r")
    return f"sel AS (SELECT r.* FROM reports r WHERE {where})", params


def _wide_cte(keys: list[str]) -> str:
    """Per-report pivot of the given registry keys (one column each; NULL when blank, absent or not in layout)."""
    keys = list(dict.fromkeys(keys))
    cols = ",\n".join(f"max(f.value) FILTER (WHERE f.key = '{k}') AS {_col(k)}" for k in keys)
    key_list = ", ".join(f"'{k}'" for k in keys)
    return (
        "wide AS (SELECT f.report_id, "
        + cols
        + f" FROM facts f JOIN sel USING (report_id) WHERE f.key IN ({key_list}) GROUP BY f.report_id)"
    )


def _sum_nullable(keys: tuple[str, ...]) -> str:
    """Sum of cells that stays NULL when every cell is NULL."""
    if len(keys) == 1:
        return f"CAST(w.{_col(keys[0])} AS DOUBLE)"
    any_value = " OR ".join(f"w.{_col(k)} IS NOT NULL" for k in keys)
    total = " + ".join(f"coalesce(w.{_col(k)}, 0)" for k in keys)
    return f"CASE WHEN {any_value} THEN CAST({total} AS DOUBLE) END"


def _per_report_exprs(m: Metric) -> tuple[str, str]:
    """(numerator, denominator) SQL per report. For a count the denominator is NULL."""
    if not m.is_rate:
        return _sum_nullable(m.numerator), "CAST(NULL AS DOUBLE)"
    num = "CAST(" + " + ".join(f"coalesce(w.{_col(k)}, 0)" for k in m.numerator) + " AS DOUBLE)"
    den = _sum_nullable(m.denominator)
    if m.denominator_minus:
        den = (
            f"({den} - CAST("
            + " + ".join(f"coalesce(w.{_col(k)}, 0)" for k in m.denominator_minus)
            + " AS DOUBLE))"
        )
    return num, den


def _run(con: duckdb.DuckDBPyConnection, sql: str, params: dict[str, Any]) -> pl.DataFrame:
    return con.sql(sql, params=params or None).pl()


def per_report(con: duckdb.DuckDBPyConnection, filters: Filters, metric_keys: list[str]) -> pl.DataFrame:
    """One row per (selected report, metric): numerator, denominator, value (NULL where undefined)."""
    metrics = [metric(k) for k in metric_keys]
    sel, params = _selected_cte(filters)
    keys = [key for m in metrics for key in m.keys]
    parts = []
    for m in metrics:
        num, den = _per_report_exprs(m)
        value = "CASE WHEN den > 0 THEN num / den END" if m.is_rate else "num"
        parts.append(
            f"""SELECT report_id, agency, year, agency_type, level, province, city, edition,
                       '{m.key}' AS metric, num AS numerator, den AS denominator, {value} AS value
                FROM (SELECT s.*, {num} AS num, {den} AS den FROM sel s LEFT JOIN wide w USING (report_id))"""
        )
    sql = f"WITH {sel}, {_wide_cte(keys)} " + " UNION ALL ".join(parts) + " ORDER BY metric, year, agency"
    return _run(con, sql, params)


def aggregate(
    con: duckdb.DuckDBPyConnection,
    filters: Filters,
    metric_keys: list[str],
    by: tuple[str, ...] = ("year",),
) -> pl.DataFrame:
    """Metrics aggregated over the selected reports, grouped by report columns (``by`` ⊂ GROUP_COLUMNS).

    Columns: *by…, metric, value, numerator, denominator, n_reports (reports whose value is defined:
    the denominator > 0 for a rate, a non-NULL cell for a count).
    """
    for b in by:
        if b not in GROUP_COLUMNS:
            raise KeyError(f"未知分组: {b!r}")
    metrics = [metric(k) for k in metric_keys]
    if not metrics:
        raise ValueError("至少需要一个指标")
    sel, params = _selected_cte(filters)
    keys = [key for m in metrics for key in m.keys]
    group_cols = ", ".join(f"s.{b}" for b in by)
    group_sel = (group_cols + ", ") if by else ""
    group_by = f"GROUP BY {group_cols}" if by else ""
    # a series over years leaves out reports whose year was not recognised (they have no place on the axis)
    year_known = "WHERE s.year IS NOT NULL" if "year" in by else ""
    parts = []
    for m in metrics:
        num, den = _per_report_exprs(m)
        if m.is_rate:
            agg = """sum(num) FILTER (WHERE den > 0) / sum(den) FILTER (WHERE den > 0) AS value,
                     sum(num) FILTER (WHERE den > 0) AS numerator, sum(den) FILTER (WHERE den > 0) AS denominator,
                     count(*) FILTER (WHERE den > 0) AS n_reports"""
        else:
            agg = """sum(num) AS value, sum(num) AS numerator, CAST(NULL AS DOUBLE) AS denominator,
                     count(num) AS n_reports"""
        parts.append(
            f"""SELECT {group_sel}'{m.key}' AS metric, {agg}
                FROM (SELECT s.*, {num} AS num, {den} AS den FROM sel s LEFT JOIN wide w USING (report_id)) s
                {year_known}
                {group_by}"""
        )
    order = ", ".join(["metric", *by])
    sql = f"WITH {sel}, {_wide_cte(keys)} " + " UNION ALL ".join(parts) + f" ORDER BY {order}"
    return _run(con, sql, params)


def with_yoy(df: pl.DataFrame, by: tuple[str, ...] = ()) -> pl.DataFrame:
    """Add year-over-year columns to an ``aggregate(..., by=(*by, 'year'))`` result.

    ``prev_value`` is the value of the calendar year before (NULL when that year is not in the result);
    ``change`` = value − prev_value; ``change_pct`` = change ÷ prev_value (NULL when prev_value is 0 or NULL).
    """
    if df.is_empty():
        return df.with_columns(
            pl.lit(None, pl.Float64).alias("prev_value"),
            pl.lit(None, pl.Float64).alias("change"),
            pl.lit(None, pl.Float64).alias("change_pct"),
        )
    keys = ["metric", *by]
    prev = df.select([*keys, (pl.col("year") + 1).alias("year"), pl.col("value").alias("prev_value")])
    out = df.join(prev, on=[*keys, "year"], how="left")
    return out.with_columns((pl.col("value") - pl.col("prev_value")).alias("change")).with_columns(
        pl.when(pl.col("prev_value") != 0).then(pl.col("change") / pl.col("prev_value")).alias("change_pct")
    )


# ---------------------------------------------------------------------------------------------------------------
# Named queries used by the pages


def selected_reports(con: duckdb.DuckDBPyConnection, filters: Filters) -> pl.DataFrame:
    """The current reports matching the filters (one row each)."""
    sel, params = _selected_cte(filters)
    cols = ", ".join(REPORT_COLUMN_LABELS)
    return _run(con, f"WITH {sel} SELECT {cols} FROM sel ORDER BY agency, year", params)


def overview_counts(con: duckdb.DuckDBPyConnection, filters: Filters) -> dict[str, Any]:
    """Headline counts: agencies, reports, years, synthetic reports, reports with hard errors, missing reports."""
    sel, params = _selected_cte(filters)
    row = con.sql(
        f"""WITH {sel},
            span AS (SELECT agency, min(year) AS y0, max(year) AS y1, count(DISTINCT year) AS n FROM sel
                     WHERE agency IS NOT NULL AND year IS NOT NULL GROUP BY agency)
            SELECT (SELECT count(DISTINCT agency) FROM sel) AS n_agencies,
                   (SELECT count(*) FROM sel) AS n_reports,
                   (SELECT min(year) FROM sel) AS year_min,
                   (SELECT max(year) FROM sel) AS year_max,
                   (SELECT count(DISTINCT year) FROM sel) AS n_years,
                   (SELECT count(*) FILTER (WHERE synthetic) FROM sel) AS n_synthetic,
                   (SELECT count(*) FILTER (WHERE n_errors > 0) FROM sel) AS n_failing,
                   (SELECT count(*) FILTER (WHERE n_warnings > 0) FROM sel) AS n_warning""",
        params=params or None,
    ).fetchall()[0]
    names = (
        "n_agencies",
        "n_reports",
        "year_min",
        "year_max",
        "n_years",
        "n_synthetic",
        "n_failing",
        "n_warning",
    )
    out = dict(zip(names, row, strict=True))
    matrix = coverage_matrix(con, filters)
    out["n_missing"] = int((matrix["status"] == "缺报").sum()) if not matrix.is_empty() else 0
    return out


def synthetic_share(con: duckdb.DuckDBPyConnection, filters: Filters) -> tuple[int, int]:
    """(synthetic reports, all reports) in the selection."""
    sel, params = _selected_cte(filters)
    n_syn, n = con.sql(
        f"WITH {sel} SELECT count(*) FILTER (WHERE synthetic), count(*) FROM sel", params=params or None
    ).fetchall()[0]
    return int(n_syn), int(n)


def coverage_matrix(con: duckdb.DuckDBPyConnection, filters: Filters) -> pl.DataFrame:
    """Agency × year: 通过 / 有警告 / 有错误 for filed reports, 缺报 for a year inside the selection's year span
    with no current report from that agency (the span is the filtered years, or every year in the selection)."""
    sel, params = _selected_cte(filters)
    years_sql = "SELECT unnest($f_years) AS year" if filters.years else "SELECT DISTINCT year FROM sel"
    sql = f"""WITH {sel},
        yrs AS ({years_sql}),
        ags AS (SELECT DISTINCT agency FROM sel WHERE agency IS NOT NULL),
        grid AS (SELECT a.agency, y.year FROM ags a CROSS JOIN yrs y WHERE y.year IS NOT NULL)
        SELECT g.agency, g.year, s.report_id,
               CASE WHEN s.report_id IS NULL THEN '缺报' WHEN s.n_errors > 0 THEN '有错误'
                    WHEN s.n_warnings > 0 THEN '有警告' ELSE '通过' END AS status,
               s.n_errors, s.n_warnings
        FROM grid g LEFT JOIN sel s ON s.agency = g.agency AND s.year = g.year
        ORDER BY g.agency, g.year"""
    return _run(con, sql, params)


def headline_by_year(con: duckdb.DuckDBPyConnection, filters: Filters) -> pl.DataFrame:
    """The overview's headline series with year-over-year change."""
    keys = [
        "count.t3.new_received.total",
        "count.t3.result_total.total",
        "rate.disclosure",
        "count.t4.review.total",
        "rate.correction.review",
    ]
    return with_yoy(aggregate(con, filters, keys, by=("year",)))


def publication_by_year(con: duckdb.DuckDBPyConnection, filters: Filters, edition: str) -> pl.DataFrame:
    """表二 cells of one edition summed per year (2019 and 2021 columns are different keys, never merged)."""
    keys = [f"count.{f.key}" for f in registry().select(edition, "t2")]
    return aggregate(con, filters, keys, by=("year",))


def top_agencies(
    con: duckdb.DuckDBPyConnection, filters: Filters, metric_key: str, limit: int = 15
) -> pl.DataFrame:
    """Agencies with the highest value of a metric over the selection (NULL values excluded)."""
    df = aggregate(con, filters, [metric_key], by=("agency",))
    return df.filter(pl.col("value").is_not_null()).sort("value", descending=True).head(limit)


def by_agency_type(con: duckdb.DuckDBPyConnection, filters: Filters, metric_keys: list[str]) -> pl.DataFrame:
    return aggregate(con, filters, metric_keys, by=("agency_type",))


def applicants_by_year(con: duckdb.DuckDBPyConnection, filters: Filters) -> pl.DataFrame:
    """New requests per applicant type per year (表三 一、本年新收…, the six applicant columns)."""
    reg = registry()
    keys = [f"count.{reg.key_for('t3', 'new_received', c)}" for c, _ in reg.columns("t3") if c != "total"]
    return aggregate(con, filters, keys, by=("year",))


def outcomes_by_year(con: duckdb.DuckDBPyConnection, filters: Filters) -> pl.DataFrame:
    """Each outcome row's 总计 per year, with its group (for stacked bars and the treemap)."""
    rows = []
    metric_keys = []
    for label, keys in outcome_groups():
        for key in keys:
            metric_keys.append(f"count.{key}")
            rows.append({"metric": f"count.{key}", "group": label, "row": registry()[key].row_label})
    df = aggregate(con, filters, metric_keys, by=("year",))
    return df.join(pl.DataFrame(rows), on="metric", how="left")


def outcome_shares_by_year(con: duckdb.DuckDBPyConnection, filters: Filters) -> pl.DataFrame:
    keys = ["rate.disclosure"] + [m.key for m in catalogue().values() if m.group == "办理结果占比"]
    return aggregate(con, filters, keys, by=("year",))


def backlog_by_year(con: duckdb.DuckDBPyConnection, filters: Filters) -> pl.DataFrame:
    reg = registry()
    keys = [f"count.{reg.key_for('t3', r, 'total')}" for r in ("carried_over", "carry_forward")]
    return aggregate(con, filters, keys, by=("year",))


def litigation_by_year(con: duckdb.DuckDBPyConnection, filters: Filters) -> pl.DataFrame:
    """Every 表四 cell summed per year, with group and result labels."""
    reg = registry()
    fields = reg.select(table="t4")
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


def correction_rates_by_year(con: duckdb.DuckDBPyConnection, filters: Filters) -> pl.DataFrame:
    keys = [f"rate.correction.{g}" for g in T4_GROUPS_ORDER]
    return aggregate(con, filters, keys, by=("year",))


def agency_series(
    con: duckdb.DuckDBPyConnection, filters: Filters, metric_key: str, agencies: list[str]
) -> pl.DataFrame:
    """One metric per chosen agency per year (the comparison page)."""
    narrowed = Filters(**{**_as_kwargs(filters), "agencies": tuple(agencies)}) if agencies else filters
    return aggregate(con, narrowed, [metric_key], by=("agency", "year"))


def peer_ranking(
    con: duckdb.DuckDBPyConnection,
    filters: Filters,
    metric_key: str,
    year: int,
    min_denominator: float = 0,
) -> pl.DataFrame:
    """Rank agencies within their peer group (same agency type and level, any region) for one year.

    Small-number guard: a rate whose denominator is below ``min_denominator`` is kept in the table but marked
    ``eligible = false`` and gets no rank.  Counts are always eligible.  Rank 1 = highest value.
    """
    m = metric(metric_key)
    narrowed = Filters(**{**_as_kwargs(filters), "years": (int(year),)})
    df = per_report(con, narrowed, [metric_key])
    if df.is_empty():
        return df.with_columns(
            pl.lit(None, pl.Boolean).alias("eligible"),
            pl.lit(None, pl.Int64).alias("rank"),
            pl.lit(None, pl.Int64).alias("group_size"),
        )
    eligible = pl.col("value").is_not_null()
    if m.is_rate:
        eligible = eligible & (pl.col("denominator") >= min_denominator)
    df = df.with_columns(eligible.alias("eligible"))
    ranked = (
        df.filter(pl.col("eligible"))
        .with_columns(
            pl.col("value")
            .rank(method="min", descending=True)
            .over(["agency_type", "level"])
            .cast(pl.Int64)
            .alias("rank"),
            pl.len().over(["agency_type", "level"]).cast(pl.Int64).alias("group_size"),
        )
        .select("report_id", "rank", "group_size")
    )
    out = df.join(ranked, on="report_id", how="left")
    return out.sort(["agency_type", "level", "rank", "agency"], nulls_last=True)


def _as_kwargs(filters: Filters) -> dict[str, Any]:
    return {name: getattr(filters, name) for name in filters.__dataclass_fields__}


# -- explorer ---------------------------------------------------------------------------------------------------


def _sql_type(keys: list[str]) -> str:
    """BIGINT for count cells (so 6 exports as 6, not 6.0), DOUBLE as soon as an amount (万元) is involved."""
    return "DOUBLE" if any(registry()[k].is_amount for k in keys) else "BIGINT"


def explorer_long(con: duckdb.DuckDBPyConnection, filters: Filters, keys: list[str]) -> pl.DataFrame:
    """The filtered facts in long form: one row per (report, cell) with value, source text and status."""
    for key in keys:
        _col(key)
    sel, params = _selected_cte(filters)
    params = {**params, "keys": list(keys)}
    sql = f"""WITH {sel}
        SELECT s.report_id, s.agency, s.year, s.edition, s.province, s.city, s.county, s.level, s.agency_type,
               f.key, CAST(f.value AS {_sql_type(keys)}) AS value, f.raw, f.status
        FROM sel s JOIN facts f USING (report_id)
        WHERE list_contains($keys, f.key) AND f.status <> 'not_in_layout'
        ORDER BY s.agency, s.year, f.key"""
    df = _run(con, sql, params)
    order = {k: i for i, k in enumerate(registry().by_key)}
    return (
        df.with_columns(pl.col("key").replace_strict(order, default=None, return_dtype=pl.Int64).alias("_o"))
        .sort(["agency", "year", "_o"])
        .drop("_o")
    )


def explorer_wide(con: duckdb.DuckDBPyConnection, filters: Filters, keys: list[str]) -> pl.DataFrame:
    """Agency × year × chosen cells: one row per report, one column per registry key (NULL stays NULL)."""
    sel, params = _selected_cte(filters)
    if not keys:
        return selected_reports(con, filters).select("report_id", "agency", "year", "edition")
    cols = ", ".join(f'CAST(w.{_col(k)} AS {_sql_type([k])}) AS "{k}"' for k in keys)
    sql = f"""WITH {sel}, {_wide_cte(keys)}
        SELECT s.report_id, s.agency, s.year, s.edition, s.province, s.city, s.county, s.level, s.agency_type,
               {cols}
        FROM sel s LEFT JOIN wide w USING (report_id)
        ORDER BY s.agency, s.year"""
    return _run(con, sql, params)


# -- data quality -----------------------------------------------------------------------------------------------


def findings_by_rule(con: duckdb.DuckDBPyConnection, filters: Filters) -> pl.DataFrame:
    sel, params = _selected_cte(filters)
    sql = f"""WITH {sel}
        SELECT f.rule, f.severity, f.scope, count(*) AS n_findings, count(DISTINCT f.report_id) AS n_reports
        FROM findings f JOIN sel s USING (report_id)
        GROUP BY ALL ORDER BY n_findings DESC, f.rule"""
    return _run(con, sql, params)


def findings_list(
    con: duckdb.DuckDBPyConnection, filters: Filters, scope: str | None = None, limit: int = 5000
) -> pl.DataFrame:
    """Findings of the selected reports (newest year first); ``scope`` 'report' or 'cross_year' narrows."""
    sel, params = _selected_cte(filters)
    params = {**params, "scope": scope}
    sql = f"""WITH {sel}
        SELECT s.report_id, s.agency, s.year, f.rule, f.severity, f.message, f.expected, f.actual,
               f.suspect_key, f.scope
        FROM findings f JOIN sel s USING (report_id)
        WHERE $scope IS NULL OR f.scope = $scope
        ORDER BY s.year DESC, s.agency, f.severity, f.rule
        LIMIT {int(limit)}"""
    return _run(con, sql, params)


def failed_files(con: duckdb.DuckDBPyConnection, limit: int = 1000) -> pl.DataFrame:
    """Files that could not be loaded (ingest_log 'unreadable'), newest first. Not narrowed by the filters:
    such a file has no agency or year."""
    return _run(
        con,
        f"""SELECT "at", source_path, message FROM ingest_log WHERE status = 'unreadable'
            ORDER BY "at" DESC LIMIT {int(limit)}""",
        {},
    )


# -- about ------------------------------------------------------------------------------------------------------


def sources_summary(con: duckdb.DuckDBPyConnection, filters: Filters) -> pl.DataFrame:
    """Reports per source format and synthetic flag."""
    sel, params = _selected_cte(filters)
    return _run(
        con,
        f"WITH {sel} SELECT format, synthetic, count(*) AS n_reports FROM sel GROUP BY ALL ORDER BY n_reports DESC",
        params,
    )


# -- report detail ----------------------------------------------------------------------------------------------


def report_choices(con: duckdb.DuckDBPyConnection, filters: Filters) -> pl.DataFrame:
    """Selectable reports: every version (current first) of the reports matching the filters."""
    where, params = filters.where("r", current_only=False)
    return _run(
        con,
        f"""SELECT report_id, agency, year, is_current FROM reports r WHERE {where}
            ORDER BY agency NULLS LAST, year, is_current DESC, report_id""",
        params,
    )


def report_detail(con: duckdb.DuckDBPyConnection, report_id: int) -> dict[str, Any] | None:
    """One report version: its row, facts, findings, sections and every version of the same agency and year."""
    p = {"rid": int(report_id)}
    report = _run(con, "SELECT * FROM reports WHERE report_id = $rid", p)
    if report.is_empty():
        return None
    row = report.row(0, named=True)
    facts = _run(
        con,
        "SELECT key, CAST(value AS DOUBLE) AS value, raw, blank, status, loc, confidence, page, bbox FROM facts "
        "WHERE report_id = $rid",
        p,
    )
    findings = _run(
        con,
        "SELECT rule, severity, message, keys, expected, actual, suspect_key, scope FROM findings "
        "WHERE report_id = $rid ORDER BY severity, rule",
        p,
    )
    sections = _run(con, "SELECT section, heading, text FROM sections WHERE report_id = $rid", p)
    if row["agency"] is not None and row["year"] is not None:
        versions = _run(
            con,
            """SELECT report_id, is_current, replaced_by, source_path, sha256, loaded_at, n_errors, n_warnings
               FROM reports WHERE agency = $agency AND year = $year ORDER BY report_id""",
            {"agency": row["agency"], "year": row["year"]},
        )
    else:
        versions = report.select(
            "report_id",
            "is_current",
            "replaced_by",
            "source_path",
            "sha256",
            "loaded_at",
            "n_errors",
            "n_warnings",
        )
    return {"report": row, "facts": facts, "findings": findings, "sections": sections, "versions": versions}


def filter_options(con: duckdb.DuckDBPyConnection) -> dict[str, list[Any]]:
    """Distinct values offered by the sidebar (over current reports)."""
    out: dict[str, list[Any]] = {}
    for col in ("year", "province", "level", "agency_type", "edition", "agency"):
        out[col] = [
            r[0]
            for r in con.execute(
                f"SELECT DISTINCT {col} FROM reports WHERE is_current AND {col} IS NOT NULL ORDER BY {col}"
            ).fetchall()
        ]
    out["regions"] = con.execute(
        "SELECT DISTINCT province, city, county FROM reports WHERE is_current AND province IS NOT NULL"
    ).fetchall()
    return out
