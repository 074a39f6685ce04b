"""Copied text, computed incrementally inside the store's write session.

For every current report with an agency and a year, each narrative passage (a sentence, see
:mod:`pipeline.narrative`) is compared with

- the same agency's current report of the previous year — every passage against every passage
  (``kind = 'previous'``), and
- other agencies' current reports of the same year — through MinHash LSH band keys looked up in the index beside
  the store (:mod:`pipeline.reuse.index`), candidates confirmed by exact Jaccard ≥ :data:`signature.SIMILAR`
  (``kind = 'other'``).

A band bucket that holds more than :data:`~pipeline.reuse.matching.COMMON_BUCKET` passages of one year is retired into ``reuse_common``
(its entries leave the index, which bounds every lookup).  A passage with at least :data:`~pipeline.reuse.matching.COMMON_BANDS` of its band
keys in retired buckets is *common wording* (a phrase many reports use, not a copy of one report): its matches no
longer count and its characters are counted in ``common_chars`` instead.

The work of :func:`update` is proportional to what is new: a batch of :data:`BATCH` reports is parsed once, its
passages' shingles, signatures and band keys are computed in one numpy pass (:mod:`pipeline.reuse.signature`), its
band keys are looked up in the index (a binary search per key and run, never a scan), the passages it is compared
with come from the index's stored texts, and only the reports whose matches changed are summarised again.
Everything is derived from ``reports`` and ``sections``, so ``rebuild=True`` recomputes it all from scratch.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import numpy as np
import polars as pl

from pipeline.reuse import signature as sig
from pipeline.reuse.index import BandIndex, folder_of
from pipeline.reuse.matching import (
    COMMON_BANDS,
    COMMON_BUCKET,
    Batch,
    other_agencies,
    parse_passages,
    previous_year,
)
from pipeline.reuse.tables import (
    MATCH_SCHEMA,
    TABLES,
    ensure_schema,
    register_ids,
    select,
    summarise,
)
from pipeline.store.memory import SMALL_WRITE, memory_limit

BATCH = 1000  # reports per transaction and per index run
# DuckDB's limit while copied text is computed (restored afterwards); past it DuckDB spills to the write connection's
# temp_directory (docs/storage.md, "Memory of a long ingest").  What the step holds grows with the store, not only with
# the write: 128 MB ran out in the 6th 50,000-report session of a 1 M ingest (300,000 reports stored; 1 M run 5), and
# at ≈ 70,000 reports in one session; 384 MB passed eight sessions (400,000 reports, 1 M run 4).  A small write (up
# to SMALL_WRITE reports: an upload, a one-file ingest) keeps the writer's own 128 MB, which it never comes near.
# env XXGK_REUSE_MEMORY sets one limit for every write.
MEMORY_LIMIT = os.environ.get("XXGK_REUSE_MEMORY", "128MB")
LARGE_WRITE_MEMORY_LIMIT = os.environ.get("XXGK_REUSE_MEMORY", "384MB")
MAX_SCOPE = 10_000  # a write that touched more reports than this compares the whole store (one join, not a long list)


@dataclass
class ReuseUpdate:
    added: int = 0
    retired: int = 0
    passages: int = 0
    matches: int = 0
    summaries: int = 0
    seconds: float = 0.0
    phases: dict[str, float] = field(default_factory=dict)  # seconds by phase (parse, signatures, …), for benchmarks

    def lap(self, phase: str, since: float) -> float:
        now = time.perf_counter()
        self.phases[phase] = self.phases.get(phase, 0.0) + now - since
        return now


def update(
    con: duckdb.DuckDBPyConnection,
    *,
    rebuild: bool = False,
    batch: int = BATCH,
    common_bucket: int = COMMON_BUCKET,
    scope: Collection[int] | None = None,
) -> ReuseUpdate:
    """Bring the copied-text tables and index up to date with the current reports (one transaction per batch).

    ``common_bucket``: how many passages of a year may share a band bucket before it counts as common wording
    (a small test corpus has few reports per year, so its formulaic sentences need a lower bound to count as common).
    ``scope``: the only reports whose state may have changed since the last update (a write session's new reports
    and the ones it retired) — the store-wide comparison of ``reuse_reports`` with ``reports`` is then skipped,
    and done after all (the same result) if the count of compared reports does not match the current reports.
    """
    started = time.perf_counter()
    large = rebuild or scope is None or len(scope) > SMALL_WRITE
    with memory_limit(con, LARGE_WRITE_MEMORY_LIMIT if large else MEMORY_LIMIT):
        return _update(con, rebuild, batch, common_bucket, started, scope)


def _changes(
    con: duckdb.DuckDBPyConnection, scope: list[int] | None
) -> tuple[list[int], list[tuple[int, str | None, int | None]]]:
    """The compared reports that are no longer current (or gone), and the current reports not compared yet: among
    ``scope`` only (constant filters, read from the segments' zone maps), or over the whole store (None)."""
    if scope is None:
        retired = [r[0] for r in con.execute(
            "SELECT u.report_id FROM reuse_reports u LEFT JOIN reports r USING (report_id)"
            " WHERE r.report_id IS NULL OR NOT r.is_current").fetchall()]  # fmt: skip
        new = con.execute(
            "SELECT r.report_id, r.agency, r.year FROM reports r ANTI JOIN reuse_reports u USING (report_id)"
            " WHERE r.is_current ORDER BY r.report_id"
        ).fetchall()
        return retired, new
    current = "SELECT report_id FROM reports WHERE list_contains($ids, report_id) AND is_current"
    retired = [r[0] for r in con.execute(
        f"SELECT report_id FROM reuse_reports WHERE list_contains($ids, report_id) AND report_id NOT IN ({current})"
        " ORDER BY report_id", {"ids": scope}).fetchall()]  # fmt: skip
    new = con.execute(
        "SELECT report_id, agency, year FROM reports WHERE list_contains($ids, report_id) AND is_current"
        " AND report_id NOT IN (SELECT report_id FROM reuse_reports WHERE list_contains($ids, report_id))"
        " ORDER BY report_id",
        {"ids": scope},
    ).fetchall()
    return retired, new


def _consistent(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether every current report is compared (one ``reuse_reports`` row each): two counts, no join."""
    compared, current = con.execute(
        "SELECT (SELECT count(*) FROM reuse_reports), (SELECT count(*) FROM reports WHERE is_current)"
    ).fetchall()[0]
    return bool(compared == current)


def _update(
    con: duckdb.DuckDBPyConnection, rebuild: bool, batch: int, common_bucket: int, started: float,
    scope: Collection[int] | None = None,
) -> ReuseUpdate:  # fmt: skip
    if ensure_schema(con) or rebuild or (scope is not None and len(scope) > MAX_SCOPE):
        scope = None
    out = ReuseUpdate()
    folder = folder_of(con) or Path(tempfile.mkdtemp(prefix="xxgk-reuse-"))
    if rebuild:
        con.execute("BEGIN TRANSACTION")
        for table in TABLES:
            con.execute(f"DELETE FROM {table}")
        con.execute("COMMIT")
        index = BandIndex.create(folder)
    else:
        state = con.execute("SELECT token, version FROM reuse_state").fetchall()
        opened = BandIndex.open(folder, *(state[0] if state else (None, None)))
        if opened is None:  # the store names an index state that is not on disk (a copied store, a lost folder)
            index = BandIndex.create(folder)
            _reindex(con, index, batch)
        else:
            index = opened
    _apply(con, index, _changes(con, None if scope is None else sorted(scope)), batch, common_bucket, out)
    if scope is not None and not _consistent(con):  # a report outside the scope changed: compare the whole store
        _apply(con, index, _changes(con, None), batch, common_bucket, out)
    out.seconds = time.perf_counter() - started
    return out


def _apply(
    con: duckdb.DuckDBPyConnection, index: BandIndex,
    changes: tuple[list[int], list[tuple[int, str | None, int | None]]], batch: int, common_bucket: int,
    out: ReuseUpdate,
) -> None:  # fmt: skip
    """Drop the retired reports' passages and matches, then compare the new ones, ``batch`` at a time."""
    retired, new = changes
    if retired:
        con.execute("BEGIN TRANSACTION")
        touched = _retire(con, retired)
        index.drop_reports(retired)
        summarise(con, touched - set(retired))
        _publish(con, index)
        con.execute("COMMIT")
        out.retired += len(retired)
    for i in range(0, len(new), batch):
        con.execute("BEGIN TRANSACTION")
        try:
            _add_batch(con, index, new[i : i + batch], out, common_bucket)
            t = time.perf_counter()
            _publish(con, index)
            t = out.lap("index merge and manifest", t)
            con.execute("COMMIT")
            out.lap("commit", t)
        except BaseException:
            con.execute("ROLLBACK")
            raise
    out.added += len(new)


def _publish(con: duckdb.DuckDBPyConnection, index: BandIndex) -> None:
    """Write the index's next manifest and name it in the store (in the caller's transaction)."""
    retired = np.sort(np.array([r[0] for r in con.execute("SELECT band FROM reuse_common").fetchall()], np.int64))
    version = index.publish(retired)
    con.execute("DELETE FROM reuse_state")
    con.execute("INSERT INTO reuse_state VALUES (?, ?)", [index.m.token, version])


def _retire(con: duckdb.DuckDBPyConnection, ids: list[int]) -> set[int]:
    """Drop everything computed for reports that are no longer current; returns the reports whose matches changed."""
    register_ids(con, "_reuse_gone", ids)
    touched = {r[0] for r in con.execute(
        "SELECT source_id FROM reuse_matches JOIN _reuse_gone USING (report_id)"
        " UNION SELECT m.report_id FROM reuse_matches m JOIN _reuse_gone g ON m.source_id = g.report_id").fetchall()}  # fmt: skip
    con.execute("DELETE FROM reuse_matches WHERE report_id IN (SELECT report_id FROM _reuse_gone)"
                " OR source_id IN (SELECT report_id FROM _reuse_gone)")  # fmt: skip
    for table in ("reuse_passages", "reuse_reports"):
        con.execute(f"DELETE FROM {table} WHERE report_id IN (SELECT report_id FROM _reuse_gone)")
    con.unregister("_reuse_gone")
    return touched


def _flatten(passages: dict[int, list[sig.Passage]], order: list[int]) -> Batch:
    rows = [(rid, p.pno, p.text) for rid in order for p in passages[rid]]
    return Batch(np.array([r[0] for r in rows], dtype=np.int64), np.array([r[1] for r in rows], dtype=np.int64),
                  [r[2] for r in rows], sig.shingle_sets([r[2] for r in rows]))  # fmt: skip


def _add_batch(
    con: duckdb.DuckDBPyConnection, index: BandIndex, reports: list[tuple[int, str | None, int | None]],
    out: ReuseUpdate, cap: int,
) -> None:  # fmt: skip
    agency_of = {rid: agency for rid, agency, _ in reports}
    year_of = {rid: year for rid, _, year in reports}
    ids = list(agency_of)
    t = time.perf_counter()
    passages = parse_passages(con, ids, agency_of)
    t = out.lap("read and parse sections", t)
    batch = _flatten(passages, ids)
    comparable = np.array([bool(agency_of[r] and year_of[r] is not None) for r in batch.report_id.tolist()], dtype=bool)
    years = np.array([year_of[r] or 0 for r in batch.report_id.tolist()], dtype=np.int64)
    keys = sig.band_keys(sig.minhashes(batch.sets), years)
    t = out.lap("shingles, MinHash, band keys", t)
    # band keys in buckets retired earlier count towards a passage being common wording
    con.register("_reuse_k", pl.DataFrame({"band": np.unique(keys[comparable])}))
    retired = np.array([r[0] for r in con.execute(
        "SELECT band FROM reuse_common SEMI JOIN _reuse_k USING (band)").fetchall()], dtype=np.int64)  # fmt: skip
    con.unregister("_reuse_k")
    saturated = np.isin(keys, retired).sum(axis=1) * comparable
    flat = [p for rid in ids for p in passages[rid]]
    con.register("_reuse_p", pl.DataFrame({
        "report_id": batch.report_id.astype(np.int32), "pno": batch.pno.astype(np.int16),
        "section": [p.section for p in flat], "number": np.array([p.number for p in flat], dtype=np.int16),
        "chars": np.array([p.chars for p in flat], dtype=np.int16), "saturated": saturated.astype(np.int16),
        "common": saturated >= COMMON_BANDS}))  # fmt: skip
    con.execute("INSERT INTO reuse_passages SELECT * FROM _reuse_p")
    con.unregister("_reuse_p")
    out.passages += len(flat)
    matches: list[tuple[int, int, int, int, str, float]] = []
    touched: set[int] = set(ids)
    with_text = [r for r in ids if agency_of[r] and year_of[r] is not None and passages[r]]
    t = out.lap("store passages", t)
    previous_year(con, index, with_text, agency_of, year_of, batch, matches, touched)
    t = out.lap("previous year", t)
    live = comparable[:, None] & ~np.isin(keys, retired)
    entries_k, entries_p = keys[live], np.repeat(batch.pids, sig.BANDS).reshape(keys.shape)[live]
    common_new = {int(p) for p in batch.pids[saturated >= COMMON_BANDS]}
    kept = other_agencies(con, index, batch, entries_k, entries_p, common_new, matches, touched, cap)
    t = out.lap("other agencies (lookup, buckets, Jaccard)", t)
    if matches:
        con.register("_reuse_m", pl.DataFrame(matches, schema=MATCH_SCHEMA, orient="row"))
        con.execute("INSERT INTO reuse_matches SELECT DISTINCT * FROM _reuse_m")
        con.unregister("_reuse_m")
    out.matches += len(matches)
    index.add(entries_k[kept], entries_p[kept], batch.pids, batch.texts)
    t = out.lap("index run written", t)
    out.summaries += summarise(con, touched)
    out.lap("summaries", t)


def _reindex(con: duckdb.DuckDBPyConnection, index: BandIndex, batch: int) -> None:
    """Fill an empty index from the store's compared reports (a copied store, a lost folder): the entries and texts
    incremental updates would have left, i.e. every compared passage's band keys outside retired buckets."""
    ids = [r[0] for r in con.execute("SELECT report_id FROM reuse_reports ORDER BY report_id").fetchall()]
    if not ids:
        return
    retired = np.array([r[0] for r in con.execute("SELECT band FROM reuse_common").fetchall()], dtype=np.int64)
    for i in range(0, len(ids), batch):
        chunk = ids[i : i + batch]
        meta = {r: (a, y) for r, a, y in select(con, "SELECT report_id, agency, year FROM reports WHERE {ids}", chunk)}
        passages = parse_passages(con, chunk, {r: m[0] for r, m in meta.items()})
        b = _flatten(passages, chunk)
        rows = [meta.get(r, (None, None)) for r in b.report_id.tolist()]
        comparable = np.array([bool(a and y is not None) for a, y in rows], dtype=bool)
        keys = sig.band_keys(sig.minhashes(b.sets), np.array([y or 0 for _, y in rows], dtype=np.int64))
        live = comparable[:, None] & ~np.isin(keys, retired)
        index.add(keys[live], np.repeat(b.pids, sig.BANDS).reshape(keys.shape)[live], b.pids, b.texts)
        index.publish(np.sort(retired))
    con.execute("BEGIN TRANSACTION")
    con.execute("DELETE FROM reuse_state")
    con.execute("INSERT INTO reuse_state VALUES (?, ?)", [index.m.token, index.m.version])
    con.execute("COMMIT")
