"""Database access for the dashboard: the store's :class:`~pipeline.store.Database`, cached named queries.

Every query goes through :func:`query`, which is cached with ``st.cache_data`` on (query name, database path,
database version, filters, arguments).  The version changes when an ingest publishes a new database file
(``Database.version``), so new data appears on the next interaction after an ingest finishes, and the
database's cached read-only connection re-opens the new file.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from pipeline import metrics
from pipeline.filters import Filters
from pipeline.store import Database, DatabaseUnavailable

__all__ = ["DatabaseUnavailable", "db_path", "db_version", "query", "run_query"]


def db_path() -> str:
    """The database the dashboard shows: env ``XXGK_DB`` or the store's default, as an absolute path."""
    return str(Database().path.resolve())


def db_version(path: str | None = None) -> str:
    return Database(path or db_path()).version()


def run_query(path: str, name: str, filters: Filters | None, args: tuple[Any, ...]) -> Any:
    """Run ``pipeline.metrics.<name>`` once, retrying while an ingest swaps the file (``Database.query``)."""
    fn = getattr(metrics, name)
    if filters is not None:
        return Database(path).query(fn, filters, *args)
    return Database(path).query(fn, *args)


@st.cache_data(max_entries=1024, show_spinner=False)
def _cached(name: str, path: str, version: str, filters: Filters | None, args: tuple[Any, ...]) -> Any:
    return run_query(path, name, filters, args)


def query(name: str, filters: Filters | None = None, *args: Any) -> Any:
    """Cached result of the named metric query for the current database version."""
    path = db_path()
    return _cached(name, path, db_version(path), filters, tuple(args))
