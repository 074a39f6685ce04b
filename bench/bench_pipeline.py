"""Pipeline benchmark: parse throughput, ingest throughput into DuckDB, peak memory as the corpus grows.

    .venv/bin/python bench/bench_pipeline.py            # 10,000 reports (≈ 2–4 minutes on 2 cores)
    .venv/bin/python bench/bench_pipeline.py --scale    # 100,000 reports (≈ 10–15 minutes on 2 cores)
    .venv/bin/python bench/bench_pipeline.py --scale --scale-reports 1000000 --workdir /tmp/xxgk-1m   # ≈ 1.5 h quiet

The corpus comes from the synthetic generator (``pipeline.generator``) when it is present; otherwise variants of the
seed and real fixture texts with rewritten numbers.  It is written file by file (1 M text/HTML reports: 7.5 GB,
≈ 9 GB on disk: give ``--workdir`` a disk with room), ingested into a new store by ``ingest`` in a fresh process, watched from here
(PSS and CPU seconds of the whole process tree, :mod:`bench.tree_monitor`), and deleted afterwards.  Results replace
the "解析与入库 / parse & ingest" section of docs/benchmarks.md (``--scale``: the "规模 / scale" section).
"""

from __future__ import annotations

import argparse
import csv
import itertools
import multiprocessing
import os
import platform
import queue
import random
import re
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.doc_section import write_section  # noqa: E402
from bench.machine import cpu_model  # noqa: E402
from bench.tree_monitor import StepMeter, TreeMonitor, load_average, meter_publish_steps  # noqa: E402
from pipeline.ingest import ParseJob, ingest, iter_source_files, parse_stream  # noqa: E402
from pipeline.store import Database  # noqa: E402

SHARED = ROOT.parent / "shared"
DOC = ROOT / "docs" / "benchmarks.md"
START, END = "<!-- bench_pipeline:start -->", "<!-- bench_pipeline:end -->"
SCALE_START, SCALE_END = "<!-- bench_pipeline_scale:start -->", "<!-- bench_pipeline_scale:end -->"


# ---------------------------------------------------------------------------------------------------------------
# Corpus


def build_corpus(out: Path, n: int, base_size: int = 300) -> tuple[Path, str]:
    """Write ``n`` report files under ``out`` plus a manifest; returns (manifest, description of the source).

    A base set of ``base_size`` documents comes from the synthetic generator (every text/HTML layout it has) or,
    without it, from the seed and real fixtures with rewritten numbers.  The base is then cloned up to ``n``
    files: each clone gets a distinct marker line (so a distinct sha256) and, through the manifest, a distinct
    agency name, so every clone is a new report and nothing is "unchanged" or "replaced".
    """
    base_dir = out.parent / "base"
    base_manifest = base_dir / "manifest.csv"
    try:
        from pipeline.generator.corpus import CorpusConfig, write_corpus
        from pipeline.generator.renderers import layout_names

        # text and HTML layouts only (PDF/DOCX/scan readers are benchmarked separately)
        layouts = tuple(name for name in layout_names() if not name.startswith(("docx", "pdf-", "scan")))
        config = CorpusConfig(size="large", limit=min(n, base_size), directory="shard", layouts=layouts)
        write_corpus(base_dir, config, truth_files=False, manifest=base_manifest)
        source = (
            f"pipeline.generator (size=large, seed 0, layouts {', '.join(layouts)}): {min(n, base_size)} base documents"
        )
    except ImportError:
        source = _variants(base_dir, min(n, base_size))
    rows: dict[str, dict[str, str]] = {}
    if base_manifest.exists():
        with base_manifest.open(encoding="utf-8") as fh:
            rows = {r["path"]: r for r in csv.DictReader(fh)}
    base = [p for p in iter_source_files([base_dir]) if p.suffix != ".csv"]
    manifest = out / "manifest.csv"
    out.mkdir(parents=True, exist_ok=True)
    with manifest.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(["path", "agency", "year", "region", "url", "synthetic"])
        for i in range(n):
            src = base[i % len(base)]
            row = rows.get(src.relative_to(base_dir).as_posix(), {})
            rel = f"{i // 1000:04d}/{i:07d}{src.suffix}"
            (out / rel).parent.mkdir(parents=True, exist_ok=True)
            data = src.read_bytes()
            marker = f"\n<!-- 基准副本 {i} -->\n" if src.suffix in (".html", ".htm") else f"\n（基准副本 {i}）\n"
            (out / rel).write_bytes(data + marker.encode("utf-8"))
            agency = row.get("agency", "")
            writer.writerow([rel, f"{agency}（副本{i // len(base)}）" if agency else "", row.get("year", ""),
                             row.get("region", ""), row.get("url", ""), "true"])  # fmt: skip
    shutil.rmtree(base_dir, ignore_errors=True)
    return manifest, f"{source}, cloned to {n:,} files"


