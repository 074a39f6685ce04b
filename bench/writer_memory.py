"""The write path alone at scale: N reports into one write session, without parsing them again (≈ 2 CPU-ms each).

    XXGK_WRITER_MEMORY=128MB .venv/bin/python bench/writer_memory.py --reports 70000

300 generated text/HTML reports are parsed once; each is then written N / 300 times under a new hash and agency
name (what ``bench_pipeline.py --scale`` does by cloning files, minus the parse).  Every ``--every`` reports it
prints the CPU seconds, the PSS of this process and DuckDB's own memory by tag (``duckdb_memory()``), so a memory
problem of the writer shows in minutes instead of the hour a full ingest takes to reach it.
"""

from __future__ import annotations

import argparse
import copy
import shutil
import sys
import tempfile
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.memory_probe import MemoryProbe  # noqa: E402
from bench.tree_monitor import StepMeter, meter_publish_steps  # noqa: E402
from pipeline.generator.corpus import CorpusConfig, write_corpus  # noqa: E402
from pipeline.generator.renderers import layout_names  # noqa: E402
from pipeline.ingest import iter_source_files  # noqa: E402
from pipeline.model import ParseResult  # noqa: E402
from pipeline.parse import parse_file  # noqa: E402
from pipeline.store import Database  # noqa: E402


def base_results(folder: Path, n: int = 300) -> list[ParseResult]:
    """``n`` generated text/HTML reports (every such layout of the generator, seed 0) written under ``folder`` and
    parsed in this process, in the walk's order."""
    layouts = tuple(name for name in layout_names() if not name.startswith(("docx", "pdf-", "scan")))
    write_corpus(folder, CorpusConfig(size="large", limit=n, directory="shard", layouts=layouts), truth_files=False)
    return [parse_file(str(p)) for p in iter_source_files([folder]) if p.suffix != ".csv"]


def clone(result: ParseResult, i: int) -> ParseResult:
    """Report ``result`` again as the ``i``-th copy: a new hash and agency name, so the writer stores a new report."""
    report = copy.copy(result)
    report.meta = copy.copy(result.meta)
    report.sha256 = f"{i:064x}"
    if report.meta.agency:
        report.meta.agency = f"{report.meta.agency}（副本{i}）"
    return report


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reports", type=int, default=70_000)
    ap.add_argument("--every", type=int, default=10_000)
    ap.add_argument(
        "--publish-every",
        type=int,
        default=0,
        help="publish a write session every N reports, as a long ingest does (0: one session)",
    )
    ap.add_argument("--keep", type=Path, default=None, help="write the store here and keep it (default: deleted)")
    ap.add_argument(
        "--first",
        type=int,
        default=0,
        help="number the reports from here (a later session of a store kept with --keep)",
    )
    ap.add_argument(
        "--diagnose",
        action="store_true",
        help="after each session: what this process holds (heap, mappings, caches: bench/memory_probe.py)",
    )
    ap.add_argument(
        "--tracemalloc",
        type=int,
        default=0,
        metavar="FRAMES",
        help="with --diagnose: trace Python allocations (FRAMES deep), print what grew per session",
    )
    args = ap.parse_args()
    probe = MemoryProbe(args.tracemalloc) if args.diagnose else None
    meter = StepMeter()
    meter_publish_steps(meter)
    work = Path(tempfile.mkdtemp(prefix="xxgk-writer-"))
    try:
        base = [r for r in base_results(work / "base") if r.meta.edition is not None]
        if probe is not None:
            print(probe.report("before the first session"), flush=True)
        started = time.process_time()
        store = Database((args.keep or work / "store") / "x.duckdb")
        per_session = args.publish_every or args.reports
        end = args.first + args.reports
        for first in range(args.first, end, per_session):
            with store.write() as session:
                for i in range(first, min(first + per_session, end)):
                    report = clone(base[i % len(base)], i)
                    session.add(report, synthetic=True, source_path=f"/clone/{i}.txt")
                    if (i + 1) % args.every == 0:
                        tags = session.con.execute(
                            "SELECT tag, round(memory_usage_bytes / 1e6) FROM duckdb_memory()"
                            " WHERE memory_usage_bytes > 1e6"
                        ).fetchall()
                        pss = psutil.Process().memory_full_info().pss / 1e6
                        print(f"{i + 1:,} reports: CPU {time.process_time() - started:.0f} s, PSS {pss:.0f} MB, "
                              f"DuckDB {', '.join(f'{t} {mb:.0f} MB' for t, mb in tags)}", flush=True)  # fmt: skip
                loop_cpu = time.process_time() - started
            steps, meter.steps = meter.steps, []
            print(
                f"published {min(first + per_session, end):,} reports (this session's loop ended at CPU "
                f"{loop_cpu:.0f} s); steps after its last report:",
                flush=True,
            )
            for st in steps:
                print(
                    f"  {st['step']:<32} CPU {st['cpu_s']:7.1f} s  wall {st['wall_s']:7.1f} s  "
                    f"peak PSS {st['peak_mb']:6.0f} MB",
                    flush=True,
                )
            if probe is not None:
                print(probe.report(f"after session {(first - args.first) // per_session + 1}"), flush=True)
        print(
            f"published: {args.reports:,} reports, CPU {time.process_time() - started:.0f} s, "
            f"max RSS {psutil.Process().memory_info().rss / 1e6:.0f} MB now",
            flush=True,
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
