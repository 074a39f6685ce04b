"""Run ``xxgk fetch`` for the dashboard: in its own process, under a time budget, refusing the local network.

The Streamlit server must not download or parse on its own threads (a slow site or a hostile file would hold it):
the page starts ``python -m pipeline fetch … --json`` in a new process group and kills the whole group (LibreOffice
conversions included) when the budget runs out.  What was loaded before that stays loaded (each ingest swaps the
database in atomically or not at all); downloads already made stay in the fetched folder.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

MAX_URLS = 20  # addresses one press of the button may fetch
ENV_ALLOW_PRIVATE = "XXGK_FETCH_ALLOW_PRIVATE"  # "1": allow loopback / private addresses (an intranet deployment)
ROOT = Path(__file__).resolve().parents[2]


def parse_url_box(text: str) -> list[str]:
    """The addresses typed into the box: one a line (spaces and commas also separate), blank lines skipped."""
    return [u for line in (text or "").splitlines() for u in line.replace(",", " ").split() if u]


def time_budget(n_urls: int) -> float:
    """Seconds the fetch may run: a minute, plus 45 s per address (for attachments, retries), at most 15 min."""
    return float(min(60 + 45 * n_urls, 900))


def run_fetch(urls: list[str], db: str | os.PathLike[str], budget: float | None = None) -> dict:
    """Fetch ``urls`` into ``db`` in a child process; returns ``xxgk fetch --json``'s result, or ``{"error": …}``."""
    budget = budget if budget is not None else time_budget(len(urls))
    cmd = [sys.executable, "-m", "pipeline", "fetch", *urls, "--db", str(db), "--json"]
    if os.environ.get(ENV_ALLOW_PRIVATE) != "1":
        cmd.append("--public-only")
    proc = subprocess.Popen(
        cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        out, err = proc.communicate(timeout=budget)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        return {
            "error": f"抓取超过时间上限 {budget:.0f} 秒，已停止。已完成入库的报告保留；可减少网址后重试，或用命令行 xxgk fetch。"
        }
    try:
        return json.loads(out)
    except ValueError:
        lines = [line for line in (err or "").splitlines() if line.strip()]
        return {"error": lines[-1] if lines else f"抓取进程异常退出（退出码 {proc.returncode}）"}