def _variants(out: Path, n: int) -> str:
    """Fallback: the seed and real texts with every table number rewritten and the agency renamed."""
    sources = [
        SHARED / "seeds" / "000_b167490a9537da4f.txt",
        *sorted((SHARED / "fixtures" / "real").glob("*/source.txt")),
    ]
    texts = [p.read_text(encoding="utf-8") for p in sources if p.exists()]
    if not texts:
        raise SystemExit(f"no generator and no shared texts under {SHARED}")
    rng = random.Random(0)
    for i in range(n):
        text = texts[i % len(texts)]
        text = re.sub(r"(?<=\t)\d+(?=\t|\n)", lambda _m: str(rng.randint(0, 30)), text)
        text = text.replace("阜新市司法局", f"阜新市基准{i}局").replace("淮安市", f"基准{i}市")
        folder = out / f"{i // 1000:04d}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{i:07d}.txt").write_text(text, encoding="utf-8")
    return f"seed/real fixture variants with rewritten numbers ({len(texts)} templates): {n} base documents"


# ---------------------------------------------------------------------------------------------------------------
# Measurements


def parse_rate(files: list[str], workers: int) -> float:
    started = time.perf_counter()
    n = sum(1 for _ in parse_stream((ParseJob(f) for f in files), workers=workers))
    return n / (time.perf_counter() - started)


