"""The store's layout on disk: a small *catalog* file and immutable *segment* files beside it.

    data/xxgk.duckdb                       the catalog (the path users name): schema version, the segment list,
                                           the next report id, the store-wide findings (cross-year, region
                                           summaries: recomputed by writes), the copied-text tables
    data/xxgk.duckdb.segments/seg-000001.duckdb   a segment: reports, facts, findings, sections, derived,
    data/xxgk.duckdb.segments/seg-000002.duckdb   ingest_log, report_cells and ``retired`` of the reports one
                                                  write session (or one merge) added — never changed afterwards

Each segment is a complete single-file store at the current schema (:mod:`pipeline.store.schema`), so migrations,
the writer's SQL and a plain ``duckdb`` session work on it unchanged.  A reader attaches the catalog and every
segment READ_ONLY and sees one store through views (``reports`` = the union of the segments' reports with the
``retired`` rows applied: a report replaced by a later version is ``is_current = false`` there).

A write session never opens a published file for writing: it writes its reports into a *new* segment, copies the
catalog (kilobytes to a few MB) to a temporary file, records the segment in the copy, and publishes by
``os.replace``-ing the copy over the catalog — one atomic rename.  Until then readers see the previous state; a
crash or ``kill -9`` leaves the previous catalog and an unreferenced segment file, deleted at the next open.  The
cost of a write is proportional to what it adds, never to the size of the store.

Small segments are merged as they accumulate (:func:`plan_merge`, size-tiered), so a reader attaches a handful of
files, not one per ingest; a large merge is :meth:`pipeline.store.Database.compact`'s, never a small write's.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import duckdb

from pipeline.store.cells import TABLE as CELLS_TABLE
from pipeline.store.relations import LAYOUT, RETIRED, union_sql
from pipeline.store.schema import LATEST, migrate

# the tables of a segment the store's views unite (schema_version comes from the catalog)
SEGMENT_TABLES = ("reports", "facts", "findings", "sections", "derived", "ingest_log", CELLS_TABLE)
# findings of rules over several reports (cross-year XY-*, region summaries SUM-1): recomputed by every write, so
# kept in the catalog rather than in immutable segments
STORE_FINDINGS = "store_findings"
STORE_SCOPES = ("cross_year", "region")
# the catalog's own tables; any other table there (the copied-text tables of pipeline.reuse: derived, updated in
# place by every write) is shown to readers under its own name
CATALOG_TABLES = ("schema_version", "store_segments", "store_meta", STORE_FINDINGS)
MERGE_RATIO = 4  # a segment should hold at least this many times the reports of all newer ones together
SOFT_MAX_SEGMENTS = 8  # a write merges nothing while there are at most this many segments
INLINE_MERGE_REPORTS = 20_000  # merges up to this size run at the end of a write; larger ones: Database.compact()
MAX_SEGMENTS = 32  # beyond this a write merges whatever the tiers call for (a long run of small writes)
_SEGMENT_RE = re.compile(r"^seg-(\d{6,})\.duckdb(\.wal)?$")

CATALOG_DDL = f"""
CREATE TABLE IF NOT EXISTS schema_version (
    version     INTEGER PRIMARY KEY,
    applied_at  TIMESTAMP NOT NULL DEFAULT current_timestamp
);
-- the published segments, oldest first (a report lives in exactly one of them)
CREATE TABLE IF NOT EXISTS store_segments (
    seq         INTEGER PRIMARY KEY,
    name        VARCHAR NOT NULL,
    n_reports   BIGINT NOT NULL,
    n_retired   BIGINT NOT NULL,
    size_bytes  BIGINT NOT NULL,
    created_at  TIMESTAMP NOT NULL DEFAULT current_timestamp
);
CREATE TABLE IF NOT EXISTS store_meta (
    key   VARCHAR PRIMARY KEY,
    value BIGINT NOT NULL
);
-- findings of the rules over several reports (pipeline.validator.cross_year, pipeline.validator.summary):
-- recomputed by every write, so kept here, in the small file a write copies, rather than in immutable segments
CREATE TABLE IF NOT EXISTS {STORE_FINDINGS} (
    report_id   INTEGER,
    rule        VARCHAR NOT NULL,
    severity    VARCHAR NOT NULL,
    message     VARCHAR NOT NULL,
    keys        VARCHAR[],
    expected    VARCHAR,
    actual      VARCHAR,
    suspect_key VARCHAR,
    scope       VARCHAR NOT NULL
);
"""
RETIRED_DDL = f"""CREATE TABLE IF NOT EXISTS {RETIRED} (
    report_id   INTEGER NOT NULL,   -- a report stored in this or an older segment
    replaced_by INTEGER NOT NULL    -- the version that replaced it (is_current = false from this segment on)
)"""


@dataclass(frozen=True, slots=True)
class Segment:
    seq: int
    name: str
    n_reports: int
    n_retired: int
    size_bytes: int


def segment_dir(catalog: Path) -> Path:
    """The folder of a catalog's segments: ``<catalog>.segments``."""
    return catalog.with_name(catalog.name + ".segments")


