"""The ingest parent's CPU per report, step by step, and a digest of what it stored (an A/B check of the write path).

    nice -n 19 .venv/bin/python bench/writer_profile.py --reports 3000 [--profile out.prof] [--digest]

300 generated text/HTML reports are parsed once in this process; each is then cloned under a new hash and agency
name (as ``writer_memory.py`` does) and goes the parent's way of a real ingest: the parse outcome is pickled as a
worker sends it (not counted: the worker's share) and unpickled as the parent receives it, then written through one
write session, whose steps after the last report are metered (:class:`bench.tree_monitor.StepMeter`).  Prints the
CPU-ms per report of receiving, of the write loop and of each post-loop step.  ``--digest`` prints a hash of every
table of the store and of the full-text index (rows sorted), so two revisions of the write path can be compared on
the same input: equal digests, identical stores.
"""

from __future__ import annotations

import argparse
import cProfile
import hashlib
import pickle
import pstats
import shutil
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.tree_monitor import StepMeter, meter_publish_steps  # noqa: E402
from bench.writer_memory import base_results, clone  # noqa: E402
from pipeline.ingest import ParseJob  # noqa: E402
from pipeline.ingest.parsing import ParseOutcome  # noqa: E402
from pipeline.ingest.workers import ForkingPickler  # noqa: E402  (the reducers the workers send with)
from pipeline.store import Database  # noqa: E402

# Columns that differ between two runs by construction (when a row was written), left out of the digest.
VOLATILE = {"loaded_at", "at", "applied_at", "created_at"}


def digest(db: Path) -> dict[str, str]:
    """sha256 of every store table's rows (sorted, volatile columns left out) and of the full-text index."""
    from pipeline.store.reads import open_read_only

    out: dict[str, str] = {}
    con = open_read_only(db)
    try:
        names = con.execute(
            "SELECT 'memory', view_name FROM duckdb_views() WHERE database_name = 'memory' AND NOT internal"
            " UNION ALL SELECT database_name, table_name FROM duckdb_tables()"
            " WHERE NOT regexp_full_match(database_name, 's[0-9]+') ORDER BY ALL"
        ).fetchall()
        for dbname, t in names:
            rel = f'"{t}"' if dbname == "memory" else f'"{dbname}".main."{t}"'
            cols = [
                c for (c,) in con.execute(f"SELECT column_name FROM (DESCRIBE {rel})").fetchall() if c not in VOLATILE
            ]
            if not cols:
                continue
            sel = ", ".join(f'"{c}"' for c in cols)
            rows = con.execute(f"SELECT {sel} FROM {rel} ORDER BY ALL").fetchall()
            out[f"{dbname}.{t}"] = f"{len(rows)} rows " + hashlib.sha256(repr(rows).encode()).hexdigest()[:16]
    finally:
        con.close()
    for index in sorted(db.parent.glob(f"{db.name}*search*")):
        if index.is_file() and not index.name.endswith(("-wal", "-shm", ".lock")):
            lite = sqlite3.connect(f"file:{index}?mode=ro", uri=True)
            try:
                names = [n for (n,) in lite.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '%_data'"
                    " AND name NOT LIKE '%_idx' AND name NOT LIKE '%_docsize' AND name NOT LIKE '%_config'"
                    " ORDER BY name").fetchall()]  # fmt: skip
                for n in names:
                    rows = sorted(map(repr, lite.execute(f'SELECT * FROM "{n}"').fetchall()))
                    out[f"search:{n}"] = f"{len(rows)} rows " + hashlib.sha256("".join(rows).encode()).hexdigest()[:16]
                for fts in ("tri", "grams"):  # the inverted indexes themselves: every (term, document) posting
                    if fts in names:
                        lite.execute(f"CREATE VIRTUAL TABLE temp.v_{fts} USING fts5vocab(main, {fts}, 'instance')")
                        rows = sorted(map(repr, lite.execute(f"SELECT term, doc FROM temp.v_{fts}").fetchall()))
                        out[f"search:{fts} postings"] = (
                            f"{len(rows)} rows " + hashlib.sha256("".join(rows).encode()).hexdigest()[:16]
                        )
            finally:
                lite.close()
    for f in sorted(db.parent.glob(f"{db.name}.reuse/*")):  # the copied-text index files
        out[f"reuse:{f.name}"] = hashlib.sha256(f.read_bytes()).hexdigest()[:16]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reports", type=int, default=3000)
    ap.add_argument("--profile", type=Path, default=None, help="write a cProfile of the parent's work here")
    ap.add_argument("--top", type=int, default=0, help="print the top N functions by cumulative time")
    ap.add_argument("--digest", action="store_true", help="print a hash of every table (identity A/B)")
    ap.add_argument("--keep", type=Path, default=None, help="write the store here and keep it")
    args = ap.parse_args()
    meter = StepMeter()
    meter_publish_steps(meter)
    work = Path(tempfile.mkdtemp(prefix="xxgk-wprof-"))
    try:
        base = base_results(work / "base")
        # what the workers send, one message per file (built here, outside the parent's meter)
        sent = []
        for i in range(args.reports):
            report = clone(base[i % len(base)], i)
            sent.append(bytes(ForkingPickler.dumps(("done", i, ParseOutcome(ParseJob(f"/clone/{i}.txt", None, True),
                                                                              report, None, 0.01, report.sha256)))))  # fmt: skip
        store_dir = args.keep or work / "store"
        store = Database(store_dir / "x.duckdb")
        prof = cProfile.Profile() if args.profile or args.top else None
        recv_cpu = write_cpu = 0.0
        t0 = time.process_time()
        if prof:
            prof.enable()
        with store.write() as session:
            for buf in sent:
                a = time.process_time()
                _, _seq, outcome = pickle.loads(buf)
                b = time.process_time()
                job = outcome.job
                session.add(outcome.result, synthetic=job.synthetic, source_path=job.path, seconds=outcome.seconds)
                write_cpu += time.process_time() - b
                recv_cpu += b - a
            a = time.process_time()
            session.flush()
            write_cpu += time.process_time() - a
        if prof:
            prof.disable()
        total = time.process_time() - t0
        n = args.reports
        print(f"{n:,} reports, parent CPU {total:.1f} s = {1000 * total / n:.2f} CPU-ms per report")
        print(f"  receive (unpickle)               {1000 * recv_cpu / n:6.2f} CPU-ms/report")
        print(f"  write loop (add + flush)         {1000 * write_cpu / n:6.2f} CPU-ms/report")
        for st in meter.steps:
            print(
                f"  {st['step']:<32} {1000 * float(st['cpu_s']) / n:6.2f} CPU-ms/report  ({float(st['cpu_s']):.2f} s)"
            )
        if prof:
            if args.profile:
                prof.dump_stats(str(args.profile))
            if args.top:
                pstats.Stats(prof).sort_stats("tottime").print_stats(args.top)
        if args.digest:
            for name, h in digest(store_dir / "x.duckdb").items():
                print(f"digest {name}: {h}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