def _ingest_child(results: multiprocessing.Queue, parsed: Any, corpus: Path, manifest: Path | None, db: Path,
                  workers: int) -> None:  # fmt: skip
    """``ingest`` as ``xxgk ingest`` runs it, in a fresh process; ``parsed`` counts the files parsed so far.

    The copied-text update and the full-text sync that follow the parse are wrapped in timers (they run as they
    are), so the result says where the time after the last parsed file went."""
    import pipeline.reuse as reuse_module
    import pipeline.store.database as database_module

    t0 = time.perf_counter()
    marks: dict[str, float] = {}

    def timed(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def run(*args: Any, **kwargs: Any) -> Any:
            marks[f"{name}_start"] = time.perf_counter() - t0
            try:
                return fn(*args, **kwargs)
            finally:
                marks[f"{name}_end"] = time.perf_counter() - t0

        return run

    reuse_module.update = timed("reuse", reuse_module.update)
    database_module._sync_search = timed("search", database_module._sync_search)
    meter = StepMeter(interval=0.5)  # then each post-loop step of every write session: CPU s and peak PSS
    meter_publish_steps(meter)

    def on_parsed(_outcome: object) -> None:
        parsed.value += 1
        marks["parsed"] = time.perf_counter() - t0

    summary = ingest([corpus], db=db, manifest=manifest, workers=workers, on_parsed=on_parsed)
    marks["end"] = time.perf_counter() - t0
    n_facts = Database(db).execute("SELECT count(*) FROM facts")[0][0]
    results.put({"seconds": summary.seconds, "files": summary.n_files, "counts": summary.as_dict(), "facts": n_facts,
               "marks": marks, "search_note": summary.search_note, "sessions": summary.sessions,
               "steps": meter.steps})  # fmt: skip


def measure_ingest_fresh(corpus: Path, manifest: Path | None, db: Path, workers: int, checkpoints: tuple[int, ...],
                         n_files: int, interval: float = 0.5) -> dict[str, Any]:  # fmt: skip
    """Ingest ``corpus`` into a new store ``db`` in a fresh process (as the CLI: the memory figure holds the ingest
    alone, not this script's corpus or warmed caches), watched from here (:class:`TreeMonitor`): at every
    checkpoint the files parsed, elapsed seconds, rates, PSS and CPU seconds of the whole process tree."""
    shutil.rmtree(db.parent, ignore_errors=True)
    db.parent.mkdir(parents=True)
    ctx = multiprocessing.get_context("spawn")
    results = ctx.Queue()
    parsed = ctx.Value("q", 0, lock=False)
    child = ctx.Process(target=_ingest_child, args=(results, parsed, corpus, manifest, db, workers))
    child.start()
    monitor = TreeMonitor(child.pid or 0)
    todo = [c for c in checkpoints if c <= n_files]
    rows: list[dict[str, float]] = []
    last_n, last_at, last_log, parse_peak = 0, 0.0, 0.0, 0
    result: dict[str, Any] | None = None
    while result is None:
        now = monitor.sample()
        done = parsed.value
        while todo and done >= todo[0]:
            n = todo.pop(0)
            rows.append({"reports": n, "seconds": now.at, "rate": n / now.at, "rate_since": (n - last_n) / max(now.at - last_at, 1e-9),
                         "pss_mb": now.pss / 1e6, "peak_mb": monitor.peak / 1e6, "cpu_s": now.cpu, "load": load_average()})  # fmt: skip
            last_n, last_at = n, now.at
            log(f"checkpoint {n:,}: {now.at:,.0f} s, {rows[-1]['rate']:,.0f} reports/s "
                f"({rows[-1]['rate_since']:,.0f}/s since {rows[-2]['reports'] if len(rows) > 1 else 0:,}), "
                f"PSS {now.pss / 1e6:,.0f} MB (peak {monitor.peak / 1e6:,.0f}), CPU {now.cpu:,.0f} s, load {load_average():.1f}")  # fmt: skip
        if done >= n_files and not parse_peak:
            parse_peak = monitor.peak
        if now.at - last_log >= 60:
            last_log = now.at
            log(f"progress {done:,}/{n_files:,} parsed, {now.at:,.0f} s, PSS {now.pss / 1e6:,.0f} MB "
                f"(peak {monitor.peak / 1e6:,.0f}), CPU {now.cpu:,.0f} s, {now.processes} processes, load {load_average():.1f}")  # fmt: skip
        try:
            result = results.get(timeout=interval)
        except queue.Empty:
            if not child.is_alive():
                raise SystemExit(f"the ingest process ended without a result (exit code {child.exitcode})") from None
    final = monitor.sample()
    child.join()
    store_bytes = sum(f.stat().st_size for f in db.parent.rglob("*") if f.is_file())
    result.update(checkpoints=rows, wall_s=final.at, cpu_s=final.cpu, peak_mb=monitor.peak / 1e6,
                  parse_peak_mb=(parse_peak or monitor.peak) / 1e6, store_mb=store_bytes / 1e6,
                  store_parts={f.name: _size(f) / 1e6 for f in sorted(db.parent.iterdir())})  # fmt: skip
    log(f"ingest done: {result}")
    return result


def _size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) if path.is_dir() else path.stat().st_size


def log(line: str) -> None:
    print(f"[{time.strftime('%H:%M:%S', time.gmtime())} UTC] {line}", flush=True)


def machine() -> str:
    cpu = cpu_model() or platform.processor() or ""
    return (f"{os.cpu_count()} CPU ({cpu}), RAM {psutil.virtual_memory().total / 2**30:.1f} GiB, "
            f"Python {platform.python_version()}, duckdb {duckdb.__version__}, {platform.system()} {platform.release()}")  # fmt: skip


# ---------------------------------------------------------------------------------------------------------------


