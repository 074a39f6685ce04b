"""Copied text, computed incrementally inside the store's write session.

For every current report with an agency and a year, each narrative passage (a sentence, see
:mod:`pipeline.narrative`) is compared with

- the same agency's current report of the previous year — every passage against every passage
  (``kind = 'previous'``), and
- other agencies' current reports of the same year — through MinHash LSH band keys looked up in the index beside
  the store (:mod:`pipeline.reuse.index`), candidates confirmed by exact Jaccard ≥ :data:`signature.SIMILAR`
  (``kind = 'other'``).

A band bucket that holds more than :data:`COMMON_BUCKET` passages of one year is retired into ``reuse_common``
(its entries leave the index, which bounds every lookup).  A passage with at least :data:`COMMON_BANDS` of its band
keys in retired buckets is *common wording* (a phrase many reports use, not a copy of one report): its matches no
longer count and its characters are counted in ``common_chars`` instead.

The work of :func:`update` is proportional to what is new: a batch of :data:`BATCH` reports is parsed once, its
passages' shingles, signatures and band keys are computed in one numpy pass (:mod:`pipeline.reuse.signature`), its
band keys are looked up in the index (a binary search per key and run, never a scan), the passages it is compared
with come from the index's stored texts, and only the reports whose matches changed are summarised again.
Everything is derived from ``reports`` and ``sections``, so ``rebuild=True`` recomputes it all from scratch.
"""

from __future__ import annotations

import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import numpy as np
import polars as pl

from pipeline.reuse import signature as sig
from pipeline.reuse.index import BandIndex, folder_of, passage_ids, split_ids
from pipeline.reuse.tables import (
    MATCH_SCHEMA,
    TABLES,
    agencies_of,
    ensure_schema,
    register_ids,
    select,
    summarise,
)

BATCH = 1000  # reports per transaction and per index run
MEMORY_LIMIT = "384MB"  # DuckDB's limit while copied text is computed (restored afterwards)
COMMON_BUCKET = 20
COMMON_BANDS = (
    4  # of signature.BANDS: one or two crowded bands are shared clauses, most of them a shared sentence
)


@dataclass
class ReuseUpdate:
    added: int = 0
    retired: int = 0
    passages: int = 0
    matches: int = 0
    summaries: int = 0
    seconds: float = 0.0
    phases: dict[str, float] = field(
        default_factory=dict
    )  # seconds by phase (parse, signatures, …), for benchmarks

    def lap(self, phase: str, since: float) -> float:
        now = time.perf_counter()
        self.phases[phase] = self.phases.get(phase, 0.0) + now - since
        return now


@dataclass
class _Batch:
    """The passages of a batch of reports, flat (one row per passage) with their shingle sets."""

    report_id: np.ndarray
    pno: np.ndarray
    texts: list[str]
    sets: sig.Shingles

    @property
    def pids(self) -> np.ndarray:
        return passage_ids(self.report_id, self.pno)


def update(
    con: duckdb.DuckDBPyConnection,
    *,
    rebuild: bool = False,
    batch: int = BATCH,
    common_bucket: int = COMMON_BUCKET,
) -> ReuseUpdate:
    """Bring the copied-text tables and index up to date with the current reports (one transaction per batch).

    ``common_bucket``: how many passages of a year may share a band bucket before it counts as common wording
    (a small test corpus has few reports per year, so its formulaic sentences need a lower bound to count as common).
    """
    started = time.perf_counter()
    limit = con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0]
    con.execute(f"SET memory_limit = '{MEMORY_LIMIT}'")
    try:
        return _update(con, rebuild, batch, common_bucket, started)
    finally:
        con.execute(f"SET memory_limit = '{limit}'")


