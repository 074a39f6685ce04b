"""Shards: the rows of a batch of parsed files as Parquet, written by a cluster worker and loaded by the store.

A shard is a folder ``<shard_dir>/<key>/`` with one Parquet file per table: ``files`` (one row per file, what the
writer's decisions need) and ``reports``, ``facts``, ``findings``, ``sections``, ``derived`` shaped exactly like the store's
tables — built by :class:`pipeline.store.rows.BatchRows`, the code the embedded path writes with — where the file's
place in the ingest (``seq``) stands in for ``report_id``; and ``shard.json``, written last.  A worker writes into a
hidden temporary folder and renames it into place, so a shard is complete or absent, and a retried task that finds
its shard already there leaves it alone: the driver loads each key of its plan exactly once.

The driver reads the small tables back (:func:`read_shard`) and queues every file into the one write path
(:meth:`pipeline.store.WriteSession.add_pending`): the writer decides versions and gives new reports their ids as
for any parse result, and facts and sections go from Parquet into DuckDB in bulk (:func:`insert_from_shards`).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import time
import uuid
from collections.abc import Iterable
from pathlib import Path

import duckdb
import polars as pl

from pipeline.model import Finding, Meta
from pipeline.store.derived import DERIVED_SCHEMA, DERIVED_SELECT
from pipeline.store.rows import (
    FACT_SCHEMA,
    FACTS_SELECT,
    FINDING_SCHEMA,
    REPORT_SCHEMA,
    SECTION_SCHEMA,
    BatchRows,
    PendingFile,
    Schema,
    ShardReport,
    stored_findings,
)

SHARD_VERSION = 1
MARKER = "shard.json"
FILES_SCHEMA: Schema = {
    "seq": pl.Int64, "source_path": pl.String, "synthetic": pl.Boolean, "seconds": pl.Float64,
    "sha256": pl.String, "error": pl.String,  # error: why an unreadable file could not be read
    "parsed": pl.Boolean, "agency": pl.String, "year": pl.Int32, "edition": pl.String,
}  # fmt: skip
TABLE_SCHEMAS: dict[str, Schema] = {
    "reports": REPORT_SCHEMA, "facts": FACT_SCHEMA, "findings": FINDING_SCHEMA, "sections": SECTION_SCHEMA,
    "derived": DERIVED_SCHEMA,
}  # fmt: skip
# Tables inserted from the shard files in bulk (the others go through the writer's in-memory rows).
SHARD_INSERTS: dict[str, str | None] = {"facts": FACTS_SELECT, "sections": None, "derived": DERIVED_SELECT}


def write_shard(
    shard_dir: str | os.PathLike[str],
    key: str,
    items: Iterable[tuple[int, PendingFile]],
    info: dict,
    timed_from: float | None = None,
) -> Path:
    """Write the shard ``key`` of these (seq, file) pairs; returns its folder.  ``info`` goes into shard.json,
    with the seconds since ``timed_from`` (a ``time.perf_counter()`` reading) when given."""
    root = Path(shard_dir)
    final = root / key
    if read_marker(final) is not None:
        return final  # written already (a retried task, or a re-run after a killed driver)
    root.mkdir(parents=True, exist_ok=True)
    tmp = root / f".{key}.{uuid.uuid4().hex}.tmp"
    tmp.mkdir()
    try:
        files: dict[str, list] = {name: [] for name in FILES_SCHEMA}
        rows = BatchRows()
        n = 0
        for seq, item in items:
            n += 1
            r = item.result
            meta = r.meta if r is not None else None
            values = (
                seq, item.source_path, item.synthetic, item.seconds,
                r.sha256 if r is not None else item.sha256, item.message if r is None else None, r is not None,
                meta.agency if meta else None, meta.year if meta else None, meta.edition if meta else None,
            )  # fmt: skip
            for name, value in zip(files, values, strict=True):
                files[name].append(value)
            if r is None or isinstance(r, ShardReport):  # a shard is written from parse results only
                continue
            if r.meta.edition is None:
                rows.add_findings(seq, list(r.findings))  # a non-report: its findings explain why
            else:
                rows.add_report(seq, item, stored_findings(r), current=True, kept=None)
        pl.DataFrame(files, schema=FILES_SCHEMA).write_parquet(tmp / "files.parquet")
        frames = rows.frames()
        for table, schema in TABLE_SCHEMAS.items():
            frames.get(table, pl.DataFrame(schema=schema)).write_parquet(tmp / f"{table}.parquet")
        marker = {"version": SHARD_VERSION, "key": key, "n_files": n, **info}
        if timed_from is not None:
            marker["seconds"] = round(time.perf_counter() - timed_from, 3)
        (tmp / MARKER).write_text(json.dumps(marker, ensure_ascii=False), encoding="utf-8")
        try:
            os.rename(tmp, final)
        except OSError:
            if read_marker(final) is None:
                raise
    finally:
        with contextlib.suppress(FileNotFoundError):
            shutil.rmtree(tmp)
    return final


def read_marker(folder: str | os.PathLike[str]) -> dict | None:
    """The shard.json of a complete shard, or None when the shard is absent or unreadable."""
    try:
        return json.loads((Path(folder) / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def read_shard(folder: str | os.PathLike[str]) -> list[tuple[int, PendingFile]]:
    """The files of a shard as (seq, :class:`PendingFile`) in seq order, ready for the writer's queue."""
    folder = Path(folder)
    findings: dict[int, list[Finding]] = {}
    for f in pl.read_parquet(folder / "findings.parquet").iter_rows(named=True):
        findings.setdefault(f["report_id"], []).append(
            Finding(
                f["rule"],
                f["severity"],
                f["message"],
                list(f["keys"] or []),
                f["expected"],
                f["actual"],
                f["suspect_key"],
            )
        )
    reports = {row["report_id"]: row for row in pl.read_parquet(folder / "reports.parquet").iter_rows(named=True)}
    out: list[tuple[int, PendingFile]] = []
    for f in pl.read_parquet(folder / "files.parquet").sort("seq").iter_rows(named=True):
        seq = f["seq"]
        if not f["parsed"]:
            out.append(
                (
                    seq,
                    PendingFile(f["source_path"], None, f["error"], f["synthetic"], f["seconds"], f["sha256"]),
                )
            )
            continue
        meta = Meta(agency=f["agency"], year=f["year"], edition=f["edition"])
        report = ShardReport(f["sha256"], meta, findings.get(seq, []), reports.get(seq), str(folder), seq)
        out.append((seq, PendingFile(f["source_path"], report, None, f["synthetic"], f["seconds"])))
    return out


def insert_from_shards(
    con: duckdb.DuckDBPyConnection, table: str, placed: list[tuple[str, int, int]], prefix: str = ""
) -> None:
    """Insert ``table``'s rows of the placed reports — (shard, seq, report id) — straight from the shards' Parquet
    into ``{prefix}{table}`` (the write session's new segment: ``seg.main.``)."""
    select = SHARD_INSERTS[table]
    cols = ", ".join(TABLE_SCHEMAS[table])
    files = sorted({str(Path(shard) / f"{table}.parquet") for shard, _, _ in placed})
    con.register("_xxgk_placed", pl.DataFrame({"seq": [p[1] for p in placed], "rid": [p[2] for p in placed]}))
    try:
        rows = (
            "SELECT p.rid AS report_id, t.* EXCLUDE (report_id) FROM read_parquet(?) t"
            " JOIN _xxgk_placed p ON t.report_id = p.seq"
        )
        con.execute(f"INSERT INTO {prefix}{table} ({cols}) SELECT {select or cols} FROM ({rows})", [files])
    finally:
        con.unregister("_xxgk_placed")