CHECKPOINTS = (2_000, 5_000, 10_000, 20_000, 50_000, 100_000, 250_000, 500_000, 750_000, 1_000_000)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reports", type=int, default=10_000, help="corpus size for the ingest run")
    ap.add_argument("--parse-sample", type=int, default=1_000, help="reports per parse-throughput run (0: none)")
    ap.add_argument("--runs", type=int, default=3, help="runs of the parse measurements (median reported)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--scale", action="store_true", help="stream --scale-reports reports (the scale section)")
    ap.add_argument("--scale-reports", type=int, default=100_000)
    ap.add_argument("--no-write", action="store_true", help="print the section, do not touch docs/")
    ap.add_argument("--workdir", type=Path, default=None, help="scratch folder (default: a temp dir; deleted after)")
    ap.add_argument("--beside", default="", help="what ran beside the benchmark (written into the section)")
    ap.add_argument(
        "--corpus",
        type=Path,
        default=None,
        help="use a corpus an earlier run wrote (its folder, with manifest.csv) instead of generating one; kept",
    )
    ap.add_argument("--keep", action="store_true", help="keep the scratch folder (the store) after the run")
    args = ap.parse_args()

    n = args.scale_reports if args.scale else args.reports
    if args.workdir:
        args.workdir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="xxgk-bench-", dir=args.workdir))
    try:
        t0 = time.perf_counter()
        if args.corpus:
            corpus, manifest = args.corpus, args.corpus / "manifest.csv"
            if not manifest.exists():
                raise SystemExit(f"{args.corpus}: no manifest.csv (not a corpus written by this benchmark)")
            source = f"the corpus an earlier run of this benchmark generated ({args.corpus})"
        else:
            corpus = work / "corpus"
            manifest, source = build_corpus(corpus, n)
        gen_s = time.perf_counter() - t0
        corpus_gb = _size(corpus) / 1e9
        log(f"corpus: {n:,} files, {corpus_gb:.1f} GB in {gen_s:.0f} s ({source})")

        sample = [str(p) for p in itertools.islice(iter_source_files([corpus], exclude=manifest), args.parse_sample)]
        one: list[float] = []
        two: list[float] = []
        if sample:
            parse_rate(sample[:50], 1)  # warm-up (imports, caches)
            one = [parse_rate(sample, 1) for _ in range(args.runs)]
            log(f"parse 1 process: {[round(x) for x in one]} reports/s")
            two = [parse_rate(sample, args.workers) for _ in range(args.runs)]
            log(f"parse --workers {args.workers}: {[round(x) for x in two]} reports/s")

        load_before = os.getloadavg()
        res = measure_ingest_fresh(
            corpus, manifest, work / "store" / "bench.duckdb", args.workers, (*CHECKPOINTS, n), n
        )
        body = section(args, res, source, gen_s, corpus_gb, sample, one, two, load_before)
        print(body, flush=True)
        if not args.no_write:
            write_section(body, *((SCALE_START, SCALE_END) if args.scale else (START, END)))
            log(f"written to {DOC}")
    finally:
        if args.keep:
            log(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


def step_table(steps: list[dict[str, Any]], sessions: int) -> list[str]:
    """What each step after a write session's last report cost, over the run's sessions (ingest process only)."""
    if not steps:
        return []
    names = list(dict.fromkeys(str(s["step"]) for s in steps))
    rows = []
    for name in names:
        mine = [s for s in steps if s["step"] == name]
        cpu = [float(s["cpu_s"]) for s in mine]
        rows.append(f"| {name} | {len(mine)} | {sum(cpu):,.1f} | {cpu[0]:,.1f} | {max(cpu):,.1f} | {cpu[-1]:,.1f} "
                    f"| {max(float(s['peak_mb']) for s in mine):,.0f} MB |")  # fmt: skip
    return [
        "",
        f"Steps after each write session's last report ({sessions} sessions of at most `PUBLISH_EVERY` files; CPU "
        "seconds and peak PSS of the ingest process alone, sampled every 0.5 s while the step ran):",
        "",
        "| step | calls | CPU s total | first | max | last | peak PSS |",
        "|---|---:|---:|---:|---:|---:|---:|",
        *rows,
    ]


def section(args: argparse.Namespace, res: dict[str, Any], source: str, gen_s: float, corpus_gb: float,
            sample: list[str], one: list[float], two: list[float], load_before: tuple[float, ...]) -> str:  # fmt: skip
    """The docs/benchmarks.md section of one run."""
    files, marks, wall, cpu = res["files"], res["marks"], res["wall_s"], res["cpu_s"]
    parse_end = marks.get("parsed", 0.0)
    phases = [f"parse + write of every file {parse_end:,.0f} s"]
    for name, label in (("reuse", "copied-text update"), ("search", "full-text index sync")):
        if f"{name}_end" in marks:
            phases.append(f"{label} {marks[f'{name}_end'] - marks[f'{name}_start']:,.0f} s")
    phases.append(f"whole run {marks['end']:,.0f} s in the ingest process")
    counts = ", ".join(f"{k} {v:,}" for k, v in res["counts"].items())
    load = os.getloadavg()
    lines = [
        f"## 规模 / scale: {files:,} reports" if args.scale else "## 解析与入库 / parse & ingest",
        "",
        f"_`bench/bench_pipeline.py{f' --scale --scale-reports {files}' if args.scale else ''}`"
        f" (`make bench-ingest-scale{f' REPORTS={files}' if args.scale else ''}`), {time.strftime('%Y-%m-%d')}._  ",
        f"Machine: {machine()}.  Load average (1, 5, 15 min) at the start of the ingest "
        f"{', '.join(f'{x:.1f}' for x in load_before)}, at its end {', '.join(f'{x:.1f}' for x in load)} "
        "(1 = one busy core; the machine is shared, so wall-clock rates under load are pessimistic and the CPU "
        f"seconds are the load-independent figure).{f'  Beside it: {args.beside}.' if args.beside else ''}  ",
        f"Corpus: {source} (text/HTML, {corpus_gb:.1f} GB"
        + ("; kept)." if args.corpus else f"; generated in {gen_s:,.0f} s, deleted afterwards)."),
        "",
        "| measure | result | target |",
        "|---|---|---|",
    ]
    if sample:
        lines += [
            f"| parse, 1 process ({len(sample):,} reports, median of {len(one)}) | **{statistics.median(one):,.0f} "
            f"reports/s** (runs: {', '.join(f'{x:,.0f}' for x in one)}) | ≥ 1,000 reports/s per core |",
            f"| parse, --workers {args.workers} (median of {len(two)}) | **{statistics.median(two):,.0f} reports/s** "
            f"(runs: {', '.join(f'{x:,.0f}' for x in two)}) | — |",
        ]
    lines += [
        f"| ingest {files:,} reports into a new store, --workers {args.workers} (1 run, wall) | **{wall:,.0f} s** "
        f"({wall / 60:,.1f} min; {files / wall:,.0f} reports/s) | 1 M in < 30 min on 2 cores |",
        f"| CPU seconds of the whole run (user + system of the ingest process, forkserver and workers) | "
        f"**{cpu:,.0f} s** ({cpu / files * 1000:.2f} ms per report) | — |",
        f"| quiet 2-core estimate (CPU seconds / 2, assumes both cores busy throughout) | **{cpu / 2:,.0f} s** "
        f"({cpu / 2 / 60:,.1f} min) | < 30 min |",
        f"| peak memory (PSS) of the ingest process + forkserver + workers, sampled every 0.5 s | "
        f"**{res['peak_mb']:,.0f} MB** (while parsing: {res['parse_peak_mb']:,.0f} MB) | < 500 MB, flat |",
        f"| store | {res['facts']:,} facts; {res['store_mb']:,.0f} MB on disk ("
        + ", ".join(f"{k} {v:,.0f} MB" for k, v in res["store_parts"].items())
        + ") | — |",
        "",
        "| reports parsed | elapsed | reports/s (since start) | reports/s (since previous) | PSS now | PSS peak so far "
        "| CPU s so far | load (1 min) |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
        *(
            f"| {r['reports']:,} | {r['seconds']:,.0f} s | {r['rate']:,.0f} | {r['rate_since']:,.0f} | {r['pss_mb']:,.0f} MB "
            f"| {r['peak_mb']:,.0f} MB | {r['cpu_s']:,.0f} | {r['load']:.1f} |"
            for r in res["checkpoints"]
        ),  # fmt: skip
        "",
        f"Phases: {'; '.join(phases)}.  Ingest outcome: {counts}."
        + (f"  Full-text index: {res['search_note']}" if res.get("search_note") else ""),
        *step_table(res.get("steps", []), res.get("sessions", 1)),
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
