"""The full-text index: a SQLite file beside the DuckDB store, kept in step with it by :func:`sync`.

Layout of ``<db>.search.sqlite`` (WAL mode, so the dashboard reads while an ingest writes):

- ``reports``  — one row per stored report version with the metadata the dashboard filters on (copied from
  DuckDB so a filtered search never has to join two databases; 1 M rows cost ~60 MB);
- ``passages`` — one row per narrative paragraph (:func:`pipeline.narrative.paragraphs`) with its section;
- ``tri``      — FTS5, ``trigram`` tokenizer, over ``passages.text`` (external content): any query of three or
  more characters is a substring match;
- ``grams``    — FTS5, ``unicode61``, ``detail=none``, over the distinct single characters and character pairs of each
  paragraph: one- and two-character queries are one posting-list lookup instead of a scan.

:func:`sync` is the only writer.  It reads the DuckDB store read-only and brings the index up to date: reports with
an id above the index's highest are added, ``is_current`` is copied for replaced versions, and if the counts still
differ (or the store was rebuilt and ids were reused) it falls back to a full comparison.  Because it derives
everything from the store, a crash mid-sync leaves an index that the next sync completes, and
``xxgk search --rebuild`` recreates it from scratch.  One sync runs at a time (a lock file beside the index).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import polars as pl

from pipeline import narrative
from pipeline.store import Database
from pipeline.store.reads import open_read_only

SCHEMA_VERSION = "1"
READS = ("reports", "sections")  # the store's tables a sync reads (a reader with views of these only)
BATCH_REPORTS = 2000
META_COLUMNS = (
    "agency", "year", "province", "city", "county", "level", "agency_type", "edition", "n_errors", "is_current",
    "sha256",
)  # fmt: skip

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS reports (
    report_id INTEGER PRIMARY KEY, agency TEXT, year INTEGER, province TEXT, city TEXT, county TEXT, level TEXT,
    agency_type TEXT, edition TEXT, n_errors INTEGER, is_current INTEGER, sha256 TEXT
);
CREATE INDEX IF NOT EXISTS reports_year ON reports (year);
CREATE INDEX IF NOT EXISTS reports_agency ON reports (agency);
CREATE INDEX IF NOT EXISTS reports_region ON reports (province, city, county);
-- the replaced versions only: a sync compares them with the store's without reading a row per report
CREATE INDEX IF NOT EXISTS reports_history ON reports (report_id) WHERE NOT is_current;
CREATE TABLE IF NOT EXISTS passages (
    pid INTEGER PRIMARY KEY, report_id INTEGER NOT NULL, section TEXT NOT NULL, para INTEGER NOT NULL,
    text TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS passages_report ON passages (report_id);
CREATE VIRTUAL TABLE IF NOT EXISTS tri USING fts5(
    text, content='passages', content_rowid='pid', tokenize='trigram'
);
CREATE VIRTUAL TABLE IF NOT EXISTS grams USING fts5(
    text, content='passages', content_rowid='pid', tokenize='unicode61 remove_diacritics 0', detail=none
);
"""


def index_path(db: str | os.PathLike[str] | None = None) -> Path:
    """``<db>.search.sqlite`` beside the DuckDB file."""
    path = Database(db).path
    return path.with_name(path.name + ".search.sqlite")


def connect(path: str | os.PathLike[str], *, create: bool = False) -> sqlite3.Connection:
    """A connection to the index (WAL mode).  ``create``: make the file and schema if missing."""
    path = Path(path)
    if not create and not path.exists():
        raise FileNotFoundError(f"全文检索索引不存在: {path}（运行 xxgk search --rebuild 建立）")
    con = sqlite3.connect(str(path), timeout=30, isolation_level=None, check_same_thread=False)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=NORMAL")
    if create:
        con.executescript(_SCHEMA)
        con.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", [SCHEMA_VERSION])
    return con


def grams(text: str) -> str:
    """The distinct single characters and adjacent pairs of word characters, space-separated (for ``grams``)."""
    text = text.lower()
    out: dict[str, None] = {}
    prev = ""
    for ch in text:
        if ch.isalnum():
            out[ch] = None
            if prev:
                out[prev + ch] = None
            prev = ch
        else:
            prev = ""
    return " ".join(out)


@dataclass
class SyncResult:
    added: int = 0
    passages: int = 0
    retired: int = 0
    removed: int = 0
    rebuilt: bool = False
    seconds: float = 0.0


