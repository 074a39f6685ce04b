"""What letting the parse workers go during each publish costs and saves (``WorkerPool.rest``), A/B.

    .venv/bin/python bench/worker_rest.py --files 1200 --publish-every 200 --rounds 2

Generates ``--files`` text/HTML reports (``bench_pipeline.build_corpus``: 300 base documents from pipeline.generator,
cloned with distinct markers and agency names), then ingests them into a new store once per mode and round, in a
fresh process each time, alternating the modes: ``rest`` (the default ingest: workers end after each session's last
file and new ones start for the next session) and ``keep`` (``WorkerPool.rest`` replaced by a no-op: the workers wait
through every publish, as before).  The whole process tree is watched from here (:mod:`bench.tree_monitor`): CPU
seconds of every process, and the tree's PSS while the ingest process runs the steps after each session's last file.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bench_pipeline import build_corpus  # noqa: E402
from bench.tree_monitor import TreeMonitor  # noqa: E402


def child(mode: str, corpus: Path, db: Path, every: int, marks: Path, manifest: Path) -> None:
    import functools

    import pipeline.store.database as database
    from pipeline.ingest import ingest, workers

    if mode == "keep":
        workers.WorkerPool.rest = lambda self: None  # type: ignore[method-assign]

    def mark(fn, what):  # noqa: ANN001, ANN202 - when each session's steps after its last file start and end
        @functools.wraps(fn)
        def marked(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
            try:
                return fn(*args, **kwargs)
            finally:
                with marks.open("a") as fh:
                    fh.write(f"{what} {time.time()}\n")

        return marked

    database.WriteSession.flush = mark(database.WriteSession.flush, "start")
    database._sync_search = mark(database._sync_search, "end")
    summary = ingest([corpus], db=db, manifest=manifest, workers=2, publish_every=every, batch_size=every + 1)
    print(f"sessions={summary.sessions} files={summary.n_files}", flush=True)


def run(mode: str, corpus: Path, manifest: Path, db: Path, every: int) -> dict[str, float]:
    marks = db.parent / "marks.txt"
    db.parent.mkdir(parents=True)
    proc = subprocess.Popen([sys.executable, __file__, "--child", mode, "--corpus", str(corpus), "--db", str(db),
                             "--publish-every", str(every), "--marks", str(marks), "--manifest", str(manifest)], cwd=ROOT)  # fmt: skip
    monitor = TreeMonitor(proc.pid)
    samples = []
    while proc.poll() is None:
        samples.append((time.time(), monitor.sample()))
        time.sleep(0.2)
    # the session's last flush starts its steps after the last file (WriteSession.flush is called there only:
    # batch_size is larger than a session), the full-text sync ends them
    events = [line.split() for line in marks.read_text().splitlines()]
    windows = [(float(a[1]), float(b[1])) for a, b in zip(events[::2], events[1::2], strict=False)]
    during = [s.pss for t, s in samples if any(lo <= t <= hi for lo, hi in windows)]
    return {"cpu_s": max(s.cpu for _, s in samples), "peak_mb": monitor.peak / 1e6,
            "publish_peak_mb": max(during, default=0) / 1e6, "publish_s": sum(hi - lo for lo, hi in windows),
            "wall_s": samples[-1][1].at if samples else 0.0}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--files", type=int, default=1200)
    ap.add_argument("--publish-every", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--child", choices=("rest", "keep"))
    ap.add_argument("--corpus", type=Path)
    ap.add_argument("--db", type=Path)
    ap.add_argument("--marks", type=Path)
    ap.add_argument("--manifest", type=Path)
    args = ap.parse_args()
    if args.child:
        child(args.child, args.corpus, args.db, args.publish_every, args.marks, args.manifest)
        return
    work = Path(tempfile.mkdtemp(prefix="xxgk-rest-"))
    try:
        manifest, _ = build_corpus(work / "corpus", args.files)
        results: dict[str, list[dict[str, float]]] = {"rest": [], "keep": []}
        for r in range(args.rounds):
            for mode in ("keep", "rest") if r % 2 else ("rest", "keep"):
                res = run(mode, work / "corpus", manifest, work / f"{mode}{r}" / "x.duckdb", args.publish_every)
                results[mode].append(res)
                print(
                    f"round {r + 1} {mode}: tree CPU {res['cpu_s']:.1f} s, peak PSS {res['peak_mb']:.0f} MB, "
                    f"peak PSS during the publishes {res['publish_peak_mb']:.0f} MB ({res['publish_s']:.0f} s), "
                    f"wall {res['wall_s']:.0f} s",
                    flush=True,
                )
        for mode, rs in results.items():
            print(
                f"{mode}: median tree CPU {statistics.median(r['cpu_s'] for r in rs):.1f} s, "
                f"median peak PSS {statistics.median(r['peak_mb'] for r in rs):.0f} MB, during the publishes "
                f"{statistics.median(r['publish_peak_mb'] for r in rs):.0f} MB",
                flush=True,
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
