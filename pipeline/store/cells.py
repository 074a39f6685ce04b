"""``report_cells``: one row per report — its filter columns and two typed columns per registry key.

The long ``facts`` table (one row per report and cell, with its source text, status and provenance) stays the record;
``report_cells`` is its analytic projection, written in the same transaction as the facts it comes from, and is what
the metric queries read (one scan, no join, no pivot):

- the report columns the filters and groupings use (:data:`REPORT_COLUMNS`: agency, year, region, level, agency
  type, edition, quality, ``is_current``, ``is_summary``, the publication date) — copies of the ``reports`` row;
- ``v__<key>`` DOUBLE — the printed number, or the derived total (table ``derived``) where the source left the
  总计 blank; NULL otherwise (NULL exactly when the state is below 4: a sum or count of ``v`` is over counted
  cells only);
- ``s__<key>`` UTINYINT — the cell's state: 5 printed, 4 derived, 2 blank or a null marker ("/", "—") with
  nothing derived, 1 not located or ambiguous, NULL not in the report's layout.

These are exactly the values and states :mod:`pipeline.metrics.sql` used to pivot out of ``facts`` for every query
(``CAST(value AS DOUBLE)``; the same state codes).  Blank, "/" and 0 stay distinguishable: a 0 is ``v = 0, s = 5``;
blank and "/" are ``v = NULL, s = 2`` (pages that show a cell's source text — 报告详情, the long explorer — read
``facts``, where ``raw`` keeps "/" apart from an empty cell).

Every report has a row (a legacy report without tables too: its cells are all NULL).  The migration builds the
table with :func:`cells_select` (SQL PIVOT); a write batch builds its rows with :func:`batch_cells` (numpy, cheaper
for a few hundred reports) — ``tests/test_store_scale.py`` checks that both give the same rows.
"""

from __future__ import annotations

import functools
import re

import duckdb
import numpy as np
import polars as pl

from pipeline.registry import registry

TABLE = "report_cells"
PRINTED, DERIVED, EMPTY, UNUSABLE = 5, 4, 2, 1
# copies of the reports row: what Filters.where, the groupings and the panel read
REPORT_COLUMNS: dict[str, str] = {
    "report_id": "INTEGER", "agency": "VARCHAR", "agency_key": "BIGINT", "year": "INTEGER", "edition": "VARCHAR", "province": "VARCHAR",
    "city": "VARCHAR", "county": "VARCHAR", "level": "VARCHAR", "agency_type": "VARCHAR", "synthetic": "BOOLEAN",
    "n_errors": "INTEGER", "n_warnings": "INTEGER", "is_current": "BOOLEAN", "is_summary": "BOOLEAN",
    "published": "DATE",
}  # fmt: skip
_POLARS = {"INTEGER": pl.Int32, "BIGINT": pl.Int64, "VARCHAR": pl.String, "BOOLEAN": pl.Boolean, "DATE": pl.Date}
# ``agency_key``: the agency name as a number (60 bits of its MD5), so that grouping and joining by agency — the
# trend panel, agency counts, year-over-year pairs — hash integers instead of strings.  A write refuses a name whose
# key another name already has (pipeline.store.writer), so equal keys mean equal names.
AGENCY_KEY_SQL = "('0x' || substr(md5({agency}), 1, 15))::BIGINT"
_KEY_RE = re.compile(r"^[a-z0-9_.]+$")

# facts.status → state (not_in_layout and anything unknown: NULL, as the pivot had it)
STATE_SQL = (
    f"CASE {{status}} WHEN 'ok' THEN {PRINTED} WHEN 'blank' THEN {EMPTY} WHEN 'null_marker' THEN {EMPTY}"
    f" WHEN 'missing' THEN {UNUSABLE} WHEN 'ambiguous' THEN {UNUSABLE} END"
)


def stem(key: str) -> str:
    """The column stem of a registry key (``t3__granted__total``); refuses anything not in the registry."""
    if key not in registry() or not _KEY_RE.match(key):
        raise KeyError(f"未知字段: {key!r}")
    return key.replace(".", "__")


