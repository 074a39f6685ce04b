"""Filter benchmark: the sidebar's options and the type-to-search agency query on stores of 10 k … 1 M reports.

    .venv/bin/python bench/bench_filters.py                          # 100,000 and 1,000,000 reports (≈ 3 minutes)
    .venv/bin/python bench/bench_filters.py --reports 10000 --reports 100000 --write

Each store is built fast and synthetically: the generator's national agency universe (``--size large``: every
region of the country, ~144,000 agencies with the names, regions, levels and types the generator gives them)
× the years 2019–2025, written straight into the ``reports`` table of a freshly migrated store (one row per report,
``synthetic = true``).  Agencies are taken evenly across the country until the size is reached.  Only ``reports``
is filled: the queries measured here read nothing else.  Timings are medians and 95th percentiles of repeated
runs through ``Database.query`` (a read-only connection, as the dashboard uses).  ``--write`` replaces the
"筛选条件 / filters" section of docs/benchmarks.md; results also go to ``bench/out/filters.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bench_pipeline import machine  # noqa: E402
from bench.doc_section import write_section  # noqa: E402
from pipeline.filters import Filters  # noqa: E402
from pipeline.generator.universe import iter_agencies  # noqa: E402
from pipeline.metrics.options import filter_options, known_agencies, search_agencies  # noqa: E402
from pipeline.store import Database  # noqa: E402

YEARS = tuple(range(2019, 2026))
UNIVERSE_AGENCIES = 143_697  # iter_agencies("large") (checked when the store is built)
START, END = "<!-- bench_filters:start -->", "<!-- bench_filters:end -->"
OUT = ROOT / "bench" / "out" / "filters.json"
# what a user types: one common character, a department, a city, a city and a department, a township, nothing found
SEARCHES = ("", "局", "司法", "沈阳市", "沈阳 公安", "镇人民政府", "火星机关")


def build_store(path: Path, n_reports: int) -> dict[str, int]:
    """A store of about ``n_reports`` synthetic reports (see the module docstring); returns its sizes."""
    Database(path).migrate()
    step = max(1, round(UNIVERSE_AGENCIES * len(YEARS) / n_reports))
    rows: list[tuple[Any, ...]] = []
    for i, agency in enumerate(iter_agencies("large")):
        if i % step:
            continue
        for year in YEARS:
            rid = len(rows) + 1
            rows.append((rid, f"bench{rid:07d}", f"bench/{agency.agency_id}_{year}.txt", "txt", agency.name, year,
                         "2019" if year <= 2020 else "2021", agency.province, agency.city, agency.county,
                         agency.level, agency.agency_type, rid % 17 == 0))  # fmt: skip
            if len(rows) >= n_reports:
                break
        if len(rows) >= n_reports:
            break
    cols = ["report_id", "sha256", "source_path", "format", "agency", "year", "edition", "province", "city",
            "county", "level", "agency_type", "has_error"]  # fmt: skip
    frame = pl.DataFrame(rows, schema=cols, orient="row", infer_schema_length=None)
    con = duckdb.connect(str(path))
    try:
        con.register("frame", frame)
        con.execute(
            """INSERT INTO reports (report_id, sha256, source_path, format, agency, year, edition, province, city,
                   county, level, agency_type, synthetic, n_errors)
               SELECT report_id, sha256, source_path, format, agency, year, edition, province, city, county, level,
                      agency_type, true, CASE WHEN has_error THEN 1 ELSE 0 END FROM frame"""
        )
        con.execute("CHECKPOINT")
        n, n_agencies = con.execute("SELECT count(*), count(DISTINCT agency) FROM reports").fetchall()[0]
    finally:
        con.close()
    return {"reports": int(n), "agencies": int(n_agencies), "bytes": path.stat().st_size}


def _existing(path: Path) -> dict[str, int] | None:
    if not path.exists():
        return None
    con = duckdb.connect(str(path), read_only=True)
    try:
        n, n_agencies = con.execute("SELECT count(*), count(DISTINCT agency) FROM reports").fetchall()[0]
    finally:
        con.close()
    return {"reports": int(n), "agencies": int(n_agencies), "bytes": path.stat().st_size}


def timed(fn: Callable[[], Any], runs: int) -> dict[str, float]:
    """Cold (first) run, then over ``runs`` repeated runs: the fastest, median and 95th percentile wall time and the
    median CPU time of this process (all DuckDB threads), in ms.  CPU time is what the query costs whatever runs
    beside; wall time is what a user waits on this machine at the moment of the run."""
    t0 = time.perf_counter()
    fn()
    cold = (time.perf_counter() - t0) * 1000
    times, cpu = [], []
    for _ in range(runs):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
        cpu.append((time.process_time() - c0) * 1000)
    times.sort()
    p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
    return {"cold_ms": round(cold, 1), "min_ms": round(times[0], 1), "p50_ms": round(statistics.median(times), 1),
            "p95_ms": round(p95, 1), "cpu_ms": round(statistics.median(cpu), 1)}  # fmt: skip


def measure(path: Path, runs: int) -> dict[str, Any]:
    db = Database(path)
    options = db.query(filter_options)
    some = db.execute("SELECT DISTINCT agency FROM reports WHERE report_id % 1000 = 1 ORDER BY agency LIMIT 3")
    named = [r[0] for r in some] + ["不存在的机关"]
    out: dict[str, Any] = {
        "filter_options": timed(lambda: db.query(filter_options, named), runs),
        "options_sizes": {k: len(v) for k, v in db.query(filter_options, named).items()},
        "known_agencies": timed(lambda: db.query(known_agencies, named), runs),
        "search": {},
    }
    liaoning = Filters(province="辽宁省")
    for text in SEARCHES:
        hits = db.query(search_agencies, None, text)
        out["search"][text or "（空）"] = {
            **timed(lambda t=text: db.query(search_agencies, None, t), runs),
            "rows": hits.height,
            "matches": int(hits["n_matches"][0]) if hits.height else 0,
            "first": hits["agency"][0] if hits.height else None,
        }
    out["search_in_province"] = {
        "司法": timed(lambda: db.query(search_agencies, liaoning, "司法"), runs),
        "（空）": timed(lambda: db.query(search_agencies, liaoning, ""), runs),
    }
    db.close()
    n_names, n_bytes = db.execute(
        "SELECT count(*), sum(strlen(agency)) FROM (SELECT DISTINCT agency FROM reports WHERE is_current)"
    )[0]
    out["every_agency"] = {"names": int(n_names), "utf8_bytes": int(n_bytes or 0)}  # what a full list would send
    out["load_avg"] = round(os.getloadavg()[0], 1)
    out["n_provinces"], out["n_regions"] = len(options["province"]), len(options["regions"])
    return out


def report_markdown(results: list[dict[str, Any]]) -> str:
    lines = [
        "## 筛选条件 / filters: options and agency search",
        "",
        f"_`bench/bench_filters.py`, {time.strftime('%Y-%m-%d')}; {machine()}; other helpers' jobs were running "
        "beside (2 cores shared)._  ",
        "Stores built synthetically: the generator's national agency universe × 2019–2025 written straight into "
        "`reports` (names, regions, levels and types as generated; no facts).  Milliseconds through "
        "`Database.query` on a read-only connection: **CPU** = median CPU time of the process (all DuckDB threads: "
        "the query's cost, whatever runs beside), then wall time min · p50 · p95 of repeated calls (what a user "
        "waited at that moment; the 1-minute load average at the end of each size is given: the machine was shared). "
        "In the dashboard `filter_options` runs once per database version (cached); a search once per typed text "
        "and filter set.",
        "",
        "| reports | agencies | file | load | `filter_options` CPU · min · p50 · p95 | values sent (年度/省/层级/类型/"
        "版本/区划三元组/机关) | search 空 | search「司法」 | search「沈阳 公安」 | search「镇人民政府」 "
        "| search in 辽宁省「司法」 |",
        "|---:|---:|---:|---:|---|---|---|---|---|---|---|",
    ]
    for r in results:
        s, o = r["search"], r["options_sizes"]

        def t(x: dict[str, float]) -> str:
            return f"**{x['cpu_ms']:.0f}** · {x['min_ms']:.0f} · {x['p50_ms']:.0f} · {x['p95_ms']:.0f}"

        fo = r["filter_options"]
        sizes = "/".join(
            str(o[k]) for k in ("year", "province", "level", "agency_type", "edition", "regions", "agency")
        )
        lines.append(
            f"| {r['reports']:,} | {r['agencies']:,} | {r['bytes'] / 2**20:.0f} MB | {r['load_avg']} | "
            f"{t(fo)} | {sizes} | {t(s['（空）'])} | {t(s['司法'])} "
            f"| {t(s['沈阳 公安'])} | {t(s['镇人民政府'])} | {t(r['search_in_province']['司法'])} |"
        )
    last = results[-1]["search"]
    every = results[-1]["every_agency"]
    lines += [
        "",
        "A search sends at most 20 agencies to the page (the widget's options: the matches plus what is already "
        "chosen); `filter_options` sends no agency list at all, only the agencies a link names that exist "
        f"(the last column: 3 of the 4 names asked).  Before, the sidebar's agency list held every name: "
        f"{every['names']:,} names, {every['utf8_bytes'] / 2**20:.1f} MB of text at {results[-1]['reports']:,} "
        f"reports.  At {results[-1]['reports']:,} reports 「司法」 matches "
        f"{last['司法']['matches']:,} agencies, 「镇人民政府」 {last['镇人民政府']['matches']:,}, 「局」 "
        f"{last['局']['matches']:,}.",
    ]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reports", type=int, action="append", help="store size (repeat for several)")
    ap.add_argument("--runs", type=int, default=15, help="repeated runs per query")
    ap.add_argument("--keep", type=Path, help="keep the stores in this folder (bench-<N>.duckdb)")
    ap.add_argument("--write", action="store_true", help="write the section of docs/benchmarks.md")
    args = ap.parse_args()
    sizes = args.reports or [100_000, 1_000_000]
    results = []
    with tempfile.TemporaryDirectory(prefix="xxgk-filters-") as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        for n in sizes:
            path = folder / f"bench-{n}.duckdb"
            t0 = time.perf_counter()
            info = _existing(path) if args.keep else None
            if info is None or info["reports"] < 0.9 * n:  # a store kept from an earlier run is reused
                path.unlink(missing_ok=True)
                info = build_store(path, n)
            built = time.perf_counter() - t0
            print(f"{info['reports']:,} reports, {info['agencies']:,} agencies ({built:.0f} s to build)", flush=True)
            result = {**info, "build_s": round(built, 1), **measure(path, args.runs)}
            print(json.dumps(result, ensure_ascii=False, indent=1), flush=True)
            results.append(result)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(results, ensure_ascii=False, indent=1), encoding="utf-8")
    print(report_markdown(results))
    if args.write:
        write_section(report_markdown(results), START, END)


if __name__ == "__main__":
    main()
