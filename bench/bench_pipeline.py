"""Pipeline benchmark: parse throughput, ingest throughput into DuckDB, peak memory as the corpus grows.

    .venv/bin/python bench/bench_pipeline.py            # 10,000 reports (≈ 2–4 minutes on 2 cores)
    .venv/bin/python bench/bench_pipeline.py --scale    # stream up to 100,000 reports (≈ 15 minutes budget)

The corpus comes from the synthetic generator (``pipeline.generator``) when it is present; otherwise variants of the
seed and real fixture texts with rewritten numbers.  Everything is written under a temp folder and deleted
afterwards.  Results replace the "解析与入库 / parse & ingest" section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import multiprocessing
import os
import platform
import random
import re
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import duckdb
import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.machine import cpu_model  # noqa: E402
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
        source = f"pipeline.generator (size=large, seed 0, layouts {', '.join(layouts)}): {min(n, base_size)} base documents"
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
            marker = (
                f"\n<!-- 基准副本 {i} -->\n" if src.suffix in (".html", ".htm") else f"\n（基准副本 {i}）\n"
            )
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


class RssSampler:
    """Samples the memory of this process plus all its children every ``interval`` seconds; keeps the peak.

    Uses PSS (proportional set size) where the OS reports it, so pages shared between the parent and its worker
    processes (the Python runtime, libduckdb) are not counted once per process; RSS otherwise.
    """

    def __init__(self, interval: float = 0.1) -> None:
        self.proc = psutil.Process()
        self.interval = interval
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def current(self) -> int:
        total = 0
        for p in [self.proc, *self.proc.children(recursive=True)]:
            with contextlib.suppress(psutil.Error):
                try:
                    total += p.memory_full_info().pss
                except AttributeError:
                    total += p.memory_info().rss
        return total

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.current())
            time.sleep(self.interval)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def parse_rate(files: list[str], workers: int) -> float:
    started = time.perf_counter()
    n = sum(1 for _ in parse_stream((ParseJob(f) for f in files), workers=workers))
    return n / (time.perf_counter() - started)


def measure_ingest(corpus: Path, manifest: Path | None, db: Path, workers: int,
                   checkpoints: tuple[int, ...]) -> dict[str, object]:  # fmt: skip
    for p in db.parent.glob(db.name + "*"):
        p.unlink()
    at: dict[int, float] = {}
    done = 0
    with RssSampler() as rss:

        def on_parsed(_outcome: object) -> None:
            nonlocal done
            done += 1
            if done in checkpoints:
                at[done] = rss.peak / 1e6

        summary = ingest([corpus], db=db, manifest=manifest, workers=workers, on_parsed=on_parsed)
    n_facts = Database(db).execute("SELECT count(*) FROM facts")[0][0]
    return {"seconds": summary.seconds, "files": summary.n_files, "counts": summary.as_dict(), "rss_at": at,
            "peak_mb": rss.peak / 1e6, "facts": n_facts, "db_mb": db.stat().st_size / 1e6}  # fmt: skip


def _ingest_child(queue: multiprocessing.Queue, args: tuple) -> None:
    queue.put(measure_ingest(*args))


def measure_ingest_fresh(corpus: Path, manifest: Path | None, db: Path, workers: int,
                         checkpoints: tuple[int, ...]) -> dict[str, object]:  # fmt: skip
    """:func:`measure_ingest` in a fresh process, as ``xxgk ingest`` runs: the memory figure then holds the
    ingest alone, not this script's corpus list or the caches its parse-throughput runs warmed."""
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    child = ctx.Process(target=_ingest_child, args=(queue, (corpus, manifest, db, workers, checkpoints)))
    child.start()
    result = queue.get()
    child.join()
    return result


def machine() -> str:
    cpu = cpu_model() or platform.processor() or ""
    return (f"{os.cpu_count()} CPU ({cpu}), RAM {psutil.virtual_memory().total / 2**30:.1f} GiB, "
            f"Python {platform.python_version()}, duckdb {duckdb.__version__}, {platform.system()} {platform.release()}")  # fmt: skip


def write_section(body: str, start: str = START, end: str = END) -> None:
    block = f"{start}\n{body.rstrip()}\n{end}\n"
    text = DOC.read_text(encoding="utf-8") if DOC.exists() else "# 基准测试 / Benchmarks\n\n"
    if start in text and end in text:
        text = text[: text.index(start)] + block + text[text.index(end) + len(end) + 1 :]
    else:
        text = text.rstrip() + "\n\n" + block
    DOC.parent.mkdir(parents=True, exist_ok=True)
    DOC.write_text(text, encoding="utf-8")


