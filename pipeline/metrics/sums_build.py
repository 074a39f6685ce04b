"""Writing the stored metric sums (:mod:`pipeline.metrics.sums`, with the agencies' year masks of
:mod:`pipeline.metrics.sums_agencies`) beside a store: a full build, and the update a write makes after publishing.

A write adds reports and replaces some; only the groups of the agencies it touched change (their mask too).  The
update (:mod:`pipeline.metrics.sums_update`) subtracts those agencies' reports as they were and adds them as they
are now, and writes that change to the small delta file beside the main one; the main file is written only by a
build (or when a large delta is folded into it).  When the sums are missing or do not match the state before the
write, a store of up to :data:`MIN_REPORTS` reports is left without (its queries scan, fast at that size) and a
larger one is built afresh only by a large write; ``xxgk`` compaction or ``xxgk sums --rebuild`` builds them.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb

from pipeline.metrics import sums_agencies, sums_update
from pipeline.metrics.sums import KEYS, TABLE, agencies_sql, cell_columns, group_sql, pieces, signature
from pipeline.store.cells import REPORT_COLUMNS
from pipeline.store.cells import TABLE as CELLS_TABLE
from pipeline.store.relations import narrow_relation
from pipeline.store.segments import open_reader, quote, remove_paths
from pipeline.store.sums_file import (
    META,
    delta_path,
    remove_leftovers,
    scratch_path,
    state_token,
    sums_path,
    temp_path,
)

MIN_REPORTS = 20_000  # below this a scan of report_cells is fast enough: a write does not build missing sums
DELTA_SHARE = 0.2  # a write touching more than this share of the store's reports rebuilds instead of updating
MEMORY_LIMIT = os.environ.get("XXGK_SUMS_MEMORY", "192MB")  # DuckDB's share of a build or update; the rest spills
# A scan or an insert holds a block of every column it touches, and an insert a row group of every column before
# it is written: with 1,359 columns DuckDB's defaults (256 KB, 122,880 rows) hold 350 MB and 1.3 GB.
SMALL_BLOCKS = "BLOCK_SIZE 16384, ROW_GROUP_SIZE 4096"
COLUMNS_PER_PASS = 48  # columns of metric_sums computed per pass over the reports (memory: groups × this) …
PASS_ROWS = 100_000  # … over this many reports or more; over fewer, proportionally more (a small write: one pass)
# an update over at most this many reports groups them inside the statement that writes the delta: no scratch
# tables of 1,359 columns (creating one costs DuckDB ≈ 0.3 s, whatever its rows)
DIRECT_REPORTS = 2_000


def _cells(con: duckdb.DuckDBPyConnection) -> str:
    return narrow_relation(con, CELLS_TABLE, [*REPORT_COLUMNS, *cell_columns()]) or CELLS_TABLE


@contextlib.contextmanager
def _bounded(catalog: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """A reader of the store whose catalog is ``catalog``, held to :data:`MEMORY_LIMIT` on one thread, with a
    scratch database ``scratch`` and DuckDB's spill files in a folder beside the sums file (named with this
    process's id: :func:`pipeline.store.sums_file.remove_leftovers` deletes it if the process dies)."""
    remove_leftovers(catalog)
    folder = scratch_path(catalog, os.getpid())
    remove_paths([folder])
    folder.mkdir()
    con = open_reader(catalog)
    try:
        con.execute(f"SET memory_limit = '{MEMORY_LIMIT}'")
        con.execute(f"SET temp_directory = {quote(folder / 'spill')}")
        con.execute("SET threads = 1")  # every thread keeps its own hash table of wide rows
        con.execute(f"ATTACH {quote(folder / 'scratch.duckdb')} AS scratch ({SMALL_BLOCKS})")
        yield con
    finally:
        con.close()
        remove_paths([folder])


