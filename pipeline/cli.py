"""The ``xxgk`` command line (also ``python -m pipeline``). Kept thin: the work lives in ingest/store/parse.

Adding a subcommand from another module: give the module a ``register(app: typer.Typer) -> None`` function and
list it in :data:`PLUGIN_MODULES`; it is imported only if present, so a missing optional part never breaks the CLI.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from pipeline import store
from pipeline.registry import registry
from pipeline.store import Database, queries

app = typer.Typer(
    name="xxgk",
    help="政府信息公开工作年度报告：解析、校验、入库。Parse, check and load annual reports.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
err_console = Console(stderr=True)

# Modules that add subcommands (each exposes ``register(app)``); skipped when not installed/written yet.
PLUGIN_MODULES: tuple[str, ...] = (
    "pipeline.generator.cli",
    "pipeline.fetch.cli",
    "pipeline.metrics.cli",
    "pipeline.search.cli",
    "pipeline.reuse.cli",
    "pipeline.metrics.regions_cli",
    "pipeline.card.cli",
    "pipeline.metrics.agencies_cli",
)

STATUS_LABELS = {
    store.LOADED: "已入库 loaded",
    store.UNCHANGED: "未变化 unchanged",
    store.REPLACED: "已替换旧版本 replaced",
    store.LOADED_WITH_ERRORS: "已入库但有错误 loaded with errors",
    store.NOT_REPORT: "不是年报 not a report",
    store.UNREADABLE: "无法读取 unreadable",
}

DbOption = Annotated[
    Path | None,
    typer.Option("--db", help="DuckDB 数据库文件（默认: 环境变量 XXGK_DB，否则 data/xxgk.duckdb）"),
]


@app.command()
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="报告文件或文件夹（递归）")],
    manifest: Annotated[
        Path | None,
        typer.Option(
            "--manifest", help="清单 CSV: path, agency, year, region, url, fetched_at, synthetic, published, summary"
        ),
    ] = None,
    db: DbOption = None,
    workers: Annotated[
        int | None, typer.Option("--workers", "-j", help="并行解析进程数（默认: 文件多时用全部 CPU）")
    ] = None,
    strict: Annotated[bool, typer.Option("--strict", help="任何报告有错误（硬校验失败）时也以非零状态退出")] = False,
    engine: Annotated[
        str, typer.Option("--engine", help="embedded（默认，本机进程）/ dask / ray：在集群上解析，见 docs/cluster.md")
    ] = "embedded",
    cluster: Annotated[
        str | None,
        typer.Option("--cluster", help="已运行的集群地址（dask: tcp://主机:8786；ray: 主机:6379）；默认在本机启动"),
    ] = None,
    shard_dir: Annotated[
        Path | None, typer.Option("--shard-dir", help="集群分片目录，所有节点都须能读写（默认: 数据库旁的 .shards）")
    ] = None,
    file_seconds: Annotated[
        float | None,
        typer.Option(
            "--file-seconds",
            help="每个文件的解析时间上限（秒，OCR 每页另加 XXGK_OCR_PAGE_SECONDS；默认 XXGK_FILE_SECONDS 或 60）",
        ),
    ] = None,
    file_memory: Annotated[
        float | None,
        typer.Option("--file-memory", help="解析进程的内存上限（MiB；默认 XXGK_FILE_MEMORY_MIB 或 1536）"),
    ] = None,
    publish_every: Annotated[
        int | None,
        typer.Option(
            "--publish-every",
            help="每解析这么多文件发布一次（中断后保留已发布部分；0 = 全部完成后一次发布；默认 XXGK_PUBLISH_EVERY 或 50000）",
        ),
    ] = None,
) -> None:
    """入库: 解析报告并写入数据库。Parse reports and load them into DuckDB."""
    from pipeline.ingest import Budget, IngestSummary, count_source_files
    from pipeline.ingest import ingest as run_ingest
    from pipeline.ingest.engines import ClusterError, EngineUnavailable
    from pipeline.manifest import ManifestError

    defaults = Budget()
    budget = replace(defaults, seconds=file_seconds or defaults.seconds, memory_mib=file_memory or defaults.memory_mib)

    database = Database(db)
    total = count_source_files(paths, exclude=manifest)
    n_workers = workers if workers is not None else (1 if total < 64 else (os.cpu_count() or 1))

    def run(on_file: Callable[[str], None]) -> IngestSummary:
        if engine == "embedded":
            return run_ingest(
                paths,
                db=database,
                manifest=manifest,
                workers=n_workers,
                budget=budget,
                on_parsed=lambda o: on_file(o.job.path),
                publish_every=publish_every,
            )
        from pipeline.ingest.cluster import cluster_ingest

        return cluster_ingest(
            paths, db=database, manifest=manifest, engine=engine, address=cluster, workers=workers,
            shard_dir=shard_dir, budget=budget, on_loaded=on_file,
        )  # fmt: skip

    progress = Progress(
        TextColumn("[bold]解析入库[/]"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[current]}", style="dim"),
        console=err_console,
        transient=True,
    )
    try:
        with progress:
            task = progress.add_task("ingest", total=total, current="")
            summary = run(lambda path: progress.update(task, advance=1, current=Path(path).name[-40:]))
    except (ManifestError, store.IngestLockedError, ClusterError, EngineUnavailable) as exc:
        err_console.print(f"[red]错误:[/] {exc}")
        raise typer.Exit(2) from None

    table = Table(title=f"入库结果 → {database.path}（{summary.n_files} 个文件，{summary.seconds:.1f} 秒）")
    table.add_column("状态 status")
    table.add_column("数量 count", justify="right")
    for status, n in summary.as_dict().items():
        table.add_row(STATUS_LABELS[status], str(n))
    console.print(table)
    if summary.skipped_unparsed:  # the embedded engine recognises stored files before parsing
        console.print(f"其中 {summary.skipped_unparsed} 个文件按内容（sha256）识别为已入库，未重新解析")
    if summary.cross_year_findings:
        console.print(f"跨年度核对提示 (XY-1/XY-2): {summary.cross_year_findings} 条，见 xxgk findings")
    if summary.search_note:
        err_console.print(f"[yellow]注意:[/] {summary.search_note}", highlight=False, soft_wrap=True)
    for problem in summary.problems:
        tag = {store.UNREADABLE: "[red]无法读取[/]", store.NOT_REPORT: "[red]不是年报[/]"}.get(
            problem.status, "[yellow]有错误[/]"
        )
        console.print(f"{tag} {problem.source_path}: {problem.message}", highlight=False, soft_wrap=True)
    if summary.unreadable or (strict and summary.with_errors):
        raise typer.Exit(1)


def _ordered_json(result_json: dict) -> dict:
    """Facts in registry order (the documented contract), whatever order the parser produced."""
    order = {key: i for i, key in enumerate(registry().keys())}
    facts = result_json.get("facts", {})
    result_json["facts"] = dict(sorted(facts.items(), key=lambda kv: order.get(kv[0], len(order))))
    return result_json


@app.command()
def parse(
    file: Annotated[Path, typer.Argument(help="一个报告文件")],
    as_json: Annotated[bool, typer.Option("--json", help="输出规范 JSON（见 docs/parse-json.md）")] = False,
) -> None:
    """解析单个文件（不写数据库）。Parse one file without touching the database."""
    from pipeline.parse import parse_file
    from pipeline.readers import ReadError

    try:
        result = parse_file(str(file))
    except (ReadError, OSError) as exc:
        err_console.print(f"[red]无法读取[/] {file}: {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None
    if as_json:
        print(json.dumps(_ordered_json(result.to_json()), ensure_ascii=False, indent=1))
        return
    meta = result.meta
    region = " ".join(x for x in (meta.province, meta.city, meta.county) if x) or "未识别"
    console.print(f"[bold]{file}[/]  ({result.format}, sha256 {result.sha256[:12]}…)", highlight=False)
    console.print(
        f"机关: {meta.agency or '未识别'}   年度: {meta.year or '未识别'}   版本: {meta.edition or '未识别'}"
        f"{'（表三 ' + meta.t3_layout + ' 式）' if meta.t3_layout and meta.t3_layout != meta.edition else ''}\n"
        f"地区: {region}   层级: {meta.level or '未识别'}   机关类型: {meta.agency_type or '未识别'}",
        highlight=False,
    )
    in_layout = [f for f in result.facts.values() if f.status != "not_in_layout"]
    found = sum(f.value is not None for f in in_layout)
    blank = sum(f.status in ("blank", "null_marker") for f in in_layout)
    missing = sum(f.status in ("missing", "ambiguous") for f in in_layout)
    console.print(f"单元格: 共 {len(in_layout)}，有数值 {found}，空白或“/” {blank}，未能定位 {missing}")
    if not result.findings:
        console.print("[green]校验: 无问题[/]")
    for f in result.findings:
        color = {"error": "red", "warning": "yellow"}.get(f.severity, "dim")
        console.print(f"[{color}]{f.severity}[/] [{f.rule}] {f.message}", highlight=False, soft_wrap=True)
    if result.has_hard_error:
        raise typer.Exit(1)


@app.command()
def findings(
    db: DbOption = None,
    limit: Annotated[int, typer.Option("--limit", "-n", help="最多显示条数")] = 50,
    severity: Annotated[str | None, typer.Option("--severity", help="error / warning / info")] = None,
) -> None:
    """最近的校验结果。Recent findings of current reports (including cross-year)."""
    rows = _query_or_exit(db, queries.recent_findings, limit, severity)
    if not rows:
        console.print("没有校验结果")
    for rid, agency, year, rule, sev, message, scope in rows:
        color = {"error": "red", "warning": "yellow"}.get(sev, "dim")
        where = f"#{rid} {agency or '未识别机关'} {year or '未识别年度'}"
        extra = "（跨年度）" if scope == "cross_year" else ""
        console.print(f"[{color}]{sev}[/] {where} [{rule}]{extra} {message}", highlight=False, soft_wrap=True)


@app.command()
def history(
    agency: Annotated[str, typer.Argument(help="发布机关，如 阜新市司法局")],
    year: Annotated[int, typer.Argument(help="统计年度")],
    db: DbOption = None,
) -> None:
    """某机关某年度报告的所有版本。Every stored version of one report."""
    rows = _query_or_exit(db, queries.report_history, agency, year)
    if not rows:
        console.print(f"没有 {agency} {year} 年的报告")
        raise typer.Exit(1)
    console.print(f"[bold]{agency} {year} 年报告的 {len(rows)} 个版本[/]（旧的在前）")
    for rid, current, replaced_by, sha, path, loaded_at, n_err, n_warn in rows:
        state = "[green]当前版本[/]" if current else f"[dim]已被 #{replaced_by} 替换[/]"
        console.print(
            f"#{rid} {state} sha256 {sha[:12]} 入库于 {loaded_at:%Y-%m-%d %H:%M:%S} 错误 {n_err} 提示 {n_warn} 来源 {path}",
            highlight=False,
            soft_wrap=True,
        )


@app.command()
def compact(
    db: DbOption = None,
    full: Annotated[bool, typer.Option("--full", help="合并为一个段（否则按大小分层合并）")] = False,
) -> None:
    """合并数据库的段文件：长时间分段入库或多次单文件入库之后运行，查询更快。Merge the store's segments.

    Readers (the dashboard) keep reading while it runs; the merged store is published like any write.
    """
    database = Database(db)
    if not database.exists():
        err_console.print(f"[red]错误:[/] 数据库文件不存在：{database.path}", highlight=False)
        raise typer.Exit(2)
    try:
        left = database.compact(full=full)
    except store.IngestLockedError as exc:
        err_console.print(f"[red]错误:[/] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    console.print(f"已合并：{database.path} 现有 {left} 个段", highlight=False)


def _query_or_exit(db: Path | None, fn: Callable[..., list[tuple]], *args: object) -> list[tuple]:
    """Rows of a query of :mod:`pipeline.store.queries`; exit 2 with a message when there is no database."""
    try:
        return Database(db).query(fn, *args)
    except store.DatabaseUnavailable as exc:
        err_console.print(f"[red]错误:[/] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None


def _register_plugins() -> None:
    for name in PLUGIN_MODULES:
        try:
            if name not in sys.modules and importlib.util.find_spec(name) is None:
                continue
        except ModuleNotFoundError:  # parent package missing
            continue
        module = importlib.import_module(name)
        register = getattr(module, "register", None)
        if callable(register):
            register(app)


_register_plugins()


def main() -> None:
    app()
