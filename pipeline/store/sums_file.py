"""The file of stored metric sums beside a store: ``<catalog>.sums.duckdb`` (table ``metric_sums``, see
:mod:`pipeline.metrics.sums`), derived from the segments like the full-text index beside it.

It records the store state it was computed from (:func:`state_token`: reports, current reports, greatest report
id — unchanged by merges, changed by every write that adds or replaces a report).  A reader attaches it as
``sums`` only when that token is the store's (:func:`attach`); otherwise the metric queries scan ``report_cells``
as they always did, so a store without the file, or with one a crash left behind, answers the same — only slower.
A write brings it up to date after publishing (:func:`pipeline.metrics.sums_build.sync`), replacing it atomically.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from pipeline.store.cells import TABLE as CELLS_TABLE
from pipeline.store.relations import narrow_relation

ALIAS = "sums"
META = "sums_meta"


def sums_path(catalog: Path) -> Path:
    """``<catalog>.sums.duckdb`` beside the store's catalog."""
    return catalog.with_name(catalog.name + ".sums.duckdb")


def state_token(con: duckdb.DuckDBPyConnection) -> str:
    """What the store holds, as far as the sums are concerned: "reports:current:greatest id"."""
    source = narrow_relation(con, CELLS_TABLE, ["report_id", "is_current"]) or CELLS_TABLE
    n, current, greatest = con.execute(
        f"SELECT count(*), count_if(is_current), max(report_id) FROM {source}"
    ).fetchall()[0]
    return f"{int(n)}:{int(current)}:{greatest}"


def stored_token(con: duckdb.DuckDBPyConnection, alias: str = ALIAS) -> str | None:
    try:
        rows = con.execute(f"SELECT value FROM {alias}.{META} WHERE key = 'token'").fetchall()
    except duckdb.Error:
        return None
    return str(rows[0][0]) if rows else None


def attach(con: duckdb.DuckDBPyConnection, catalog: Path) -> bool:
    """ATTACH the sums file of ``catalog`` READ_ONLY as ``sums`` when it matches the store read by ``con``."""
    path = sums_path(catalog)
    if not path.is_file():
        return False
    try:
        con.execute(f"ATTACH '{str(path).replace(chr(39), chr(39) * 2)}' AS {ALIAS} (READ_ONLY)")
    except duckdb.Error:
        return False
    if stored_token(con) == state_token(con):
        return True
    con.execute(f"DETACH {ALIAS}")
    return False
