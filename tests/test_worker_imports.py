"""Parse workers do not run the parent's main script: a command that imported DuckDB and polars (``xxgk``, a
benchmark) must not load them into every worker (:func:`pipeline.ingest.workers.bare_main`)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from conftest import REAL

ROOT = Path(__file__).resolve().parents[1]

MAIN = """
import sys
sys.path.insert(0, {root!r})
import duckdb, polars  # what the xxgk command has imported before it starts an ingest
from pipeline.ingest.parsing import ParseJob
from pipeline.ingest.workers import WorkerPool

if __name__ == "__main__":
    with WorkerPool(workers=1) as pool:
        outcomes = list(pool.parse([ParseJob({report!r})]))
        maps = open(f"/proc/{{pool._workers[0].process.pid}}/maps").read()
    print(outcomes[0].result is not None, "_polars_runtime" in maps or "_duckdb" in maps)
"""


def test_a_worker_does_not_load_what_the_parent_script_imported(tmp_path: Path) -> None:
    report = next(REAL.glob("*/source.txt"))
    script = tmp_path / "main.py"
    script.write_text(MAIN.format(root=str(ROOT), report=str(report)), encoding="utf-8")
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.split() == ["True", "False"]  # parsed, and neither DuckDB nor polars mapped in the worker
