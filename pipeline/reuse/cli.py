"""``xxgk reuse``: reports ranked by copied text, with their most similar pair; ``--update`` / ``--rebuild``."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from pipeline import cli_filters as cf
from pipeline.store import Database, IngestLockedError

console = Console()
err_console = Console(stderr=True)


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.0%}"


def reuse_command(
    year: cf.YearOpt = None, province: cf.ProvinceOpt = None, city: cf.CityOpt = None, county: cf.CountyOpt = None,
    level: cf.LevelOpt = None, agency_type: cf.TypeOpt = None, agency: cf.AgencyOpt = None,
    edition: cf.EditionOpt = None, quality: cf.QualityOpt = "all",
    min_share: Annotated[float, typer.Option("--min-share", min=0.0, max=1.0, help="只列出比例不低于此值的报告（0–1）")] = 0.0,
    kind: Annotated[str, typer.Option("--kind", help="copied（合计）/ previous（与上年相同）/ other（与其他机关相同）")] = "copied",
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, max=1_000_000, help="最多显示条数")] = 50,
    fmt: cf.FormatOpt = "table",
    update: Annotated[bool, typer.Option("--update", help="先比对尚未比对的报告（写入数据库）")] = False,
    rebuild: Annotated[bool, typer.Option("--rebuild", help="从头重新比对全部报告（写入数据库）")] = False,
    db: Annotated[Path | None, typer.Option("--db", help="DuckDB 数据库文件（默认: 环境变量 XXGK_DB，否则 data/xxgk.duckdb）")] = None,
) -> None:  # fmt: skip
    """抄袭比对: 按与上年报告、其他机关同年报告相同文字的比例列出报告。Reports ranked by copied text."""
    from pipeline.reuse import queries

    cf.check_format(fmt)
    if kind not in queries.KINDS:
        raise typer.BadParameter(f"--kind 应为 {' / '.join(queries.KINDS)}")
    filters = cf.make_filters(year, province, city, county, level, agency_type, agency, edition, quality)
    database = Database(db)
    db_path = database.path
    if not database.exists():
        err_console.print(f"[red]错误:[/] 数据库不存在: {db_path}（先运行 xxgk ingest）")
        raise typer.Exit(2)
    if update or rebuild:
        try:
            with database.write() as session:  # the session compares what is new when it finishes
                session.reuse_rebuild = rebuild
            done = session.reuse
        except IngestLockedError as exc:
            err_console.print(f"[red]错误:[/] {exc}")
            raise typer.Exit(2) from None
        err_console.print(f"抄袭比对{'已重建' if rebuild else '已更新'}：比对 {done.added} 份报告，"
                          f"{done.matches} 处相同文字（{done.seconds:.1f} 秒）")  # fmt: skip
    waiting = database.query(queries.pending)
    frame = database.query(queries.ranking, filters, min_share=min_share, kind=kind, limit=limit)
    if waiting:
        err_console.print(f"[yellow]提示:[/] 还有 {waiting} 份报告尚未比对，运行 xxgk reuse --update")
    if fmt == "csv":
        from pipeline.search.export import safe_csv_bytes

        sys.stdout.buffer.write(safe_csv_bytes(frame.rename(queries.RANKING_LABELS)))
        return
    if fmt == "json":
        print(json.dumps(frame.to_dicts(), ensure_ascii=False, indent=1))
        return
    table = Table(title=f"{queries.KIND_LABELS[kind]} ≥ {min_share:.0%} 的报告（{frame.height} 份）")
    for label in (
        "报告",
        "机关",
        "年度",
        "抄袭比例",
        "与上年相同",
        "与他机关相同",
        "通用表述",
        "最相似的其他机关报告",
    ):
        table.add_column(label, overflow="fold")
    for r in frame.iter_rows(named=True):
        pair = (f"#{r['top_source_id']} {r['top_source_agency'] or ''}（{_pct(r['top_source_share'])}）"
                if r["top_source_id"] is not None else "")  # fmt: skip
        table.add_row(f"#{r['report_id']}", r["agency"] or "（未识别）", str(r["year"] or ""), _pct(r["copied_share"]),
                      _pct(r["previous_share"]), _pct(r["other_share"]), _pct(r["common_share"]), pair)  # fmt: skip
    console.print(table)


def register(app: typer.Typer) -> None:
    app.command("reuse")(reuse_command)