def _update(
    con: duckdb.DuckDBPyConnection, rebuild: bool, batch: int, common_bucket: int, started: float
) -> ReuseUpdate:
    ensure_schema(con)
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
        index = BandIndex.open(folder, *(state[0] if state else (None, None)))
        if (
            index is None
        ):  # the store names an index state that is not on disk (a copied store, a lost folder)
            index = BandIndex.create(folder)
            _reindex(con, index, batch)
    retired = [r[0] for r in con.execute(
        "SELECT u.report_id FROM reuse_reports u LEFT JOIN reports r USING (report_id)"
        " WHERE r.report_id IS NULL OR NOT r.is_current").fetchall()]  # fmt: skip
    if retired:
        con.execute("BEGIN TRANSACTION")
        touched = _retire(con, retired)
        index.drop_reports(retired)
        summarise(con, touched - set(retired))
        _publish(con, index)
        con.execute("COMMIT")
        out.retired = len(retired)
    new = con.execute(
        "SELECT r.report_id, r.agency, r.year FROM reports r ANTI JOIN reuse_reports u USING (report_id)"
        " WHERE r.is_current ORDER BY r.report_id"
    ).fetchall()
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
    out.added = len(new)
    out.seconds = time.perf_counter() - started
    return out


def _publish(con: duckdb.DuckDBPyConnection, index: BandIndex) -> None:
    """Write the index's next manifest and name it in the store (in the caller's transaction)."""
    retired = np.sort(
        np.array([r[0] for r in con.execute("SELECT band FROM reuse_common").fetchall()], np.int64)
    )
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


def _sections(con: duckdb.DuckDBPyConnection, ids: list[int]) -> dict[int, dict[str, str]]:
    """The stored sections of the given reports.  The id range is given as a constant filter too, so DuckDB skips
    the row groups outside it (the reports of one ingest have neighbouring ids) instead of reading every section."""
    texts: dict[int, dict[str, str]] = defaultdict(dict)
    if ids:
        register_ids(con, "_reuse_load", ids)
        rows = con.execute(
            "SELECT report_id, section, text FROM sections WHERE report_id BETWEEN ? AND ?"
            " AND report_id IN (SELECT report_id FROM _reuse_load)",
            [min(ids), max(ids)],
        ).fetchall()
        con.unregister("_reuse_load")
        for rid, section, text in rows:
            texts[rid][section] = text
    return texts


def _parse(
    con: duckdb.DuckDBPyConnection, ids: list[int], agency_of: dict[int, str | None]
) -> dict[int, list[sig.Passage]]:
    texts = _sections(con, ids)
    return {rid: sig.report_passages(texts.get(rid, {}), agency_of.get(rid)) for rid in ids}


def _flatten(passages: dict[int, list[sig.Passage]], order: list[int]) -> _Batch:
    rows = [(rid, p.pno, p.text) for rid in order for p in passages[rid]]
    return _Batch(np.array([r[0] for r in rows], dtype=np.int64), np.array([r[1] for r in rows], dtype=np.int64),
                  [r[2] for r in rows], sig.shingle_sets([r[2] for r in rows]))  # fmt: skip


def _stored(
    index: BandIndex, con: duckdb.DuckDBPyConnection, ids: set[int]
) -> dict[int, list[tuple[int, str]]]:
    """(pno, normalised text) of the passages of compared reports: from the index, else parsed from the store."""
    found = index.report_texts(ids)
    missing = sorted(ids - set(found))
    if missing:
        agencies = agencies_of(con, missing)
        for rid, ps in _parse(con, missing, agencies).items():
            found[rid] = [(p.pno, p.text) for p in ps]
    return found


