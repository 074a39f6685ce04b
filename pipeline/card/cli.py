"""``xxgk card AGENCY YEAR [--format pdf|docx] [-o FILE] [filters]``: an agency's printable report card.

The filters (``--province``, ``--type`` …, ``--min-n``) set the peer group's region and quality and the
small-number guard, as on the 机关报告卡 page; the file is the page's download.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from pipeline.card.data import card_data
from pipeline.metrics.regions_cli import checked_filters
from pipeline.store import Database, DatabaseUnavailable

err_console = Console(stderr=True)
FORMATS = ("pdf", "docx")


def file_name(agency: str, year: int, ext: str) -> str:
    """``沈阳市司法局_2024_报告卡.pdf`` (characters a file system refuses replaced by _)."""
    return re.sub(r'[\\/:*?"<>|\s]', "_", f"{agency}_{year}_报告卡.{ext}")


def card(
    agency: Annotated[str, typer.Argument(help="机关名称（与报告中一致，如 沈阳市司法局）")],
    year: Annotated[int, typer.Argument(help="年度")],
    fmt: Annotated[str, typer.Option("--format", help="pdf / docx")] = "pdf",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="输出文件（默认：机关_年度_报告卡.pdf）")
    ] = None,
    province: Annotated[str | None, typer.Option(help="同类机关的范围：省份")] = None,
    city: Annotated[str | None, typer.Option(help="同类机关的范围：市（地区）")] = None,
    quality: Annotated[str | None, typer.Option(help="数据质量：all / pass / fail")] = None,
    min_n: Annotated[str | None, typer.Option("--min-n", help="小数字保护：分母小于该值的比率不显示")] = None,
    db: Annotated[
        Path | None, typer.Option("--db", help="DuckDB 数据库（默认: XXGK_DB，否则 data/xxgk.duckdb）")
    ] = None,
) -> None:
    """机关报告卡：某机关某年度的全部数字及来源、与同类机关和往年的比率比较、校验发现，输出 PDF 或 Word。"""
    if fmt not in FORMATS:
        err_console.print(f"[red]错误:[/] --format 应为 pdf 或 docx，而不是 {fmt!r}", highlight=False)
        raise typer.Exit(2)
    database = Database(db)
    try:
        filters = checked_filters(database, None, province, city, None, None, None, None, quality, min_n)
        data = database.query(card_data, filters, agency, year)
    except DatabaseUnavailable as exc:
        err_console.print(f"[red]错误:[/] {exc}", highlight=False)
        raise typer.Exit(2) from None
    if data is None:
        err_console.print(
            f"[red]错误:[/] 库中没有 {agency} {year} 年的当前报告（xxgk history 查看版本）", highlight=False
        )
        raise typer.Exit(1)
    if fmt == "pdf":
        from pipeline.card.pdf import card_pdf

        content = card_pdf(data)
    else:
        from pipeline.card.docx import card_docx

        content = card_docx(data)
    path = output or Path(file_name(agency, year, fmt))
    path.write_bytes(content)
    err_console.print(f"已写入 {path}（{len(content) / 1024:,.0f} KB）", highlight=False)


def register(app: typer.Typer) -> None:
    """Add ``card`` to the main CLI (listed in pipeline/cli.py PLUGIN_MODULES)."""
    app.command("card")(card)
