"""The copied-text tables in the store: schema (own version, derived data), report-id filters, per-report summaries."""

from __future__ import annotations

import duckdb
import polars as pl

SCHEMA_VERSION = 4
TABLES = ("reuse_reports", "reuse_passages", "reuse_matches", "reuse_common", "reuse_state")
OLD_TABLES = ("reuse_bands",)  # of earlier schema versions (the band keys now live in the index beside the store)

# No primary keys: DuckDB's index can refuse a key deleted and inserted again in one transaction (seen at 8,700
# reports), and uniqueness holds by construction (summaries are deleted before they are recomputed).
SCHEMA = """
CREATE TABLE IF NOT EXISTS reuse_reports (
    report_id INTEGER NOT NULL, chars INTEGER NOT NULL, previous_chars INTEGER NOT NULL,
    other_chars INTEGER NOT NULL, common_chars INTEGER NOT NULL, copied_chars INTEGER NOT NULL,
    previous_share DOUBLE, other_share DOUBLE, copied_share DOUBLE,
    previous_id INTEGER, top_source_id INTEGER, top_source_chars INTEGER
);
CREATE TABLE IF NOT EXISTS reuse_passages (
    report_id INTEGER NOT NULL, pno SMALLINT NOT NULL, section VARCHAR NOT NULL, number SMALLINT NOT NULL,
    chars SMALLINT NOT NULL, saturated SMALLINT NOT NULL, common BOOLEAN NOT NULL
);
CREATE TABLE IF NOT EXISTS reuse_matches (
    report_id INTEGER NOT NULL, pno SMALLINT NOT NULL, source_id INTEGER NOT NULL, source_pno SMALLINT NOT NULL,
    kind VARCHAR NOT NULL, similarity REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS reuse_common (band BIGINT NOT NULL);  -- retired bucket keys (the year is part of a key)
-- the index state (pipeline.reuse.index) this store was published with
CREATE TABLE IF NOT EXISTS reuse_state (token VARCHAR NOT NULL, version BIGINT NOT NULL);
"""
MATCH_SCHEMA = {"report_id": pl.Int32, "pno": pl.Int16, "source_id": pl.Int32, "source_pno": pl.Int16,
                 "kind": pl.String, "similarity": pl.Float32}  # fmt: skip


def ensure_schema(con: duckdb.DuckDBPyConnection) -> bool:
    """Create the reuse tables; tables of another schema version are dropped (they are derived: all is recomputed).

    Returns True when the tables were (re)created empty.
    """
    con.execute("CREATE TABLE IF NOT EXISTS reuse_schema (version INTEGER NOT NULL)")
    found = con.execute("SELECT max(version) FROM reuse_schema").fetchall()[0][0]
    if found == SCHEMA_VERSION:
        return False
    con.execute("BEGIN TRANSACTION")
    for table in (*TABLES, *OLD_TABLES):
        con.execute(f"DROP TABLE IF EXISTS {table}")
    con.execute(SCHEMA)
    con.execute("DELETE FROM reuse_schema")
    con.execute("INSERT INTO reuse_schema VALUES (?)", [SCHEMA_VERSION])
    con.execute("COMMIT")
    return True


def register_ids(con: duckdb.DuckDBPyConnection, name: str, ids: set[int] | list[int]) -> None:
    con.register(name, pl.DataFrame({"report_id": sorted(ids)}, schema={"report_id": pl.Int32}))


def select(con: duckdb.DuckDBPyConnection, sql: str, ids: set[int] | list[int]) -> list[tuple]:
    """Rows of ``sql`` whose ``{ids}`` placeholder becomes a filter on the given report ids (a semi-join on a
    registered frame: a list parameter would be searched linearly for every row of a large table)."""
    if not ids:
        return []
    register_ids(con, "_reuse_q", ids)
    try:
        return con.execute(sql.format(ids="report_id IN (SELECT report_id FROM _reuse_q)")).fetchall()
    finally:
        con.unregister("_reuse_q")


def agencies_of(con: duckdb.DuckDBPyConnection, ids: set[int] | list[int]) -> dict[int, str | None]:
    return dict(select(con, "SELECT report_id, agency FROM reports WHERE {ids}", ids))