def cell_keys() -> list[str]:
    """Every registry key, in registry order: the cell columns of ``report_cells``."""
    return list(registry().by_key)


def create_sql(table: str = TABLE) -> str:
    head = ",\n    ".join(f"{name} {typ}" for name, typ in REPORT_COLUMNS.items())
    cols = ",\n    ".join(f"v__{stem(k)} DOUBLE, s__{stem(k)} UTINYINT" for k in cell_keys())
    return f"CREATE TABLE {table} (\n    {head},\n    {cols}\n)"


def _long(facts: str, derived: str, where: str) -> str:
    state = STATE_SQL.format(status="status")
    return f"""SELECT report_id, key, CAST(value AS DOUBLE) AS value, CAST({state} AS UTINYINT) AS state
               FROM {facts} WHERE {where}
               UNION ALL
               SELECT report_id, key, CAST(value AS DOUBLE), CAST({DERIVED} AS UTINYINT) FROM {derived} WHERE {where}"""


def cells_select(reports: str = "reports", facts: str = "facts", derived: str = "derived", where: str = "true") -> str:
    """SELECT of ``report_cells`` rows for the reports matching ``where`` (a condition on ``report_id``).  Every key's
    value is ``max(value)`` and its state ``max(state)`` over the report's fact and derived rows of that key (a
    derived total only exists beside a blank source cell, so at most one of them has a value)."""
    keys = cell_keys()
    inlist = ", ".join(f"'{k}' AS {stem(k)}" for k in keys)
    names = ", ".join(
        f"CASE WHEN p.{stem(k)}_s >= {DERIVED} THEN p.{stem(k)}_v END AS v__{stem(k)}, p.{stem(k)}_s AS s__{stem(k)}"
        for k in keys
    )
    head = ", ".join(report_column(c, "r") for c in REPORT_COLUMNS)
    return f"""SELECT {head}, {names}
        FROM (SELECT * FROM {reports} WHERE {where}) r
        LEFT JOIN (PIVOT ({_long(facts, derived, where)})
                   ON key IN ({inlist}) USING max(value) AS v, max(state) AS s GROUP BY report_id) p
        USING (report_id)"""


def report_column(name: str, alias: str) -> str:
    if name == "agency_key":
        return AGENCY_KEY_SQL.format(agency=f"{alias}.agency") + " AS agency_key"
    return f"{alias}.{name}"


def fill_cells(con: duckdb.DuckDBPyConnection, where: str = "true", table: str = TABLE, prefix: str = "") -> None:
    """Insert the ``report_cells`` rows of the reports matching ``where`` (inside the caller's transaction)."""
    con.execute(
        f"INSERT INTO {prefix}{table} " + cells_select(f"{prefix}reports", f"{prefix}facts", f"{prefix}derived", where)
    )


def backfill_cells(con: duckdb.DuckDBPyConnection, chunk: int = 20_000) -> int:
    """Build ``report_cells`` for every stored report, ``chunk`` report ids at a time (memory stays bounded)."""
    lo, hi = con.execute("SELECT min(report_id), max(report_id) FROM reports").fetchall()[0]
    if lo is None:
        return 0
    for start in range(int(lo), int(hi) + 1, chunk):
        fill_cells(con, f"report_id >= {start} AND report_id < {start + chunk}")
    return int(con.execute(f"SELECT count(*) FROM {TABLE}").fetchall()[0][0])


@functools.cache
def _key_index() -> dict[str, int]:
    """Registry key → its place among :func:`cell_keys` (the column of the wide arrays :func:`batch_cells` fills)."""
    return {k: i for i, k in enumerate(cell_keys())}


@functools.cache
def _value_names() -> list[str]:
    return [f"v__{stem(k)}" for k in cell_keys()]


@functools.cache
def _state_names() -> list[str]:
    return [f"s__{stem(k)}" for k in cell_keys()]


