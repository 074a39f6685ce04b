"""A segment checkpoints its widest table within a small writer memory cap.

A checkpoint holds one block per column of the row group it writes; with DuckDB's default 256 KiB blocks the
≈ 470 columns of ``report_cells`` need ≈ 118 MiB, and one ingest session of some 55,000 reports failed at the
default 128 MB cap (``bench/writer_memory.py``).  Here the cap is lowered to 32 MB so that a few thousand rows
reach the same failure in a second: a segment with 256 KiB blocks fails this test at its first commit.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from pipeline.store import segments as seg
from pipeline.store.cells import TABLE as CELLS_TABLE

ROWS = 10_000
MEMORY_CAP = "32MB"  # below 470 × 256 KiB, above 470 × 16 KiB plus DuckDB's own needs


def _row_sql(con: duckdb.DuckDBPyConnection) -> str:
    """One generated value per column of report_cells for row ``i`` (varied, so no column compresses to a constant)."""
    exprs = []
    for k, (_name, typ, *_) in enumerate(con.execute(f"DESCRIBE seg.{CELLS_TABLE}").fetchall()):
        if typ == "DOUBLE":
            exprs.append(f"CASE WHEN hash(i, {k}) % 5 = 0 THEN NULL ELSE (hash(i, {k}) % 500)::DOUBLE END")
        elif typ == "UTINYINT":
            exprs.append(f"(hash(i, {k}) % 3)::UTINYINT")
        elif typ == "VARCHAR":
            exprs.append("'机关' || (i % 997)::VARCHAR")
        elif typ == "BOOLEAN":
            exprs.append("i % 2 = 0")
        elif typ == "DATE":
            exprs.append("DATE '2020-01-01' + (i % 365)::INTEGER")
        else:
            exprs.append(f"(i % 100000)::{typ}")
    return ", ".join(exprs)


def test_a_new_segment_checkpoints_wide_rows_under_a_small_memory_cap(tmp_path: Path) -> None:
    path = tmp_path / "seg.duckdb"
    seg.new_segment_file(path)
    con = seg.connect(memory_limit=MEMORY_CAP, temp_directory=str(tmp_path / "spill"))
    try:
        con.execute(f"ATTACH {seg.quote(path)} AS seg")
        values = _row_sql(con)
        for start in range(0, ROWS, 5_000):
            con.execute(f"INSERT INTO seg.{CELLS_TABLE} SELECT {values} FROM range({start}, {start + 5_000}) t(i)")
            con.execute("CHECKPOINT seg")
        assert con.execute(f"SELECT count(*) FROM seg.{CELLS_TABLE}").fetchall() == [(ROWS,)]
    finally:
        con.close()
    reopened = duckdb.connect(str(path), read_only=True)
    try:
        assert reopened.execute(f"SELECT count(*) FROM {CELLS_TABLE}").fetchall() == [(ROWS,)]
    finally:
        reopened.close()
