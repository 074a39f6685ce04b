"""The derived indexes of a store built by :mod:`bench.bench_scale_build`, made in bulk by replication.

A built store holds ``copies`` of every source report (copy ``k`` of report ``r`` has id ``k * stride + r``) and its
catalog holds the source's copied-text tables with ids mapped the same way.  What the real write path would have
left beside it is made here from the source, once per *source* report, and then written out for every copy:

- **the copied-text band index** (``<store>.reuse/``, :mod:`pipeline.reuse.index`): every source report's passages
  are parsed and normalised once, their MinHash band keys computed once, and the entries and texts written for every
  copy — passage id ``copy_id << 16 | pno`` — as one sorted run (:meth:`BandIndex.add_sorted`, in key ranges of
  bounded size), published, and named in the catalog's ``reuse_state``.  The result is what the engine's own rebuild
  of a lost index (``engine._reindex``) makes from the same store: the entries of every compared passage outside the
  retired buckets, and every passage's text.  The texts are *not* the source index's: normalisation replaces a
  report's own agency name with 〇, and a copy's agency is renamed (``名称·k``), so in a copy the name stays text.
  They are normalised as for the copy's agency; that equals normalising without an agency unless the copy's name
  occurs in the text, which is checked (such a report stops the build with a message rather than being indexed
  wrongly).
- **the full-text index** (``<store>.search.sqlite``, :mod:`pipeline.search.index`): see :func:`build_search`.
"""

from __future__ import annotations

import math
import os
import time
import unicodedata
from collections.abc import Callable, Iterator
from pathlib import Path

import duckdb
import numpy as np

from pipeline.reuse import signature as sig
from pipeline.reuse.index import SUFFIX, BandIndex, passage_ids
from pipeline.reuse.matching import section_texts
from pipeline.reuse.tables import SCHEMA as REUSE_SCHEMA
from pipeline.store import segments as seg
from pipeline.store import sums_file

CHUNK = 1 << 21  # band entries (of all copies) sorted and written at a time
SOURCE_BATCH = 1000  # source reports parsed at a time
Log = Callable[[str], None]


def max_id(catalog: Path, where: str = "true") -> int:
    reader = seg.open_reader(catalog)
    try:
        return int(reader.execute(f"SELECT max(report_id) FROM reports WHERE {where}").fetchall()[0][0])
    finally:
        reader.close()


def _catalog(path: Path, read_only: bool = True) -> duckdb.DuckDBPyConnection:
    """A connection whose default database is the catalog at ``path`` (attached, as the store's own code does)."""
    con = seg.connect()
    con.execute(f"ATTACH {seg.quote(path)} AS cat{' (READ_ONLY)' if read_only else ''}")
    con.execute("USE cat")
    return con


class IngestedAfterBuild(Exception):
    """The built store has reports beyond the copies: its indexes can no longer be made by replication."""


def copies_of(src: Path, out: Path) -> tuple[int, int]:
    """(stride, highest copy id) of the store at ``out`` built from ``src``.  Reports ingested after the build (ids
    above the copies) are refused: their indexes are not replicas (rebuild the store, or let an ingest add them)."""
    stride = max_id(src) + 1
    top = max_id(out, "sha256 LIKE '%-%'")  # a copy's hash is the source's with '-k' appended
    if max_id(out) != top:
        raise IngestedAfterBuild(f"{out}: reports were ingested after the build; rebuild the store for its indexes")
    reader = seg.open_reader(src)
    try:
        hashes = reader.sql("SELECT report_id, sha256 FROM reports").pl()
    finally:
        reader.close()
    reader = seg.open_reader(out)
    try:  # every copy is a copy of the source report its id names (the store was built from this source)
        reader.register("src_hashes", hashes)
        wrong = reader.execute(f"""SELECT count(*) FROM reports r LEFT JOIN src_hashes s
            ON s.report_id = r.report_id % {stride} AND r.sha256 = s.sha256 || '-' || (r.report_id // {stride})
            WHERE s.report_id IS NULL""").fetchall()[0][0]  # fmt: skip
    finally:
        reader.close()
    if wrong:
        raise SystemExit(f"{out}: {wrong:,} reports are not copies of {src}'s (built from another source?)")
    return stride, top


