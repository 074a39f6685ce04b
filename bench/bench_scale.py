"""Scale benchmark: stores of 10 k, 100 k and 1 M reports; every named query, every page, a one-file ingest.

    .venv/bin/python bench/bench_scale.py [--sizes 10000,100000,1000000] [--dir /tmp/xxgk-scale] [--repeat 5]
                                          [--no-pages] [--only queries,pages,ingest] [--write]   # make bench-scale

For each size: the store is built by :mod:`bench.bench_scale_build` (the demo store replicated in bulk SQL into the
store's own layout: every table the write path writes, ``report_cells`` included, and the derived indexes beside
it — copied-text band index, full-text index — replicated as the write path would have left them, so the one-file
ingest below does only its own work) unless it is already there (a store built without its indexes gets them
added); then

- every named query the pages call is timed over three filter sets — none; one year; one province and one level —
  ``--repeat`` times each after one untimed run (so p50/p95 are over 3 × repeat runs, on one cached read
  connection as the dashboard has it);
- the first render of every page in headless Chromium (:func:`bench.bench_pages.measure`, one tab per page, the
  server's query cache warmed by one visit, as for any user but the first);
- a one-file ingest (``xxgk ingest <one generated report> --db <store>``, a separate process as a user runs it)
  while the dashboard is open on the same store and has just drawn a page: wall time of the command, peak RSS.

``--only pages`` (or ``queries``, ``ingest``, comma-separated) runs just those parts against stores already built;
it never builds or ingests unless ``ingest`` is named, so ``--sizes 1000000 --only pages`` times the pages of a
store read-only, and the parts not run keep their earlier figures in scale.json.

Results go to ``bench/out/scale.json`` (one entry per size: ``{"reports": N, "queries": {name: {"p50_ms", "p95_ms",
…}}, "pages": {path: seconds}, "ingest_one": {…}}``) and, with ``--write``, to the scale section of
docs/benchmarks.md.  Stores are large (≈ 1.5 GB at 1 M): they are written under ``--dir``, never into the repo.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import bench_scale_build, scale_indexes  # noqa: E402
from bench.doc_section import write_section  # noqa: E402
from pipeline.filters import Filters  # noqa: E402
from pipeline.metrics import named  # noqa: E402
from pipeline.store import Database  # noqa: E402

OUT = ROOT / "bench" / "out" / "scale.json"
START, END = "<!-- bench_scale:start -->", "<!-- bench_scale:end -->"
Query = Callable[[Any, Filters], Any]


def named_queries(sample: named.Sample) -> dict[str, Query]:
    """Every named query (:mod:`pipeline.metrics.named`) as the page calls it, by its name."""
    return named.page_calls(sample)


def filter_sets(db: Path) -> dict[str, Filters]:
    year, province, level = Database(db).execute(
        # the latest year of the 2021 edition that a real share of the store has (one-file ingests add a few
        # reports of a later year, which would make "one year" a near-empty selection)
        "SELECT (SELECT max(year) FROM (SELECT year FROM reports WHERE edition = '2021' GROUP BY 1"
        " HAVING count(*) * 20 >= (SELECT count(*) FROM reports))),"
        " (SELECT province FROM reports WHERE province IS NOT NULL GROUP BY 1 ORDER BY count(*) DESC LIMIT 1),"
        " (SELECT level FROM reports WHERE level IS NOT NULL GROUP BY 1 ORDER BY count(*) DESC LIMIT 1)"
    )[0]
    return {"none": Filters(), "year": Filters(years=(int(year),)),
            "province_level": Filters(province=province, levels=(level,))}  # fmt: skip


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def time_queries(db: Path, repeat: int, log: Callable[[str], None]) -> dict[str, dict[str, float]]:
    sets = filter_sets(db)
    year = sets["year"].years[0]
    out: dict[str, dict[str, float]] = {}
    with Database(db).cursor() as con:
        for name, fn in named_queries(named.Sample(year, named.Sample.of(con).agency)).items():
            runs: list[float] = []
            cpu: list[float] = []
            per_set: dict[str, float] = {}
            for label, filters in sets.items():
                fn(con, filters)  # untimed: plans and file pages cached, as for the second user of a page
                mine = []
                for _ in range(repeat):
                    t, c = time.perf_counter(), time.process_time()
                    fn(con, filters)
                    mine.append((time.perf_counter() - t) * 1000)
                    cpu.append((time.process_time() - c) * 1000)
                per_set[f"{label}_p50_ms"] = round(statistics.median(mine), 1)
                runs += mine
            # CPU time (every thread of this process): what the query costs, whatever else the machine runs
            out[name] = {"p50_ms": round(statistics.median(runs), 1), "p95_ms": round(percentile(runs, 0.95), 1),
                         "cpu_p50_ms": round(statistics.median(cpu), 1), **per_set}  # fmt: skip
            log(f"  {name}: p50 {out[name]['p50_ms']} ms, p95 {out[name]['p95_ms']} ms")
    return out


def one_file(workdir: Path) -> Path:
    """One generated text report of an agency and year the replicated store does not have (a new report)."""
    from pipeline.generator.corpus import CorpusConfig, write_corpus
    from pipeline.generator.universe import UniverseSize

    seed = time.time_ns() % 1_000_000  # a file the store has not seen: every run stores a report
    corpus = workdir / f"one-file-{seed}"
    size = UniverseSize(provinces=1, cities_per_province=1, counties_per_city=1, departments=(1, 1),
                        townships=(0, 0), province_departments=(1, 1))  # fmt: skip
    write_corpus(corpus, CorpusConfig(size=size, seed=seed, layouts=("pdftext-tabs",), years=(2030,),
                                      noise_levels=(0,)), truth_files=False)  # type: ignore[arg-type]  # fmt: skip
    files = sorted(p for p in corpus.rglob("*.txt") if p.is_file())
    return files[0]


def ingest_one(db: Path, file: Path, with_dashboard: bool, log: Callable[[str], None]) -> dict[str, Any]:
    """``xxgk ingest <file>`` into ``db`` in a process of its own (optionally with the dashboard open on ``db``)."""
    # the command in a wrapper that reports its peak RSS on the way out, from VmHWM (ru_maxrss survives exec, so it
    # would report this benchmark's own size); its parse worker is a forkserver child, not waited for by the wrapper,
    # so not counted (its memory is capped by the ingest's per-file budget)
    wrapper = ("import runpy, sys\n"
               f"sys.argv = ['xxgk', 'ingest', {str(file)!r}, '--db', {str(db)!r}]\n"
               "try:\n    runpy.run_module('pipeline', run_name='__main__')\nfinally:\n"
               "    own = next(int(l.split()[1]) for l in open('/proc/self/status') if l.startswith('VmHWM:'))\n"
               "    print(f'PEAK_RSS_KB {own}', file=sys.stderr)\n")  # fmt: skip
    cmd = [sys.executable, "-c", wrapper]

    def run() -> dict[str, Any]:
        n_before = _n_reports(db)
        published: list[float] = []
        stop = threading.Event()
        t = time.perf_counter()

        def watch() -> None:  # the moment the catalog is replaced: the new report is what readers see from then on
            first = os.stat(db).st_ino
            while not stop.wait(0.01):
                if os.stat(db).st_ino != first:
                    published.append(time.perf_counter() - t)
                    return

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env={**os.environ, "XXGK_DB": str(db)})
        seconds = time.perf_counter() - t
        stop.set()
        watcher.join()
        peak = max([int(line.split()[1]) for line in done.stderr.splitlines() if line.startswith("PEAK_RSS_KB")] or [0])
        if done.returncode != 0:
            raise RuntimeError(f"ingest failed: {done.stdout[-1000:]} {done.stderr[-2000:]}")
        if _n_reports(db) != n_before + 1:
            raise RuntimeError(f"the ingest stored no new report: {done.stdout[-1000:]}")
        return {"seconds": round(seconds, 2), "published_s": round(published[0], 2) if published else None,
                "peak_rss_mb": round(peak / 1024, 1),
                "segments": len(_segments(db))}  # fmt: skip

    if not with_dashboard:
        return run()
    from tests import browser

    with browser.streamlit_server(db) as url, browser.chromium() as context:
        page = context.new_page()
        page.goto(f"{url}/")
        browser.wait_rendered(page, "总览", timeout_ms=300_000)  # the dashboard holds its read connection
        result = run()
        t = time.perf_counter()
        page.reload()
        browser.wait_rendered(page, "总览", timeout_ms=300_000)
        result["dashboard_after_s"] = round(time.perf_counter() - t, 2)
        page.close()
    log(f"  one-file ingest: {result}")
    return result


def _n_reports(db: Path) -> int:
    import duckdb

    from pipeline.store.segments import open_reader

    con: duckdb.DuckDBPyConnection = open_reader(db)  # a fresh reader: this process's cache may be one swap old
    try:
        return int(con.execute("SELECT count(*) FROM reports").fetchall()[0][0])
    finally:
        con.close()


def _segments(db: Path) -> list[str]:
    from pipeline.store import segment_files as segfiles

    return sorted(segfiles.referenced(db) or [])


PARTS = ("queries", "pages", "ingest")


def measure_size(src: Path, workdir: Path, n: int, repeat: int, pages: bool, log: Callable[[str], None],
                 parts: tuple[str, ...] = PARTS, earlier: dict | None = None) -> dict:  # fmt: skip
    db = workdir / f"scale-{n}.duckdb"
    entry: dict[str, Any] = {**(earlier or {}), "reports": n}
    if "ingest" not in parts:  # a read-only run: time what is there, build nothing
        if not db.exists():
            raise SystemExit(f"没有 {db}：先完整运行一次 bench_scale.py 建库")
        if "queries" in parts:
            entry["queries"] = time_queries(db, repeat, log)
            Database.close_all()
        if "pages" in parts and pages:
            entry |= _pages(db, log)
        entry["load_average"] = round(os.getloadavg()[0], 1)
        return entry
    have = Database(db).execute("SELECT count(*) FROM reports")[0][0] if db.exists() else None
    build_log = lambda s: log("  build: " + s)  # noqa: E731
    if have is not None and n <= have <= n + 50 and not scale_indexes.has_indexes(db):  # built without its indexes
        Database.close_all()
        try:
            bench_scale_build.add_indexes(Database(src).file, db, build_log)
        except scale_indexes.IngestedAfterBuild:
            have = None
    if have is None or not n <= have <= n + 50:  # earlier runs' one-file ingests are a few reports more
        t = time.perf_counter()
        bench_scale_build.build(src, db, n, log=build_log)
        entry["build_s"] = round(time.perf_counter() - t, 1)
    Database.close_all()
    entry["store_mb"] = round(sum(p.stat().st_size for p in [db, *db.with_name(db.name + ".segments").iterdir()])
                              / 2**20, 1)  # fmt: skip
    entry["queries"] = time_queries(db, repeat, log)
    Database.close_all()
    if pages:
        entry |= _pages(db, log)
    entry["ingest_one"] = ingest_one(db, one_file(workdir), with_dashboard=pages, log=log)
    entry["load_average"] = round(os.getloadavg()[0], 1)
    return entry


def _pages(db: Path, log: Callable[[str], None], repeat: int = 3) -> dict[str, Any]:
    """First render of every page (median of ``repeat`` fresh tabs) and the renderer CPU of each."""
    from bench.bench_pages import measure

    cpu: dict[str, list[float]] = {}
    cold, results = measure(db, repeat, cpu)
    out = {"pages": {path or "overview": round(statistics.median(firsts), 2) for path, firsts, _ in results},
           "pages_renderer_cpu_s": {path or "overview": round(statistics.median(cpu[path]), 2) for path, _, _ in results},
           "server_cold_s": round(cold, 2)}  # fmt: skip
    log(f"  pages: {out['pages']}")
    return out


def markdown(entries: list[dict]) -> str:
    names = list(dict.fromkeys(n for e in entries for n in e["queries"]))
    lines = ["## 规模 / scale: named queries, pages and a one-file ingest at 10 k – 1 M reports", "",
             f"_`make bench-scale` (`bench/bench_scale.py`), {time.strftime('%Y-%m-%d')}, {platform.node()}: "
             f"{os.cpu_count()} cores (1-minute load average at the end of each size: "
             f"{', '.join(str(e['load_average']) for e in entries)}; the benchmark's own server, browser and ingest "
             "keep it near 2–3). Stores built by `bench/bench_scale_build.py` from the demo store; "
             "raw figures in `bench/out/scale.json`._", "",
             "p50 / p95 wall time in ms over three filter sets (none; one year; one province and one level), "
             "each run repeatedly after one untimed run; (cpu …): median CPU time of the process, every DuckDB "
             "thread included — the cost of the query whatever else the machine runs. Target at 1 M: p95 < 150 ms.",
             "",
             "| query | " + " | ".join(f"{e['reports']:,} p50 / p95" for e in entries) + " |",
             "|---|" + "---|" * len(entries)]  # fmt: skip
    for name in names:  # a size measured before a query was registered shows "—" for it
        timed = [e["queries"].get(name) for e in entries]
        cells = ["—" if q is None else f"{q['p50_ms']:.0f} / {q['p95_ms']:.0f}"
                 + (f" (cpu {q['cpu_p50_ms']:.0f})" if "cpu_p50_ms" in q else "") for q in timed]  # fmt: skip
        lines.append(f"| `{name}` | " + " | ".join(cells) + " |")
    if all("pages" in e for e in entries):
        lines += ["", "First render of every page (s, headless Chromium, query cache warm). Target at 1 M: < 2 s.",
                  "", "| page | " + " | ".join(f"{e['reports']:,}" for e in entries) + " |",
                  "|---|" + "---|" * len(entries)]  # fmt: skip
        for path in entries[0]["pages"]:
            lines.append(
                f"| `/{path}` | " + " | ".join(f"{e['pages'].get(path, float('nan')):.2f}" for e in entries) + " |"
            )
    lines += ["", "One-file ingest (`xxgk ingest <one report>` as its own process"
              + (", dashboard open on the store" if all("pages" in e for e in entries) else "") + "). Target: < 2 s.",
              " Published: from the command's start to the catalog's replacement (what the dashboard sees from then "
              "on); total: until the command exits (the full-text index is brought up to date after publishing).",
              " Peak RSS: the ingest process's own (VmHWM; its parse worker runs under the per-file memory budget).",
              "", "| reports | published (s) | total (s) | peak RSS, ingest process (MB) | segments after | store (MB) |",
              "|---|---|---|---|---|---|"]  # fmt: skip
    for e in entries:
        i = e["ingest_one"]
        pub = f"{i['published_s']:.2f}" if i.get("published_s") is not None else "—"
        lines.append(f"| {e['reports']:,} | {pub} | {i['seconds']:.2f} | {i['peak_rss_mb']:.0f} | {i['segments']} "
                     f"| {e['store_mb']:,.0f} |")  # fmt: skip
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="10000,100000,1000000")
    ap.add_argument("--src", type=Path, default=ROOT / "data" / "xxgk.duckdb")
    ap.add_argument("--dir", type=Path, default=Path(os.environ.get("XXGK_SCALE_DIR", "/tmp/xxgk-scale")))
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--no-pages", action="store_true", help="skip the browser (pages and dashboard-open ingest)")
    ap.add_argument("--only", default=",".join(PARTS), help="parts to run (queries, pages, ingest; comma-separated)")
    ap.add_argument("--write", action="store_true", help="update docs/benchmarks.md")
    args = ap.parse_args()
    if "ingest" in args.only.split(",") and not Database(args.src).file.exists():  # the source of a build
        sys.exit(f"源数据库不存在：{args.src}（先运行 make db）")
    args.dir.mkdir(parents=True, exist_ok=True)
    entries = json.loads(OUT.read_text()) if OUT.exists() else []
    for n in (int(s) for s in args.sizes.split(",")):
        print(f"{n:,} reports", file=sys.stderr, flush=True)
        parts = tuple(p for p in PARTS if p in args.only.split(","))
        earlier = next((e for e in entries if e["reports"] == n), None)
        entry = measure_size(args.src, args.dir, n, args.repeat, not args.no_pages,
                             lambda s: print(s, file=sys.stderr, flush=True), parts,
                             earlier if parts != PARTS else None)  # fmt: skip
        entries = sorted([e for e in entries if e["reports"] != n] + [entry], key=lambda e: e["reports"])
        OUT.parent.mkdir(parents=True, exist_ok=True)
        OUT.write_text(json.dumps(entries, ensure_ascii=False, indent=1), encoding="utf-8")
    section = markdown(entries)
    print(section)
    if args.write:
        write_section(section, START, END)


if __name__ == "__main__":
    main()
