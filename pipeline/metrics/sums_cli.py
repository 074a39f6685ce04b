"""``xxgk sums [--rebuild]``: the stored metric sums beside a store (:mod:`pipeline.metrics.sums`) — whether they
are there and match the store, and (``--rebuild``) computing them afresh.

A write keeps existing sums up to date (in a small delta file beside them) and a compaction builds them afresh; a store that never had them
(copied, or grown past ``sums_build.MIN_REPORTS`` by small writes) gets them here.  Without them every query
still answers — by scanning every report.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from pipeline.metrics import sums_build
from pipeline.store import Database
from pipeline.store.segments import open_reader
from pipeline.store.sums_file import DELTA, attach, state_token, sums_path

console = Console()


def sums(
    db: Annotated[
        Path | None, typer.Option("--db", help="DuckDB 数据库文件（默认: 环境变量 XXGK_DB，否则 data/xxgk.duckdb）")
    ] = None,
    rebuild: Annotated[bool, typer.Option("--rebuild", help="重新计算指标汇总表")] = False,
) -> None:
    """指标汇总表（按年度、地区、层级等分组的预先求和）的状态；--rebuild 重新计算。Stored metric sums."""
    database = Database(db)
    if not database.exists():
        console.print(f"数据库文件不存在：{database.path}")
        raise typer.Exit(1)
    if rebuild:
        done = sums_build.build(database.file)
        console.print(f"已重建指标汇总表：{sums_path(database.file)}（{done['seconds']} 秒）", soft_wrap=True)
    con = open_reader(database.file)
    try:
        current = attach(con, database.file)
        groups = con.execute("SELECT count(*) FROM sums.metric_sums").fetchall()[0][0] if current else 0
        (delta,) = con.execute("SELECT count(*) FROM duckdb_databases() WHERE database_name = ?", [DELTA]).fetchall()[0]
        token = state_token(con)
    finally:
        con.close()
    if current:
        since = "，含上次重建以来各次写入的增量文件" if delta else ""
        console.print(
            f"指标汇总表与数据库一致（{token.split(':')[0]} 份报告，{groups} 行{since}）：按年度等分组的指标查询读取汇总表",
            soft_wrap=True,
        )
    else:
        console.print(
            "没有与数据库一致的指标汇总表：指标查询逐份报告计算（运行 xxgk sums --rebuild 建立）", soft_wrap=True
        )
