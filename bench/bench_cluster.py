"""Cluster-engine benchmark: Dask and Ray for xxgk's ingest, against the embedded ``--workers 2`` path.

    .venv/bin/python bench/bench_cluster.py                    # every installed engine (make bench-cluster)
    .venv/bin/python bench/bench_cluster.py --engines dask,ray --repeat 3 --files 1000

Each engine runs in a fresh process per repetition (so start-up and memory are its own): a local cluster of two
worker processes; its start-up (until a first task came back); the memory (PSS) of this process and every process
the cluster started, idle and at the peak of an ingest; tasks per second for no-op tasks and for 3 ms tasks (the
size of one text report's parse); a real ``cluster_ingest`` of a generated text/HTML corpus at three batch sizes
(files/s, wall clock, into a new DuckDB); what the driver sees when a task's process crashes (SIGSEGV) and when a
task hangs (the engine's own cancel, and whether the next tasks still run).  The embedded ``ingest(workers=2)``
of the same corpus is the baseline.  Medians of ``--repeat`` runs go to the "集群引擎 / cluster engines" section of
docs/benchmarks.md (with the load average: the machine is shared).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.doc_section import write_section  # noqa: E402
from pipeline.ingest import ingest  # noqa: E402
from pipeline.ingest.cluster import cluster_ingest  # noqa: E402
from pipeline.ingest.engines import ENGINES, open_engine  # noqa: E402

DOC = ROOT / "docs" / "benchmarks.md"
START, END = "<!-- bench_cluster:start -->", "<!-- bench_cluster:end -->"
BATCHES = (16, 64, 256)


def noop(x: int) -> int:
    return x


def busy(ms: float) -> int:
    end, n = time.perf_counter() + ms / 1000, 0
    while time.perf_counter() < end:
        n += 1
    return n


def crash(_: int) -> None:
    os.kill(os.getpid(), signal.SIGSEGV)


def hang(_: int) -> None:
    time.sleep(3600)


def pss_mib() -> float:
    """PSS of this process and all its descendants (the local cluster's scheduler, raylet, workers …)."""
    me = psutil.Process()
    total = 0
    for p in [me, *me.children(recursive=True)]:
        with contextlib.suppress(psutil.Error):
            total += p.memory_full_info().pss
    return total / 2**20


class PeakMemory:
    def __init__(self) -> None:
        self.peak = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, pss_mib())
            self._stop.wait(0.2)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def gather(engine, handles: list) -> list:
    return [engine.result(h) for h in handles]


def one_run(name: str, corpus: Path, work: Path) -> dict:
    """Everything measured for one engine, in this (fresh) process."""
    out: dict = {"engine": name}
    t = time.perf_counter()
    engine = open_engine(name, workers=2)
    gather(engine, [engine.submit(noop, i) for i in range(2)])
    out["startup_s"] = time.perf_counter() - t
    time.sleep(1.0)
    out["idle_pss_mib"] = pss_mib()
    out["processes"] = 1 + len(psutil.Process().children(recursive=True))
    t = time.perf_counter()
    gather(engine, [engine.submit(noop, i) for i in range(1000)])
    out["noop_tasks_per_s"] = 1000 / (time.perf_counter() - t)
    t = time.perf_counter()
    gather(engine, [engine.submit(busy, 3) for _ in range(400)])
    out["busy3ms_tasks_per_s"] = 400 / (time.perf_counter() - t)
    for batch in BATCHES:
        db = work / f"{name}-{batch}.duckdb"
        with PeakMemory() as mem:
            t = time.perf_counter()
            summary = cluster_ingest([corpus], db=db, engine=engine, batch_files=batch, shard_dir=work / "shards")
        out[f"ingest_b{batch}_files_per_s"] = summary.n_files / (time.perf_counter() - t)
        out[f"ingest_b{batch}_peak_pss_mib"] = mem.peak
        db.unlink()
    # a task whose process dies: the engine retries it elsewhere (up to its limit), then reports it
    t = time.perf_counter()
    try:
        engine.result(engine.submit(crash, 0))
        out["crash"] = "no error"
    except Exception as exc:
        out["crash"] = type(exc).__name__
    out["crash_reported_s"] = time.perf_counter() - t
    t = time.perf_counter()
    gather(engine, [engine.submit(noop, 0)])
    out["after_crash_next_task_s"] = time.perf_counter() - t
    # a task that hangs: the engine's own cancel, then two 1-s tasks on the two workers (30 s at most)
    stuck = engine.submit(hang, 0)
    time.sleep(2.0)
    t = time.perf_counter()
    if name == "ray":
        engine.ray.cancel(stuck, force=True)
    else:
        stuck.cancel()
    after = [engine.submit(busy, 1000) for _ in range(2)]
    deadline = time.monotonic() + 30
    pending = list(after)
    while pending and time.monotonic() < deadline:
        done = engine.wait(pending, 1.0)
        pending = [h for h in pending if h not in done]
    out["after_hang_cancel_two_1s_tasks_s"] = None if pending else time.perf_counter() - t
    t = time.perf_counter()
    engine.close()
    out["shutdown_s"] = time.perf_counter() - t
    return out


def embedded_run(corpus: Path, work: Path) -> dict:
    db = work / "embedded.duckdb"
    with PeakMemory() as mem:
        t = time.perf_counter()
        summary = ingest([corpus], db=db, workers=2)
    rate = summary.n_files / (time.perf_counter() - t)
    db.unlink()
    return {"engine": "embedded", "ingest_files_per_s": rate, "ingest_peak_pss_mib": mem.peak}


