"""Copied text, computed incrementally inside the store's write transaction.

For every current report with an agency and a year, each narrative passage (a sentence, see
:mod:`pipeline.narrative`) is compared with

- the same agency's current report of the previous year — directly, every passage against every passage
  (``kind = 'previous'``), and
- other agencies' current reports of the same year — through MinHash LSH band keys stored in ``reuse_bands``
  (``kind = 'other'``), candidates confirmed by exact Jaccard ≥ :data:`signature.SIMILAR`.

A band bucket that holds more than :data:`COMMON_BUCKET` passages of one year is retired into ``reuse_common``
(its rows leave ``reuse_bands``, which bounds every lookup).  A passage with at least :data:`COMMON_BANDS` of its
band keys in retired buckets is *common wording* (a phrase many reports use, not a copy of one report): its matches
no longer count and its characters are counted in ``common_chars`` instead.

:func:`update` processes what changed since the last run — reports that became current (new, or a version that
replaced another) and reports that stopped being current — and recomputes the summary row of every report whose
matches changed (including the next year's report of an agency whose previous year was replaced).  Everything is
derived from ``reports`` and ``sections``, so ``rebuild=True`` recomputes it all from scratch.
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass

import duckdb
import numpy as np
import polars as pl

from pipeline.reuse import signature as sig
from pipeline.reuse.tables import (
    MATCH_SCHEMA,
    TABLES,
    agencies_of,
    ensure_schema,
    register_ids,
    select,
    summarise,
)

BATCH = 200
MEMORY_LIMIT = (
    "384MB"  # DuckDB's limit while copied text is computed (the writer's default of 128 MB ran out near
)
# 70,000 reports: a transaction keeps its inserts, updates and deletes in memory until it commits)
LOOKUP_PASSAGES = 1000  # passages whose LSH candidates one query looks up
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


def update(
    con: duckdb.DuckDBPyConnection,
    *,
    rebuild: bool = False,
    batch: int = BATCH,
    common_bucket: int = COMMON_BUCKET,
) -> ReuseUpdate:
    """Bring the reuse tables up to date with the current reports (one transaction per batch of new reports).

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
    if rebuild:
        con.execute("BEGIN TRANSACTION")
        for table in TABLES:
            con.execute(f"DELETE FROM {table}")
        con.execute("COMMIT")
    retired = [r[0] for r in con.execute(
        "SELECT u.report_id FROM reuse_reports u LEFT JOIN reports r USING (report_id)"
        " WHERE r.report_id IS NULL OR NOT r.is_current").fetchall()]  # fmt: skip
    if retired:
        con.execute("BEGIN TRANSACTION")
        touched = _retire(con, retired)
        summarise(con, touched - set(retired))
        con.execute("COMMIT")
        out.retired = len(retired)
    new = con.execute(
        "SELECT r.report_id, r.agency, r.year FROM reports r ANTI JOIN reuse_reports u USING (report_id)"
        " WHERE r.is_current ORDER BY r.report_id"
    ).fetchall()
    for i in range(0, len(new), batch):
        con.execute("BEGIN TRANSACTION")
        try:
            _add_batch(con, new[i : i + batch], out, common_bucket)
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
    out.added = len(new)
    out.seconds = time.perf_counter() - started
    return out


def _retire(con: duckdb.DuckDBPyConnection, ids: list[int]) -> set[int]:
    """Drop everything computed for reports that are no longer current; returns the reports whose matches changed."""
    register_ids(con, "_reuse_gone", ids)
    touched = {r[0] for r in con.execute(
        "SELECT source_id FROM reuse_matches JOIN _reuse_gone USING (report_id)"
        " UNION SELECT m.report_id FROM reuse_matches m JOIN _reuse_gone g ON m.source_id = g.report_id").fetchall()}  # fmt: skip
    con.execute("DELETE FROM reuse_matches WHERE report_id IN (SELECT report_id FROM _reuse_gone)"
                " OR source_id IN (SELECT report_id FROM _reuse_gone)")  # fmt: skip
    for table in ("reuse_bands", "reuse_passages", "reuse_reports"):
        con.execute(f"DELETE FROM {table} WHERE report_id IN (SELECT report_id FROM _reuse_gone)")
    con.unregister("_reuse_gone")
    return touched


def _load(
    con: duckdb.DuckDBPyConnection, ids: list[int], agencies: dict[int, str | None]
) -> dict[int, list[sig.Shingled]]:
    """Eligible passages (with shingles) of the given reports, from their stored sections."""
    texts: dict[int, dict[str, str]] = defaultdict(dict)
    if ids:
        register_ids(con, "_reuse_load", ids)
        for rid, section, text in con.execute(
            "SELECT s.report_id, s.section, s.text FROM sections s JOIN _reuse_load USING (report_id)"
        ).fetchall():
            texts[rid][section] = text
        con.unregister("_reuse_load")
    return {rid: sig.report_passages(texts.get(rid, {}), agencies.get(rid)) for rid in ids}


