"""Giving freed memory back to the system between the heavy steps of a write session.

glibc's allocator keeps what a process frees in its arenas (one per thread that allocated, up to 8 × cores), and
DuckDB's worker threads, polars and numpy free hundreds of MB at the end of a session's steps (copied text, the
checkpoint, the full-text sync).  Without a trim that memory stays resident until the next step happens to reuse
it, so each step's peak stacks on what the previous one left; :func:`release_freed_memory` (``malloc_trim(0)``)
returns the free pages at once.  It costs a few milliseconds and is a no-op where the C library has no
``malloc_trim`` (musl, macOS).
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
from collections.abc import Callable, Iterator

import duckdb

# A write of up to this many reports (an upload, a one-file ingest) keeps the writer's own DuckDB limit in the steps
# after its last report; a larger one raises the limit there (copied text, the checks over its agencies).
SMALL_WRITE = 2_000


@functools.cache
def _trim() -> Callable[[int], int] | None:
    try:
        libc = ctypes.CDLL(None)  # the C library the interpreter runs on (find_library would spawn ldconfig)
        trim: Callable[[int], int] = libc.malloc_trim
        return trim
    except (OSError, AttributeError):
        return None


def release_freed_memory() -> bool:
    """Return the C heap's free pages to the system (``malloc_trim(0)``); False where that is not available."""
    trim = _trim()
    if trim is None:
        return False
    trim(0)
    return True


@contextlib.contextmanager
def memory_limit(con: duckdb.DuckDBPyConnection, limit: str | None) -> Iterator[None]:
    """DuckDB's ``memory_limit`` set to ``limit`` for the block (None: left as it is), then restored — DuckDB
    evicts its buffers down to the restored limit — and the freed heap returned to the system."""
    if limit is None:
        yield
        return
    before = con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0]
    con.execute(f"SET memory_limit = '{limit}'")
    try:
        yield
    finally:
        con.execute(f"SET memory_limit = '{before}'")
        release_freed_memory()
