"""Read-only connections: opened without blocking writers, cached per process, re-opened after a swap.

A reader attaches the catalog and its segments READ_ONLY inside a private in-memory DuckDB instance
(:func:`pipeline.store.segments.open_reader`).  That sidesteps DuckDB's per-process instance cache (which would hand
back the *old* database after a swap).  Connections are cached
per real file and keyed on its identity ``(inode, mtime_ns, size)``: after a writer swaps a new file in, the next
call opens the new file; the connection it replaces is closed one swap later, so a query another thread is still
running on it can finish.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable
from pathlib import Path

import duckdb

from pipeline.store import sums_file
from pipeline.store.segments import open_reader

# Error texts of the moments around a swap (a file being replaced, a connection closed under a query): worth a retry.
_TRANSIENT = ("lock", "closed", "being used", "no such file", "not exist", "resource")


def file_version(path: str | os.PathLike[str]) -> str:
    """A token that changes whenever the file is swapped or rewritten (for cache keys); "" when it is missing."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return ""
    return f"{st.st_ino}:{st.st_mtime_ns}:{st.st_size}"


def is_transient(exc: BaseException) -> bool:
    """An error a swap in progress can cause (worth retrying), as opposed to a broken query."""
    text = str(exc).lower()
    return any(s in text for s in _TRANSIENT)


def open_read_only(path: Path, tables: tuple[str, ...] | None = None) -> duckdb.DuckDBPyConnection:
    """A fresh read-only connection to the store whose (real) catalog file is ``path`` (caller closes it);
    ``tables``: only these of the store's tables (:func:`~pipeline.store.segments.open_reader`).  A connection to
    every table has the stored metric sums attached where they match the store (:mod:`pipeline.store.sums_file`)."""
    con = open_reader(path, tables)
    if tables is not None:
        return con
    try:
        sums_file.attach(con, path)
    except Exception:
        con.close()
        raise
    return con


class ReadCache:
    """The process's cached read-only connections, one per real database file."""

    def __init__(self) -> None:
        self._current: dict[Path, tuple[str, duckdb.DuckDBPyConnection]] = {}
        self._retired: dict[Path, duckdb.DuckDBPyConnection] = {}
        self._lock = threading.Lock()

    def get(self, path: Path, on_open: Callable[[Path], object] | None = None) -> duckdb.DuckDBPyConnection:
        """The connection for the file's current version (opened if the file changed since the last call);
        ``on_open(path)`` runs before a connection is opened."""
        with self._lock:
            # the stored sums (main file and delta) follow a swap
            version = "|".join(file_version(p) for p in (path, sums_file.sums_path(path), sums_file.delta_path(path)))
            cached = self._current.get(path)
            if cached and cached[0] == version:
                return cached[1]
            if on_open is not None:
                on_open(path)
            con = open_read_only(path)
            self._current[path] = (version, con)
            if cached:
                stale = self._retired.pop(path, None)
                self._retired[path] = cached[1]
                if stale is not None:
                    with contextlib.suppress(Exception):
                        stale.close()
            return con

    def close(self, path: Path | None = None) -> None:
        """Close the cached connections of one file (or of every file)."""
        with self._lock:
            paths = [path] if path is not None else list({*self._current, *self._retired})
            for p in paths:
                cons = [c for _, c in [self._current.pop(p, ("", None))] if c is not None]
                retired = self._retired.pop(p, None)
                for con in [*cons, *([retired] if retired is not None else [])]:
                    with contextlib.suppress(Exception):
                        con.close()


READERS = ReadCache()
