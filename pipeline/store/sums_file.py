"""The file of stored metric sums beside a store: ``<catalog>.sums.duckdb`` (table ``metric_sums``, see
:mod:`pipeline.metrics.sums`), derived from the segments like the full-text index beside it.

It records the store state it was computed from (:func:`state_token`: reports, current reports, greatest report
id — unchanged by merges, changed by every write that adds or replaces a report).  A reader attaches it as
``sums`` only when that token is the store's (:func:`attach`); otherwise the metric queries scan ``report_cells``
as they always did, so a store without the file, or with one a crash left behind, answers the same — only slower.
A write brings it up to date after publishing (:func:`pipeline.metrics.sums_build.sync`).

A small write does not rewrite that file: it writes what it changed to a small **delta file**,
``<catalog>.sums.delta.duckdb`` (the signed ``metric_sums`` rows and the ``agency_masks`` rows of the agencies
touched since the main file, those agencies in ``touched``), which records the main file's token it applies to
(``base``) and the store state it brings the sums to (``token``), and replaces the previous delta atomically.  A
reader attaches the main file alone when its token is the store's, or main and delta read together (views in an
in-memory ``sums`` catalog) when the delta's ``base`` is the main file's token and its ``token`` the store's —
never half of an update; otherwise it scans.
"""

from __future__ import annotations

import contextlib
import os
import re
from pathlib import Path

import duckdb

from pipeline.store.cells import TABLE as CELLS_TABLE
from pipeline.store.relations import narrow_relation
from pipeline.store.segments import remove_paths

ALIAS = "sums"
META = "sums_meta"
MAIN, DELTA = "sums_main", "sums_delta"  # the two files behind ``sums`` while a delta applies
SUMS_TABLE, MASKS_TABLE = "metric_sums", "agency_masks"


def sums_path(catalog: Path) -> Path:
    """``<catalog>.sums.duckdb`` beside the store's catalog."""
    return catalog.with_name(catalog.name + ".sums.duckdb")


def delta_path(catalog: Path) -> Path:
    """``<catalog>.sums.delta.duckdb``: the changes since the main sums file (see the module docstring)."""
    return catalog.with_name(catalog.name + ".sums.delta.duckdb")


def temp_path(catalog: Path, pid: int, delta: bool = False) -> Path:
    """The new sums (or delta) file process ``pid`` writes before putting it in place."""
    final = delta_path(catalog) if delta else sums_path(catalog)
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
    names = "|".join(re.escape(p.name) for p in (final, delta_path(catalog)))
    pattern = re.compile(rf"^\.(?:{names})\.(\d+)\.tmp(dir|\.wal)?$")
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


def stored_meta(con: duckdb.DuckDBPyConnection, key: str, alias: str = ALIAS) -> str | None:
    """One value of the attached sums file's metadata (``token``, ``signature``, …); None where there is none."""
    try:
        rows = con.execute(f"SELECT value FROM {alias}.{META} WHERE key = ?", [key]).fetchall()
    except duckdb.Error:
        return None
    return str(rows[0][0]) if rows else None


def stored_token(con: duckdb.DuckDBPyConnection, alias: str = ALIAS) -> str | None:
    return stored_meta(con, "token", alias)


def _quote(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def _meta(con: duckdb.DuckDBPyConnection, alias: str) -> dict[str, str]:
    try:
        return {str(k): str(v) for k, v in con.execute(f"SELECT key, value FROM {alias}.{META}").fetchall()}
    except duckdb.Error:
        return {}


def _has_table(con: duckdb.DuckDBPyConnection, alias: str, table: str) -> bool:
    rows = con.execute("SELECT count(*) FROM duckdb_tables() WHERE database_name = ? AND table_name = ?",
                       [alias, table]).fetchall()  # fmt: skip
    return bool(rows[0][0])


def narrowed(con: duckdb.DuckDBPyConnection, sql: str, table: str, alias: str) -> str:
    """``sql`` as it should run: while a delta applies, its ``sums.<table> <alias>`` becomes the union of the main
    file's and the delta's rows over only the columns ``sql`` names as ``<alias>.<column>`` — the view over both
    has every column (1,359), and DuckDB binds it at every reference (≈ 40 ms), whatever the query reads."""
    applies = con.execute("SELECT count(*) FROM duckdb_databases() WHERE database_name = ?", [DELTA]).fetchall()
    if not applies[0][0]:
        return sql
    cols = ", ".join(sorted(set(re.findall(rf"\b{alias}\.(\w+)", sql))))
    main = f"SELECT {cols} FROM {MAIN}.{table}"
    if table == MASKS_TABLE:
        main += f" WHERE agency_key NOT IN (SELECT agency_key FROM {DELTA}.touched)"
    return sql.replace(f"{ALIAS}.{table} {alias}", f"({main} UNION ALL SELECT {cols} FROM {DELTA}.{table}) {alias}")


def attach(con: duckdb.DuckDBPyConnection, catalog: Path) -> bool:
    """Make ``sums`` the stored sums of ``catalog`` as of the store read by ``con``: the main file attached
    READ_ONLY when it matches the store, or main + delta when they do together (module docstring)."""
    path = sums_path(catalog)
    if not path.is_file():
        return False
    try:
        con.execute(f"ATTACH {_quote(path)} AS {ALIAS} (READ_ONLY)")
    except duckdb.Error:
        return False
    state = state_token(con)
    main = _meta(con, ALIAS)
    if main.get("token") == state:
        return True
    con.execute(f"DETACH {ALIAS}")
    delta = delta_path(catalog)
    if not delta.is_file():
        return False
    try:
        con.execute(f"ATTACH {_quote(path)} AS {MAIN} (READ_ONLY)")
        con.execute(f"ATTACH {_quote(delta)} AS {DELTA} (READ_ONLY)")
        changes = _meta(con, DELTA)
        if changes.get("base") != main.get("token") or changes.get("token") != state:
            raise LookupError("the delta is not the store's")
        con.execute(f"ATTACH ':memory:' AS {ALIAS}")
        con.execute(f"CREATE VIEW {ALIAS}.{META} AS SELECT * FROM {DELTA}.{META}")
        con.execute(f"CREATE VIEW {ALIAS}.{SUMS_TABLE} AS SELECT * FROM {MAIN}.{SUMS_TABLE}"
                    f" UNION ALL BY NAME SELECT * FROM {DELTA}.{SUMS_TABLE}")  # fmt: skip
        if _has_table(con, MAIN, MASKS_TABLE) and _has_table(con, DELTA, MASKS_TABLE):
            con.execute(f"""CREATE VIEW {ALIAS}.{MASKS_TABLE} AS SELECT * FROM {MAIN}.{MASKS_TABLE}
                            WHERE agency_key NOT IN (SELECT agency_key FROM {DELTA}.touched)
                            UNION ALL BY NAME SELECT * FROM {DELTA}.{MASKS_TABLE}""")
        return True
    except (duckdb.Error, LookupError):
        for alias in (ALIAS, DELTA, MAIN):
            with contextlib.suppress(duckdb.Error):
                con.execute(f"DETACH {alias}")
        return False
