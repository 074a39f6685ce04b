"""How a write reaches the store: the ingest lock, and a new segment published by swapping the catalog.

DuckDB lets one process write a file *or* any number read it, never both (``shared/notes/stack-notes.md``).  So a
write never opens a published file for writing (:mod:`pipeline.store.segments`): :class:`SegmentWrite` puts the
session's reports into a new segment file, works on a private copy of the small catalog, and :meth:`SegmentWrite.commit`
checkpoints both and ``os.replace``-s the copy over the live catalog in one atomic rename.  Readers keep the files
they opened until they re-open; a crash or ``kill -9`` mid-write leaves the live catalog untouched, plus a temporary
copy and an unreferenced segment that :func:`remove_stale_copies` deletes at the next start.

Only :class:`pipeline.store.Database` uses this module: callers never see the strategy.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import duckdb

from pipeline.store import segment_files as segfiles
from pipeline.store import segments as seg
from pipeline.store.schema import LATEST, MIGRATIONS, migrate

WRITER_MEMORY_LIMIT = os.environ.get("XXGK_WRITER_MEMORY", "128MB")
LOCK_WAIT_S = 2.0  # how long a writer waits for the lock (another process may hold it a moment to clean up)


class IngestLockedError(RuntimeError):
    """Another process is writing this database (it holds the database's lock file)."""


def lock_path(db: Path) -> Path:
    """The lock file of the database *file* ``db`` (symlinks resolved by the caller): ``<file>.ingest.lock``."""
    return db.with_name(db.name + ".ingest.lock")


def _copies(db: Path) -> list[Path]:
    return sorted(db.parent.glob(f".{db.name}.ingest-*.tmp*"))


@contextlib.contextmanager
def ingest_lock(db: Path, wait_s: float | None = None) -> Iterator[None]:
    """Hold the database's write lock; raises :class:`IngestLockedError` if another writer keeps it ``wait_s``
    seconds (default :data:`LOCK_WAIT_S`)."""
    db.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path(db), "a+") as fh:
        if not _try_lock(fh, LOCK_WAIT_S if wait_s is None else wait_s):
            raise IngestLockedError(f"数据库 {db} 正在被另一个入库任务写入，请稍后再试")
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _try_lock(fh: IO[str], wait_s: float) -> bool:
    deadline = time.monotonic() + wait_s
    while True:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.05)


def _stale(db: Path) -> list[Path]:
    """Temporary copies and unreferenced segments beside ``db`` (meaningful only under the lock)."""
    return _copies(db) + segfiles.stale_segments(db)


def remove_stale_copies(db: Path) -> list[Path]:
    """Delete what a killed writer left beside ``db`` (a temporary catalog copy, an unpublished segment) and the
    segments a merge replaced; returns what was deleted.

    Safe at any time: files are deleted only while no writer holds the lock (a running ingest's files are kept),
    and the lock is only tried when there is something to delete, so a reader starting up never delays a writer.
    """
    try:
        if not _stale(db):
            return []
    except duckdb.Error:  # the catalog is being replaced this instant: the next open looks again
        return []
    try:
        fh = open(lock_path(db), "a+")  # noqa: SIM115 - held only for the duration of the check below
    except OSError:  # a read-only folder: nothing we could delete anyway
        return []
    with fh:
        if not _try_lock(fh, 0):
            return []
        try:
            return seg.remove_paths(_stale(db))
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _fsync(paths: list[Path]) -> None:
    """Flush files (or folders: the entries a rename changed) to stable storage."""
    for path in paths:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