def _add_batch(
    con: duckdb.DuckDBPyConnection, index: BandIndex, reports: list[tuple[int, str | None, int | None]],
    out: ReuseUpdate, cap: int,
) -> None:  # fmt: skip
    agency_of = {rid: agency for rid, agency, _ in reports}
    year_of = {rid: year for rid, _, year in reports}
    ids = list(agency_of)
    t = time.perf_counter()
    passages = _parse(con, ids, agency_of)
    t = out.lap("read and parse sections", t)
    batch = _flatten(passages, ids)
    comparable = np.array(
        [bool(agency_of[r] and year_of[r] is not None) for r in batch.report_id.tolist()], dtype=bool
    )
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
    _previous_year(con, index, with_text, agency_of, year_of, batch, matches, touched)
    t = out.lap("previous year", t)
    live = comparable[:, None] & ~np.isin(keys, retired)
    entries_k, entries_p = keys[live], np.repeat(batch.pids, sig.BANDS).reshape(keys.shape)[live]
    common_new = {int(p) for p in batch.pids[saturated >= COMMON_BANDS]}
    kept = _other_agencies(con, index, batch, entries_k, entries_p, common_new, matches, touched, cap)
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


def _previous_year(con, index, comparable, agency_of, year_of, batch, matches, touched) -> None:  # noqa: ANN001
    """Compare each new report with its agency's previous year, and the next year's report with it."""
    if not comparable:
        return
    keys = pl.DataFrame({"report_id": comparable, "agency": [agency_of[r] for r in comparable],
                         "year": [year_of[r] for r in comparable]}, schema={"report_id": pl.Int32, "agency": pl.String, "year": pl.Int32})  # fmt: skip
    con.register("_reuse_k", keys)
    pairs = con.execute(
        """SELECT k.report_id, p.report_id AS other, 'previous' AS side FROM _reuse_k k
               JOIN reports p ON p.agency = k.agency AND p.year = k.year - 1 AND p.is_current
           UNION ALL
           SELECT n.report_id, k.report_id, 'next' FROM _reuse_k k
               JOIN reports n ON n.agency = k.agency AND n.year = k.year + 1 AND n.is_current
               SEMI JOIN reuse_reports done ON done.report_id = n.report_id
           ORDER BY 1, 2"""
    ).fetchall()
    con.unregister("_reuse_k")
    if not pairs:
        return
    later = {rid for rid, _, side in pairs if side == "next"}
    if later:  # the next year's report is compared again with the new previous year
        register_ids(con, "_reuse_next", later)
        con.execute(
            "DELETE FROM reuse_matches WHERE kind = 'previous' AND report_id IN (SELECT report_id FROM _reuse_next)"
        )
        con.unregister("_reuse_next")
    in_batch: dict[int, list[tuple[int, str]]] = defaultdict(list)
    for rid, pno, text in zip(batch.report_id.tolist(), batch.pno.tolist(), batch.texts, strict=True):
        in_batch[rid].append((pno, text))
    outside = {r for pair in pairs for r in pair[:2]} - set(in_batch)
    texts = {**_stored(index, con, outside), **in_batch}
    mine, theirs = [], []  # (group, report, pno, text)
    for group, (rid, other, _) in enumerate(pairs):
        mine += [(group, rid, pno, text) for pno, text in texts.get(rid, [])]
        theirs += [(group, other, pno, text) for pno, text in texts.get(other, [])]
        touched.add(rid)
    a, b = sig.shingle_sets([m[3] for m in mine]), sig.shingle_sets([t[3] for t in theirs])
    best = sig.best_matches(a, np.array([m[0] for m in mine], dtype=np.int64),
                            b, np.array([t[0] for t in theirs], dtype=np.int64))  # fmt: skip
    for i, j, similarity in best.tolist():
        if similarity >= sig.SIMILAR:
            m, t = mine[int(i)], theirs[int(j)]
            matches.append((m[1], m[2], t[1], t[2], "previous", similarity))


