"""Parse throughput: reports/s in one process and with --workers 1 and 2, and the 2-worker speed-up.

    .venv/bin/python bench/bench_parse.py                  # this checkout; writes docs/benchmarks.md (make bench-parse)
    .venv/bin/python bench/bench_parse.py --ref main       # … and the `main` revision, runs interleaved
    .venv/bin/python bench/bench_parse.py --no-write --reports 500 --runs 1

Corpus: distinct documents from the synthetic generator (size national, seed 12, every text/HTML layout and noise
level: pdftext-tabs, pdftext-layout, html, crawler-text, converter-md), written to a temp folder and deleted.

Every measurement runs in a fresh process, as ``xxgk ingest`` would: ``in-process`` is
:func:`~pipeline.ingest.parse_in_process` (read → match → validate, nothing else); ``workers N`` is
:func:`~pipeline.ingest.parse_stream` — the ingest's worker pool, its start-up included, with the results
received by the parent (the store's write path is not included).  Each figure is the median of ``--runs`` runs;
with ``--ref`` the runs of both versions alternate, so a busy machine weighs on both alike.  Besides wall-clock
rates the in-process run records CPU seconds per report (``time.process_time``), which other jobs on the machine
disturb much less; the load average is printed with the results.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "benchmarks.md"
START, END = "<!-- bench_parse:start -->", "<!-- bench_parse:end -->"
MODES = ("in-process", "workers 1", "workers 2")


def measure(corpus: Path, mode: str) -> dict[str, float]:
    """One run of ``mode`` over every document of ``corpus`` (in this process: call it in a fresh one)."""
    from pipeline.ingest import ParseJob, iter_source_files, parse_in_process, parse_stream

    files = [str(p) for p in iter_source_files([corpus]) if p.suffix != ".csv"]
    jobs = (ParseJob(f) for f in files)
    started, cpu = time.perf_counter(), time.process_time()
    if mode == "in-process":
        n = sum(1 for _ in parse_in_process(jobs))
    else:
        n = sum(1 for _ in parse_stream(jobs, workers=int(mode.split()[1])))
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    return {"reports": n, "seconds": wall, "rate": n / wall, "cpu_ms": 1000 * cpu / n, "load": os.getloadavg()[0]}


def _export(ref: str) -> Path:
    code = Path(tempfile.mkdtemp(prefix="xxgk-bench-ref-"))
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", ref], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(code)], input=archive, check=True)
    return code


def _run(code: Path, corpus: Path, mode: str) -> dict[str, float]:
    """:func:`measure` in a fresh interpreter with the ``pipeline`` package of ``code``."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--measure", mode, "--corpus", str(corpus)]
    env = {**os.environ, "PYTHONPATH": str(code)}
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env, cwd=code).stdout
    return json.loads(out.strip().splitlines()[-1])


def machine() -> str:
    import platform

    from bench.machine import cpu_model

    cpu = cpu_model()
    return f"{os.cpu_count()} CPU ({cpu}), Python {platform.python_version()}, {platform.system()} {platform.release()}"


def _table(label: str, runs: dict[str, list[dict[str, float]]]) -> list[str]:
    med = {m: statistics.median(r["rate"] for r in runs[m]) for m in MODES}
    cpu = statistics.median(r["cpu_ms"] for r in runs["in-process"])
    cells = []
    for m in MODES:
        each = ", ".join(f"{r['rate']:,.0f}" for r in runs[m])
        cells.append(f"**{med[m]:,.0f}** ({each})")
    ratio = med["workers 2"] / med["workers 1"]
    parent = statistics.median(r["cpu_ms"] for r in runs["workers 2"])
    return [f"| {label} | {' | '.join(cells)} | **{ratio:.2f}×** | {cpu:.2f} ms ({1000 / cpu:,.0f} reports/CPU-s) "
            f"| {parent:.2f} ms |"]  # fmt: skip


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reports", type=int, default=1000, help="distinct generated documents")
    ap.add_argument("--runs", type=int, default=3, help="runs per measure (median reported)")
    ap.add_argument("--ref", default=None, help="also measure this git revision (interleaved runs)")
    ap.add_argument("--note", default="", help="what else was running (written with the results)")
    ap.add_argument("--no-write", action="store_true", help="print the section, do not touch docs/")
    ap.add_argument("--measure", default=None, help=argparse.SUPPRESS)  # internal: one run, JSON on stdout
    ap.add_argument("--corpus", type=Path, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.measure:
        sys.path.insert(0, os.environ.get("PYTHONPATH") or str(ROOT))
        print(json.dumps(measure(args.corpus, args.measure)))
        return 0

    sys.path.insert(0, str(ROOT))
    sys.path.insert(0, str(ROOT / "bench"))
    from parse_identity import LAYOUTS, generate_corpus

    work = Path(tempfile.mkdtemp(prefix="xxgk-bench-parse-"))
    versions = {"this checkout": ROOT}
    try:
        if args.ref:
            versions = {f"`{args.ref}`": _export(args.ref), **versions}
        corpus = work / "corpus"
        generate_corpus(corpus, args.reports)
        loads = [os.getloadavg()[0]]
        runs: dict[str, dict[str, list[dict[str, float]]]] = {v: {m: [] for m in MODES} for v in versions}
        for i in range(args.runs):
            for mode in MODES:
                for version, code in versions.items():
                    result = _run(code, corpus, mode)
                    runs[version][mode].append(result)
                    loads.append(result["load"])
                    print(f"run {i + 1} {version} {mode}: {result['rate']:,.0f} reports/s "
                          f"({result['cpu_ms']:.2f} CPU-ms each), load {result['load']:.1f}", flush=True)  # fmt: skip
        lines = [
            "## 解析速度 / parse speed",
            "",
            f"_`make bench-parse` (`bench/bench_parse.py{' --ref ' + args.ref if args.ref else ''}`), "
            f"{time.strftime('%Y-%m-%d %H:%M')}._  ",
            f"Machine: {machine()}. Load average (1 min) during the runs: {min(loads):.1f}–{max(loads):.1f}, median "
            f"{statistics.median(loads):.1f} (2 = both cores busy). {args.note}  ",
            f"Corpus: {args.reports:,} distinct generated reports (seed 12, layouts {', '.join(LAYOUTS)}; every noise "
            "level). Rates in reports/s, median of "
            f"{args.runs} (the runs in brackets); every run in a fresh process, the worker pool's start-up included.",
            "",
            "| code | in-process | --workers 1 | --workers 2 | speed-up 2 vs 1 | CPU per report (in-process) "
            "| parent's CPU per report (--workers 2) |",
            "|---|---|---|---|---|---|---|",
        ]
        for version in versions:
            lines += _table(version, runs[version])
        body = "\n".join(lines) + "\n"
        print(body)
        if not args.no_write:
            from bench.doc_section import write_section

            write_section(body, START, END, DOC)
            print(f"written to {DOC}")
    finally:
        for code in versions.values():
            if code != ROOT:
                shutil.rmtree(code, ignore_errors=True)
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
