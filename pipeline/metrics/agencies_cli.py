"""``xxgk agencies``: find an agency's exact name by typing part of it — the dashboard's agency search for scripts.

Registered through ``pipeline.cli.PLUGIN_MODULES``.  The same named query as every agency picker of the dashboard
(:func:`pipeline.metrics.search_agencies`): every word must occur in the name; the exact name first, then names
starting with the first word, then the most reports.  The name printed is what ``--agency`` of ``xxgk metric``,
``xxgk card`` and the others expects.

    xxgk agencies 沈阳 司法                      # agencies whose name contains both words
    xxgk agencies 镇人民政府 --province 辽宁省 --limit 100 --format csv
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from pipeline import cli_filters as cf
from pipeline import export
from pipeline.filters import LABELS, Filters, unrecognised
from pipeline.metrics.cli import Levels, Years, _query
from pipeline.metrics.options import MAX_SEARCH_LIMIT, filter_options, search_agencies
from pipeline.store import Database, DatabaseUnavailable

FORMATS = ("table", "csv", "json")
COLUMN_LABELS = {"agency": LABELS["agencies"], "n_reports": "报告数"}
console = Console()
err_console = Console(stderr=True)


def agencies(
    words: Annotated[list[str] | None, typer.Argument(help="机关名称中的文字（可多个，均须出现在名称中）")] = None,
    db: Annotated[
        Path | None, typer.Option("--db", help="DuckDB 数据库（默认: XXGK_DB，否则 data/xxgk.duckdb）")
    ] = None,
    year: Years = None,
    province: cf.ProvinceOpt = None,
    city: cf.CityOpt = None,
    county: cf.CountyOpt = None,
    level: Levels = None,
    agency_type: cf.TypeOpt = None,
    limit: Annotated[int, typer.Option(help=f"最多列出几个机关（1–{MAX_SEARCH_LIMIT}）")] = 20,
    fmt: Annotated[str, typer.Option("--format", help="输出格式：table / csv / json")] = "table",
) -> None:
    """按名称的一部分查找机关（最匹配的在前），输出的名称可直接用于 --agency。"""
    if fmt not in FORMATS:
        err_console.print(f"[red]错误:[/] --format 应为 {' / '.join(FORMATS)}，而不是 {fmt!r}", highlight=False)
        raise typer.Exit(2)
    text = " ".join(words or [])
    query = _query(year, province, city, county, level, agency_type, None, None, None, None, None)
    database = Database(db)
    try:
        bad = unrecognised(query, database.query(filter_options))
        if bad:
            named = "、".join(f"{what}「{value}」" for what, value in bad)
            err_console.print(f"[red]错误:[/] 以下条件与库中的报告都不匹配：{named}", highlight=False)
            raise typer.Exit(2)
        filters = Filters.from_query(query)
        hits = database.query(search_agencies, filters, text, max(1, min(limit, MAX_SEARCH_LIMIT)))
    except DatabaseUnavailable as exc:
        err_console.print(f"[red]错误:[/] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    total = int(hits["n_matches"][0]) if hits.height else 0
    rows = hits.select("agency", "n_reports")
    if fmt == "csv":
        sys.stdout.buffer.write(export.to_csv_bytes(rows, COLUMN_LABELS))
    elif fmt == "json":
        print(json.dumps({"text": text, "n_matches": total, "rows": rows.to_dicts()}, ensure_ascii=False, indent=1))
    else:
        table = Table(*COLUMN_LABELS.values())
        for name, n in rows.iter_rows():
            table.add_row(name, str(n))
        console.print(table)
        shown = f"，列出 {rows.height} 个" if total > rows.height else ""
        err_console.print(f"共 {total:,} 个机关{'匹配' if text else ''}{shown}。", highlight=False)
    if not total:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add ``agencies`` to the main CLI (listed in pipeline/cli.py PLUGIN_MODULES)."""
    app.command("agencies")(agencies)