def _other_agencies(con, index, batch, entries_k, entries_p, common_new, matches, touched, cap) -> np.ndarray:  # noqa: ANN001
    """LSH candidates among other agencies' same-year passages, crowded buckets retired, exact Jaccard confirmed.

    Returns the mask of the new entries to add to the index (those whose bucket was not retired)."""
    if not len(entries_k):
        return np.zeros(0, dtype=bool)
    stored_k, stored_p = index.lookup(np.unique(entries_k))
    # every entry of the touched buckets: stored ones, then the batch's own
    all_k = np.concatenate([stored_k, entries_k])
    all_p = np.concatenate([stored_p, entries_p])
    is_new = np.concatenate([np.zeros(len(stored_k), bool), np.ones(len(entries_k), bool)])
    uk, inverse, counts = np.unique(all_k, return_inverse=True, return_counts=True)
    full = counts[inverse] > cap
    if full.any():
        _retire_buckets(con, uk[counts > cap], all_p[full], common_new, touched)
    kept = ~full[len(stored_k) :]
    # candidate pairs: a new entry and every other entry of its (not retired) bucket, from another report
    open_ = ~full
    all_k, all_p, is_new = all_k[open_], all_p[open_], is_new[open_]
    order = np.argsort(all_k, kind="stable")
    all_k, all_p, is_new = all_k[order], all_p[order], is_new[order]
    start = np.searchsorted(all_k, all_k, "left")
    size = np.searchsorted(all_k, all_k, "right") - start
    mine = np.flatnonzero(is_new)
    other = sig.ranges(start[mine], size[mine])
    me = np.repeat(all_p[mine], size[mine])
    them = all_p[other]
    differ = (me >> 16) != (them >> 16)
    me, them = me[differ], them[differ]
    # pairs sharing ≥ MIN_SHARED_BANDS keys: count (me, them) as one int64 over dense ranks of the passage ids
    distinct, rank = np.unique(np.concatenate([me, them]), return_inverse=True)
    rank = rank.reshape(-1)
    code, shared = np.unique(rank[: len(me)] * len(distinct) + rank[len(me) :], return_counts=True)
    code = code[shared >= sig.MIN_SHARED_BANDS]
    pair = np.column_stack([distinct[code // len(distinct)], distinct[code % len(distinct)]])
    if not len(pair):
        return kept
    reports = set(split_ids(pair[:, 1])[0].tolist()) | set(split_ids(pair[:, 0])[0].tolist())
    agencies = agencies_of(con, reports)
    old = reports - set(batch.report_id.tolist())
    common = common_new | {int(r) << 16 | int(n) for r, n in select(
        con, "SELECT report_id, pno FROM reuse_passages WHERE common AND {ids}", old)}  # fmt: skip
    keep = [k for k, (p, q) in enumerate(pair.tolist())
            if agencies.get(p >> 16) != agencies.get(q >> 16) and p not in common and q not in common]  # fmt: skip
    pair = pair[keep]
    if not len(pair):
        return kept
    where = {pid: i for i, pid in enumerate(batch.pids.tolist())}
    outside = sorted({q for q in pair[:, 1].tolist() if q not in where})
    stored = index.texts(outside)
    if len(stored) < len(outside):  # passages of reports not in the index yet: parsed from the store
        for rid, ps in _stored(index, con, {q >> 16 for q in outside if q not in stored}).items():
            stored.update({rid << 16 | pno: text for pno, text in ps})
    theirs = sorted({q for q in outside if q in stored})
    at = {q: i for i, q in enumerate(theirs)}
    pair = np.array([p for p in pair.tolist() if p[1] in where or p[1] in at], dtype=np.int64).reshape(-1, 2)
    other_sets = sig.shingle_sets([stored[q] for q in theirs])
    in_batch = np.array([q in where for q in pair[:, 1].tolist()], dtype=bool)
    similarity = np.zeros(len(pair))
    mine_i = np.array([where[p] for p in pair[:, 0].tolist()], dtype=np.int64)
    if in_batch.any():
        similarity[in_batch] = sig.pair_jaccard(batch.sets, mine_i[in_batch], batch.sets,
                                                np.array([where[q] for q in pair[in_batch, 1].tolist()], dtype=np.int64))  # fmt: skip
    if (~in_batch).any():
        similarity[~in_batch] = sig.pair_jaccard(batch.sets, mine_i[~in_batch], other_sets,
                                                 np.array([at[q] for q in pair[~in_batch, 1].tolist()], dtype=np.int64))  # fmt: skip
    for (p, q), s in zip(pair.tolist(), similarity.tolist(), strict=True):
        if s >= sig.SIMILAR:  # symmetric: each passage is shared with the other
            matches.append((p >> 16, p & 0xFFFF, q >> 16, q & 0xFFFF, "other", s))
            matches.append((q >> 16, q & 0xFFFF, p >> 16, p & 0xFFFF, "other", s))
            touched.add(q >> 16)
    return kept


def _retire_buckets(con, full_keys, members, common_new, touched) -> None:  # noqa: ANN001
    """Retire buckets that outgrew the cap; passages that become common wording lose their other-agency matches."""
    con.register("_reuse_full", pl.DataFrame({"band": full_keys.astype(np.int64)}))
    con.execute("INSERT INTO reuse_common SELECT band FROM _reuse_full")
    con.unregister("_reuse_full")
    pid, n = np.unique(members, return_counts=True)
    rid, pno = split_ids(pid)
    con.register(
        "_reuse_sat", pl.DataFrame({"report_id": rid.astype(np.int32), "pno": pno.astype(np.int16), "n": n})
    )
    con.execute("""UPDATE reuse_passages SET saturated = saturated + x.n FROM _reuse_sat x
                   WHERE reuse_passages.report_id = x.report_id AND reuse_passages.pno = x.pno""")
    commoned = pl.DataFrame(
        con.execute(
            """SELECT p.report_id, p.pno FROM reuse_passages p SEMI JOIN _reuse_sat x USING (report_id, pno)
               WHERE p.saturated >= ? AND NOT p.common""",
            [COMMON_BANDS],
        ).fetchall(),
        schema={"report_id": pl.Int32, "pno": pl.Int16},
        orient="row",
    )
    con.unregister("_reuse_sat")
    if not commoned.height:
        return
    con.register("_reuse_commoned", commoned)
    con.execute("""UPDATE reuse_passages SET common = true FROM _reuse_commoned c
                   WHERE reuse_passages.report_id = c.report_id AND reuse_passages.pno = c.pno""")
    touched.update(commoned["report_id"].to_list())
    common_new.update(int(r) << 16 | int(p) for r, p in commoned.iter_rows())
    # other-agency matches are stored both ways, so the rows of the commoned passages name every report involved
    for (
        pair
    ) in con.execute("""SELECT DISTINCT m.report_id, m.source_id FROM reuse_matches m JOIN _reuse_commoned c
                               ON m.report_id = c.report_id AND m.pno = c.pno WHERE m.kind = 'other'""").fetchall():
        touched.update(pair)
    for mine, theirs in (("report_id", "pno"), ("source_id", "source_pno")):
        con.execute(f"""DELETE FROM reuse_matches USING _reuse_commoned c WHERE reuse_matches.kind = 'other'
                        AND reuse_matches.{mine} = c.report_id AND reuse_matches.{theirs} = c.pno""")
    con.unregister("_reuse_commoned")


def _reindex(con: duckdb.DuckDBPyConnection, index: BandIndex, batch: int) -> None:
    """Fill an empty index from the store's compared reports (a copied store, a lost folder): the entries and texts
    incremental updates would have left, i.e. every compared passage's band keys outside retired buckets."""
    ids = [r[0] for r in con.execute("SELECT report_id FROM reuse_reports ORDER BY report_id").fetchall()]
    if not ids:
        return
    retired = np.array(
        [r[0] for r in con.execute("SELECT band FROM reuse_common").fetchall()], dtype=np.int64
    )
    for i in range(0, len(ids), batch):
        chunk = ids[i : i + batch]
        meta = {
            r: (a, y)
            for r, a, y in select(con, "SELECT report_id, agency, year FROM reports WHERE {ids}", chunk)
        }
        passages = _parse(con, chunk, {r: m[0] for r, m in meta.items()})
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
