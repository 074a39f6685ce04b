"""How a write reaches the database file: the ingest lock and the snapshot swap (the store's write strategy).

DuckDB lets one process write a file *or* any number read it, never both (``shared/notes/stack-notes.md``).  So a
write never touches the live file: :class:`SnapshotSwap` copies it to a temporary file in the same folder, the
writer works on the copy, and :meth:`SnapshotSwap.commit` checkpoints, closes and ``os.replace``-s the copy over the
live file in one atomic rename.  Readers holding the old file keep reading the old inode until they reopen; a crash
or ``kill -9`` mid-write leaves the live file untouched and a temporary copy that :func:`remove_stale_copies`
deletes at the next start.

Only :class:`pipeline.store.Database` uses this module: callers never see the strategy, so it can be replaced (an
ingest whose cost is proportional to what is new) without changing them.
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

from pipeline.store.schema import migrate

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


def remove_stale_copies(db: Path) -> list[Path]:
    """Delete temporary copies a killed writer left beside ``db``; returns what was deleted.

    Safe at any time: copies are deleted only while no writer holds the lock (a running ingest's copy is kept),
    and the lock is only tried when there is something to delete, so a reader starting up never delays a writer.
    """
    if not _copies(db):
        return []
    try:
        fh = open(lock_path(db), "a+")  # noqa: SIM115 - held only for the duration of the check below
    except OSError:  # a read-only folder: nothing we could delete anyway
        return []
    with fh:
        if not _try_lock(fh, 0):
            return []
        try:
            removed = []
            for stale in _copies(db):
                with contextlib.suppress(OSError):
                    stale.unlink()
                    removed.append(stale)
            return removed
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


class SnapshotSwap:
    """A private writable copy of the database file, swapped in atomically by :meth:`commit`.

    The caller holds the ingest lock.  :meth:`discard` (or leaving without commit) deletes the copy and leaves the
    live file exactly as it was.
    """

    def __init__(self, db: Path) -> None:
        self.db = db
        self.tmp = db.with_name(f".{db.name}.ingest-{os.getpid()}.tmp")
        self.con: duckdb.DuckDBPyConnection | None = None

    def open(self) -> duckdb.DuckDBPyConnection:
        """Copy the live file (if any), open the copy read-write and bring its schema up to date."""
        for stale in _copies(self.db):
            stale.unlink(missing_ok=True)  # left by a killed writer; we hold the lock, so nobody uses it
        try:
            if self.db.exists():
                shutil.copyfile(self.db, self.tmp)
            # Bound DuckDB's buffer pool so the writer's memory stays flat as the database grows (it evicts cached
            # blocks and spills large joins to disk instead).
            self.con = duckdb.connect(str(self.tmp), config={"memory_limit": WRITER_MEMORY_LIMIT})
            migrate(self.con)
        except BaseException:
            self.discard()
            raise
        return self.con

    def commit(self) -> None:
        """CHECKPOINT, close and atomically swap the copy in as the live file."""
        assert self.con is not None
        self.con.execute("CHECKPOINT")
        self.con.close()
        self.con = None
        os.replace(self.tmp, self.db)

    def discard(self) -> None:
        if self.con is not None:
            with contextlib.suppress(Exception):
                self.con.close()
            self.con = None
        for p in (self.tmp, self.tmp.with_name(self.tmp.name + ".wal")):
            p.unlink(missing_ok=True)