@functools.cache
def _cell_order() -> list[str]:
    """Column names of ``report_cells`` in table order: the report columns, then ``v__``/``s__`` per key."""
    return [*REPORT_COLUMNS, *(f"{p}__{stem(k)}" for k in cell_keys() for p in ("v", "s"))]


def batch_cells(con: duckdb.DuckDBPyConnection, lo: int, hi: int, prefix: str = "") -> pl.DataFrame:
    """The ``report_cells`` rows of reports ``lo`` … ``hi`` from the reports, facts and derived totals just written
    to the tables of ``prefix`` (``seg.main.``): the same rows as :func:`cells_select`, without the cost of planning
    a 226-way PIVOT for every write batch.

    The long rows (values cast to DOUBLE by DuckDB, as the PIVOT has them) are scattered into one report × key
    array of values and one of states, each cell the maximum over its rows (``ufunc.at``: a fact and its derived
    total share a cell); a polars pivot of the same rows cost ≈ 0.4 CPU-ms per report, this ≈ 0.05."""
    where = f"report_id BETWEEN {int(lo)} AND {int(hi)}"
    head = ", ".join(report_column(c, "r") for c in REPORT_COLUMNS)
    reports = con.sql(f"SELECT {head} FROM {prefix}reports r WHERE {where} ORDER BY report_id").pl()
    reports = reports.select(pl.col(c).cast(_POLARS[t]) for c, t in REPORT_COLUMNS.items())
    long = con.sql(_long(f"{prefix}facts", f"{prefix}derived", where)).pl()
    keys = cell_keys()
    ids = reports["report_id"].to_numpy()
    values = np.full((len(ids), len(keys)), np.nan)
    states = np.zeros((len(ids), len(keys)), dtype=np.uint8)  # 0: no row (NULL); the states are 1 … 5
    long = long.with_columns(col=pl.col("key").replace_strict(_key_index(), default=None, return_dtype=pl.Int64))
    long = long.filter(pl.col("col").is_not_null() & pl.col("report_id").is_in(ids))
    if long.height and len(ids):
        row = np.searchsorted(ids, long["report_id"].to_numpy())
        col = long["col"].to_numpy()
        np.fmax.at(values, (row, col), long["value"].to_numpy(allow_copy=True).astype(np.float64))  # NULL → NaN
        np.maximum.at(states, (row, col), long["state"].fill_null(0).to_numpy().astype(np.uint8))
    # one column at a time from the transposed arrays: a frame-wide fill_nan / cast plans 226 expressions per batch
    printed = (states >= DERIVED).T
    values, states = np.where(printed, values.T, np.nan), states.T
    cell_values = pl.DataFrame([pl.Series(name, values[i], nan_to_null=True) for i, name in enumerate(_value_names())])
    cell_states = pl.DataFrame(
        [
            pl.Series(name, np.where(states[i] > 0, states[i], np.nan).astype(np.float32), nan_to_null=True).cast(
                pl.UInt8
            )
            for i, name in enumerate(_state_names())
        ]
    )
    return pl.concat([reports, cell_values, cell_states], how="horizontal").select(_cell_order())


def agency_key_clash(con: duckdb.DuckDBPyConnection, new: str, store: str = TABLE) -> tuple[str, str] | None:
    """Two different agency names with the same ``agency_key`` among the store's rows (``store``: the table, or a
    narrower relation with its ``agency`` and ``agency_key``), one of them in ``new`` (the rows a write session
    added): (name, name), or None — practically always None (2⁻⁶⁰ per pair of names).  The new keys are a
    constant filter: the store's rows are read for those keys only."""
    keys = [k for (k,) in con.execute(f"SELECT DISTINCT agency_key FROM {new} WHERE agency_key IS NOT NULL").fetchall()]
    if not keys:
        return None
    rows = con.execute(
        f"""SELECT min(agency), max(agency) FROM {store} WHERE list_contains(?, agency_key)
            GROUP BY agency_key HAVING count(DISTINCT agency) > 1 LIMIT 1""",
        [keys],
    ).fetchall()
    return (rows[0][0], rows[0][1]) if rows else None
