"""``xxgk metric KEY [filters] [--by …] [--format table|csv|json]``: the numbers the pages show, for scripts.

Registered into the main CLI through ``pipeline.cli.PLUGIN_MODULES``.  The filters are the dashboard's URL
parameters (``--year --province --city --county --level --type --agency --edition --quality --panel --min-n``)
and the result comes from :func:`pipeline.metrics.metric_table` — the same query code the pages call — with the
value, numerator, denominator, the reports counted (and how many of them used a derived 总计) and the reports
left out, by reason.  A filter value that matches no report is an error (exit 2), never a silent national total.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Annotated, Any

import polars as pl
import typer
from rich.console import Console
from rich.table import Table

from pipeline import cli_filters as cf
from pipeline.filters import PANEL_LABELS, QUALITY_LABELS, Filters, unrecognised
from pipeline.labels import LEFT_OUT_LABELS
from pipeline.metrics.catalogue import catalogue
from pipeline.metrics.options import filter_options
from pipeline.metrics.queries import metric_table, panel_size
from pipeline.metrics.sql import REASONS
from pipeline.store import Database, DatabaseUnavailable

BY = {"year": "year", "agency": "agency", "province": "province", "city": "city", "level": "level",
      "type": "agency_type"}  # fmt: skip
BY_LABELS = {"year": "年度", "agency": "机关", "province": "省份", "city": "市（地区）", "level": "行政层级",
             "agency_type": "机关类型"}  # fmt: skip
FORMATS = ("table", "csv", "json")
console = Console()
err_console = Console(stderr=True)

Years = Annotated[list[str] | None, typer.Option("--year", show_default=False, help="年度（可重复）")]
Levels = Annotated[
    list[str] | None, typer.Option("--level", show_default=False, help="行政层级：省级 / 市级 / 县级 / 乡镇（可重复）")
]
Agencies = Annotated[list[str] | None, typer.Option("--agency", show_default=False, help="机关名称（可重复）")]
Editions = Annotated[
    list[str] | None, typer.Option("--edition", show_default=False, help="模板版本：2019 / 2021（可重复）")
]


def _query(
    year: list[str] | None, province: str | None, city: str | None, county: str | None, level: list[str] | None,
    agency_type: list[str] | None, agency: list[str] | None, edition: list[str] | None, quality: str | None,
    panel: str | None, min_n: str | None,
) -> dict[str, list[str]]:  # fmt: skip
    """The options as the URL query string the pages would get."""
    pairs = {"year": year, "province": [province] if province else None, "city": [city] if city else None,
             "county": [county] if county else None, "level": level, "type": agency_type, "agency": agency,
             "edition": edition, "quality": [quality] if quality else None, "panel": [panel] if panel else None,
             "min_n": [min_n] if min_n is not None else None}  # fmt: skip
    return {k: list(v) for k, v in pairs.items() if v}


def _records(df: pl.DataFrame, key: str, by: tuple[str, ...]) -> list[dict[str, Any]]:
    m = catalogue()[key]
    out = []
    for row in df.iter_rows(named=True):
        rec: dict[str, Any] = {"metric": key, "name": m.name, "kind": m.kind}
        rec.update({b: row[b] for b in by})
        value = row["value"]
        rec["value"] = None if value is None or (isinstance(value, float) and math.isnan(value)) else value
        rec["numerator"] = row["numerator"]
        rec["denominator"] = row["denominator"] if m.is_rate else None
        rec["n_reports"] = row["n_reports"]
        rec["n_derived"] = row["n_derived"]
        rec["n_left_out"] = row["n_left_out"]
        rec["left_out"] = {r: row[f"left_{r}"] for r in REASONS if row[f"left_{r}"]}
        rec["guarded"] = bool(row["guarded"])
        out.append(rec)
    return out


def _print_table(records: list[dict[str, Any]], key: str, by: tuple[str, ...], filters: Filters) -> None:
    m = catalogue()[key]
    table = Table(title=f"{m.name}（{key}）", caption=m.formula)
    for b in by:
        table.add_column(BY_LABELS[b])
    for title in ("数值", "分子", "分母", "计入报告", "其中推算", "未计入报告"):
        table.add_column(title, justify="right")
    table.add_column("未计入原因")
    for rec in records:
        value = rec["value"]
        if value is None:
            shown = "—"
        elif rec["guarded"]:
            shown = f"（分母 < {filters.min_n}）"
        else:
            shown = f"{value:.1%}" if m.is_rate else f"{value:,.4g}" if value % 1 else f"{value:,.0f}"
        reasons = "，".join(f"{LEFT_OUT_LABELS[r]} {n}" for r, n in rec["left_out"].items())
        num, den = rec["numerator"], rec["denominator"]
        table.add_row(
            *["" if rec[b] is None else str(rec[b]) for b in by], shown,
            "" if num is None else f"{num:,.4g}", "" if den is None else f"{den:,.4g}", str(rec["n_reports"]),
            str(rec["n_derived"]), str(rec["n_left_out"]), reasons,
        )  # fmt: skip
    console.print(table)


def metric(
    key: Annotated[str | None, typer.Argument(help="指标键，如 rate.disclosure（xxgk metric --list 列出全部）")] = None,
    list_keys: Annotated[bool, typer.Option("--list", help="列出全部指标键")] = False,
    year: Years = None,
    province: cf.ProvinceOpt = None,
    city: cf.CityOpt = None,
    county: cf.CountyOpt = None,
    level: Levels = None,
    agency_type: cf.TypeOpt = None,
    agency: Agencies = None,
    edition: Editions = None,
    quality: Annotated[str | None, typer.Option(help="数据质量：" + " / ".join(QUALITY_LABELS))] = None,
    panel: Annotated[str | None, typer.Option(help="比较口径：matched（同一批机关，默认）/ all（全部报告）")] = None,
    min_n: Annotated[str | None, typer.Option("--min-n", help="小数字保护：分母小于该值的比率标为 guarded")] = None,
    by: Annotated[list[str] | None, typer.Option(help="分组：" + " / ".join(BY))] = None,
    fmt: Annotated[str, typer.Option("--format", help="输出格式：table / csv / json")] = "table",
    db: Annotated[
        Path | None, typer.Option("--db", help="DuckDB 数据库（默认: XXGK_DB，否则 data/xxgk.duckdb）")
    ] = None,
) -> None:
    """指标：与看板相同的数值（数值、分子、分母、计入与未计入的报告）。The dashboard's numbers, for scripts."""
    cat = catalogue()
    if list_keys:
        for k, m in cat.items():
            print(f"{k}\t{m.kind}\t{m.name}")
        return
    if key is None:
        err_console.print("[red]错误:[/] 请给出指标键（xxgk metric --list 列出全部）")
        raise typer.Exit(2)
    if key not in cat:
        err_console.print(f"[red]错误:[/] 未知指标 {key!r}（xxgk metric --list 列出全部）", highlight=False)
        raise typer.Exit(2)
    if fmt not in FORMATS:
        err_console.print(f"[red]错误:[/] --format 应为 {' / '.join(FORMATS)}，而不是 {fmt!r}", highlight=False)
        raise typer.Exit(2)
    unknown_by = [b for b in by or [] if b not in BY]
    if unknown_by:
        err_console.print(f"[red]错误:[/] 未知分组 {unknown_by[0]!r}（可用: {' / '.join(BY)}）", highlight=False)
        raise typer.Exit(2)
    groups = tuple(dict.fromkeys(BY[b] for b in by or []))
    database = Database(db)
    query = _query(year, province, city, county, level, agency_type, agency, edition, quality, panel, min_n)
    try:
        bad = unrecognised(query, database.query(filter_options, agency or ()))
        if bad:
            named = "、".join(f"{what}「{value}」" for what, value in bad)
            err_console.print(f"[red]错误:[/] 以下条件与库中的报告都不匹配：{named}", highlight=False)
            raise typer.Exit(2)
        filters = Filters.from_query(query)
        df = database.query(metric_table, filters, key, groups)
        if filters.panel == "matched" and "year" in groups and "agency" not in groups:
            size = database.query(panel_size, filters)
            basis = (f"同一批机关：{size['n_panel']} 个机关每年都有报告" if size["n_panel"] or size["n_years"] < 2
                     else "没有机关每年都有报告，按年用全部报告")  # fmt: skip
            err_console.print(f"比较口径：{basis}（--panel all 查看全部报告）", highlight=False)
    except DatabaseUnavailable as exc:
        err_console.print(f"[red]错误:[/] {exc}", highlight=False)
        raise typer.Exit(2) from None
    records = _records(df, key, groups)
    if fmt == "json":
        print(json.dumps({"metric": key, "filters": dict(filters.describe()), "panel": PANEL_LABELS[filters.panel],
                          "rows": records}, ensure_ascii=False, indent=1, default=str))  # fmt: skip
    elif fmt == "csv":
        flat = [
            {
                **{k: v for k, v in r.items() if k != "left_out"},
                **{f"left_{reason}": r["left_out"].get(reason, 0) for reason in REASONS},
            }
            for r in records
        ]
        print(pl.DataFrame(flat, infer_schema_length=None).write_csv() if flat else "metric", end="")
    else:
        _print_table(records, key, groups, filters)


def register(app: typer.Typer) -> None:
    """Add ``metric`` to the main CLI (listed in pipeline/cli.py PLUGIN_MODULES)."""
    app.command("metric")(metric)
    from pipeline.metrics.sums_cli import sums

    app.command("sums")(sums)
