"""Database access for the dashboard: the store's read-only connection, cached named queries, no lock errors.

Every query goes through :func:`query`, which is cached with ``st.cache_data`` on (query name, database path,
database version, filters, arguments).  The version changes when an ingest swaps the database file in
(``pipeline.store.db_version``), so new data appears on the next interaction after an ingest finishes, and
the store's :func:`~pipeline.store.read_connection` re-opens the new file.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import duckdb
import streamlit as st

from pipeline import metrics, store
from pipeline.filters import Filters

RETRIES = 6
RETRY_SLEEP_S = 0.25


class DatabaseUnavailable(RuntimeError):
    """The database file is missing or stayed locked / unreadable after retries (message in Chinese)."""


def db_path() -> str:
    """The database the dashboard shows: env ``XXGK_DB`` or the store's default, as an absolute path."""
    return str(store.resolve_db(None).resolve())


def db_version(path: str | None = None) -> str:
    return store.db_version(path or db_path())


def _cursor(path: str) -> duckdb.DuckDBPyConnection:
    """A cursor on the cached read-only connection, switched to the attached database.

    ``read_connection`` attaches the file inside an in-memory instance and ``USE``s it; a cursor starts on the
    in-memory catalog, so it must ``USE`` the attached one too.
    """
    con = store.read_connection(path)
    cur = con.cursor()
    name = cur.execute(
        "SELECT database_name FROM duckdb_databases() WHERE NOT internal AND database_name <> 'memory' LIMIT 1"
    ).fetchall()
    if name:
        cur.execute(f'USE "{name[0][0]}"')
    return cur


def _is_transient(exc: BaseException) -> bool:
    text = str(exc).lower()
    return any(s in text for s in ("lock", "closed", "being used", "no such file", "not exist", "resource"))


def run_query(path: str, name: str, filters: Filters | None, args: tuple[Any, ...]) -> Any:
    """Run ``pipeline.metrics.<name>`` once, retrying while an ingest holds or swaps the file."""
    fn = getattr(metrics, name)
    last: BaseException | None = None
    for attempt in range(RETRIES):
        if not Path(path).exists():
            raise DatabaseUnavailable(f"数据库文件不存在：{path}。请先运行 make db 或 xxgk ingest 建库。")
        try:
            cur = _cursor(path)
        except (duckdb.Error, FileNotFoundError, OSError) as exc:
            last = exc
        else:
            try:
                return fn(cur, filters, *args) if filters is not None else fn(cur, *args)
            except duckdb.Error as exc:
                if not _is_transient(exc):
                    raise
                last = exc
            finally:
                cur.close()
        time.sleep(RETRY_SLEEP_S * (attempt + 1))
    raise DatabaseUnavailable(f"数据库暂时无法读取（可能正在更新），请稍后刷新页面。详情：{last}")


@st.cache_data(max_entries=1024, show_spinner=False)
def _cached(name: str, path: str, version: str, filters: Filters | None, args: tuple[Any, ...]) -> Any:
    return run_query(path, name, filters, args)


def query(name: str, filters: Filters | None = None, *args: Any) -> Any:
    """Cached result of the named metric query for the current database version."""
    path = db_path()
    return _cached(name, path, db_version(path), filters, tuple(args))
