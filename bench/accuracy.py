"""Accuracy benchmark: the real-report corpus first (every report with a hand-typed truth, per source class), then
≥ 5,000 generated documents in every layout and noise level, all parsed with the real parser
(``pipeline.parse.parse_file``), compared with their truth cell by cell; writes docs/accuracy.md.

    .venv/bin/python bench/accuracy.py                 # 5,400 documents, seed 20251126, 2 workers
    .venv/bin/python bench/accuracy.py --docs 600 --no-write   # quick look, prints the table only

The corpus goes to a temporary folder (``--keep DIR`` keeps it there for inspection), never into the repo.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.machine import cpu_model  # noqa: E402
from pipeline.generator.corpus import CorpusConfig, truth_path, write_corpus  # noqa: E402
from pipeline.generator.scoring import DISPUTED_TRUTHS, DocScore, RealScore, real_cases, score, score_case  # noqa: E402

# Slow layouts get a smaller share so `make accuracy` stays within minutes: rendering a DOCX or a scan and OCR-ing
# it take seconds per document (docs/benchmarks.md has the OCR figures). Unlisted layouts weigh 1.
LAYOUT_WEIGHTS = {"pdf-text": 0.3, "docx": 0.05}  # crawler-text and converter-md weigh 1 like the other text layouts
# OCR layouts take minutes per document on 2 cores: a fixed quota of them goes into a side corpus (--scan-docs).
SLOW_LAYOUTS = ("scan-pdf", "scan-tiff")


def parse_and_score(doc: str) -> DocScore:
    """Worker: parse one document (no manifest overrides: the parser must find the metadata itself)."""
    from pipeline.parse import parse_file

    truth = json.loads(truth_path(Path(doc)).read_text(encoding="utf-8"))
    started = time.perf_counter()
    try:
        parsed = parse_file(doc).to_json()
        result = score(truth, parsed, path=doc)
    except Exception as exc:  # noqa: BLE001 - a crash is a result of the benchmark, not of the harness
        result = score(truth, None, path=doc, error=f"{type(exc).__name__}: {exc}")
    result.seconds = time.perf_counter() - started
    return result


def run(corpus: Path, workers: int) -> list[DocScore]:
    docs = sorted(str(p) for p in corpus.rglob("*") if p.is_file() and p.suffix not in (".json", ".csv"))
    if workers <= 1:
        return [parse_and_score(d) for d in docs]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(parse_and_score, docs, chunksize=16))


def summarise(scores: list[DocScore]) -> list[dict[str, object]]:
    groups: dict[tuple[str, int], list[DocScore]] = defaultdict(list)
    for s in scores:
        groups[(s.layout, s.noise)].append(s)
    rows = []
    for (layout, noise), items in sorted(groups.items()) + [(("全部", -1), scores)]:
        reports = [s for s in items if s.kind == "report"]
        cells = sum(s.cells for s in reports)
        correct = sum(s.correct for s in reports)
        hard_injected = [s for s in items if s.agency_error_hard]
        rows.append(
            {
                "layout": layout,
                "noise": "" if noise < 0 else noise,
                "docs": len(items),
                "reports": len(reports),
                "cells": cells,
                "cell_acc": correct / cells if cells else 1.0,
                "flagged": sum(len(s.wrong) - len(s.unnamed) for s in reports),
                "unnamed": sum(len(s.unnamed) for s in items),
                "exact": sum(s.exact for s in items) / len(items) if items else 1.0,
                "silent": sum(s.silent for s in items),
                "caught": f"{sum(s.caught for s in hard_injected)}/{len(hard_injected)}",
                "false_alarms": sum(s.false_alarm for s in items),
                "meta_ok": sum(s.meta_ok for s in items) / len(items) if items else 1.0,
                "crashes": sum(1 for s in items if s.error),
                "ms": 1000 * sum(s.seconds for s in items) / len(items) if items else 0.0,
            }
        )
    return rows


def table(rows: list[dict[str, object]]) -> str:
    head = (
        "| 版式 layout | 噪声 | 文档 | 单元格 | 单元格准确率 | 已标记错格 | 未标记错格 | 完全正确 | 静默错误 "
        "| 机关错误检出 | 误报 | 元数据正确 | 崩溃 | ms/份 |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
    )
    lines = [head]
    for r in rows:
        lines.append(
            f"| {r['layout']} | {r['noise']} | {r['docs']} | {r['cells']} | {r['cell_acc']:.4%} | {r['flagged']} "
            f"| {r['unnamed']} | {r['exact']:.2%} | {r['silent']} | {r['caught']} | {r['false_alarms']} "
            f"| {r['meta_ok']:.2%} | {r['crashes']} | {r['ms']:.0f} |"
        )
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------------------------
# The real-report corpus


def real_corpus() -> tuple[str, str, list[RealScore]]:
    """Every real report with a hand-typed truth, scored: the per-class table and the per-report list."""
    scores = [score_case(case) for case in real_cases(ROOT)]
    classes: dict[str, list[RealScore]] = defaultdict(list)
    for s in scores:
        classes[s.source_class].append(s)
    head = (
        "| 来源类别 source class | 报告 | 单元格 | 完全正确格 | 无法判定且已标记 | 正确或按要求标记 | 已标记错格 | 未标记错格 "
        "| 完全正确报告 | 元数据正确 |\n|---|---|---|---|---|---|---|---|---|---|"
    )
    lines = [head]
    for name, items in sorted(classes.items()) + [("全部", scores)]:
        cells = sum(s.cells for s in items)
        exact = sum(s.exact for s in items)
        undecidable = sum(s.undecidable for s in items)
        unnamed = sum(len(s.unnamed) for s in items)
        flagged = sum(len(s.wrong) for s in items) - unnamed
        lines.append(
            f"| {name} | {len(items)} | {cells} | {exact / cells if cells else 1:.2%} | {undecidable} "
            f"| {(exact + undecidable) / cells if cells else 1:.2%} | {flagged} | {unnamed} "
            f"| {sum(s.ok for s in items)}/{len(items)} | {sum(not s.meta_wrong for s in items)}/{len(items)} |"
        )
    details = []
    for s in scores:
        what = (
            "完全正确"
            if s.ok
            else "; ".join(
                [
                    f"`{k}` 应为 {e!r} 得 {g!r}{'（未标记）' if (k, e, g) in s.unnamed else ''}"
                    for k, e, g in s.wrong[:3]
                ]
                + [f"{k} 应为 {e!r} 得 {g!r}" for k, e, g in s.meta_wrong[:2]]
                + s.mistakes_unflagged[:1]
                + ([s.error] if s.error else [])
            )
        )
        disputed = f" — **真值有争议**：{DISPUTED_TRUTHS[s.name]}" if s.name in DISPUTED_TRUTHS else ""
        details.append(f"- {s.name}（{s.source_class}，{s.cells} 格，{s.undecidable} 格无法判定）：{what}{disputed}")
    return "\n".join(lines), "\n".join(details), scores


def failures(scores: list[DocScore], corpus: Path, per_group: int = 2) -> str:
    """Examples per layout × noise × kind: silent errors, crashes, flagged misses, false alarms, metadata misses."""
    seen: dict[tuple[str, int, str], int] = defaultdict(int)
    lines = []
    for s in scores:
        if s.silent:
            tag = "静默错误"
        elif s.error:
            tag = "崩溃"
        elif not s.exact:
            tag = "已标记"
        elif s.false_alarm:
            tag = "误报"
        elif not s.meta_ok:
            tag = "元数据"
        else:
            continue
        key = (s.layout, s.noise, tag)
        if seen[key] >= per_group:
            continue
        seen[key] += 1
        rel = Path(s.path).relative_to(corpus) if s.path.startswith(str(corpus)) else s.path
        if tag == "误报":
            what = "值全部正确，但有硬错误：" + "；".join(s.hard_messages)
        elif tag == "元数据":
            what = f"识别为 {s.meta_got!r}"
        else:
            what = "; ".join(f"`{k}` 应为 {e!r} 得 {g!r}" for k, e, g in s.wrong[:3]) or "（值正确，机关错误未被标记）"
        extra = f" — {s.error}" if s.error else ""
        lines.append(f"- [{tag}] {s.layout} 噪声 {s.noise}: `{rel}`: {what}{extra}")
    return "\n".join(sorted(lines)) or "（无）"


def machine() -> str:
    cpu = cpu_model() or platform.processor() or platform.machine()
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, {platform.system()}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--docs", type=int, default=5400)
    ap.add_argument("--seed", type=int, default=20251126)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--scan-docs", type=int, default=1, help="documents per OCR layout (minutes each)")
    ap.add_argument("--layouts", nargs="*", help="only these layouts (default: every registered layout)")
    ap.add_argument("--keep", type=Path, help="write the corpus here and keep it")
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "accuracy.md")
    ap.add_argument("--no-write", action="store_true", help="print the table, do not write docs/accuracy.md")
    args = ap.parse_args()

    t_real = time.perf_counter()
    real_table, real_details, real_scores = real_corpus()
    print(real_table)
    print(f"真实报告 {len(real_scores)} 份，{time.perf_counter() - t_real:.1f} s")

    corpus = args.keep or Path(tempfile.mkdtemp(prefix="xxgk-accuracy-"))
    from pipeline.generator.renderers import layout_names

    chosen = tuple(args.layouts) if args.layouts else tuple(layout_names())
    fast = tuple(n for n in chosen if n not in SLOW_LAYOUTS)
    slow = tuple(n for n in chosen if n in SLOW_LAYOUTS)
    config = CorpusConfig(
        size="large",
        seed=args.seed,
        limit=args.docs,
        error_share=0.05,
        mixed_share=0.15,
        legacy_share=0.04,
        non_report_share=0.03,
        directory="shard",
        layouts=fast,
        layout_weights=LAYOUT_WEIGHTS,
    )
    t0 = time.perf_counter()
    stats = write_corpus(corpus, config, workers=args.workers)
    for i, name in enumerate(slow):
        if args.scan_docs > 0:
            side = CorpusConfig(
                size="large",
                seed=args.seed + 1 + i,
                limit=args.scan_docs,
                layouts=(name,),
                noise_levels=(0, 1, 2),
                legacy_share=0,
                non_report_share=0,
                directory="shard",
            )
            extra = write_corpus(corpus / name, side, workers=args.workers)
            stats["documents"] += extra["documents"]
    t_gen = time.perf_counter() - t0
    t1 = time.perf_counter()
    scores = run(corpus, args.workers)
    t_parse = time.perf_counter() - t1
    rows = summarise(scores)
    text = table(rows)
    print(text)
    print(f"\n生成 {stats['documents']} 份 {t_gen:.1f} s；解析 {t_parse:.1f} s（{args.workers} 进程）")
    fail_text = failures(scores, corpus)
    print(fail_text)
    if not args.no_write:
        args.out.write_text(
            REPORT.format(
                date=date.today().isoformat(),
                machine=machine(),
                docs=stats["documents"],
                seed=args.seed,
                gen=t_gen,
                parse=t_parse,
                workers=args.workers,
                table=text,
                failures=fail_text,
                real_table=real_table,
                real_details=real_details,
                real_reports=len(real_scores),
            ),
            encoding="utf-8",
        )
        print(f"→ {args.out}")
    if not args.keep:
        shutil.rmtree(corpus, ignore_errors=True)
    return 0


REPORT = """# 解析准确率 Accuracy benchmark