def _add_batch(
    con: duckdb.DuckDBPyConnection,
    reports: list[tuple[int, str | None, int | None]],
    out: ReuseUpdate,
    cap: int,
) -> None:
    agency_of = {rid: agency for rid, agency, _ in reports}
    year_of = {rid: year for rid, _, year in reports}
    passages = _load(con, list(agency_of), agency_of)
    rows = [(rid, p.pno, p.section, p.number, p.chars) for rid, ps in passages.items() for p in ps]
    con.register("_reuse_p", pl.DataFrame(rows, schema={"report_id": pl.Int32, "pno": pl.Int16, "section": pl.String,
                                                        "number": pl.Int16, "chars": pl.Int16}, orient="row"))  # fmt: skip
    con.execute(
        "INSERT INTO reuse_passages SELECT report_id, pno, section, number, chars, 0, false FROM _reuse_p"
    )
    con.unregister("_reuse_p")
    out.passages += len(rows)
    matches: list[tuple[int, int, int, int, str, float]] = []
    touched: set[int] = set(agency_of)
    comparable = [rid for rid in agency_of if agency_of[rid] and year_of[rid] is not None and passages[rid]]
    _previous_year(con, comparable, agency_of, year_of, passages, matches, touched)
    _other_agencies(con, comparable, year_of, passages, matches, touched, cap)
    if matches:
        con.register("_reuse_m", pl.DataFrame(matches, schema=MATCH_SCHEMA, orient="row"))
        con.execute("INSERT INTO reuse_matches SELECT DISTINCT * FROM _reuse_m")
        con.unregister("_reuse_m")
    out.matches += len(matches)
    out.summaries += summarise(con, touched)


def _best_matches(mine: list[sig.Shingled], theirs: list[sig.Shingled]) -> list[tuple[int, int, float]]:
    """(my pno, their pno, Jaccard) of each of my passages' most similar passage of theirs, if ≥ SIMILAR."""
    by_shingle: dict[str, list[int]] = defaultdict(list)
    for j, q in enumerate(theirs):
        for s in q.shingles:
            by_shingle[s].append(j)
    found = []
    for p in mine:
        counts: dict[int, int] = defaultdict(int)
        for s in p.shingles:
            for j in by_shingle.get(s, ()):
                counts[j] += 1
        best = max(
            ((c / (len(p.shingles) + len(theirs[j].shingles) - c), j) for j, c in counts.items()),
            default=None,
        )
        if best and best[0] >= sig.SIMILAR:
            found.append((p.pno, theirs[best[1]].pno, best[0]))
    return found


