"""The store's schema: version 1 is ``schema.sql``; every later change is one entry appended to :data:`MIGRATIONS`.

A migration is SQL text or a Python function of the write connection (for changes SQL alone cannot express).
Each runs in its own transaction together with the ``schema_version`` row that records it, so a database is always
at exactly one version.  Never edit or reorder a released entry: append a new one with the next number.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources

import duckdb


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    description: str
    apply: str | Callable[[duckdb.DuckDBPyConnection], None]  # SQL (may hold several statements) or a function


def schema_sql() -> str:
    """The version-1 DDL (``pipeline/store/schema.sql``)."""
    return resources.files("pipeline.store").joinpath("schema.sql").read_text(encoding="utf-8")


def _v1(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(schema_sql())


def _v4_derived(con: duckdb.DuckDBPyConnection) -> None:
    """The ``derived`` table (migration 4), filled for the reports already stored (their facts hold everything derive needs)."""
    from pipeline.store.derived import backfill_derived

    con.execute(
        """CREATE TABLE derived (
            report_id INTEGER NOT NULL,
            key       VARCHAR NOT NULL,          -- the blank 总计 cell's registry key
            value     DECIMAL(18, 4) NOT NULL,
            sources   VARCHAR[] NOT NULL,        -- the keys it was computed from
            method    VARCHAR NOT NULL           -- row_sum / group_sum / column_sum / remainder_zero
        )"""
    )
    backfill_derived(con)


def _v6_cells(con: duckdb.DuckDBPyConnection) -> None:
    """``report_cells`` (migration 6): the per-report wide table of analytic values and cell states, built for the
    reports already stored from their facts and derived totals."""
    from pipeline.store.cells import backfill_cells, create_sql

    con.execute(create_sql())
    backfill_cells(con)


MIGRATIONS: list[Migration] = [
    Migration(1, "schema.sql: reports, facts, findings, sections, ingest_log", _v1),
    # facts without the (report_id, key) primary key: its ART index doubled the insert time and made the file 3–7x
    # larger (the 10k benchmark 189 → 64 MB).  Uniqueness holds by construction: a report's facts come from a dict
    # keyed by field key and report_id from a sequence (tests/test_ingest.py checks it).
    Migration(
        2,
        "facts without the primary-key index",
        """
        CREATE TABLE facts_v2 (
            report_id   INTEGER NOT NULL,
            key         VARCHAR NOT NULL,
            value       DECIMAL(18, 4),
            raw         VARCHAR,
            blank       BOOLEAN NOT NULL,
            status      VARCHAR NOT NULL,
            loc         VARCHAR,
            confidence  DOUBLE,
            page        INTEGER,
            bbox        DOUBLE[]
        );
        INSERT INTO facts_v2 SELECT report_id, key, value, raw, blank, status, loc, confidence, page, bbox
            FROM facts ORDER BY report_id, key;
        DROP TABLE facts;
        ALTER TABLE facts_v2 RENAME TO facts;
        """,
    ),
    # When a fetched report was downloaded (UTC; NULL for files loaded from disk); its address is source_url.
    Migration(3, "reports.fetched_at (xxgk fetch provenance)", "ALTER TABLE reports ADD COLUMN fetched_at TIMESTAMP"),
    # derived totals (pipeline/derive.py) in a table of their own rather than columns on facts: the source cell
    # stays exactly as printed (blank), facts keeps its shape and size (only the few derived cells are stored),
    # and each derived value carries the keys it came from.
    Migration(4, "derived totals: a blank 总计 computed from its parts, beside the source cell", _v4_derived),
    # The publication date and where it came from (page / document / manifest: pipeline.published) for the
    # timeliness check (deadline 31 January of the following year), and the flag of a region's summary report
    # (pipeline.summary), whose cells the SUM-1 rule compares with the sum of its members' reports.  Reports stored
    # before this migration keep NULL dates (timeliness unknown) until they are loaded again.
    Migration(
        5,
        "reports.published, published_source, is_summary",
        """
        ALTER TABLE reports ADD COLUMN published DATE;
        ALTER TABLE reports ADD COLUMN published_source VARCHAR;
        ALTER TABLE reports ADD COLUMN is_summary BOOLEAN DEFAULT false;
        """,
    ),
    # the metric queries pivoted facts per query (seconds at 1 M reports); report_cells holds that pivot, written
    # with the facts (pipeline/store/cells.py)
    Migration(6, "report_cells: one row per report, a value and a state column per registry key", _v6_cells),
]

LATEST = MIGRATIONS[-1].version


def schema_version(con: duckdb.DuckDBPyConnection) -> int:
    """The highest applied migration (0 for an empty database)."""
    exists = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'schema_version'"
    ).fetchall()[0][0]
    if not exists:
        return 0
    return int(con.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchall()[0][0])


def migrate(con: duckdb.DuckDBPyConnection, migrations: list[Migration] | None = None) -> int:
    """Apply every migration newer than the database's version, each in its own transaction; returns the version."""
    current = schema_version(con)
    for migration in migrations if migrations is not None else MIGRATIONS:
        if migration.version <= current:
            continue
        con.execute("BEGIN TRANSACTION")
        try:
            if callable(migration.apply):
                migration.apply(con)
            else:
                con.execute(migration.apply)
            con.execute("INSERT INTO schema_version (version) VALUES (?)", [migration.version])
            con.execute("COMMIT")
        except Exception:
            con.execute("ROLLBACK")
            raise
        current = migration.version
    return current