def segment_name(seq: int) -> str:
    return f"seg-{seq:06d}.duckdb"


def is_catalog(con: duckdb.DuckDBPyConnection, alias: str) -> bool:
    """Whether the attached database ``alias`` is a segmented store's catalog (else a single-file store)."""
    found = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE database_name = ? AND table_name = 'store_segments'", [alias]
    ).fetchall()
    return bool(found[0][0])


def read_segments(con: duckdb.DuckDBPyConnection, alias: str = "cat") -> list[Segment]:
    rows = con.execute(
        f"SELECT seq, name, n_reports, n_retired, size_bytes FROM {alias}.store_segments ORDER BY seq"
    ).fetchall()
    return [Segment(*row) for row in rows]


def meta(con: duckdb.DuckDBPyConnection, key: str, alias: str = "cat", default: int = 0) -> int:
    rows = con.execute(f"SELECT value FROM {alias}.store_meta WHERE key = ?", [key]).fetchall()
    return int(rows[0][0]) if rows else default


def set_meta(con: duckdb.DuckDBPyConnection, key: str, value: int, alias: str = "cat") -> None:
    con.execute(f"INSERT OR REPLACE INTO {alias}.store_meta VALUES (?, ?)", [key, int(value)])


def connect(database: str | Path = ":memory:", **config: str) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection without the progress bar (DuckDB prints one for long statements, into a command's output)."""
    settings: dict[str, str | bool | int | float | list[str]] = dict(config)
    con = duckdb.connect(str(database), config=settings)
    con.execute("SET enable_progress_bar = false")
    return con


def quote(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


# -- reading ------------------------------------------------------------------------------------------------------


def attach_segments(con: duckdb.DuckDBPyConnection, folder: Path, segments: Iterable[Segment]) -> list[str]:
    """ATTACH every segment READ_ONLY (as ``s<seq>``); returns the aliases."""
    aliases = []
    for s in segments:
        alias = f"s{s.seq}"
        con.execute(f"ATTACH {quote(folder / s.name)} AS {alias} (READ_ONLY)")
        aliases.append(alias)
    return aliases


def create_views(con: duckdb.DuckDBPyConnection, aliases: list[str], retired: list[str], catalog: str = "cat",
                 schema: str = "main", replace: bool = False, extras: bool = True,
                 tables: tuple[str, ...] = SEGMENT_TABLES) -> None:  # fmt: skip
    """The store's tables as views over the segments ``aliases`` (in ``con``'s ``schema``).

    ``retired``: the aliases whose ``retired`` table has rows — their reports' replacement is applied to
    ``reports``.  With no segment at all the views are empty tables of the right shape.  ``extras``: views of the
    catalog's other tables too (:func:`catalog_extras`; a write session reaches them by its search path instead).
    ``tables``: the segment tables to make views of (a reader that needs a few: binding the 470-column
    ``report_cells`` view alone costs ≈ 30 ms).
    """
    verb = "CREATE OR REPLACE VIEW" if replace else "CREATE VIEW"
    if not aliases:
        empty = connect()  # the shapes: a fresh single-file store at the current schema
        try:
            migrate(empty)
            shapes = {t: empty.execute(f"DESCRIBE {t}").fetchall() for t in SEGMENT_TABLES}
        finally:
            empty.close()
        for table, cols in shapes.items():
            if table not in tables:
                continue
            typed = ", ".join(f"CAST(NULL AS {typ}) AS {_ident(name)}" for name, typ, *_ in cols)
            con.execute(f"{verb} {schema}.{table} AS SELECT {typed} WHERE false")
    else:
        for table in (t for t in SEGMENT_TABLES if t in tables):
            union = union_sql(table, aliases, retired)
            if table == "findings":
                union = f"{union} UNION ALL SELECT * FROM {catalog}.main.{STORE_FINDINGS}"
            con.execute(f"{verb} {schema}.{table} AS {union}")
    layout = " UNION ALL ".join(f"SELECT '{a}' AS alias, {a in retired} AS has_retired" for a in aliases)
    con.execute(f"{verb} {schema}.{LAYOUT} AS "
                + (layout or "SELECT CAST(NULL AS VARCHAR) AS alias, false AS has_retired WHERE false"))  # fmt: skip
    con.execute(f"{verb} {schema}.schema_version AS SELECT * FROM {catalog}.main.schema_version")
    for name in catalog_extras(con, catalog) if extras else []:
        con.execute(f"{verb} {schema}.{_ident(name)} AS SELECT * FROM {catalog}.main.{_ident(name)}")


def catalog_extras(con: duckdb.DuckDBPyConnection, catalog: str = "cat") -> list[str]:
    """The tables of the attached catalog ``catalog`` beyond its own (:data:`CATALOG_TABLES`): the copied-text
    tables, which readers see under their own names."""
    rows = con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE database_name = ? AND schema_name = 'main'"
        " AND NOT list_contains(?, table_name) ORDER BY table_name",
        [catalog, list(CATALOG_TABLES)],
    ).fetchall()
    return [name for (name,) in rows]


def open_reader(path: Path, tables: tuple[str, ...] | None = None) -> duckdb.DuckDBPyConnection:
    """A read-only connection to the store whose catalog is ``path`` (a single-file store from before the segment
    layout is read as it is): plain table names work on it and on its cursors.  ``tables``: only these segment
    tables as views (and none of the catalog's copied-text tables) — for a reader that needs a few."""
    con = connect()
    try:
        con.execute(f"ATTACH {quote(path)} AS cat (READ_ONLY)")
        if is_catalog(con, "cat"):
            segments = read_segments(con)
            aliases = attach_segments(con, segment_dir(path), segments)
            retired = [f"s{s.seq}" for s in segments if s.n_retired]
            if tables is None:
                create_views(con, aliases, retired)
            else:
                create_views(con, aliases, retired, extras=False, tables=tables)
        else:
            _legacy_views(con)
    except Exception:
        con.close()
        raise
    return con


def _legacy_views(con: duckdb.DuckDBPyConnection) -> None:
    names = con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE database_name = 'cat' AND schema_name = 'main'"
        " UNION SELECT view_name FROM duckdb_views() WHERE database_name = 'cat' AND schema_name = 'main'"
        " AND NOT internal"
    ).fetchall()
    for (name,) in names:
        con.execute(f"CREATE VIEW {_ident(name)} AS SELECT * FROM cat.main.{_ident(name)}")


