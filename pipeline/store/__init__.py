"""The DuckDB store, reached only through :class:`Database` (reads, the one write path, migrations).

- :mod:`~pipeline.store.database`: :class:`Database` and its write session;
- :mod:`~pipeline.store.schema`: ``schema.sql`` and the list of migrations (append-only);
- :mod:`~pipeline.store.writer` and :mod:`~pipeline.store.rows`: parse results → rows, batches, versions;
- :mod:`~pipeline.store.swap`: the write strategy (ingest lock, snapshot copy swapped in atomically);
- :mod:`~pipeline.store.reads`: cached read-only connections that follow swaps;
- :mod:`~pipeline.store.queries`: the typed queries of the command line and the upload page.
"""

from pipeline.store import queries
from pipeline.store.database import (
    DEFAULT_DB,
    ENV_DB,
    Database,
    DatabaseMissing,
    DatabaseUnavailable,
    WriteSession,
    resolve_db,
)
from pipeline.store.rows import (
    LOADED,
    LOADED_WITH_ERRORS,
    NOT_REPORT,
    PROBLEM_STATUSES,
    REPLACED,
    STATUSES,
    UNCHANGED,
    UNREADABLE,
    WriteOutcome,
)
from pipeline.store.schema import LATEST as SCHEMA_VERSION
from pipeline.store.swap import IngestLockedError

__all__ = [
    "DEFAULT_DB",
    "ENV_DB",
    "LOADED",
    "LOADED_WITH_ERRORS",
    "NOT_REPORT",
    "PROBLEM_STATUSES",
    "REPLACED",
    "SCHEMA_VERSION",
    "STATUSES",
    "UNCHANGED",
    "UNREADABLE",
    "Database",
    "DatabaseMissing",
    "DatabaseUnavailable",
    "IngestLockedError",
    "WriteOutcome",
    "WriteSession",
    "queries",
    "resolve_db",
]