def _previous_year(con, comparable, agency_of, year_of, passages, matches, touched) -> None:  # noqa: ANN001
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
               SEMI JOIN reuse_reports done ON done.report_id = n.report_id"""
    ).fetchall()
    con.unregister("_reuse_k")
    later = [(rid, prev) for rid, prev, side in pairs if side == "next"]
    need = {prev for _, prev, side in pairs if side == "previous"} | {rid for rid, _ in later}
    need -= set(passages)
    agencies = agencies_of(con, need)
    loaded = {**passages, **_load(con, sorted(need), agencies)}
    if later:  # the next year's report is compared again with the new previous year
        register_ids(con, "_reuse_next", {rid for rid, _ in later})
        con.execute(
            "DELETE FROM reuse_matches WHERE kind = 'previous' AND report_id IN (SELECT report_id FROM _reuse_next)"
        )
        con.unregister("_reuse_next")
    for rid, prev, _ in pairs:
        for pno, source_pno, similarity in _best_matches(loaded[rid], loaded[prev]):
            matches.append((rid, pno, prev, source_pno, "previous", similarity))
        touched.add(rid)


def _other_agencies(con, comparable, year_of, passages, matches, touched, cap) -> None:  # noqa: ANN001
    """LSH candidates among other agencies' same-year reports, common buckets retired, exact Jaccard confirmed."""
    flat = [(rid, p) for rid in comparable for p in passages[rid]]
    if not flat:
        return
    keys = sig.band_keys(p for _, p in flat)
    bands = pl.DataFrame({
        "year": np.repeat(np.array([year_of[rid] for rid, _ in flat], dtype=np.int16), sig.BANDS),
        "band": keys.reshape(-1),
        "report_id": np.repeat(np.array([rid for rid, _ in flat], dtype=np.int32), sig.BANDS),
        "pno": np.repeat(np.array([p.pno for _, p in flat], dtype=np.int16), sig.BANDS),
    })  # fmt: skip
    con.register("_reuse_b", bands)
    # new bands that fall into retired buckets count towards their passage being common; the rest are stored
    con.execute(
        """UPDATE reuse_passages SET saturated = x.n, common = x.n >= ? FROM (
                       SELECT b.report_id, b.pno, count(*) AS n FROM _reuse_b b JOIN reuse_common c USING (year, band)
                       GROUP BY ALL) x
                   WHERE reuse_passages.report_id = x.report_id AND reuse_passages.pno = x.pno""",
        [COMMON_BANDS],
    )
    con.execute(
        "INSERT INTO reuse_bands SELECT b.* FROM _reuse_b b ANTI JOIN reuse_common c USING (year, band)"
    )
    full = con.execute("""SELECT s.year, s.band FROM reuse_bands s SEMI JOIN _reuse_b b USING (year, band)
                          GROUP BY ALL HAVING count(*) > ?""", [cap]).fetchall()  # fmt: skip
    if full:
        _retire_buckets(con, full, touched)
    con.unregister("_reuse_b")
    # pairs sharing enough band keys, LOOKUP_PASSAGES passages at a time: the join output (≤ cap rows per band key)
    # and its grouping stay small enough for the writer's memory limit
    pairs: list[tuple[int, int, int, int]] = []
    step = LOOKUP_PASSAGES * sig.BANDS
    for start in range(0, bands.height, step):
        con.register("_reuse_bc", bands.slice(start, step))
        pairs += con.execute(
            """SELECT b.report_id, b.pno, s.report_id AS source_id, s.pno AS source_pno
               FROM _reuse_bc b JOIN reuse_bands s USING (year, band)
               WHERE s.report_id <> b.report_id
               GROUP BY ALL HAVING count(*) >= ?""",
            [sig.MIN_SHARED_BANDS],
        ).fetchall()
        con.unregister("_reuse_bc")
    involved = {r for p in pairs for r in (p[0], p[2])}
    agencies = agencies_of(con, involved)
    common = {
        (r, n)
        for r, n in select(con, "SELECT report_id, pno FROM reuse_passages WHERE common AND {ids}", involved)
    }
    candidates = [p for p in pairs if agencies.get(p[0]) != agencies.get(p[2])
                  and (p[0], p[1]) not in common and (p[2], p[3]) not in common]  # fmt: skip
    sources = sorted({c[2] for c in candidates} - set(passages))
    loaded = {**passages, **_load(con, sources, agencies)}
    for rid, pno, source_id, source_pno in candidates:
        similarity = sig.jaccard(loaded[rid][pno].shingles, loaded[source_id][source_pno].shingles)
        if similarity >= sig.SIMILAR:  # symmetric: each passage is shared with the other
            matches.append((rid, pno, source_id, source_pno, "other", similarity))
            matches.append((source_id, source_pno, rid, pno, "other", similarity))
            touched.add(source_id)


def _retire_buckets(con: duckdb.DuckDBPyConnection, full: list[tuple[int, int]], touched: set[int]) -> None:
    """Retire buckets that outgrew the cap; passages that become common wording lose their other-agency matches."""
    con.register("_reuse_full", pl.DataFrame(full, schema={"year": pl.Int16, "band": pl.Int64}, orient="row"))
    con.execute("INSERT INTO reuse_common SELECT * FROM _reuse_full")
    con.execute("""UPDATE reuse_passages SET saturated = saturated + x.n FROM (
                       SELECT report_id, pno, count(*) AS n FROM reuse_bands JOIN _reuse_full USING (year, band)
                       GROUP BY ALL) x
                   WHERE reuse_passages.report_id = x.report_id AND reuse_passages.pno = x.pno""")
    con.execute(
        "DELETE FROM reuse_bands USING _reuse_full f WHERE reuse_bands.year = f.year AND reuse_bands.band = f.band"
    )
    con.execute(
        """CREATE OR REPLACE TEMP TABLE _reuse_commoned AS
                   SELECT report_id, pno FROM reuse_passages WHERE saturated >= ? AND NOT common""",
        [COMMON_BANDS],
    )
    con.execute("""UPDATE reuse_passages SET common = true FROM _reuse_commoned c
                   WHERE reuse_passages.report_id = c.report_id AND reuse_passages.pno = c.pno""")
    touched.update(r[0] for r in con.execute("SELECT DISTINCT report_id FROM _reuse_commoned").fetchall())
    # other-agency matches are stored both ways, so the rows of the commoned passages name every report involved
    for (
        pair
    ) in con.execute("""SELECT DISTINCT m.report_id, m.source_id FROM reuse_matches m JOIN _reuse_commoned c
                               ON m.report_id = c.report_id AND m.pno = c.pno WHERE m.kind = 'other'""").fetchall():
        touched.update(pair)
    for mine, theirs in (("report_id", "pno"), ("source_id", "source_pno")):
        con.execute(f"""DELETE FROM reuse_matches USING _reuse_commoned c WHERE reuse_matches.kind = 'other'
                        AND reuse_matches.{mine} = c.report_id AND reuse_matches.{theirs} = c.pno""")
    con.execute("DROP TABLE _reuse_commoned")
    con.unregister("_reuse_full")