class SegmentWrite:
    """One write session's files: a private copy of the catalog and a new segment, published by :meth:`commit`.

    The caller holds the ingest lock.  :meth:`discard` (or leaving without commit) deletes both and leaves the store
    exactly as it was.  :attr:`con` is an in-memory DuckDB connection on which the store's table names are views
    over every segment *including the new one* (``seg``), the catalog copy is attached as ``cat``; writes go to
    ``seg.<table>`` (new reports) and ``cat.<table>`` (the catalog's small, mutable tables).
    """

    def __init__(self, db: Path) -> None:
        self.db = db
        self.folder = seg.segment_dir(db)
        self.tmp = db.with_name(f".{db.name}.ingest-{os.getpid()}.tmp")
        self.tmpdir = self.folder / f".tmp-{os.getpid()}"
        self.con: duckdb.DuckDBPyConnection | None = None
        self.segments: list[seg.Segment] = []
        self.new: list[Path] = []  # segment files this session created (deleted unless published)
        self.seq = 0  # the new segment's number
        self.replaced: list[seg.Segment] = []  # published segments a merge replaced (deleted after the publish)

    # -- opening ----------------------------------------------------------------------------------------------
    def open(self) -> duckdb.DuckDBPyConnection:
        """Copy (or create) the catalog, bring the store to the current schema, create the session's segment."""
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            # fsync_mode NONE: the session's files are private until the publish, which a crash before it discards
            # anyway, so a commit per batch need not reach the disk; :meth:`commit` syncs them once, before the
            # rename that publishes them (half the write path's wall time went to per-batch fsyncs)
            con = self.con = seg.connect(memory_limit=WRITER_MEMORY_LIMIT, temp_directory=str(self.tmpdir),
                                         fsync_mode="NONE")  # fmt: skip
            layout = self._live_layout(con)
            seg.remove_paths(_copies(self.db))
            seg.remove_paths(segfiles.unlisted(self.folder, layout or set()))  # under the lock: nobody's files
            if layout is None and self.db.exists():
                self._convert_single_file()
            elif layout is None:
                seg.write_catalog(self.tmp)
            else:
                shutil.copyfile(self.db, self.tmp)
            con.execute(f"ATTACH {seg.quote(self.tmp)} AS cat")
            self.segments = seg.read_segments(con)
            if seg.catalog_version(con) < LATEST:
                self._upgrade_segments(con)
            self.seq = max([s.seq for s in self.segments], default=0) + 1
            path = self._new_segment(self.seq)
            aliases = seg.attach_segments(con, self.folder, self.segments)
            con.execute(f"ATTACH {seg.quote(path)} AS seg")
            retired = [f"s{s.seq}" for s in self.segments if s.n_retired] + ["seg"]
            seg.create_views(con, [*aliases, "seg"], retired, extras=False)
            # the catalog first: tables a session creates or updates in place by plain name (the copied-text
            # tables of pipeline.reuse) live in the catalog; the store's tables are the views of ``memory``
            con.execute("USE cat")
            con.execute("SET search_path = 'cat.main,memory.main'")
        except BaseException:
            self.discard()
            raise
        return con

    def _live_layout(self, con: duckdb.DuckDBPyConnection) -> set[str] | None:
        """The segment names the live catalog lists; None for a single-file store or no store yet."""
        if not self.db.exists():
            return None
        con.execute(f"ATTACH {seg.quote(self.db)} AS live (READ_ONLY)")
        try:
            return {s.name for s in seg.read_segments(con, "live")} if seg.is_catalog(con, "live") else None
        finally:
            con.execute("DETACH live")

    def _new_segment(self, seq: int) -> Path:
        path = self.folder / seg.segment_name(seq)
        self.new.append(path)
        seg.new_segment_file(path)
        return path

    def _convert_single_file(self) -> None:
        """A store from before the segment layout becomes segment 1 (a full copy, once): migrated to the current
        schema there, its store-wide findings and copied-text tables moved to the new catalog."""
        path = self.folder / seg.segment_name(1)
        self.new.append(path)
        shutil.copyfile(self.db, path)
        con = seg.connect(path, memory_limit=WRITER_MEMORY_LIMIT)
        try:
            migrate(con)
            con.execute(seg.RETIRED_DDL)
            versions = con.execute("SELECT version, applied_at FROM schema_version ORDER BY version").fetchall()
            start = con.execute("SELECT coalesce(max(report_id), 0) + 1 FROM reports").fetchall()[0][0]
            con.execute("CHECKPOINT")
        finally:
            con.close()
        seg.write_catalog(self.tmp, start_id=start, versions=versions)
        con = seg.connect(self.tmp)
        try:
            con.execute(f"ATTACH {seg.quote(path)} AS s1")
            scopes = list(seg.STORE_SCOPES)
            con.execute(f"INSERT INTO {seg.STORE_FINDINGS} BY NAME SELECT * FROM s1.findings"
                        " WHERE list_contains(?, scope)", [scopes])  # fmt: skip
            con.execute("DELETE FROM s1.findings WHERE list_contains(?, scope)", [scopes])
            for name in seg.catalog_extras(con, "s1"):  # the copied-text tables: derived, updated in place
                if name not in (*seg.SEGMENT_TABLES, seg.RETIRED):
                    con.execute(f"CREATE TABLE {name} AS SELECT * FROM s1.main.{name}")
                    con.execute(f"DROP TABLE s1.main.{name}")
            n = con.execute("SELECT count(*) FROM s1.reports").fetchall()[0][0]
            con.execute("CHECKPOINT s1")
            con.execute("DETACH s1")
            con.execute("INSERT INTO store_segments (seq, name, n_reports, n_retired, size_bytes) VALUES (?, ?, ?, 0, ?)",
                        [1, path.name, n, segfiles.file_size(path)])  # fmt: skip
            con.execute("CHECKPOINT")
        finally:
            con.close()

    def _upgrade_segments(self, con: duckdb.DuckDBPyConnection) -> None:
        """A migration newer than the catalog: every segment is rewritten at the current schema (copy, migrate)."""
        upgraded = []
        next_seq = max([s.seq for s in self.segments], default=0) + 1
        for s in self.segments:
            path = self.folder / seg.segment_name(next_seq)
            self.new.append(path)
            shutil.copyfile(self.folder / s.name, path)
            c = seg.connect(path, memory_limit=WRITER_MEMORY_LIMIT)
            try:
                migrate(c)
                c.execute(seg.RETIRED_DDL)
                c.execute("CHECKPOINT")
            finally:
                c.close()
            upgraded.append(seg.Segment(next_seq, path.name, s.n_reports, s.n_retired, segfiles.file_size(path)))
            next_seq += 1
        con.execute("DELETE FROM cat.store_segments")
        for s in upgraded:
            seg.record(con, s)
        have = {v for (v,) in con.execute("SELECT version FROM cat.schema_version").fetchall()}
        for m in MIGRATIONS:
            if m.version not in have:
                con.execute("INSERT INTO cat.schema_version (version) VALUES (?)", [m.version])
        self.replaced += self.segments
        self.segments = upgraded

    # -- publishing -------------------------------------------------------------------------------------------
    def commit(self, merge: str = "inline") -> None:
        """Record the new segment (unless the session wrote nothing), merge segments, and publish.

        ``merge``: 'inline' (the small merges :func:`~pipeline.store.segments.plan_merge` allows at the end of a
        write), 'tiered' (every merge the size tiers call for), 'all' (one segment).
        """
        con = self.con
        assert con is not None
        n_reports, n_log, n_retired = con.execute(
            "SELECT (SELECT count(*) FROM seg.main.reports), (SELECT count(*) FROM seg.main.ingest_log),"
            f" (SELECT count(*) FROM seg.main.{seg.RETIRED})"
        ).fetchall()[0]
        path = self.folder / seg.segment_name(self.seq)
        con.execute("CHECKPOINT seg")
        wrote = bool(n_reports or n_log or n_retired)
        if wrote:
            new = seg.Segment(self.seq, path.name, n_reports, n_retired, segfiles.file_size(path))
            seg.record(con, new)
            self.segments.append(new)
        if merge == "all":
            run = self.segments if len(self.segments) > 1 else []
        else:
            run = seg.plan_merge(self.segments, inline=merge == "inline")
        if run:
            self._merge(con, run)
        con.execute("CHECKPOINT cat")
        con.close()
        self.con = None
        # on disk before the catalog that names them is: the rename below must never publish unwritten data
        _fsync([*(p for p in self.new if p.exists()), self.tmp])
        os.replace(self.tmp, self.db)
        _fsync([self.db.parent])
        self.new = [] if wrote else [path]  # published: no longer ours to delete (an unused segment still is)
        seg.remove_paths(self.folder / s.name for s in self.replaced)
        self.discard()

    def _merge(self, con: duckdb.DuckDBPyConnection, run: list[seg.Segment]) -> None:
        seq = max(self.seq, *(s.seq for s in self.segments)) + 1
        path = self._new_segment(seq)
        con.execute(f"ATTACH {seg.quote(path)} AS mrg")
        seg.merge_into(con, "mrg", ["seg" if s.seq == self.seq else f"s{s.seq}" for s in run])
        n_reports, n_retired = con.execute(
            f"SELECT (SELECT count(*) FROM mrg.main.reports), (SELECT count(*) FROM mrg.main.{seg.RETIRED})"
        ).fetchall()[0]
        con.execute("CHECKPOINT mrg")
        con.execute("DETACH mrg")
        con.execute("DELETE FROM cat.store_segments WHERE seq IN (SELECT unnest(?::INTEGER[]))", [[s.seq for s in run]])
        merged = seg.Segment(seq, path.name, n_reports, n_retired, segfiles.file_size(path))
        seg.record(con, merged)
        self.replaced += run  # the session's own segment among them: never published, deleted all the same
        self.segments = [s for s in self.segments if s not in run] + [merged]

    def discard(self) -> None:
        if self.con is not None:
            with contextlib.suppress(Exception):
                self.con.close()
            self.con = None
        seg.remove_paths([self.tmp, self.tmp.with_name(self.tmp.name + ".wal"), self.tmpdir])
        seg.remove_paths([p for path in self.new for p in (path, path.with_name(path.name + ".wal"))])
        self.new = []