# -- writing ------------------------------------------------------------------------------------------------------


_TEMPLATES: dict[str, bytes] = {}  # an empty segment's bytes per schema (built once per process)


# A segment's block size.  A checkpoint holds one block per column of the row group it writes in memory at once:
# with DuckDB's default 256 KiB blocks the ≈ 470 columns of report_cells need ≈ 118 MiB, the whole writer cap
# (swap.WRITER_MEMORY_LIMIT), and a session of some 50,000 reports failed to checkpoint.  16 KiB blocks need
# ≈ 7 MiB; files are no larger and scans no slower (docs/benchmarks.md, "segment block size").
SEGMENT_BLOCK_SIZE = 16_384


def new_segment_file(path: Path) -> None:
    """Create an empty segment at ``path``: a single-file store at the current schema plus ``retired``, with
    :data:`SEGMENT_BLOCK_SIZE` blocks (written from an in-memory template: building the schema afresh costs more
    than the rest of a small write)."""
    from pipeline.store.cells import create_sql

    key = f"{LATEST}:{hash(create_sql())}"
    if key not in _TEMPLATES:
        tmp = path.with_name(f".template-{os.getpid()}.duckdb")
        try:
            con = connect()
            try:
                con.execute(f"ATTACH {quote(tmp)} AS template (BLOCK_SIZE {SEGMENT_BLOCK_SIZE})")
                con.execute("USE template")
                migrate(con)
                con.execute(RETIRED_DDL)
                con.execute("CHECKPOINT template")
            finally:
                con.close()
            _TEMPLATES[key] = tmp.read_bytes()
        finally:
            remove_paths([tmp, tmp.with_name(tmp.name + ".wal")])
    with open(path, "xb") as fh:
        fh.write(_TEMPLATES[key])


def write_catalog(path: Path, start_id: int = 1, versions: list[tuple] | None = None) -> None:
    """Write an empty catalog (no segment yet) at ``path``: reports are numbered from ``start_id``."""
    con = connect(path)
    try:
        con.execute(CATALOG_DDL)
        con.execute(f"CREATE SEQUENCE report_id_seq START {int(start_id)}")
        if versions:
            con.executemany("INSERT INTO schema_version VALUES (?, ?)", [list(v) for v in versions])
        else:
            from pipeline.store.schema import MIGRATIONS

            con.executemany("INSERT INTO schema_version (version) VALUES (?)", [[m.version] for m in MIGRATIONS])
        con.execute("CHECKPOINT")
    finally:
        con.close()


