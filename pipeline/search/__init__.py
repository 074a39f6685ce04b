"""Full-text search over the reports' narrative sections (SQLite FTS5 beside the DuckDB store).

``sync(db)`` keeps ``<db>.search.sqlite`` in step with the store (ingest calls it after every run;
``xxgk search --rebuild`` recreates it); ``search(con, query, filters)`` answers queries.  See docs/search.md.
"""

from pipeline.search.index import (
    BacklogTooLarge,
    SyncResult,
    backlog,
    connect,
    index_path,
    lag,
    sync,
    version,
)
from pipeline.search.query import Hit, QueryError, SearchResult, filter_sql, parse_query, run, search

__all__ = [
    "BacklogTooLarge", "Hit", "QueryError", "SearchResult", "SyncResult", "backlog", "connect", "filter_sql", "index_path", "lag",
    "parse_query", "run", "search", "sync", "version",
]  # fmt: skip
