"""The file of stored metric sums beside a store: ``<catalog>.sums.duckdb`` (table ``metric_sums``, see
:mod:`pipeline.metrics.sums`), derived from the segments like the full-text index beside it.

It records the store state it was computed from (:func:`state_token`: reports, current reports, greatest report
id — unchanged by merges, changed by every write that adds or replaces a report).  A reader attaches it as
``sums`` only when that token is the store's (:func:`attach`); otherwise the metric queries scan ``report_cells``
as they always did, so a store without the file, or with one a crash left behind, answers the same — only slower.
A write brings it up to date after publishing (:func:`pipeline.metrics.sums_build.sync`), replacing it atomically.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import duckdb

from pipeline.store.cells import TABLE as CELLS_TABLE
from pipeline.store.relations import narrow_relation
from pipeline.store.segments import remove_paths

ALIAS = "sums"
META = "sums_meta"


def sums_path(catalog: Path) -> Path:
    """``<catalog>.sums.duckdb`` beside the store's catalog."""
    return catalog.with_name(catalog.name + ".sums.duckdb")


def temp_path(catalog: Path, pid: int) -> Path:
    """The new sums file process ``pid`` writes before putting it in place."""
    final = sums_path(catalog)
    return final.with_name(f".{final.name}.{pid}.tmp")


def scratch_path(catalog: Path, pid: int) -> Path:
    """The folder of process ``pid``'s scratch database and spill files while it computes the sums."""
    final = sums_path(catalog)
    return final.with_name(f".{final.name}.{pid}.tmpdir")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def leftovers(catalog: Path) -> list[Path]:
    """What a process killed while writing the sums left beside ``catalog``: its temporary file (and WAL) and its
    scratch folder — only those of processes no longer running, so a build in progress is never touched (a sums
    build may run outside the ingest lock: ``xxgk sums --rebuild``)."""
    final = sums_path(catalog)
    pattern = re.compile(rf"^\.{re.escape(final.name)}\.(\d+)\.tmp(dir|\.wal)?$")
    if not final.parent.is_dir():
        return []
    found = [(p, m) for p in final.parent.iterdir() if (m := pattern.match(p.name))]
    return sorted(p for p, m in found if int(m.group(1)) != os.getpid() and not _alive(int(m.group(1))))


def remove_leftovers(catalog: Path) -> list[Path]:
    """Delete :func:`leftovers`; returns what was deleted."""
    return remove_paths(leftovers(catalog))


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
