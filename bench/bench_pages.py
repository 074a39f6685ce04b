"""Page benchmark: every dashboard page's first render and a filter change, in headless Chromium.

    .venv/bin/python bench/bench_pages.py [--db data/xxgk.duckdb] [--repeat 3] [--write docs/benchmarks.md]

First render = from navigation to the page's title shown, the script run finished (the server's
``script_finished`` message) and every visible chart / table drawn, in a fresh browser tab (a new Streamlit session; the server and its query cache are warm after
one untimed visit per page, as for any user but the very first).  Beside the wall time, the CPU time of the
tab's renderer main thread (Chrome's Performance.getMetrics TaskDuration, thread ticks): what the page costs the
browser whatever else runs on the machine.  Filter change = from the click on an option of the sidebar's 数据质量
selectbox to the server's "script finished" message for the rerun (tests.browser.RunWatch) and the page redrawn.
Targets (issue 4): < 2 s and < 0.5 s.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.doc_section import write_section  # noqa: E402
from pipeline.filters import QUALITY_LABELS  # noqa: E402
from pipeline.store import Database  # noqa: E402
from tests import browser  # noqa: E402

START, END = "<!-- pages:start -->", "<!-- pages:end -->"


def measure(
    db: Path, repeat: int, cpu: dict[str, list[float]] | None = None
) -> tuple[float, list[tuple[str, list[float], list[float]]]]:
    """Server cold start (s) and, per page path, the first renders and filter changes (s); ``cpu`` (if given) gets
    the renderer main thread's CPU seconds of each first render."""
    results = []
    with browser.streamlit_server(db) as url, browser.chromium() as context:
        t0 = time.perf_counter()
        warm = context.new_page()
        warm.goto(f"{url}/")
        browser.wait_rendered(warm, "总览", timeout_ms=120_000)
        cold = time.perf_counter() - t0
        for path, title in browser.PAGES[1:]:  # fill the query cache once, untimed
            warm.goto(f"{url}/{path}")
            browser.wait_rendered(warm, title, timeout_ms=120_000)
        warm.close()
        for path, title in browser.PAGES:
            firsts, changes = [], []
            for _ in range(repeat):
                page = context.new_page()
                runs = browser.RunWatch(page)
                cdp = context.new_cdp_session(page)
                cdp.send("Performance.enable", {"timeDomain": "threadTicks"})
                t = time.perf_counter()
                page.goto(f"{url}/{path}")
                browser.wait_rendered(page, title, timeout_ms=300_000)  # timed; a loaded machine is slow, not wrong
                # the app root's script-state attribute can miss a run (RunWatch): the server's "script finished"
                # message is the sure sign that every element of the page has been sent; then it must be drawn
                runs.wait_finished(page, t, timeout_ms=300_000)
                browser.wait_drawn(page, timeout_ms=300_000)
                firsts.append(time.perf_counter() - t)
                metrics = {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}
                if cpu is not None:
                    cpu.setdefault(path, []).append(metrics["TaskDuration"])
                for option in (QUALITY_LABELS["pass"],):
                    options = browser.open_selectbox(page, "数据质量", page.locator('[data-testid="stSidebar"]'))
                    target = options.filter(has_text=option).first
                    target.wait_for()
                    since = time.perf_counter()
                    target.click()
                    # a filter change at 1 M reports runs the pages' queries uncached (seconds each on a busy machine)
                    runs.wait_finished(page, since, timeout_ms=300_000)
                    browser.wait_drawn(page, timeout_ms=300_000)
                    changes.append(time.perf_counter() - since)
                page.close()
            results.append((path, firsts, changes))
            print(f"{path}: first {firsts}, change {changes}", file=sys.stderr, flush=True)
    return cold, results


def report(
    db: Path, cold: float, results: list[tuple[str, list[float], list[float]]], cpu: dict[str, list[float]]
) -> str:
    n_reports, n_agencies, n_facts = Database(db).execute(
        "SELECT (SELECT count(*) FROM reports WHERE is_current), (SELECT count(DISTINCT agency) FROM reports),"
        " (SELECT count(*) FROM facts)"
    )[0]
    titles = dict(browser.PAGES)
    lines = [
        START,
        "## 页面 / pages (dashboard, headless Chromium)",
        "",
        f"Measured {date.today().isoformat()} by `bench/bench_pages.py` on {platform.node()} "
        f"({os.cpu_count()} cores, Python {platform.python_version()}, Debian chromium, streamlit server on "
        f"localhost); database `{db.name}`: {n_reports} current reports, {n_agencies} agencies, {n_facts} facts.",
        f"Server cold start to the first page drawn: {cold:.2f} s. Targets: first render < 2 s, filter change < 0.5 s. "
        f"Load average at the end: {os.getloadavg()[0]:.1f} (the machine is shared: other jobs inflate timings).",
        "",
        "| page | first render median (s) | max (s) | renderer CPU median (s) | filter change median (s) | max (s) |",
        "|---|---|---|---|---|---|",
    ]
    for path, firsts, changes in results:
        lines.append(
            f"| {titles[path]} (`/{path}`) | {statistics.median(firsts):.2f} | {max(firsts):.2f} | "
            f"{statistics.median(cpu[path]):.2f} | {statistics.median(changes):.2f} | {max(changes):.2f} |"
        )
    lines += [
        "",
        "First render: new tab → title shown, script run finished, every visible chart and table drawn (query "
        "cache warm); renderer CPU: the tab's renderer main thread during it. Filter change: click on a 数据质量 "
        "option in the sidebar → rerun finished and redrawn.",
        END,
    ]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--db", default=None, help="database (default: env XXGK_DB or data/xxgk.duckdb)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--write", default=None, help="update the 页面 / pages section of this markdown file")
    args = ap.parse_args()
    db = Database(args.db).file
    if not db.exists():
        sys.exit(f"数据库不存在：{db}（先运行 make db）")
    if not browser.CHROMIUM.exists():
        sys.exit("需要 Debian chromium（/usr/bin/chromium）：make install-test")
    cpu: dict[str, list[float]] = {}
    cold, results = measure(db, args.repeat, cpu)
    section = report(db, cold, results, cpu)
    print(section)
    if args.write:
        write_section(section, START, END, Path(args.write))


if __name__ == "__main__":
    main()
