"""Search and copied-text benchmark: index build, query latency, copied-text cost per 1,000 reports.

    .venv/bin/python bench/bench_search.py                       # 100,000 reports (≈ 15–25 minutes on 2 cores)
    .venv/bin/python bench/bench_search.py --reports 10000       # a quick run
    .venv/bin/python bench/bench_search.py --write               # replace the section in docs/benchmarks.md

The store is built by a fast synthetic path that writes the same ``reports`` and ``sections`` rows the ingest
writes: the generator's truths (demo/large universe, varied prose, 30 % of reports copying sentences) rendered to
section text with the generator's own prose functions — no parsing, which ``make bench`` measures separately.
Then:

1. the full-text index is built from scratch (``search.sync``), its size measured, and a fixed set of queries
   (3+ / 2 / 1 characters, several terms, with and without filters) is timed, each :data:`REPEAT` times;
2. if the ``tantivy`` package is importable, the same paragraphs go into a tantivy index (one token per Han
   character, substring = phrase query) and the same queries are timed — the comparison in docs/search.md;
3. copied-text detection runs over the store in steps of 1,000 reports (as ingests would), recording seconds and
   peak memory per step and the store's growth.

Results go to ``bench/out/search.json`` and, with ``--write``, to docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import sys
import time
from pathlib import Path

import duckdb
import polars as pl
import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bench_pipeline import RssSampler, machine  # noqa: E402
from bench.doc_section import write_section  # noqa: E402
from pipeline import narrative, search  # noqa: E402
from pipeline.filters import Filters  # noqa: E402
from pipeline.generator import prose  # noqa: E402
from pipeline.generator.corpus import CorpusConfig, iter_truths  # noqa: E402
from pipeline.reuse import engine  # noqa: E402
from pipeline.reuse.index import folder_of  # noqa: E402
from pipeline.store import Database  # noqa: E402
from pipeline.store.schema import migrate  # noqa: E402
from pipeline.store.swap import WRITER_MEMORY_LIMIT  # noqa: E402

OUT = ROOT / "bench" / "out"
START, END = "<!-- bench_search:start -->", "<!-- bench_search:end -->"
REPEAT = 15
QUERIES: list[tuple[str, Filters | None]] = [
    ("信息处理费", None),
    ("政务公开专区建设", None),
    ("人大代表建议和政协提案办理结果公开", None),
    ("第三方评估 培训体系", None),
    ("公开", None),
    ("费", None),
    ("窗口", None),
    ("信息处理费", Filters(years=(2023,))),
    ("政府开放日", Filters(years=(2024,), levels=("县级",))),
    ("公开", Filters(years=(2022,), agency_types=("公安",))),
]


def build_store(db: Path, n: int, size: str) -> dict[str, float]:
    """Write ``n`` reports (reports + sections rows) into a fresh store; returns timings."""
    started = time.perf_counter()
    if db.exists():
        db.unlink()
    config = CorpusConfig(size=size, seed=5, copy_share=0.3, legacy_share=0.0, non_report_share=0.0, coverage=1.0)
    con = duckdb.connect(str(db))
    migrate(con)
    reports: list[tuple] = []
    sections: list[tuple] = []
    rng = random.Random(5)

    def flush() -> None:
        names = ["report_id", "sha256", "source_path", "format", "agency", "year", "edition", "province", "city",
                 "county", "level", "agency_type"]  # fmt: skip
        schema = {n: (pl.Int64 if n in ("report_id", "year") else pl.String) for n in names}
        con.register("_r", pl.DataFrame(reports, orient="row", schema=schema))
        con.execute("INSERT INTO reports (report_id, sha256, source_path, format, agency, year, edition, province, city,"
                    " county, level, agency_type, synthetic) SELECT *, true FROM _r")  # fmt: skip
        con.register(
            "_s",
            pl.DataFrame(
                sections,
                orient="row",
                schema={"report_id": pl.Int64, "section": pl.String, "heading": pl.String, "text": pl.String},
            ),
        )
        con.execute("INSERT INTO sections SELECT * FROM _s")
        con.unregister("_r")
        con.unregister("_s")
        reports.clear()
        sections.clear()

    for rid, truth in enumerate(iter_truths(config), start=1):
        if rid > n:
            break
        a = truth.agency
        reports.append((rid, f"bench-{rid}", f"bench/{truth.doc_id}.txt", "txt", a.name, truth.year, truth.edition,
                        a.province, a.city, a.county, a.level, a.agency_type))  # fmt: skip
        body = {
            "一": prose.section_one(truth, rng),
            "五": prose.section_five(truth, rng),
            "六": prose.section_six(truth, rng),
        }
        for numeral, paras in body.items():
            heading = prose.SECTION_HEADINGS[numeral][0]
            sections.append((rid, numeral, heading, "\n".join([heading, *paras])))
        if len(reports) >= 5000:
            flush()
    if reports:
        flush()
    con.execute("CHECKPOINT")
    con.close()
    return {"seconds": round(time.perf_counter() - started, 1), "mb": round(db.stat().st_size / 2**20, 1)}


def time_queries(run, label: str) -> dict[str, dict[str, float]]:  # noqa: ANN001
    """p50/p95 in ms per query (``run(query, filters) -> n hits``) and over all of them."""
    out: dict[str, dict[str, float]] = {}
    everything: list[float] = []
    for query, filters in QUERIES:
        times = []
        hits = 0
        for _ in range(REPEAT):
            t = time.perf_counter()
            hits = run(query, filters)
            times.append((time.perf_counter() - t) * 1000)
        everything += times
        name = query + (
            f" [{'; '.join(f'{k}={v}' for k, v in filters.describe() if v not in ('全部', '全部报告'))}]"
            if filters
            else ""
        )
        out[name] = {
            "p50_ms": round(statistics.median(times), 1),
            "p95_ms": round(_p95(times), 1),
            "hits": hits,
        }
        print(
            f"  {label} {name}: p50 {out[name]['p50_ms']} ms, p95 {out[name]['p95_ms']} ms, {hits} hits",
            flush=True,
        )
    out["ALL"] = {
        "p50_ms": round(statistics.median(everything), 1),
        "p95_ms": round(_p95(everything), 1),
        "hits": 0,
    }
    return out


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]


def bench_sqlite(db: Path) -> dict:
    index = search.index_path(db)
    for p in index.parent.glob(index.name + "*"):
        p.unlink()
    with RssSampler() as rss:
        done = search.sync(db)
    con = search.connect(index)
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def run(query: str, filters: Filters | None) -> int:
        return search.search(con, query, filters, limit=50).total

    result = {"build_s": round(done.seconds, 1), "paragraphs": done.passages, "peak_mb": round(rss.peak / 2**20),
              "index_mb": round(index.stat().st_size / 2**20, 1), "queries": time_queries(run, "sqlite")}  # fmt: skip
    con.close()
    return result


def bench_tantivy(db: Path, work: Path) -> dict | None:
    try:
        import tantivy
    except ImportError:
        return None
    folder = work / "tantivy"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    builder = tantivy.SchemaBuilder()
    builder.add_text_field("text", stored=True, tokenizer_name="han1")
    builder.add_integer_field("report_id", stored=True, indexed=True, fast=True)
    builder.add_integer_field("year", stored=True, indexed=True, fast=True)
    schema = builder.build()
    index = tantivy.Index(schema, path=str(folder))
    analyzer = tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.regex(r"\p{Han}|[A-Za-z0-9]")).filter(
        tantivy.Filter.lowercase()).build()  # fmt: skip
    index.register_tokenizer("han1", analyzer)
    started = time.perf_counter()
    writer = index.writer(heap_size=200_000_000)
    rows = Database(db).execute("SELECT s.report_id, r.year, s.text FROM sections s JOIN reports r USING (report_id)")
    for rid, year, text in rows:
        for para in narrative.paragraphs(text):
            writer.add_document(tantivy.Document(text=para, report_id=rid, year=year))
    writer.commit()
    writer.wait_merging_threads()
    build = time.perf_counter() - started
    index.reload()
    searcher = index.searcher()

    def run(query: str, filters: Filters | None) -> int:
        parts = []
        for term in query.lower().split():
            chars = [c for c in term if c.strip()]
            parts.append(tantivy.Query.term_query(schema, "text", chars[0]) if len(chars) == 1
                         else tantivy.Query.phrase_query(schema, "text", chars))  # fmt: skip
        if filters and filters.years:
            parts.append(tantivy.Query.term_set_query(schema, "year", list(filters.years)))
        q = parts[0] if len(parts) == 1 else tantivy.Query.boolean_query([(tantivy.Occur.Must, p) for p in parts])
        result = searcher.search(q, limit=50, count=True)
        for _, address in result.hits:  # fetch the stored paragraphs, as a result page would
            searcher.doc(address)
        return result.count

    size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
    return {"build_s": round(build, 1), "index_mb": round(size / 2**20, 1), "queries": time_queries(run, "tantivy"),
            "note": "年度以外的筛选条件未实现（需把机关元数据写进索引）"}  # fmt: skip


def bench_reuse(db: Path, step: int = 1000) -> dict:
    """Copied-text detection over the store as ingests of ``step`` reports would run it (each step one
    ``engine.update`` over the reports that just became current, with the index beside the store)."""
    Database(db).close()  # the cached reader of the earlier parts would block this writer
    con = duckdb.connect(str(db), config={"memory_limit": WRITER_MEMORY_LIMIT})
    engine.ensure_schema(con)
    for table in engine.TABLES:
        con.execute(f"DELETE FROM {table}")
    shutil.rmtree(folder_of(con) or OUT / "none", ignore_errors=True)
    n = con.execute("SELECT max(report_id) FROM reports").fetchall()[0][0]
    con.execute("UPDATE reports SET is_current = false")  # every report of the synthetic store is current
    size_before = db.stat().st_size
    steps = []
    phases: dict[str, float] = {}
    proc = psutil.Process()
    with RssSampler() as rss:
        for upto in range(step, n + step, step):
            con.execute(
                "UPDATE reports SET is_current = true WHERE report_id <= ? AND NOT is_current",
                [upto],
            )
            t, cpu = time.perf_counter(), time.process_time()
            done = engine.update(con)
            seconds, cpu = time.perf_counter() - t, time.process_time() - cpu
            for phase, s in done.phases.items():
                phases[phase] = phases.get(phase, 0.0) + s
            steps.append({"reports": min(upto, n), "seconds": round(seconds, 2), "cpu_seconds": round(cpu, 2),
                          "matches": done.matches,
                          "rss_mb": round(proc.memory_info().rss / 2**20), "load": os.getloadavg()[0],
                          "phases": {k: round(v, 3) for k, v in done.phases.items()}})  # fmt: skip
            if upto % (10 * step) == 0 or upto >= n:
                print(f"  reuse: {min(upto, n)} reports, last step {seconds:.2f} s (cpu {cpu:.2f} s), rss {steps[-1]['rss_mb']} MB, "
                      f"load {steps[-1]['load']:.1f}, {steps[-1]['phases']}", flush=True)  # fmt: skip
    counts = {t: con.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0] for t in engine.TABLES}
    stats = con.execute("SELECT avg(copied_share), avg(previous_share), avg(other_share), "
                        "sum(common_chars) / sum(chars) FROM reuse_reports").fetchall()[0]  # fmt: skip
    folder = folder_of(con)
    index_mb = sum(p.stat().st_size for p in folder.iterdir()) / 2**20 if folder else 0.0
    con.execute("UPDATE reports SET is_current = true")
    con.execute("CHECKPOINT")
    con.close()
    total = sum(phases.values()) or 1.0
    return {
        "steps": steps, "rows": counts, "peak_mb": round(rss.peak / 2**20), "index_mb": round(index_mb, 1),
        "store_growth_mb": round((db.stat().st_size - size_before) / 2**20, 1),
        "seconds_per_1000_at": {str(k): _around(steps, k, step) for k in (10_000, 50_000, 100_000) if k <= n},
        "cpu_seconds_per_1000_at": {str(k): _around(steps, k, step, "cpu_seconds") for k in (10_000, 50_000, 100_000)
                                    if k <= n},
        "phase_share": {k: round(v / total, 3) for k, v in sorted(phases.items(), key=lambda kv: -kv[1])},
        "mean_shares": {"copied": stats[0], "previous": stats[1], "other": stats[2], "common": stats[3]},
    }  # fmt: skip


def _around(steps: list[dict], reports: int, step: int, measure: str = "seconds") -> float:
    """Median seconds per 1,000 reports of the five steps ending nearest ``reports`` stored."""
    i = min(range(len(steps)), key=lambda k: abs(steps[k]["reports"] - reports))
    near = steps[max(0, i - 4) : i + 1]
    return round(statistics.median(s[measure] for s in near) * 1000 / step, 2)


def report(n: int, build: dict, sqlite: dict, tantivy: dict | None, reuse: dict) -> str:
    lines = [f"## 全文检索与抄袭比对 / search and copied text: {n:,} reports", "",
             f"Machine: {machine()}. Other helpers' jobs were running beside this one (shared 2 cores).",
             f"Synthetic store (reports + sections, varied prose, 30 % copying): built in {build['seconds']} s, "
             f"{build['mb']} MB.", "",
             f"**SQLite FTS5 index** (chosen): built from scratch in {sqlite['build_s']} s ({sqlite['paragraphs']:,} "
             f"paragraphs), {sqlite['index_mb']} MB beside the store, peak RSS {sqlite['peak_mb']} MB.", "",
             "| query | SQLite p50 ms | SQLite p95 ms | hits (≤10,000 counted) |"
             + (" tantivy p50 ms | tantivy p95 ms |" if tantivy else ""),
             "|---|---:|---:|---:|" + ("---:|---:|" if tantivy else "")]  # fmt: skip
    for name, q in sqlite["queries"].items():
        row = f"| {name} | {q['p50_ms']} | {q['p95_ms']} | {q['hits'] if name != 'ALL' else ''} |"
        if tantivy:
            t = tantivy["queries"].get(name, {})
            row += f" {t.get('p50_ms', '')} | {t.get('p95_ms', '')} |"
        lines.append(row)
    if tantivy:
        lines += ["", f"tantivy 0.27 (one token per Han character, substring = phrase query): built in "
                      f"{tantivy['build_s']} s, {tantivy['index_mb']} MB; {tantivy['note']}."]  # fmt: skip
    lines += ["", reuse_report(n, reuse)]
    return "\n".join(lines) + "\n"


def reuse_report(n: int, reuse: dict) -> str:
    rows, at = reuse["rows"], reuse["seconds_per_1000_at"]
    steps = reuse["steps"]
    loads = [s["load"] for s in steps]
    worst = max(steps, key=lambda s: s["seconds"])
    return ("**Copied text** (pipeline/reuse, index of sorted runs beside the store) over the same store in steps of "
            "1,000 reports, as successive ingests would run it: seconds per 1,000 new reports (median of the five "
            "steps ending there) " + " · ".join(f"{int(k) // 1000} k: {v}" for k, v in at.items())
            + f"; slowest step {worst['seconds']} s (at {worst['reports']:,}, a large merge of index runs); "
            f"peak RSS {reuse['peak_mb']} MB; load average {min(loads):.1f}–{max(loads):.1f} during the run. "
            f"Index {reuse['index_mb']} MB beside the store; the store grew by {reuse['store_growth_mb']} MB "
            f"({rows['reuse_passages']:,} passages, {rows['reuse_matches']:,} matches, {rows['reuse_common']:,} "
            f"retired buckets). Time by phase: " + ", ".join(f"{k} {v:.0%}" for k, v in reuse["phase_share"].items())
            + f". Mean shares: copied {reuse['mean_shares']['copied']:.1%}, previous year "
            f"{reuse['mean_shares']['previous']:.1%}, other agencies {reuse['mean_shares']['other']:.1%}, common "
            f"wording {reuse['mean_shares']['common']:.1%}.")  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reports", type=int, default=100_000)
    ap.add_argument("--write", action="store_true", help="replace the section in docs/benchmarks.md")
    ap.add_argument("--keep", action="store_true", help="reuse bench/out/search-N.duckdb if it exists")
    ap.add_argument("--parts", default="sqlite,tantivy,reuse",
                    help="which parts to run; the others are taken from bench/out/search.json")  # fmt: skip
    args = ap.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    db = OUT / f"search-{args.reports}.duckdb"
    size = "demo" if args.reports <= 1500 else "large"
    if args.keep and db.exists():
        build = {"seconds": 0.0, "mb": round(db.stat().st_size / 2**20, 1)}
        with duckdb.connect(str(db)) as con:  # an interrupted run may have left reports hidden
            con.execute("UPDATE reports SET is_current = true WHERE NOT is_current")
    else:
        print(f"building a {args.reports:,}-report store …", flush=True)
        build = build_store(db, args.reports, size)
    print(f"store: {build}", flush=True)
    parts = set(args.parts.split(","))
    old = json.loads((OUT / "search.json").read_text(encoding="utf-8")) if (OUT / "search.json").exists() else {}
    if old.get("reports") != args.reports:
        old = {}
    result = {**old, "reports": args.reports, "machine": machine(),
              "store": old.get("store", build) if args.keep else build}  # fmt: skip

    def save() -> None:  # after every part, so a later failure keeps what was measured
        (OUT / "search.json").write_text(json.dumps(result, ensure_ascii=False, indent=1), encoding="utf-8")

    for part, run in (("sqlite", lambda: bench_sqlite(db)), ("tantivy", lambda: bench_tantivy(db, OUT)),
                      ("reuse", lambda: bench_reuse(db))):  # fmt: skip
        if part in parts:
            result[part] = run()
            save()
    if "sqlite" not in result:  # only the copied-text part was run
        print(reuse_report(args.reports, result["reuse"]))
        return
    sqlite, tantivy, reuse = result["sqlite"], result.get("tantivy"), result["reuse"]
    text = report(args.reports, result["store"], sqlite, tantivy, reuse)
    print(text)
    if args.write:
        write_section(text, START, END)


if __name__ == "__main__":
    main()
