"""``xxgk search``: full-text search from the command line (and ``--rebuild`` of the index)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from pipeline import cli_filters as cf
from pipeline.store import Database

console = Console()
err_console = Console(stderr=True)


def search_command(
    query: Annotated[str | None, typer.Argument(help="检索词；多个词用空格分隔（同时包含），\"带引号的短语\"整体匹配")] = None,
    year: cf.YearOpt = None, province: cf.ProvinceOpt = None, city: cf.CityOpt = None, county: cf.CountyOpt = None,
    level: cf.LevelOpt = None, agency_type: cf.TypeOpt = None, agency: cf.AgencyOpt = None,
    edition: cf.EditionOpt = None, quality: cf.QualityOpt = "all",
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, max=10_000, help="最多显示条数")] = 50,
    fmt: cf.FormatOpt = "table",
    all_versions: Annotated[bool, typer.Option("--all-versions", help="也检索已被替换的旧版本")] = False,
    rebuild: Annotated[bool, typer.Option("--rebuild", help="从数据库重建全文检索索引")] = False,
    db: Annotated[Path | None, typer.Option("--db", help="DuckDB 数据库文件（默认: 环境变量 XXGK_DB，否则 data/xxgk.duckdb）")] = None,
) -> None:  # fmt: skip
    """全文检索: 在报告正文（一至六部分）中查找。Full-text search of the reports' narrative sections."""
    from pipeline import search

    cf.check_format(fmt)
    filters = cf.make_filters(year, province, city, county, level, agency_type, agency, edition, quality)
    db_path = Database(db).path
    if not db_path.exists():
        err_console.print(f"[red]错误:[/] 数据库不存在: {db_path}（先运行 xxgk ingest）")
        raise typer.Exit(2)
    if rebuild or search.lag(db_path) != 0:
        done = search.sync(db_path, rebuild=rebuild)
        err_console.print(
            f"全文检索索引{'已重建' if done.rebuilt else '已更新'}：新增 {done.added} 份报告、{done.passages} 个段落"
            f"（{done.seconds:.1f} 秒）→ {search.index_path(db_path)}"
        )
    if query is None:
        if not rebuild:
            err_console.print("[red]错误:[/] 请给出检索词（或 --rebuild）")
            raise typer.Exit(2)
        return
    con = search.connect(search.index_path(db_path))
    try:
        result = search.search(con, query, filters, limit=limit, current_only=not all_versions)
    except search.QueryError as exc:
        err_console.print(f"[red]错误:[/] {exc}")
        raise typer.Exit(2) from None
    finally:
        con.close()
    from pipeline.search.export import HIT_LABELS, hits_frame, safe_csv_bytes

    frame = hits_frame(result)
    if fmt == "csv":
        sys.stdout.buffer.write(safe_csv_bytes(frame.rename(HIT_LABELS)))
        return
    if fmt == "json":
        out = {"query": query, "terms": result.terms, "total": result.total, "capped": result.capped,
               "hits": [dict(row, spans=h.spans, text=h.text) for row, h in zip(frame.to_dicts(), result.hits, strict=True)]}  # fmt: skip
        print(json.dumps(out, ensure_ascii=False, indent=1))
        return
    more = "以上" if result.capped else ""
    table = Table(
        title=f"「{query}」共 {result.total:,} 个段落{more}，显示 {len(result.hits)} 个（{result.seconds * 1000:.0f} 毫秒）"
    )
    for col in ("report_id", "agency", "year", "section", "excerpt"):
        table.add_column(HIT_LABELS[col], overflow="fold")
    for row in frame.iter_rows(named=True):
        table.add_row(f"#{row['report_id']}", row["agency"] or "（未识别）", str(row["year"] or ""),
                      row["section"], row["excerpt"])  # fmt: skip
    console.print(table)
    if not result.hits:
        console.print("没有找到。可减少检索词或放宽筛选条件。")


def register(app: typer.Typer) -> None:
    app.command("search")(search_command)
