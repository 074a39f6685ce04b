"""Database access for the dashboard: the store's :class:`~pipeline.store.Database`, cached query functions.

Pages call :func:`query` with a query *function* of :mod:`pipeline.metrics` (``query(headline_by_year, filters)``),
never a name.  Results are cached (``st.cache_resource``: shared, never copied — treat them as read-only) on
(the function's qualified name, database path,
database version, filters, arguments).  The version changes when an ingest publishes a new database file
(``Database.version``), so new data appears on the next interaction after an ingest finishes, and the database's
cached read-only connection re-opens the new file.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import streamlit as st

from pipeline.filters import Filters
from pipeline.store import Database, DatabaseUnavailable

__all__ = ["DatabaseUnavailable", "db_path", "db_version", "query", "run_query"]

T = TypeVar("T")


def db_path() -> str:
    """The database the dashboard shows: env ``XXGK_DB`` or the store's default, as an absolute path."""
    return str(Database().path.resolve())


def db_version(path: str | None = None) -> str:
    return Database(path or db_path()).version()


def run_query(path: str, fn: Callable[..., T], filters: Filters | None, args: tuple[Any, ...]) -> T:
    """``fn(cursor, filters, *args)`` (or ``fn(cursor, *args)``), retried while an ingest swaps the file."""
    if filters is not None:
        return Database(path).query(fn, filters, *args)
    return Database(path).query(fn, *args)


# st.cache_resource, not st.cache_data: a hit hands back the stored result itself instead of unpickling a copy,
# which for a national store's long lists (a million reports on 发布时效, the explorer's wide table) took 0.5–0.8 s
# on every page view.  Results are read-only by contract: polars frames are never changed in place by the pages
# (every transformation returns a new frame), and a page copies a dict or list before changing it.
@st.cache_resource(max_entries=1024, show_spinner=False)
def _cached(
    _fn: Callable[..., Any], name: str, path: str, version: str, filters: Filters | None, args: tuple[Any, ...]
) -> Any:
    return run_query(path, _fn, filters, args)


def query(fn: Callable[..., T], filters: Filters | None = None, *args: Any) -> T:
    """The cached result of the query function ``fn`` for the current database version."""
    path = db_path()
    name = f"{fn.__module__}.{fn.__qualname__}"
    return _cached(fn, name, path, db_version(path), filters, tuple(args))