@contextlib.contextmanager
def _sync_lock(path: Path) -> Iterator[None]:
    with open(path.with_name(path.name + ".lock"), "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)  # wait: a second sync right behind the first has little left to do
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


class BacklogTooLarge(RuntimeError):
    """More reports than a write indexes itself are missing from the index (:func:`sync`'s ``max_backlog``)."""

    def __init__(self, missing: int) -> None:
        super().__init__(f"{missing} reports are missing from the full-text index")
        self.missing = missing


def sync(
    db: str | os.PathLike[str] | None = None, *, rebuild: bool = False, max_backlog: int | None = None,
    first_new: int = 0,
) -> SyncResult:  # fmt: skip
    """Bring the index beside ``db`` up to date with the store (see module docstring).

    ``max_backlog`` (a write's sync): raise :class:`BacklogTooLarge`, changing nothing, when more than this many
    reports with ids below ``first_new`` (stored before the write) are missing — :func:`backlog` on the same
    connection."""
    started = time.perf_counter()
    database = Database(db)
    path = index_path(database.path)
    result = SyncResult()
    # A private read-only connection, closed afterwards: the writer process keeps no cached reader of the file.
    with _sync_lock(path), contextlib.closing(open_read_only(database.file, READS)) as duck:
        if max_backlog is not None:  # before the index file is created: a write over the limit leaves none
            missing = _missing_below(duck, connect(path) if path.exists() else None, first_new)
            if missing > max_backlog:
                raise BacklogTooLarge(missing)
        idx = connect(path, create=True)
        try:
            if rebuild or not _same_store(duck, idx):
                _clear(idx)
                result.rebuilt = True
            _add_new(duck, idx, result)
            result.retired = _copy_current_flags(duck, idx)
            n_store = duck.execute("SELECT count(*) FROM reports").fetchall()[0][0]
            n_index = idx.execute("SELECT count(*) FROM reports").fetchone()[0]
            if n_store != n_index:  # ids missing in the middle (an interrupted rebuild of the store, …)
                _full_compare(duck, idx, result)
        finally:
            idx.close()
    result.seconds = time.perf_counter() - started
    return result


def _same_store(duck: duckdb.DuckDBPyConnection, idx: sqlite3.Connection) -> bool:
    """False when the highest indexed report is not the same report in the store (a rebuilt store reuses ids)."""
    row = idx.execute("SELECT report_id, sha256 FROM reports ORDER BY report_id DESC LIMIT 1").fetchone()
    if row is None:
        return True
    found = duck.execute("SELECT sha256 FROM reports WHERE report_id = ?", [row[0]]).fetchall()
    return bool(found) and found[0][0] == row[1]


def _clear(idx: sqlite3.Connection) -> None:
    idx.execute("BEGIN IMMEDIATE")
    for table in ("tri", "grams"):
        idx.execute(f"INSERT INTO {table}({table}) VALUES ('delete-all')")
    idx.execute("DELETE FROM passages")
    idx.execute("DELETE FROM reports")
    idx.execute("COMMIT")


def _add_new(duck: duckdb.DuckDBPyConnection, idx: sqlite3.Connection, result: SyncResult) -> None:
    high = idx.execute("SELECT coalesce(max(report_id), 0) FROM reports").fetchone()[0]
    ids = [
        r[0] for r in duck.execute("SELECT report_id FROM reports WHERE report_id > ? ORDER BY 1", [high]).fetchall()
    ]
    for i in range(0, len(ids), BATCH_REPORTS):
        _add_reports(duck, idx, ids[i : i + BATCH_REPORTS], result)


def _add_reports(duck: duckdb.DuckDBPyConnection, idx: sqlite3.Connection, ids: list[int], result: SyncResult) -> None:
    """Index the given reports (one transaction: a batch is either searchable whole or not at all)."""
    if not ids:
        return
    cols = ", ".join(META_COLUMNS)
    # a registered frame, not a list parameter: list_contains would scan the list for every row of the store
    duck.register("_search_ids", pl.DataFrame({"report_id": ids}, schema={"report_id": pl.Int64}))
    try:
        mine = "report_id IN (SELECT report_id FROM _search_ids)"
        rows = duck.execute(f"SELECT report_id, {cols} FROM reports WHERE {mine} ORDER BY report_id").fetchall()
        sections = duck.execute(f"SELECT report_id, section, text FROM sections WHERE {mine}").fetchall()
    finally:
        duck.unregister("_search_ids")
    order = {s: i for i, s in enumerate(narrative.SECTIONS)}
    sections.sort(key=lambda r: (r[0], order.get(r[1], 99)))
    paras = [(rid, sec, n, text) for rid, sec, body in sections for n, text in enumerate(narrative.paragraphs(body))]
    idx.execute("BEGIN IMMEDIATE")
    try:
        idx.executemany(
            f"INSERT OR REPLACE INTO reports (report_id, {cols}) VALUES ({', '.join('?' * (len(META_COLUMNS) + 1))})",
            rows,
        )
        first = idx.execute("SELECT coalesce(max(pid), 0) + 1 FROM passages").fetchone()[0]
        numbered = [(first + i, *p) for i, p in enumerate(paras)]
        idx.executemany("INSERT INTO passages (pid, report_id, section, para, text) VALUES (?, ?, ?, ?, ?)", numbered)
        idx.executemany("INSERT INTO tri (rowid, text) VALUES (?, ?)", ((p[0], p[4]) for p in numbered))
        idx.executemany("INSERT INTO grams (rowid, text) VALUES (?, ?)", ((p[0], grams(p[4])) for p in numbered))
        idx.execute("COMMIT")
    except BaseException:
        idx.execute("ROLLBACK")
        raise
    result.added += len(rows)
    result.passages += len(numbered)


def _copy_current_flags(duck: duckdb.DuckDBPyConnection, idx: sqlite3.Connection) -> int:
    """Copy ``is_current`` for replaced versions (few: only history rows are compared — in the index through its
    partial index ``reports_history``, in the store a scan of one boolean column)."""
    stale = {r[0] for r in duck.execute("SELECT report_id FROM reports WHERE NOT is_current").fetchall()}
    marked = {r[0] for r in idx.execute("SELECT report_id FROM reports WHERE NOT is_current").fetchall()}
    if stale == marked:
        return 0
    idx.execute("BEGIN IMMEDIATE")
    idx.executemany("UPDATE reports SET is_current = 0 WHERE report_id = ?", [(r,) for r in stale - marked])
    idx.executemany("UPDATE reports SET is_current = 1 WHERE report_id = ?", [(r,) for r in marked - stale])
    idx.execute("COMMIT")
    return len(stale - marked)


def _full_compare(duck: duckdb.DuckDBPyConnection, idx: sqlite3.Connection, result: SyncResult) -> None:
    in_store = {r[0] for r in duck.execute("SELECT report_id FROM reports").fetchall()}
    in_index = {r[0] for r in idx.execute("SELECT report_id FROM reports").fetchall()}
    gone = sorted(in_index - in_store)
    for i in range(0, len(gone), BATCH_REPORTS):
        _remove_reports(idx, gone[i : i + BATCH_REPORTS])
    result.removed += len(gone)
    missing = sorted(in_store - in_index)
    for i in range(0, len(missing), BATCH_REPORTS):
        _add_reports(duck, idx, missing[i : i + BATCH_REPORTS], result)


def _remove_reports(idx: sqlite3.Connection, ids: list[int]) -> None:
    idx.execute("BEGIN IMMEDIATE")
    try:
        marks = ",".join("?" * len(ids))
        rows = idx.execute(f"SELECT pid, text FROM passages WHERE report_id IN ({marks})", ids).fetchall()
        idx.executemany("INSERT INTO tri (tri, rowid, text) VALUES ('delete', ?, ?)", rows)
        idx.executemany(
            "INSERT INTO grams (grams, rowid, text) VALUES ('delete', ?, ?)", ((p, grams(t)) for p, t in rows)
        )
        idx.execute(f"DELETE FROM passages WHERE report_id IN ({marks})", ids)
        idx.execute(f"DELETE FROM reports WHERE report_id IN ({marks})", ids)
        idx.execute("COMMIT")
    except BaseException:
        idx.execute("ROLLBACK")
        raise


def lag(db: str | os.PathLike[str] | None = None) -> int | None:
    """How many stored reports the index does not hold yet (None: no index file).  Cheap: two max() lookups."""
    database = Database(db)
    path = index_path(database.path)
    if not path.exists():
        return None
    idx = connect(path)
    try:
        high = idx.execute("SELECT coalesce(max(report_id), 0) FROM reports").fetchone()[0]
    finally:
        idx.close()
    return database.execute("SELECT count(*) FROM reports WHERE report_id > ?", [high])[0][0]


def backlog(db: str | os.PathLike[str] | None, below: int) -> int:
    """How many stored reports with ids below ``below`` the index does not hold (all of them without an index file):
    the part of the lag a write did not add itself."""
    database = Database(db)
    path = index_path(database.path)
    # a private connection, closed afterwards: a writer process keeps no cached reader of the store's files
    with contextlib.closing(open_read_only(database.file, READS)) as duck:
        return _missing_below(duck, connect(path) if path.exists() else None, below)


def _missing_below(duck: duckdb.DuckDBPyConnection, idx: sqlite3.Connection | None, below: int) -> int:
    """Stored reports with ids below ``below`` above the index's highest (all of them without an index); closes
    ``idx``."""
    high = 0
    if idx is not None:
        with contextlib.closing(idx):
            high = idx.execute("SELECT coalesce(max(report_id), 0) FROM reports").fetchone()[0]
    sql = "SELECT count(*) FROM reports WHERE report_id > ? AND report_id < ?"
    return int(duck.execute(sql, [high, below]).fetchall()[0][0])


def version(db: str | os.PathLike[str] | None = None) -> str:
    """A token that changes when the index changes (file and WAL sizes and times), for caches; "" without index."""
    path = index_path(db)
    parts = []
    for p in (path, path.with_name(path.name + "-wal")):
        try:
            st = p.stat()
        except FileNotFoundError:
            if p == path:
                return ""
            continue
        parts.append(f"{st.st_mtime_ns}:{st.st_size}")
    return "|".join(parts)