`make accuracy`（`.venv/bin/python bench/accuracy.py`）先解析真实报告语料（每份都有人工录入的真值），再生成并解析
{docs} 份合成文档，逐格与真值比较。日期 {date}；机器：{machine}。

## 1. 真实报告 Real reports ({real_reports})

`tests/fixtures/real/`（公开仓库中找到的真实年报，原样保存，真值人工录入）以及 `../shared/` 中的爬虫文本、PDF 与种子
报告，按来源类别统计。**无法判定且已标记**：原文本身无法确定的格（如没有算术关系可拆分的表二数字串），解析器必须留空
并由一条错误发现（`keys`）点名——这是正确结果（“正确或按要求标记”把它们算作正确）；**已标记错格**：与真值不同、但有错误
发现点名的格；**未标记错格**：与真值不同且没有任何错误发现点名的格——目标为 0（真值有争议的报告在下文逐份列表中标明“真值有争议”）。

{real_table}

{real_details}

## 2. 合成文档 Synthetic documents

种子 {seed}；所有版式 × 噪声级别 0/1/2；约 5 % 含机关填报错误，另有少量 2018 年旧格式报告和非年报页面；PDF 占文本版式的
30 %、DOCX 5 %，扫描件（OCR，每份数分钟）每种只放 `--scan-docs` 份；`crawler-text`（网页被爬虫存为纯文本，单元格连在
一起）与 `converter-md`（PDF/网页转 markdown 的常见产物）见 `pipeline/generator/render_web.py`。解析不带清单元数据。
语料写入临时目录，不进仓库。生成 {gen:.1f} s，解析 {parse:.1f} s（{workers} 进程）。

