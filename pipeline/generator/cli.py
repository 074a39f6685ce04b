"""``python -m pipeline.generator`` / ``xxgk generate``: write a synthetic corpus with ground truth.

``register(app)`` adds the ``generate`` command to the main xxgk typer app; ``app`` runs it standalone.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pipeline.generator.corpus import CorpusConfig, write_corpus
from pipeline.generator.renderers import layout_names


def generate(
    out: Annotated[Path, typer.Option("--out", help="输出目录（文档、*.truth.json 与 manifest.csv）")],
    size: Annotated[
        str,
        typer.Option(
            "--size",
            help="规模：tiny（约 20 份）、demo（约 300 个机关 × 2019–2025）、national（31 个省级地区约 1,250 个机关）、large（≥ 100 万份）",
        ),
    ] = "tiny",
    seed: Annotated[int, typer.Option("--seed", help="随机种子：同一种子生成逐字节相同的语料")] = 0,
    layouts: Annotated[list[str] | None, typer.Option("--layouts", help="版式（可重复）；默认全部已注册版式")] = None,
    noise: Annotated[list[int] | None, typer.Option("--noise", help="噪声级别 0/1/2（可重复）；默认全部")] = None,
    error_share: Annotated[float, typer.Option("--error-share", help="含机关填报错误的报告比例")] = 0.05,
    mixed_share: Annotated[
        float, typer.Option("--mixed-share", help="2021 表二配 2019 版（六）其他处理的机关比例")
    ] = 0.1,
    coverage: Annotated[float, typer.Option("--coverage", help="每个机关每年发布报告的概率")] = 1.0,
    copy_share: Annotated[
        float,
        typer.Option(
            "--copy-share", help="> 0 时正文句子各不相同，其中这一比例的报告抄用上年或其他机关报告的句子（真值列出）"
        ),
    ] = 0.0,
    summary_share: Annotated[
        float, typer.Option("--summary-share", help="每年发布地区汇总报告（汇总全市等）的地区比例")
    ] = 0.0,
    limit: Annotated[int | None, typer.Option("--limit", help="最多生成多少份文档")] = None,
    no_truth: Annotated[
        bool, typer.Option("--no-truth", help="不写 *.truth.json（示例数据用：可由种子重新生成）")
    ] = False,
    manifest: Annotated[
        Path | None, typer.Option("--manifest", help="manifest.csv 路径（默认 OUT/manifest.csv）")
    ] = None,
    path_prefix: Annotated[
        str, typer.Option("--path-prefix", help="写入 manifest 的路径前缀（相对于 manifest 所在目录）")
    ] = "",
    workers: Annotated[int, typer.Option("--workers", help="渲染进程数（PDF/DOCX 较慢时有用）")] = 1,
    demo_sample: Annotated[
        bool,
        typer.Option(
            "--demo-sample", help="写出看板示例数据的文档：OUT/ 与 OUT/manifest.csv（全国示例语料 + 全部真实报告）"
        ),
    ] = False,
) -> None:
    """生成带真值的合成年报语料（示例数据，非真实机关统计）。"""
    if demo_sample:
        from pipeline.generator.demo import write_demo

        stats = write_demo(out)
        typer.echo(
            f"示例数据：{stats['documents']} 份文档（{stats['bytes'] / 1e6:.1f} MB）→ {out}，清单 {out}/manifest.csv"
        )
        return
    if size not in ("tiny", "demo", "national", "large"):
        raise typer.BadParameter(f"未知规模 {size!r}：可用 tiny、demo、national、large", param_hint="--size")
    known = layout_names()
    for name in layouts or []:
        if name not in known:
            raise typer.BadParameter(f"未知版式 {name!r}；可用: {', '.join(known)}", param_hint="--layouts")
    for level in noise or []:
        if level not in (0, 1, 2):
            raise typer.BadParameter(f"噪声级别须为 0、1 或 2，而不是 {level}", param_hint="--noise")
    config = CorpusConfig(
        size=size,
        seed=seed,
        layouts=tuple(layouts) if layouts else None,
        noise_levels=tuple(noise) if noise else (0, 1, 2),
        error_share=error_share,
        mixed_share=mixed_share,
        coverage=coverage,
        limit=limit,
        directory="shard" if size == "large" else "year",
        copy_share=copy_share,
        summary_share=summary_share,
    )
    stats = write_corpus(
        out, config, truth_files=not no_truth, manifest=manifest, path_prefix=path_prefix, workers=workers
    )
    typer.echo(f"已生成 {stats['documents']} 份文档（{stats['bytes'] / 1e6:.1f} MB，{stats['seconds']} 秒）→ {out}")


def register(main: typer.Typer) -> None:
    """Add ``generate`` to the main CLI (called by pipeline/cli.py)."""
    main.command("generate")(generate)


app = typer.Typer(add_completion=False, help="合成年报语料生成器")
app.command("generate")(generate)


def main() -> None:  # pragma: no cover - entry point
    typer.main.get_command(app).main(prog_name="python -m pipeline.generator")