def build_corpus(out: Path, files: int) -> Path:
    from pipeline.generator.corpus import CorpusConfig, write_corpus

    config = CorpusConfig(size="large", seed=7, limit=files, directory="shard",
                          layouts=("pdftext-tabs", "pdftext-layout", "html"))  # fmt: skip
    write_corpus(out, config, truth_files=False)
    (out / "manifest.csv").unlink()
    return out


def median(runs: list[dict], key: str) -> float | str | None:
    values = [r[key] for r in runs if r.get(key) is not None]
    if not values:
        return None
    if isinstance(values[0], str):
        return "/".join(sorted(set(values)))
    return statistics.median(values)


def fmt(v: float | str | None, digits: int = 1) -> str:
    if v is None:
        return "did not finish"
    return v if isinstance(v, str) else f"{v:,.{digits}f}"


def write_doc(results: dict[str, list[dict]], files: int, repeat: int, load: tuple[float, float]) -> str:
    import duckdb

    versions = [f"duckdb {duckdb.__version__}"]
    with contextlib.suppress(ImportError):
        import distributed

        versions.append(f"dask/distributed {distributed.__version__}")
    with contextlib.suppress(ImportError):
        import ray

        versions.append(f"ray {ray.__version__}")
    engines = [e for e in results if e != "embedded"]
    rows = [
        ("local cluster start-up, 2 workers (s)", "startup_s", 1),
        ("processes (driver + cluster)", "processes", 0),
        ("memory idle, PSS of all processes (MiB)", "idle_pss_mib", 0),
        ("no-op tasks per second", "noop_tasks_per_s", 0),
        ("3 ms tasks per second (2 cores: ideal 667)", "busy3ms_tasks_per_s", 0),
        *[(f"ingest, {b} files a task (files/s)", f"ingest_b{b}_files_per_s", 0) for b in BATCHES],
        *[(f"ingest peak memory, {b} files a task (MiB)", f"ingest_b{b}_peak_pss_mib", 0) for b in BATCHES],
        ("a task's process crashes: the driver gets", "crash", 0),
        ("… after (s)", "crash_reported_s", 1),
        ("a task hangs, engine cancel, then two 1 s tasks done after (s)", "after_hang_cancel_two_1s_tasks_s", 1),
    ]
    lines = [
        START,
        "## 集群引擎 / cluster engines (`make bench-cluster`)",
        "",
        f"_`bench/bench_cluster.py`, {time.strftime('%Y-%m-%d')}._  ",
        f"Machine: {os.cpu_count()} CPU, RAM {psutil.virtual_memory().total / 2**30:.1f} GiB, Python "
        f"{platform.python_version()}, {', '.join(versions)}; load average {load[0]:.1f} at the start and "
        f"{load[1]:.1f} at the end (other helpers' test suites were running: figures are pessimistic and noisy).  ",
        f"Corpus: {files:,} generated text/HTML reports; medians of {repeat} runs, each engine in a fresh process.",
        "",
        "| measure | " + " | ".join(engines) + " |",
        "|---|" + "---|" * len(engines),
    ]
    for label, key, digits in rows:
        lines.append(f"| {label} | " + " | ".join(fmt(median(results[e], key), digits) for e in engines) + " |")
    emb = results.get("embedded", [])
    if emb:
        lines += [
            "",
            f"Embedded `ingest(workers=2)` of the same corpus: **{fmt(median(emb, 'ingest_files_per_s'), 0)} files/s**,"
            f" peak {fmt(median(emb, 'ingest_peak_pss_mib'), 0)} MiB (runs: "
            + ", ".join(f"{r['ingest_files_per_s']:.0f}" for r in emb)
            + ").",
        ]
    lines += [
        "",
        "Every run: "
        + "; ".join(
            f"{e}: "
            + ", ".join(f"{r.get('ingest_b64_files_per_s', 0):.0f}" for r in results[e])
            + " files/s at 64 a task"
            for e in engines
        ),
    ]
    lines.append(END)
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--engines", default=None, help="comma-separated (default: every installed engine)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--files", type=int, default=1000)
    ap.add_argument("--one", help=argparse.SUPPRESS)  # internal: one run of one engine, JSON on stdout
    ap.add_argument("--corpus", help=argparse.SUPPRESS)
    ap.add_argument("--no-write", action="store_true", help="print, do not update docs/benchmarks.md")
    args = ap.parse_args()
    if args.one:
        with tempfile.TemporaryDirectory(prefix="xxgk-bench-") as work:
            print(json.dumps(one_run(args.one, Path(args.corpus), Path(work))))
        return
    names = args.engines.split(",") if args.engines else [e for e in ENGINES if _installed(e)]
    load0 = os.getloadavg()[0]
    results: dict[str, list[dict]] = {"embedded": []}
    with tempfile.TemporaryDirectory(prefix="xxgk-bench-") as tmp:
        corpus = build_corpus(Path(tmp) / "corpus", args.files)
        for i in range(args.repeat):
            results["embedded"].append(embedded_run(corpus, Path(tmp)))
            for name in names:
                cmd = [sys.executable, __file__, "--one", name, "--corpus", str(corpus)]
                done = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)
                lines = [ln for ln in done.stdout.splitlines() if ln.startswith("{")]
                if done.returncode or not lines:
                    print(f"{name} run {i + 1} failed:\n{done.stderr[-3000:]}", file=sys.stderr)
                    continue
                results.setdefault(name, []).append(json.loads(lines[-1]))
                print(name, i + 1, lines[-1], flush=True)
        shutil.rmtree(Path(tmp) / "shards", ignore_errors=True)
    section = write_doc(results, args.files, args.repeat, (load0, os.getloadavg()[0]))
    print(section)
    if not args.no_write:
        write_section(section, START, END, DOC)


def _installed(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec("distributed" if name == "dask" else name) is not None


if __name__ == "__main__":
    main()