def has_indexes(db: Path) -> bool:
    """Whether the store at ``db`` has every derived index (:func:`missing_indexes`)."""
    return not missing_indexes(db)


def missing_indexes(db: Path) -> str:
    """The derived indexes the store at ``db`` lacks, as ``bench_scale_build.add_indexes`` names them ("band,search",
    "sums", "": none): the band index state its catalog names, the full-text index, stored metric sums that match it."""
    missing = [] if _has_band_and_search(db) else ["band", "search"]
    con = seg.open_reader(Path(os.path.realpath(db)))
    try:
        if not sums_file.attach(con, Path(os.path.realpath(db))):
            missing.append("sums")
    finally:
        con.close()
    return ",".join(missing)


def _has_band_and_search(db: Path) -> bool:
    """Whether the store at ``db`` has a full-text index and the band index state its catalog names (read only)."""
    from pipeline import search

    con = _catalog(db)
    try:
        found = con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = 'reuse_state'").fetchall()[0][0]
        state = con.execute("SELECT token, version FROM reuse_state").fetchall() if found else []
    finally:
        con.close()
    folder = Path(os.path.realpath(db))
    manifest = folder.with_name(folder.name + SUFFIX) / f"manifest-{state[0][1]}.json" if state else None
    return bool(manifest and manifest.is_file() and state[0][0] in manifest.read_text(encoding="utf-8")
                and search.index_path(db).exists())  # fmt: skip


