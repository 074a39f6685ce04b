"""Copied text: the comparisons of one batch of new passages — with the same agency's previous report, with other
agencies' reports of the same year through the band index — and the retiring of crowded band buckets.

Called by :mod:`pipeline.reuse.engine` inside the store's write session; every function reads the batch and the
index and appends to ``matches`` (and the set of reports whose matches changed, ``touched``).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import duckdb
import numpy as np
import polars as pl

from pipeline.reuse import signature as sig
from pipeline.reuse.index import BandIndex, passage_ids, split_ids
from pipeline.reuse.tables import agencies_of, register_ids, select

COMMON_BUCKET = 20
COMMON_BANDS = 4  # of signature.BANDS: one or two crowded bands are shared clauses, most of them a shared sentence


@dataclass
class Batch:
    """The passages of a batch of reports, flat (one row per passage) with their shingle sets."""

    report_id: np.ndarray
    pno: np.ndarray
    texts: list[str]
    sets: sig.Shingles

    @property
    def pids(self) -> np.ndarray:
        return passage_ids(self.report_id, self.pno)


def section_texts(con: duckdb.DuckDBPyConnection, ids: list[int]) -> dict[int, dict[str, str]]:
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


def parse_passages(
    con: duckdb.DuckDBPyConnection, ids: list[int], agency_of: dict[int, str | None]
) -> dict[int, list[sig.Passage]]:
    texts = section_texts(con, ids)
    return {rid: sig.report_passages(texts.get(rid, {}), agency_of.get(rid)) for rid in ids}


def stored_texts(index: BandIndex, con: duckdb.DuckDBPyConnection, ids: set[int]) -> dict[int, list[tuple[int, str]]]:
    """(pno, normalised text) of the passages of compared reports: from the index, else parsed from the store."""
    found = index.report_texts(ids)
    missing = sorted(ids - set(found))
    if missing:
        agencies = agencies_of(con, missing)
        for rid, ps in parse_passages(con, missing, agencies).items():
            found[rid] = [(p.pno, p.text) for p in ps]
    return found


def previous_year(con, index, comparable, agency_of, year_of, batch, matches, touched) -> None:  # noqa: ANN001
    """Compare each new report with its agency's previous year, and the next year's report with it."""
    if not comparable:
        return
    keys = pl.DataFrame({"report_id": comparable, "agency": [agency_of[r] for r in comparable],
                         "year": [year_of[r] for r in comparable]}, schema={"report_id": pl.Int32, "agency": pl.String, "year": pl.Int32})  # fmt: skip
    con.register("_reuse_k", keys)
    # the batch's agencies and neighbouring years as constant filters too: the scans of ``reports`` then skip what
    # cannot match instead of joining every report of the store (0.35 s at 1 M reports, 5 ms so)
    near = "(SELECT * FROM reports WHERE list_contains($agencies, agency) AND list_contains($years, year))"
    pairs = con.execute(
        f"""SELECT k.report_id, p.report_id AS other, 'previous' AS side FROM _reuse_k k
               JOIN {near} p ON p.agency = k.agency AND p.year = k.year - 1 AND p.is_current
           UNION ALL
           SELECT n.report_id, k.report_id, 'next' FROM _reuse_k k
               JOIN {near} n ON n.agency = k.agency AND n.year = k.year + 1 AND n.is_current
               SEMI JOIN reuse_reports done ON done.report_id = n.report_id
           ORDER BY 1, 2""",
        {
            "agencies": sorted({agency_of[r] for r in comparable}),
            "years": sorted({year_of[r] + d for r in comparable for d in (-1, 1)}),
        },
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
    texts = {**stored_texts(index, con, outside), **in_batch}
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


def other_agencies(con, index, batch, entries_k, entries_p, common_new, matches, touched, cap) -> np.ndarray:  # noqa: ANN001
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
        retire_buckets(con, uk[counts > cap], all_p[full], common_new, touched)
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
        for rid, ps in stored_texts(index, con, {q >> 16 for q in outside if q not in stored}).items():
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


def retire_buckets(con, full_keys, members, common_new, touched) -> None:  # noqa: ANN001
    """Retire buckets that outgrew the cap; passages that become common wording lose their other-agency matches."""
    con.register("_reuse_full", pl.DataFrame({"band": full_keys.astype(np.int64)}))
    con.execute("INSERT INTO reuse_common SELECT band FROM _reuse_full")
    con.unregister("_reuse_full")
    pid, n = np.unique(members, return_counts=True)
    rid, pno = split_ids(pid)
    con.register("_reuse_sat", pl.DataFrame({"report_id": rid.astype(np.int32), "pno": pno.astype(np.int16), "n": n}))
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
    for pair in con.execute("""SELECT DISTINCT m.report_id, m.source_id FROM reuse_matches m JOIN _reuse_commoned c
                               ON m.report_id = c.report_id AND m.pno = c.pno WHERE m.kind = 'other'""").fetchall():
        touched.update(pair)
    for mine, theirs in (("report_id", "pno"), ("source_id", "source_pno")):
        con.execute(f"""DELETE FROM reuse_matches USING _reuse_commoned c WHERE reuse_matches.kind = 'other'
                        AND reuse_matches.{mine} = c.report_id AND reuse_matches.{theirs} = c.pno""")
    con.unregister("_reuse_commoned")