def _group_into(con: duckdb.DuckDBPyConnection, current: str, name: str) -> None:
    """``scratch.<name>``: the ``metric_sums`` rows of ``current`` (see :func:`pipeline.metrics.sums.group_sql`).

    Computed :data:`COLUMNS_PER_PASS` columns at a time, each pass's groups in the order of their keys (unique per
    group), then put side by side: one GROUP BY of 1,359 sums over 80 k groups holds every group's full row in
    memory (8 GB at 1 M reports); a pass holds a few dozen columns and DuckDB spills what does not fit."""
    names = [n for n, _, _ in pieces()]
    (n_rows,) = con.execute(f"SELECT count(*) FROM ({current})").fetchall()[0]
    width = max(COLUMNS_PER_PASS, COLUMNS_PER_PASS * PASS_ROWS // max(int(n_rows), 1))  # groups ≤ reports
    passes = [names[i : i + width] for i in range(0, len(names), width)]
    agencies = None
    if len(passes) > 1:  # the agencies' masks once, not once a pass
        agencies = f"scratch.{name}_agencies"
        con.execute(f"CREATE TABLE {agencies} AS {agencies_sql(current)}")
    keys = ", ".join(KEYS)
    order = ", ".join(f"{k} NULLS FIRST" for k in KEYS)
    for i, cols in enumerate(passes):
        head = f"{keys}, " if i == 0 else ""
        con.execute(f"CREATE TABLE scratch.{name}_{i} AS SELECT {head}{', '.join(cols)}"
                    f" FROM ({group_sql(current, cols, agencies)}) ORDER BY {order}")  # fmt: skip
    joined = " POSITIONAL JOIN ".join(f"scratch.{name}_{i}" for i in range(len(passes)))
    con.execute(f"CREATE TABLE scratch.{name} AS SELECT * FROM {joined}")
    for i in range(len(passes)):
        con.execute(f"DROP TABLE scratch.{name}_{i}")
    if agencies:
        con.execute(f"DROP TABLE {agencies}")


def _write(con: duckdb.DuckDBPyConnection, catalog: Path, table: str, masks: str, token: str) -> None:
    """Write ``table`` (rows of ``metric_sums``), ``masks`` (rows of ``agency_masks``) and ``token`` to a new file
    and put it in place atomically."""
    final = sums_path(catalog)
    tmp = temp_path(catalog, os.getpid())
    remove_paths([tmp, tmp.with_name(tmp.name + ".wal")])
    try:
        con.execute(f"ATTACH {quote(tmp)} AS sums_new ({SMALL_BLOCKS})")
        con.execute(f"CREATE TABLE sums_new.{TABLE} AS SELECT * FROM {table}")
        con.execute(f"CREATE TABLE sums_new.{sums_agencies.TABLE} AS SELECT * FROM {masks}")
        con.execute(f"CREATE TABLE sums_new.{META} (key VARCHAR PRIMARY KEY, value VARCHAR NOT NULL)")
        con.execute(
            f"INSERT INTO sums_new.{META} VALUES ('token', ?), ('signature', ?), ('mask_signature', ?)",
            [token, signature(), sums_agencies.signature()],
        )
        con.execute("DETACH sums_new")
        os.replace(tmp, final)
    finally:
        remove_paths([tmp, tmp.with_name(tmp.name + ".wal")])


def build(catalog: Path) -> dict[str, Any]:
    """Compute the sums of the whole store whose catalog is ``catalog`` and write them beside it."""
    started = time.perf_counter()
    with _bounded(catalog) as con:
        token = state_token(con)
        current = f"SELECT * FROM {_cells(con)} WHERE is_current"
        _group_into(con, current, "built")
        con.execute(f"CREATE TABLE scratch.built_masks AS {sums_agencies.rows_sql(current)}")
        _write(con, catalog, "scratch.built", "scratch.built_masks", token)
    remove_paths([delta_path(catalog)])  # folded: the new main file is the whole state (a delta on the old one)
    return {"mode": "build", "token": token, "seconds": round(time.perf_counter() - started, 2)}


def sync(catalog: Path, first_new: int | None) -> dict[str, Any] | str:
    """Bring the sums beside ``catalog`` up to the store's published state after a write whose reports have ids
    from ``first_new`` on (None: a compaction, which changes no report but builds a missing file).  Returns what
    was done, or why the sums were left behind; a failure never touches the published data."""
    try:
        return _sync(catalog, first_new)
    except Exception as exc:  # derived data: the queries scan report_cells meanwhile
        return f"指标汇总表未能更新（{type(exc).__name__}: {exc}），查询改为逐份报告计算"


def _sync(catalog: Path, first_new: int | None) -> dict[str, Any] | str:
    started = time.perf_counter()
    path = sums_path(catalog)
    with _bounded(catalog) as con:
        token = state_token(con)
        n_reports = int(token.split(":")[0])
        old, main, has_delta = sums_update.stored(con, catalog)
        folded = not has_delta and main.get("appended") is None and main.get("mask_signature") is not None
        if old == token and (first_new is not None or folded):
            return {"mode": "current", "token": token}  # (a compaction folds a delta or appended rows: below)
        n_new, follows = 0, False
        if first_new is not None:
            cells = _cells(con)
            n_new = int(
                con.execute(f"SELECT count(*) FROM {cells} WHERE report_id >= {int(first_new)}").fetchall()[0][0]
            )
            follows = old is not None and old == sums_update.previous_token(con, cells, first_new)
            if follows:  # the sums are the state before this write: update them by what the write changed
                before, after = sums_update.changed(cells, first_new)
                n_before, n_after = (
                    con.execute(f"SELECT count(*) FROM ({q})").fetchall()[0][0] for q in (before, after)
                )
                if n_before + n_after <= DELTA_SHARE * n_reports:
                    for name, reports in (("before", before), ("after", after)):
                        con.execute(f"CREATE TABLE scratch.{name}_cells AS {reports}")
                    if n_before + n_after <= DIRECT_REPORTS:  # grouped inside the delta's one statement
                        change = group_sql("SELECT *, -1 AS side_ FROM scratch.before_cells UNION ALL BY NAME"
                                           " SELECT *, 1 AS side_ FROM scratch.after_cells", signed=True)  # fmt: skip
                    else:  # grouped a few columns at a time (memory), then signed
                        for name in ("before", "after"):
                            _group_into(con, f"SELECT * FROM scratch.{name}_cells", name)
                        change = sums_update.signed("SELECT * FROM scratch.before", "SELECT * FROM scratch.after")
                    groups = sums_update.write_delta(con, catalog, change, token, main, has_delta)
                    return {"mode": "update", "token": token, "subtracted": n_before, "added": n_after,
                            "delta_groups": groups, "seconds": round(time.perf_counter() - started, 2)}  # fmt: skip
        large = n_reports >= MIN_REPORTS and (first_new is None or n_new >= DELTA_SHARE * n_reports)
        stale = not (follows or large or old == token)
    if stale:
        remove_paths([path, delta_path(catalog)])  # stale for good: a later write would have nothing to update
        return (
            f"指标汇总表未建：{n_reports} 份报告（{MIN_REPORTS} 份以下逐份计算已够快；更大的库由 xxgk sums"
            " --rebuild 或压缩存储时建立），查询改为逐份报告计算"
        )
    return build(catalog)
