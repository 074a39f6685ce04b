"""The update a write makes to the stored metric sums (:mod:`pipeline.metrics.sums`, ``agency_masks``:
:mod:`pipeline.metrics.sums_agencies`): what it changed, written to the small delta file beside the main one
(:mod:`pipeline.store.sums_file`), so its cost follows the change, not the store.

A write adds reports and replaces some; only the groups of the agencies it touched change (their masks too).  The
update subtracts those agencies' reports as they were before the write (the current reports older than the write's
first id, and those it replaced) and adds them as they are now — both grouped with the masks of their own time.
The delta holds those signed rows after the previous delta's (readers sum per group), the agencies touched since
the main file with their rows of ``agency_masks`` as they are now, the main file's token (``base``) and the new
store state (``token``); it is written to a temporary file and put in place with one ``os.replace``.  Once the
delta holds more than :data:`FOLD_ROWS` groups it is folded into a copy of the main file (rare; a compaction or
``xxgk sums --rebuild`` builds the main file afresh anyway).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import duckdb

from pipeline.metrics import sums_agencies
from pipeline.metrics.sums import KEYS, TABLE, pieces, signature
from pipeline.store.segments import quote, remove_paths
from pipeline.store.sums_file import DELTA, MAIN, META, delta_path, sums_path, temp_path

FOLD_ROWS = 20_000  # a delta of more rows than this is folded into the main file (readers read both)
SMALL_BLOCKS = "BLOCK_SIZE 16384, ROW_GROUP_SIZE 4096"  # as sums_build: 1,359 columns of small blocks


def _meta(con: duckdb.DuckDBPyConnection, alias: str) -> dict[str, str]:
    try:
        return {str(k): str(v) for k, v in con.execute(f"SELECT key, value FROM {alias}.{META}").fetchall()}
    except duckdb.Error:
        return {}


def stored(con: duckdb.DuckDBPyConnection, catalog: Path) -> tuple[str | None, dict[str, str], bool]:
    """(the store state the sums beside ``catalog`` stand for — the delta's token where it applies to the main
    file — or None when there are none of this build; the main file's meta; whether a delta applies)."""
    path = sums_path(catalog)
    if not path.is_file():
        return None, {}, False
    con.execute(f"ATTACH {quote(path)} AS {MAIN} (READ_ONLY)")
    try:
        main = _meta(con, MAIN)
    finally:
        con.execute(f"DETACH {MAIN}")
    if main.get("signature") != signature():
        return None, main, False
    delta = delta_path(catalog)
    if delta.is_file():
        con.execute(f"ATTACH {quote(delta)} AS {DELTA} (READ_ONLY)")
        try:
            changes = _meta(con, DELTA)
        finally:
            con.execute(f"DETACH {DELTA}")
        if changes.get("base") == main.get("token") and changes.get("signature") == signature():
            return changes.get("token"), main, True
    return main.get("token"), main, False


def changed(cells: str, first_new: int) -> tuple[str, str]:
    """(the reports of the agencies a write touched as they were before it, as they are now — plus the new reports
    without an agency): relations of ``report_cells`` rows that are current in their state."""
    touched = f"(SELECT DISTINCT agency_key FROM {cells} WHERE report_id >= {int(first_new)} AND agency IS NOT NULL)"
    reports = "reports"  # the view: its replaced_by has the replacements of later segments applied
    before = f"""SELECT c.* REPLACE (true AS is_current) FROM {cells} c JOIN {reports} r USING (report_id)
                 WHERE c.report_id < {int(first_new)} AND c.agency_key IN {touched}
                   AND (r.is_current OR r.replaced_by >= {int(first_new)})"""
    after = f"""SELECT * FROM {cells} WHERE is_current AND (agency_key IN {touched}
                OR (report_id >= {int(first_new)} AND agency IS NULL))"""
    return before, after


def previous_token(con: duckdb.DuckDBPyConnection, cells: str, first_new: int) -> str:
    """The state token (:func:`pipeline.store.sums_file.state_token`) of the store before the write of the reports
    from ``first_new`` on: its older reports, with the ones this write replaced current again."""
    n, current, greatest = con.execute(
        f"SELECT count(*), count_if(is_current), max(report_id) FROM {cells} WHERE report_id < {int(first_new)}"
    ).fetchall()[0]
    reports = "reports"  # the view: its replaced_by has the replacements of later segments applied
    (replaced,) = con.execute(f"SELECT count(*) FROM {reports} WHERE report_id < {int(first_new)} AND NOT is_current"
                              f" AND replaced_by >= {int(first_new)}").fetchall()[0]  # fmt: skip
    return f"{int(n)}:{int(current) + int(replaced)}:{greatest}"


def signed(before: str, after: str) -> str:
    """Rows of ``metric_sums`` that turn the groups of relation ``before`` into those of relation ``after``: the
    first negated."""
    minus = ", ".join(f"-{n} AS {n}" for n, _, _ in pieces())
    return f"SELECT {', '.join(KEYS)}, {minus} FROM ({before}) UNION ALL BY NAME SELECT * FROM ({after})"


def write_delta(con: duckdb.DuckDBPyConnection, catalog: Path, change: str, token: str, main: dict[str, str],
                has_delta: bool) -> int:  # fmt: skip
    """Write the delta of the sums beside ``catalog`` after a write: ``change`` (the signed rows of ``metric_sums``
    of the write: :func:`signed`) and the touched agencies' reports before and now (``scratch.before_cells``,
    ``scratch.after_cells`` on ``con``), joined with the previous delta where ``has_delta``.  Returns the delta's
    groups; folds it into the main file when they exceed :data:`FOLD_ROWS`."""
    final, tmp = delta_path(catalog), temp_path(catalog, os.getpid(), delta=True)
    masks = main.get("mask_signature") == sums_agencies.signature()  # an older main file has none: none kept
    remove_paths([tmp, tmp.with_name(tmp.name + ".wal")])
    try:
        if has_delta:
            con.execute(f"ATTACH {quote(final)} AS {DELTA} (READ_ONLY)")
        con.execute(f"ATTACH {quote(tmp)} AS delta_new ({SMALL_BLOCKS})")
        rows = f"SELECT * FROM ({change})"
        if has_delta:
            rows = f"SELECT * FROM {DELTA}.{TABLE} UNION ALL BY NAME {rows}"
        con.execute(f"CREATE TABLE delta_new.{TABLE} AS {rows}")  # not folded: one more 1,359-column GROUP BY
        if masks:
            touched = ("SELECT agency_key FROM scratch.after_cells WHERE agency_key IS NOT NULL AND agency IS NOT NULL"
                       " UNION SELECT agency_key FROM scratch.before_cells WHERE agency_key IS NOT NULL")  # fmt: skip
            con.execute("CREATE TEMP TABLE new_touched AS " + touched)
            earlier = f" UNION SELECT agency_key FROM {DELTA}.touched" if has_delta else ""
            con.execute(f"CREATE TABLE delta_new.touched AS SELECT agency_key FROM new_touched{earlier}")
            fresh = sums_agencies.rows_sql("SELECT * FROM scratch.after_cells")
            kept = (f"SELECT * FROM {DELTA}.{sums_agencies.TABLE} WHERE agency_key NOT IN (SELECT agency_key FROM"
                    " new_touched) UNION ALL BY NAME " if has_delta else "")  # fmt: skip
            con.execute(f"CREATE TABLE delta_new.{sums_agencies.TABLE} AS {kept}{fresh}")
            con.execute("DROP TABLE new_touched")
        con.execute(f"CREATE TABLE delta_new.{META} (key VARCHAR PRIMARY KEY, value VARCHAR NOT NULL)")
        meta = {"token": token, "base": main["token"], "signature": signature(),
                **({"mask_signature": sums_agencies.signature()} if masks else {})}  # fmt: skip
        con.executemany(f"INSERT INTO delta_new.{META} VALUES (?, ?)", list(meta.items()))
        (n_groups,) = con.execute(f"SELECT count(*) FROM delta_new.{TABLE}").fetchall()[0]
        con.execute("DETACH delta_new")
        if has_delta:
            con.execute(f"DETACH {DELTA}")
        os.replace(tmp, final)
    finally:
        remove_paths([tmp, tmp.with_name(tmp.name + ".wal")])
    if int(n_groups) > FOLD_ROWS:
        fold(con, catalog, token, masks)
    return int(n_groups)


def fold(con: duckdb.DuckDBPyConnection, catalog: Path, token: str, masks: bool) -> None:
    """Append the delta's rows to a copy of the main file, put the copy in place, then delete the delta (a reader
    between the two finds the main file current and ignores the delta, whose ``base`` is no longer its token)."""
    main, delta = sums_path(catalog), delta_path(catalog)
    tmp = temp_path(catalog, os.getpid())
    remove_paths([tmp, tmp.with_name(tmp.name + ".wal")])
    try:
        shutil.copyfile(main, tmp)
        con.execute(f"ATTACH {quote(delta)} AS {DELTA} (READ_ONLY)")
        con.execute(f"ATTACH {quote(tmp)} AS sums_new")
        con.execute(f"INSERT INTO sums_new.{TABLE} BY NAME SELECT * FROM {DELTA}.{TABLE}")
        if masks:
            t = sums_agencies.TABLE
            con.execute(f"DELETE FROM sums_new.{t} WHERE agency_key IN (SELECT agency_key FROM {DELTA}.touched)")
            con.execute(f"INSERT INTO sums_new.{t} BY NAME SELECT * FROM {DELTA}.{t}")
        con.execute(f"UPDATE sums_new.{META} SET value = ? WHERE key = 'token'", [token])
        con.execute(f"INSERT OR REPLACE INTO sums_new.{META} VALUES ('appended', 'yes')")
        con.execute("DETACH sums_new")
        con.execute(f"DETACH {DELTA}")
        os.replace(tmp, main)
        remove_paths([delta])
    finally:
        remove_paths([tmp, tmp.with_name(tmp.name + ".wal")])