def summarise(con: duckdb.DuckDBPyConnection, ids: set[int]) -> int:
    """Recompute ``reuse_reports`` for the given reports from their passages and matches.

    Small queries that each filter the big tables by the reports first (``IN``), assembled in polars: one query
    joining everything made DuckDB build hash tables over whole tables, past the writer's memory limit.
    """
    if not ids:
        return 0
    register_ids(con, "_reuse_s", ids)
    mine = "report_id IN (SELECT report_id FROM _reuse_s)"
    sums = con.sql(f"""
        WITH m AS (
            SELECT report_id, pno, bool_or(kind = 'previous') AS prev, bool_or(kind = 'other') AS other
            FROM reuse_matches WHERE {mine} GROUP BY ALL),
        p AS (
            SELECT p.report_id, p.chars, p.common, coalesce(m.prev, false) AND NOT p.common AS prev,
                   coalesce(m.other, false) AND NOT p.common AS other
            FROM (SELECT * FROM reuse_passages WHERE {mine}) p LEFT JOIN m USING (report_id, pno))
        SELECT report_id, sum(chars)::INTEGER AS chars,
               coalesce(sum(chars) FILTER (prev), 0)::INTEGER AS previous_chars,
               coalesce(sum(chars) FILTER (other), 0)::INTEGER AS other_chars,
               coalesce(sum(chars) FILTER (common), 0)::INTEGER AS common_chars,
               coalesce(sum(chars) FILTER (prev OR other), 0)::INTEGER AS copied_chars
        FROM p GROUP BY report_id""").pl()
    top = con.sql(f"""
        WITH pairs AS (SELECT DISTINCT report_id, pno, source_id FROM reuse_matches WHERE {mine} AND kind = 'other')
        SELECT pairs.report_id, pairs.source_id AS top_source_id, sum(p.chars)::INTEGER AS top_source_chars
        FROM pairs JOIN (SELECT report_id, pno, chars FROM reuse_passages WHERE {mine} AND NOT common) p
             USING (report_id, pno)
        GROUP BY pairs.report_id, pairs.source_id
        QUALIFY row_number() OVER (PARTITION BY pairs.report_id ORDER BY sum(p.chars) DESC, pairs.source_id) = 1
        """).pl()
    cur = con.sql(f"SELECT report_id, agency, year FROM reports WHERE {mine}").pl()
    con.register("_reuse_cur", cur)
    before = con.sql(  # the agencies as a constant filter: no join with every report of the store
        """SELECT cur.report_id, b.report_id AS previous_id
           FROM _reuse_cur cur JOIN (SELECT report_id, agency, year FROM reports
                                     WHERE is_current AND list_contains($agencies, agency)) b
                ON b.agency = cur.agency AND b.year = cur.year - 1""",
        params={"agencies": cur["agency"].drop_nulls().unique().sort().to_list()},
    ).pl()
    con.unregister("_reuse_cur")
    rows = (
        pl.DataFrame({"report_id": sorted(ids)}, schema={"report_id": pl.Int32})
        .join(sums.cast({"report_id": pl.Int32}), on="report_id", how="left")
        .join(before.cast({"report_id": pl.Int32}), on="report_id", how="left")
        .join(top.cast({"report_id": pl.Int32}), on="report_id", how="left")
        .with_columns(
            pl.col(c).fill_null(0) for c in ("chars", "previous_chars", "other_chars", "common_chars", "copied_chars")
        )  # fmt: skip
    )
    con.register("_reuse_rows", rows)
    con.execute(f"DELETE FROM reuse_reports WHERE {mine}")
    con.execute("""INSERT INTO reuse_reports SELECT report_id, chars, previous_chars, other_chars, common_chars,
                       copied_chars, previous_chars / nullif(chars, 0), other_chars / nullif(chars, 0),
                       copied_chars / nullif(chars, 0), previous_id, top_source_id, top_source_chars
                   FROM _reuse_rows""")  # fmt: skip
    con.unregister("_reuse_rows")
    con.unregister("_reuse_s")
    return len(ids)