# ---------------------------------------------------------------------------------------------------------------


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reports", type=int, default=10_000, help="corpus size for the ingest run")
    ap.add_argument("--parse-sample", type=int, default=1_000, help="reports per parse-throughput run")
    ap.add_argument("--runs", type=int, default=3, help="runs of the parse measurements (median reported)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--scale", action="store_true", help="stream up to --scale-reports reports")
    ap.add_argument("--scale-reports", type=int, default=100_000)
    ap.add_argument("--no-write", action="store_true", help="print the section, do not touch docs/")
    ap.add_argument("--workdir", type=Path, default=None, help="scratch folder (default: a temp dir)")
    args = ap.parse_args()

    n = args.scale_reports if args.scale else args.reports
    work = Path(tempfile.mkdtemp(prefix="xxgk-bench-", dir=args.workdir))
    try:
        t0 = time.perf_counter()
        corpus = work / "corpus"
        manifest, source = build_corpus(corpus, n)
        gen_s = time.perf_counter() - t0
        files = [str(p) for p in iter_source_files([corpus]) if not p.name.endswith(".csv")]
        print(f"corpus: {len(files)} files in {gen_s:.0f} s ({source})", flush=True)

        sample = files[: args.parse_sample]
        parse_rate(sample[:50], 1)  # warm-up (imports, caches)
        one = [parse_rate(sample, 1) for _ in range(args.runs)]
        print(f"parse 1 process: {[round(x) for x in one]} reports/s", flush=True)
        two = [parse_rate(sample, args.workers) for _ in range(args.runs)]
        print(f"parse --workers {args.workers}: {[round(x) for x in two]} reports/s", flush=True)

        checkpoints = tuple(
            c for c in (2_000, 5_000, 10_000, 20_000, 50_000, 100_000, 200_000) if c <= len(files)
        )
        res = measure_ingest_fresh(corpus, manifest, work / "bench.duckdb", args.workers, checkpoints)
        print(f"ingest: {res}", flush=True)

        med1, med2 = statistics.median(one), statistics.median(two)
        rss_line = ", ".join(f"{k:,} → {v:.0f} MB" for k, v in sorted(res["rss_at"].items()))
        per_report = res["seconds"] / max(res["files"], 1)
        counts = ", ".join(f"{k} {v}" for k, v in res["counts"].items())
        lines = [
            f"## 规模 / scale: {res['files']:,} reports" if args.scale else "## 解析与入库 / parse & ingest",
            "",
            f"_`bench/bench_pipeline.py{' --scale' if args.scale else ''}`, {time.strftime('%Y-%m-%d')}._  ",
            f"Machine: {machine()}; load average during the run {os.getloadavg()[1]:.1f} (1 = one busy core; "
            "the machine is shared, so rates under load are pessimistic).  ",
            f"Corpus: {source} (text/HTML; generated in {gen_s:.0f} s, deleted afterwards).",
            "",
            "| measure | result | target |",
            "|---|---|---|",
            f"| parse, 1 process ({len(sample):,} reports, median of {args.runs}) | **{med1:,.0f} reports/s** "
            f"(runs: {', '.join(f'{x:,.0f}' for x in one)}) | ≥ 1,000 reports/s per core |",
            f"| parse, --workers {args.workers} (median of {args.runs}) | **{med2:,.0f} reports/s** "
            f"(runs: {', '.join(f'{x:,.0f}' for x in two)}) | — |",
            f"| ingest {res['files']:,} reports into DuckDB, --workers {args.workers} (1 run) | "
            f"**{res['seconds']:.1f} s** ({res['files'] / res['seconds']:,.0f} reports/s; {res['facts']:,} facts; "
            f"DB {res['db_mb']:.0f} MB) | 10,000 in < 60 s |",
            f"| peak memory (PSS) of the ingest process + its workers (a fresh process, as the CLI), sampled every 100 ms | **{res['peak_mb']:.0f} MB** "
            f"(peak so far at {rss_line}) | < 500 MB, flat |",
            "",
            f"Ingest outcome: {counts}.",
            f"Extrapolation to 1,000,000 reports at the measured rate: ≈ {per_report * 1e6 / 3600:.1f} h on "
            f"{args.workers} workers (parse-bound, scales with cores).  Memory is bounded by design: files are "
            "walked lazily, at most 4 chunks per worker are in flight, the writer flushes every 200 reports into a "
            "DuckDB capped at `XXGK_WRITER_MEMORY` (128 MB), and the parser's caches have fixed sizes; the "
            "checkpoints above show how flat it stays.  What still grows with the corpus: the manifest (≈ 0.37 KB "
            "per row, held for look-ups) and DuckDB's buffer filling up to its cap.",
        ]
        body = "\n".join(lines) + "\n"
        print(body)
        if not args.no_write:
            write_section(body, *((SCALE_START, SCALE_END) if args.scale else (START, END)))
            print(f"written to {DOC}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