class _Source:
    """Every compared source report's passages, as each copy of it is compared: the copy's texts, band entries."""

    def __init__(self, src: Path, out: Path, stride: int, top: int, log: Log) -> None:
        cat = _catalog(out)
        try:
            ids = [r for (r,) in cat.execute(
                f"SELECT DISTINCT report_id % {stride} FROM reuse_reports WHERE report_id <= {top} ORDER BY 1").fetchall()]  # fmt: skip
            retired = np.sort(np.array([b for (b,) in cat.execute("SELECT band FROM reuse_common").fetchall()],
                                       dtype=np.int64))  # fmt: skip
        finally:
            cat.close()
        reader = seg.open_reader(src)
        keys, pids, text_pids, texts = [], [], [], []
        try:
            meta = {r: (a, y) for r, a, y in reader.execute("SELECT report_id, agency, year FROM reports").fetchall()}
            for i in range(0, len(ids), SOURCE_BATCH):
                chunk = ids[i : i + SOURCE_BATCH]
                sections = section_texts(reader, chunk)
                for rid in chunk:
                    agency, year = meta[rid]
                    passages = sig.report_passages(sections.get(rid, {}), None)
                    _check_copy_names(rid, agency, year, sections.get(rid, {}), passages, stride, top)
                    if not passages:
                        continue
                    rows = [p.text for p in passages]
                    p_ids = passage_ids(np.full(len(rows), rid), np.array([p.pno for p in passages]))
                    text_pids.append(p_ids)
                    texts += rows
                    if (
                        agency is not None and year is not None
                    ):  # comparable: the copy has an agency (renamed) and the year
                        k = sig.band_keys(sig.minhashes(sig.shingle_sets(rows)), np.full(len(rows), year))
                        live = ~np.isin(k, retired)
                        keys.append(k[live])
                        pids.append(np.repeat(p_ids, sig.BANDS).reshape(k.shape)[live])
        finally:
            reader.close()
        k, p = (np.concatenate(x) if x else np.zeros(0, np.int64) for x in (keys, pids))
        order = np.lexsort((p, k))
        self.keys, self.pids = k[order], p[order]
        self.text_pids = np.concatenate(text_pids) if text_pids else np.zeros(0, np.int64)
        blobs = [t.encode("utf-8") for t in texts]
        self.lengths = np.array([len(b) for b in blobs], dtype=np.int64)
        self.blob = b"".join(blobs)
        self.stride, self.top = stride, top
        self.copies = math.ceil((top + 1) / stride)
        log(f"band index: {len(ids):,} source reports, {len(self.text_pids):,} passages, "
            f"{len(self.keys):,} band entries per copy, {self.copies} copies")  # fmt: skip

    def _mapped(self, pids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(copy pids of every copy k, in k-major order; mask of those whose report the store has)."""
        k = np.arange(self.copies, dtype=np.int64)[:, None]
        out = (((k * self.stride + (pids >> 16)) << 16) | (pids & 0xFFFF)).reshape(-1)
        return out, (out >> 16) <= self.top

    def bands(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Every copy's entries sorted by (key, pid), a range of keys at a time."""
        step = max(1, CHUNK // self.copies)
        edges = [0, *np.searchsorted(self.keys, np.unique(self.keys[step::step]), "left").tolist(), len(self.keys)]
        for a, b in zip(edges[:-1], edges[1:], strict=True):
            if a == b:
                continue
            pids, present = self._mapped(self.pids[a:b])
            keys = np.tile(self.keys[a:b], self.copies)
            keys, pids = keys[present], pids[present]
            order = np.lexsort((pids, keys))
            yield keys[order], pids[order]

    def texts(self) -> Iterator[tuple[np.ndarray, np.ndarray, bytes]]:
        """Every copy's passage texts, copy by copy (increasing ids)."""
        offsets = np.concatenate([[0], np.cumsum(self.lengths)])
        for k in range(self.copies):
            pids = ((k * self.stride + (self.text_pids >> 16)) << 16) | (self.text_pids & 0xFFFF)
            n = int(np.searchsorted(pids >> 16, self.top, "right"))  # the last copy may be partial
            yield pids[:n], self.lengths[:n], self.blob[: offsets[n]]


def _check_copy_names(rid: int, agency: str | None, year: int | None, sections: dict[str, str],
                      passages: list[sig.Passage], stride: int, top: int) -> None:  # fmt: skip
    """Stop if some copy's agency name occurs in the report's text (its passages would then normalise differently
    from the texts written for it).  The names all contain '·', so a text without one needs no further check."""
    if agency is None or not passages:
        return
    text = unicodedata.normalize("NFKC", "\n".join(t for t in sections.values() if t)).lower()
    if "·" not in text:
        return
    from bench.bench_scale_build import agency_of_copy

    plain = [p.text for p in passages]
    for k in range(math.ceil((top + 1) / stride)):
        if k * stride + rid <= top:
            name = agency_of_copy(agency, k, year)
            if [p.text for p in sig.report_passages(sections, name)] != plain:
                raise SystemExit(f"source report {rid}: copy {k}'s agency name {name!r} occurs in its text")


def build_band_index(src: Path, out: Path, log: Log = print) -> None:
    """Write the copied-text band index of the built store at ``out`` (see the module docstring) and name it in the
    store's ``reuse_state``."""
    t = time.perf_counter()
    stride, top = copies_of(src, out)
    source = _Source(src, out, stride, top, log)
    log(f"band index: source parsed in {time.perf_counter() - t:.0f} s")
    folder = Path(os.path.realpath(out))
    folder = folder.with_name(folder.name + SUFFIX)
    index = BandIndex.create(folder)
    index.add_sorted(source.bands(), source.texts())
    cat = _catalog(out, read_only=False)
    try:
        retired = np.sort(np.array([b for (b,) in cat.execute("SELECT band FROM reuse_common").fetchall()],
                                   dtype=np.int64))  # fmt: skip
        version = index.publish(retired)
        cat.execute(REUSE_SCHEMA)  # reuse_state is not copied from the source: it names the source's index
        cat.execute("BEGIN TRANSACTION")
        cat.execute("DELETE FROM reuse_state")
        cat.execute("INSERT INTO reuse_state VALUES (?, ?)", [index.m.token, version])
        cat.execute("COMMIT")
        cat.execute("CHECKPOINT cat")
    finally:
        cat.close()
    run = index.m.runs[-1]
    log(f"band index: {run.bands:,} entries, {run.texts:,} texts, {index.disk_bytes() / 2**20:,.0f} MB "
        f"in {time.perf_counter() - t:.0f} s")  # fmt: skip


def build_search(src: Path, out: Path, log: Log = print) -> Path:
    """Write the full-text index of the built store at ``out``: what ``search.sync(rebuild=True)`` writes, in bulk.

    The source's paragraphs are split once (as :func:`pipeline.search.index._add_reports` splits them: reports in id
    order, sections in template order, ``narrative.paragraphs``) into a temporary table together with their
    ``grams`` text; every copy's rows are then generated by SQL inside SQLite — passage ids numbered as a sync
    numbers them (copy ``k``'s paragraphs follow copy ``k - 1``'s) — and the two FTS5 tables are filled by the
    'rebuild' command: ``grams`` while ``passages.text`` holds the grams text, ``tri`` after the real text replaced
    it (both are external-content tables over ``passages``; only ``tri``'s content is its own indexed text, as in
    a sync).  ``reports`` rows are the built store's own (the copies' agency names and regions).  The file is
    written beside the final one with journaling off and moved into place at the end.
    """
    from pipeline import narrative, search
    from pipeline.search.index import META_COLUMNS, grams

    t = time.perf_counter()
    stride, top = copies_of(src, out)
    path = search.index_path(out)
    tmp = path.with_name(path.name + ".build")
    seg.remove_paths([tmp, tmp.with_name(tmp.name + "-wal"), tmp.with_name(tmp.name + "-shm")])
    idx = search.connect(tmp, create=True)
    try:
        idx.execute("PRAGMA journal_mode=OFF")
        idx.execute("PRAGMA synchronous=OFF")
        idx.execute("PRAGMA cache_size=-65536")  # 64 MB
        idx.execute("CREATE TEMP TABLE src_p (ord INTEGER PRIMARY KEY, rid INTEGER, section TEXT, para INTEGER,"
                    " text TEXT, grams TEXT)")  # fmt: skip
        order = {s: i for i, s in enumerate(narrative.SECTIONS)}
        reader = seg.open_reader(src)
        try:
            rows = reader.execute("SELECT report_id, section, text FROM sections ORDER BY report_id").fetchall()
        finally:
            reader.close()
        rows.sort(key=lambda r: (r[0], order.get(r[1], 99)))
        paras = [(rid, sec, n, text, grams(text))
                 for rid, sec, body in rows for n, text in enumerate(narrative.paragraphs(body))]  # fmt: skip
        del rows
        idx.execute("BEGIN")
        idx.executemany("INSERT INTO src_p VALUES (?, ?, ?, ?, ?, ?)", [(i, *p) for i, p in enumerate(paras)])
        n_src = len(paras)
        del paras
        copies = math.ceil((top + 1) / stride)
        idx.execute("CREATE TEMP TABLE copies (k INTEGER PRIMARY KEY)")
        idx.executemany("INSERT INTO copies VALUES (?)", [(k,) for k in range(copies)])
        log(f"search: {n_src:,} source paragraphs × {copies} copies, split in {time.perf_counter() - t:.0f} s")
        fill = f"""INSERT INTO passages (pid, report_id, section, para, text)
                   SELECT c.k * {n_src} + p.ord + 1, c.k * {stride} + p.rid, p.section, p.para, p.{{column}}
                   FROM copies c CROSS JOIN src_p p WHERE c.k * {stride} + p.rid <= {top}"""  # CROSS JOIN: copies outer, pids ascending
        step = time.perf_counter()
        idx.execute(fill.format(column="grams"))
        idx.execute("INSERT INTO grams(grams) VALUES ('rebuild')")
        log(f"search: grams in {time.perf_counter() - step:.0f} s")
        step = time.perf_counter()
        idx.execute("DELETE FROM passages")
        idx.execute(fill.format(column="text"))
        idx.execute("INSERT INTO tri(tri) VALUES ('rebuild')")
        log(f"search: passages and trigrams in {time.perf_counter() - step:.0f} s")
        step = time.perf_counter()
        cols = ", ".join(META_COLUMNS)
        cat = seg.open_reader(out)
        try:
            result = cat.execute(f"SELECT report_id, {cols} FROM reports WHERE report_id <= {top} ORDER BY 1")
            while batch := result.fetchmany(100_000):
                idx.executemany(f"INSERT INTO reports (report_id, {cols}) VALUES "
                                f"({', '.join('?' * (len(META_COLUMNS) + 1))})", batch)  # fmt: skip
        finally:
            cat.close()
        idx.execute("COMMIT")
        log(f"search: reports in {time.perf_counter() - step:.0f} s")
        idx.execute("DROP TABLE src_p")
        idx.execute("DROP TABLE copies")
        idx.execute("PRAGMA journal_mode=WAL")
    finally:
        idx.close()
    seg.remove_paths([path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")])
    os.replace(tmp, path)
    log(f"search: {path.stat().st_size / 2**20:,.0f} MB in {time.perf_counter() - t:.0f} s")
    return path