def record(con: duckdb.DuckDBPyConnection, s: Segment, alias: str = "cat") -> None:
    con.execute(
        f"INSERT INTO {alias}.store_segments (seq, name, n_reports, n_retired, size_bytes) VALUES (?, ?, ?, ?, ?)",
        [s.seq, s.name, s.n_reports, s.n_retired, s.size_bytes],
    )


def plan_merge(segments: list[Segment], inline: bool = True) -> list[Segment]:
    """The newest segments to merge into one (a contiguous run ending with the newest), or [].

    Size-tiered: a run of newer segments is merged once it holds more than 1/:data:`MERGE_RATIO` of the reports of
    the segment before it, so there are O(log n) segments and a report is rewritten O(log n) times over its life.
    At the end of a write (``inline``) nothing is merged until there are more than :data:`SOFT_MAX_SEGMENTS`
    segments, and then at most :data:`INLINE_MERGE_REPORTS` reports (unless there are more than
    :data:`MAX_SEGMENTS`); larger merges are :meth:`pipeline.store.Database.compact`'s.
    """
    if len(segments) < 2 or (inline and len(segments) <= SOFT_MAX_SEGMENTS):
        return []
    start, total = len(segments) - 1, segments[-1].n_reports
    while start > 0 and segments[start - 1].n_reports < MERGE_RATIO * max(total, 1):
        start -= 1
        total += segments[start].n_reports
    if inline and total > INLINE_MERGE_REPORTS and len(segments) <= MAX_SEGMENTS:
        start, total = len(segments) - 1, segments[-1].n_reports
        while start > 0 and total + segments[start - 1].n_reports <= INLINE_MERGE_REPORTS:
            start -= 1
            total += segments[start].n_reports
    run = segments[start:]
    return run if len(run) >= 2 else []


def merge_into(con: duckdb.DuckDBPyConnection, target: str, sources: list[str]) -> None:
    """Copy the segments ``sources`` (attached aliases, oldest first) into the empty segment ``target``.

    A replacement recorded in a source for a report inside the run is applied to that report's row; one for an
    older report (outside the run) stays in ``retired``.
    """
    tables = [*SEGMENT_TABLES, RETIRED]
    con.execute("BEGIN TRANSACTION")
    try:
        for table in tables:
            union = " UNION ALL ".join(f"SELECT * FROM {a}.main.{table}" for a in sources)
            order = " ORDER BY report_id" if table != "ingest_log" else ""
            con.execute(f"INSERT INTO {target}.main.{table} SELECT * FROM ({union}){order}")
        con.execute(
            f"""UPDATE {target}.main.reports SET is_current = false, replaced_by = t.replaced_by
                FROM {target}.main.{RETIRED} t WHERE reports.report_id = t.report_id"""
        )
        con.execute(
            f"""UPDATE {target}.main.{CELLS_TABLE} SET is_current = false
                FROM {target}.main.{RETIRED} t WHERE {CELLS_TABLE}.report_id = t.report_id"""
        )
        con.execute(
            f"""DELETE FROM {target}.main.{RETIRED}
                WHERE report_id IN (SELECT report_id FROM {target}.main.reports)"""
        )
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise


def remove_paths(paths: Iterable[Path]) -> list[Path]:
    removed = []
    for p in paths:
        with contextlib.suppress(OSError):
            if p.is_dir():
                shutil.rmtree(p)
            else:
                p.unlink()
            removed.append(p)
    return removed


def catalog_version(con: duckdb.DuckDBPyConnection, alias: str = "cat") -> int:
    """The schema version the catalog records (that of every segment it lists)."""
    return int(con.execute(f"SELECT coalesce(max(version), 0) FROM {alias}.schema_version").fetchall()[0][0])


__all__ = [
    "CATALOG_DDL", "CATALOG_TABLES", "INLINE_MERGE_REPORTS", "LATEST", "MERGE_RATIO", "RETIRED", "SEGMENT_TABLES",
    "STORE_FINDINGS", "STORE_SCOPES", "Segment", "attach_segments", "catalog_extras", "create_views",
    "is_catalog", "merge_into", "new_segment_file", "open_reader", "plan_merge", "quote",
    "read_segments", "record", "remove_paths", "segment_dir", "segment_name",
    "write_catalog",
]  # fmt: skip
