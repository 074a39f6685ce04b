"""``xxgk fetch URL… | --list urls.txt``: fetch report pages (and their attachments) and load them.

Registered through ``pipeline.cli.PLUGIN_MODULES``.  Progress goes to stderr; ``--json`` prints the whole result
(one entry per URL, each document with its ingest status and findings) to stdout for scripts and the dashboard.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

console = Console()
err_console = Console(stderr=True)


def register(app: typer.Typer) -> None:
    app.command(name="fetch")(fetch)


def fetch(
    urls: Annotated[list[str] | None, typer.Argument(help="报告网页或附件的网址（http/https），可多个")] = None,
    url_list: Annotated[
        Path | None, typer.Option("--list", help="网址列表文件：每行一个网址，# 开头的行和空行忽略")
    ] = None,
    db: Annotated[
        Path | None,
        typer.Option("--db", help="DuckDB 数据库文件（默认: 环境变量 XXGK_DB，否则 data/xxgk.duckdb）"),
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="下载文件保存的文件夹（默认: 数据库所在文件夹下的 fetched/）")
    ] = None,
    delay: Annotated[
        float,
        typer.Option(
            "--delay",
            min=0.5,
            help="对同一网站两次请求之间至少间隔的秒数（robots.txt 的 Crawl-delay 更长时从之）",
        ),
    ] = 1.0,
    retries: Annotated[
        int,
        typer.Option("--retries", min=0, max=10, help="超时、连接错误、429/5xx 时的重试次数（间隔指数增长）"),
    ] = 3,
    timeout: Annotated[float, typer.Option("--timeout", min=1.0, max=600.0, help="连接和每次读取的超时秒数")] = 30.0,
    public_only: Annotated[
        bool, typer.Option("--public-only", help="拒绝指向本机或内网地址的网址（代他人抓取时使用）")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="把结果以 JSON 输出到标准输出")] = False,
) -> None:
    """抓取: 按网址下载报告（网页本身没有年报表格时跟随其附件）并入库。Fetch reports by URL and load them."""
    from pipeline.fetch.client import FetchSettings
    from pipeline.fetch.run import fetch_reports, read_url_list

    given = list(urls or [])
    if url_list is not None:
        try:
            given += read_url_list(url_list)
        except (OSError, UnicodeDecodeError) as exc:
            err_console.print(f"[red]错误:[/] 网址列表 {url_list} 无法读取: {exc}", highlight=False)
            raise typer.Exit(2) from None
    if not given:
        err_console.print("[red]错误:[/] 没有网址：在命令后写网址，或用 --list 指定网址列表文件")
        raise typer.Exit(2)
    settings = FetchSettings(delay=delay, retries=retries, timeout=timeout, public_only=public_only)
    run = fetch_reports(
        given, db=db, out=out, settings=settings,
        on_event=lambda message: err_console.print(f"[dim]{message}[/]", highlight=False, soft_wrap=True),
    )  # fmt: skip
    if as_json:
        print(json.dumps(run.to_json(), ensure_ascii=False, indent=1))
    else:
        _print_run(run)
    if run.ingest_error:
        raise typer.Exit(2)
    if run.failed:
        raise typer.Exit(1)


def _print_run(run) -> None:  # noqa: ANN001 - pipeline.fetch.run.FetchRun
    from pipeline.cli import STATUS_LABELS

    for result in run.results:
        if result.ok:
            console.print(f"[green]✓[/] {result.url}", highlight=False, soft_wrap=True)
        else:
            console.print(f"[red]✗ {result.error}[/]", highlight=False, soft_wrap=True)
        for doc in result.documents:
            label = STATUS_LABELS.get(doc.status or "", "未入库")
            who = " ".join(str(x) for x in (doc.agency, doc.year) if x) or "未识别机关/年度"
            rid = f"#{doc.report_id} " if doc.report_id is not None else ""
            role = "附件" if doc.role == "attachment" else "网页"
            console.print(f"  {role} {doc.url} → {rid}{who}: {label}", highlight=False, soft_wrap=True)
            for f in doc.findings:
                if f["severity"] != "info":
                    color = "red" if f["severity"] == "error" else "yellow"
                    console.print(f"    [{color}]{f['severity']}[/] [{f['rule']}] {f['message']}",
                                  highlight=False, soft_wrap=True)  # fmt: skip
        for problem in result.problems:
            console.print(f"  [yellow]![/] {problem}", highlight=False, soft_wrap=True)
    if run.ingest_error:
        err_console.print(f"[red]错误:[/] {run.ingest_error}", highlight=False, soft_wrap=True)
    ok = len(run.results) - len(run.failed)
    n_docs = sum(len(r.documents) for r in run.results)
    table = Table(title=f"抓取结果 → {run.db}（{run.seconds:.1f} 秒）")
    table.add_column("项目")
    table.add_column("数量", justify="right")
    table.add_row("网址 成功 / 失败", f"{ok} / {len(run.failed)}")
    table.add_row("下载并入库的文件", str(n_docs))
    table.add_row("HTTP 请求（其中重试）", f"{run.requests}（{run.retries}）")
    for status, n in run.counts.items():
        table.add_row(STATUS_LABELS.get(status, status), str(n))
    console.print(table)
    console.print(f"下载的文件与来源记录保存在 {run.out_dir}", highlight=False, soft_wrap=True)
