"""``xxgk timeliness`` and ``xxgk rollup``: the 发布时效 and 地区汇总 pages' tables for scripts.

Registered through ``pipeline.cli.PLUGIN_MODULES``.  The filters are the dashboard's URL parameters, as for
``xxgk metric``; a value that matches no report is an error (exit 2).  Output: a table on the terminal, or CSV
(UTF-8 with BOM, formula-injection safe), XLSX (``--output`` required) or JSON through :mod:`pipeline.export`.

    xxgk timeliness --year 2024 [--status late]          # each report: published, source, deadline, on time?
    xxgk timeliness --missing 2025 --format xlsx -o 缺报.xlsx   # agencies without a 2025 report
    xxgk rollup --province 辽宁省 [--summaries]            # per city; --summaries: the SUM-1 check per summary report
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import polars as pl
import typer
from rich.console import Console
from rich.table import Table

from pipeline import cli_filters as cf
from pipeline import export
from pipeline.filters import Filters, unrecognised
from pipeline.metrics.cli import Agencies, Levels, Years, _query
from pipeline.metrics.options import filter_options
from pipeline.metrics.regions import (
    LEVEL_LABELS,
    ROLLUP_METRICS,
    region_rollup,
    rollup_level,
    rollup_wide,
    summary_reports,
)
from pipeline.metrics.timeliness import (
    MISSING_LABELS,
    REPORT_LABELS,
    dictionary,
    for_people,
    not_published,
    timeliness_reports,
)
from pipeline.published import STATUSES
from pipeline.store import Database, DatabaseUnavailable

FORMATS = ("table", "csv", "xlsx", "json")
TERMINAL_COLUMNS = ("agency", "year", "published", "published_source", "status", "days_late")
console = Console()
err_console = Console(stderr=True)
Db = Annotated[Path | None, typer.Option("--db", help="DuckDB 数据库（默认: XXGK_DB，否则 data/xxgk.duckdb）")]
Fmt = Annotated[str, typer.Option("--format", help="输出格式：table / csv / xlsx / json")]
Out = Annotated[Path | None, typer.Option("--output", "-o", help="写入文件（xlsx 必需；csv/json 默认输出到屏幕）")]
Province = cf.ProvinceOpt
City = cf.CityOpt
County = cf.CountyOpt
Types = cf.TypeOpt
Quality = Annotated[str | None, typer.Option(help="数据质量：all / pass / fail")]
MinN = Annotated[str | None, typer.Option("--min-n", help="小数字保护：分母小于该值的比率不显示")]


def _fail(message: str) -> typer.Exit:
    err_console.print(f"[red]错误:[/] {message}", highlight=False)
    return typer.Exit(2)


def checked_filters(database: Database, year: list[str] | None, province: str | None, city: str | None, county: str | None,
             level: list[str] | None, agency_type: list[str] | None, agency: list[str] | None,
             quality: str | None, min_n: str | None) -> Filters:  # fmt: skip
    """The filters of these options; exit 2 naming every value that matches no report (never a national total)."""
    query = _query(year, province, city, county, level, agency_type, agency, None, quality, None, min_n)
    bad = unrecognised(query, database.query(filter_options, agency or ()))
    if bad:
        raise _fail("以下条件与库中的报告都不匹配：" + "、".join(f"{what}「{value}」" for what, value in bad))
    return Filters.from_query(query)


def _emit(
    df: pl.DataFrame, labels: dict[str, str], fmt: str, output: Path | None, filters: Filters, title: str
) -> None:
    if fmt not in FORMATS:
        raise _fail(f"--format 应为 {' / '.join(FORMATS)}，而不是 {fmt!r}")
    if fmt == "xlsx":
        if output is None:
            raise _fail("--format xlsx 需要 --output 文件名")
        output.write_bytes(export.to_xlsx_bytes(df, labels, dictionary(df, labels), filters.describe()))
        err_console.print(f"已写入 {output}（{df.height:,} 行）", highlight=False)
    elif fmt == "csv":
        data = export.to_csv_bytes(df, labels)
        if output is not None:
            output.write_bytes(data)
            err_console.print(f"已写入 {output}（{df.height:,} 行）", highlight=False)
        else:
            sys.stdout.buffer.write(data)
    elif fmt == "json":
        text = json.dumps({"filters": dict(filters.describe()), "rows": df.to_dicts()}, ensure_ascii=False, indent=1,
                          default=str)  # fmt: skip
        if output is not None:
            output.write_text(text, encoding="utf-8")
        else:
            print(text)
    else:
        table = Table(title=title)
        for column in df.columns:
            table.add_column(labels.get(column, column))
        for row in df.iter_rows():
            table.add_row(*["" if v is None else str(v) for v in row])
        console.print(table)


def timeliness(
    year: Years = None, province: Province = None, city: City = None, county: County = None, level: Levels = None,
    agency_type: Types = None, agency: Agencies = None, quality: Quality = None,
    status: Annotated[str | None, typer.Option(help="只列出：on_time / late / unknown")] = None,
    missing: Annotated[int | None, typer.Option("--missing", help="改为列出该年度尚未发布报告的机关")] = None,
    fmt: Fmt = "table", output: Out = None, db: Db = None,
) -> None:  # fmt: skip
    """发布时效：各报告是否在次年 1 月 31 日前发布（日期及其来源），或某年度尚未发布的机关。"""
    database = Database(db)
    try:
        filters = checked_filters(database, year, province, city, county, level, agency_type, agency, quality, None)
        if missing is not None:
            df = database.query(not_published, filters, missing).select(list(MISSING_LABELS))
            _emit(df, MISSING_LABELS, fmt, output, filters, f"{missing} 年尚未发布报告的机关（{df.height} 个）")
            return
        if status is not None and status not in STATUSES:
            raise _fail(f"--status 应为 {' / '.join(STATUSES)}")
        df = database.query(timeliness_reports, filters)
    except DatabaseUnavailable as exc:
        raise _fail(str(exc)) from None
    if status is not None:
        df = df.filter(pl.col("status") == status)
    columns = list(TERMINAL_COLUMNS if fmt == "table" else REPORT_LABELS)  # the terminal is narrow
    _emit(for_people(df.select(columns)), REPORT_LABELS, fmt, output, filters, "发布时效")


def rollup(
    year: Years = None, province: Province = None, city: City = None, county: County = None, level: Levels = None,
    agency_type: Types = None, agency: Agencies = None, quality: Quality = None, min_n: MinN = None,
    summaries: Annotated[bool, typer.Option("--summaries", help="改为列出地区汇总报告与成员之和的核对（SUM-1）")] = False,
    fmt: Fmt = "table", output: Out = None, db: Db = None,
) -> None:  # fmt: skip
    """地区汇总：按省 → 市 → 区县汇总（不含地区汇总报告），比率带小数字保护；--summaries 核对汇总报告。"""
    database = Database(db)
    try:
        filters = checked_filters(database, year, province, city, county, level, agency_type, agency, quality, min_n)
        if summaries:
            df = database.query(summary_reports, filters)
            labels = {"report_id": "报告编号", "agency": "汇总报告", "year": "年度", "region": "区域",
                      "n_members": "成员报告数", "n_differ": "不一致的单元格"}  # fmt: skip
            _emit(df, labels, fmt, output, filters, "地区汇总报告核对（SUM-1）")
            return
        df = rollup_wide(database.query(region_rollup, filters))
    except DatabaseUnavailable as exc:
        raise _fail(str(exc)) from None
    from pipeline.metrics.catalogue import metric

    labels = {"region": LEVEL_LABELS[rollup_level(filters)], "n_agencies_all": "机关数", "n_reports_all": "报告数"}
    for key in ROLLUP_METRICS:
        labels[key] = metric(key).name
        for suffix, word in (
            ("__num", "分子"),
            ("__den", "分母"),
            ("__left", "未计入报告"),
            ("__guarded", "小数字保护"),
        ):
            labels[key + suffix] = f"{metric(key).name}·{word}"
    _emit(df, labels, fmt, output, filters, f"地区汇总（按{labels['region']}）")


def register(app: typer.Typer) -> None:
    """Add ``timeliness`` and ``rollup`` to the main CLI (listed in pipeline/cli.py PLUGIN_MODULES)."""
    app.command("timeliness")(timeliness)
    app.command("rollup")(rollup)