{table}

### 各列含义 What the columns mean
- **单元格准确率** cell accuracy: correct cells / truth cells over the template reports (blank or "/" must come out
  as null, 0 as 0).  In `crawler-text` some cells cannot be decided from the text at all (a 表二 digit run has no
  identity to split it; a blank cell that left no trace): they come out null and named, and count as not correct.
- **已标记错格 / 未标记错格** wrong cells named / not named by an error finding's `keys`.  *Target: 0 unnamed* —
  a number is either right or visibly qualified.
- **完全正确** exact: share of documents with every cell right and the edition / 表三 layout right; a legacy or
  non-report document is right when the parser says so (edition `legacy` / none) and extracts no number.
- **静默错误** silent errors: documents that are not exact — or that carry an agency error injected on purpose that
  a single-document rule (T3-1/2/3, T4-1) must catch — and have no finding of severity `error`. Target 0.
- **机关错误检出** agency errors caught: injected hard agency errors (总计不符, 数字颠倒, 表四总计不符) flagged by a hard
  finding / injected. Cross-year (结转不符) and narrative mismatches are soft rules and not counted here.
- **误报** false alarms: exact template reports without an injected hard error that still get a hard finding
  (legacy and non-report documents flagged as such are expected, not alarms).
- **元数据正确** meta: agency and year detected as in the truth (no manifest).

### Examples (up to two per layout × noise × kind: 静默错误, 崩溃, 已标记 = wrong but flagged, 误报, 元数据)
{failures}
"""

if __name__ == "__main__":
    raise SystemExit(main())
