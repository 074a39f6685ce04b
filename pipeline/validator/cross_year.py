"""Cross-year soft rules, checked in SQL over the current reports of the store (spec: "Validation rules", soft).

XY-1: 表三 上年结转[Y] = 结转下年度继续办理[Y−1], per applicant column.
XY-2: 表二 现行有效件数[Y] = 现行有效件数[Y−1] + 本年制发件数[Y] − 本年废止件数[Y], per row.
Blank and "/" cells count as 0 here, as in the arithmetic rules; cells that were not located or are not in the
report's layout are skipped (nothing to compare).  The findings carry ``scope = 'cross_year'`` and the report id
of the later year.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import duckdb
import polars as pl

from pipeline.registry import registry

RULE_CARRY = "XY-1"
RULE_IN_FORCE = "XY-2"
SCOPE = "cross_year"


def _cross_year_pairs() -> tuple[list[tuple[str, ...]], list[tuple[str, ...]]]:
    """Registry-derived key pairs: XY-1 (carried_over key, carry_forward key, labels) and XY-2 rows."""
    reg = registry()
    carry: list[tuple[str, ...]] = []
    for col_key, _ in reg.columns("t3"):
        cur, prev = reg.key_for("t3", "carried_over", col_key), reg.key_for("t3", "carry_forward", col_key)
        if cur in reg and prev in reg:
            carry.append((cur, prev, reg[cur].label, reg[prev].label))
    in_force: list[tuple[str, ...]] = []
    for row_key, _, _ in reg.rows("t2"):
        keys = [reg.key_for("t2", row_key, c) for c in ("in_force", "issued", "repealed")]
        if all(k in reg for k in keys):
            in_force.append((*keys, reg[keys[0]].label, reg[keys[1]].label, reg[keys[2]].label))
    return carry, in_force


def _frame(names: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> pl.DataFrame:
    return pl.DataFrame(
        {name: [row[i] for row in rows] for i, name in enumerate(names)}, schema=dict.fromkeys(names, pl.String)
    )


# Agencies compared per statement.  The rules join every compared cell of an agency's reports with the cells of its
# other years, so one statement over a whole write session's agencies (tens of thousands, each with all its years
# in the store) outgrew the writer's 128 MB DuckDB cap once the store held some 450,000 reports; per chunk the
# joined cells stay a few tens of MB however large the session or the store.
AGENCY_CHUNK = 2_000


def refresh_cross_year(
    con: duckdb.DuckDBPyConnection,
    agencies: Iterable[str] | None = None,
    table: str = "findings",
    *,
    chunk: int = AGENCY_CHUNK,
) -> int:
    """Recompute the cross-year findings (replacing the previous ones) in one transaction; returns their total count.

    ``agencies``: recompute only these agencies' findings (what one ingest touched); None recomputes all.
    ``table``: where the findings are kept (the segmented store keeps them in its catalog,
    :mod:`pipeline.store.segments`); the rules read the ``reports`` and ``facts`` the connection shows.
    ``chunk``: agencies compared per statement (:data:`AGENCY_CHUNK`); the findings do not depend on it.
    """
    carry, in_force = _cross_year_pairs()
    con.execute("BEGIN TRANSACTION")
    try:
        if agencies is None:
            con.execute(f"DELETE FROM {table} WHERE scope = '{SCOPE}'")  # also the findings of agencies now gone
            agencies = [a for (a,) in con.execute(
                "SELECT DISTINCT agency FROM reports WHERE is_current AND agency IS NOT NULL").fetchall()]  # fmt: skip
        scoped_agencies = sorted(set(agencies))
        for start in range(0, len(scoped_agencies), max(1, chunk)):
            _refresh_chunk(con, scoped_agencies[start : start + max(1, chunk)], table, carry, in_force)
        n = con.execute(f"SELECT count(*) FROM {table} WHERE scope = '{SCOPE}'").fetchall()[0][0]
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    return int(n)


def _refresh_chunk(
    con: duckdb.DuckDBPyConnection,
    chunk_agencies: list[str],
    table: str,
    carry: list[tuple[str, ...]],
    in_force: list[tuple[str, ...]],
) -> None:
    """Replace the cross-year findings of ``chunk_agencies`` (inside the caller's transaction)."""
    # the scope as constants (agencies, then their current reports' ids): the scans of ``reports`` and ``facts``
    # read only those rows' row groups instead of joining the whole store with the scope
    scope: dict[str, list] = {"agencies": chunk_agencies}
    scope["ids"] = [r for (r,) in con.execute(
        "SELECT report_id FROM reports WHERE list_contains($agencies, agency) AND is_current"
        " AND year IS NOT NULL", scope).fetchall()]  # fmt: skip
    con.execute(
        f"DELETE FROM {table} WHERE scope = '{SCOPE}' AND report_id IN"
        " (SELECT report_id FROM reports WHERE list_contains($agencies, agency))",
        {"agencies": chunk_agencies},
    )
    scope_clause = "AND list_contains($agencies, r.agency) AND list_contains($ids, f.report_id)"
    usable = f"""
        SELECT r.report_id, r.agency, r.year, f.key, coalesce(f.value, 0) AS v
        FROM reports r JOIN facts f USING (report_id)
        WHERE r.is_current AND r.agency IS NOT NULL AND r.year IS NOT NULL {scope_clause}
          AND f.status IN ('ok', 'blank', 'null_marker')
          AND f.key IN (SELECT unnest($keys::VARCHAR[]))"""  # only the cells the rules compare: bounded memory
    if carry:
        con.register("_xy_carry", _frame(("cur", "prev", "cur_label", "prev_label"), carry))
        con.execute(
            f"""
            INSERT INTO {table} (report_id, rule, severity, message, keys, expected, actual, scope)
            WITH u AS ({usable})
            SELECT c.report_id, '{RULE_CARRY}', 'warning',
                   c.agency || ' ' || c.year || ' 年表三「' || p.cur_label || '」为 ' || CAST(c.v AS BIGINT)
                   || '，与 ' || o.year || ' 年表三「' || p.prev_label || '」' || CAST(o.v AS BIGINT)
                   || ' 不一致（上年结转应等于上一年度的结转下年度继续办理）',
                   [p.cur, p.prev], CAST(CAST(o.v AS BIGINT) AS VARCHAR), CAST(CAST(c.v AS BIGINT) AS VARCHAR),
                   '{SCOPE}'
            FROM _xy_carry p
            JOIN u c ON c.key = p.cur
            JOIN u o ON o.key = p.prev AND o.agency = c.agency AND o.year = c.year - 1
            WHERE c.v <> o.v""",
            {"keys": [k for pair in carry for k in pair[:2]], **scope},
        )
        con.unregister("_xy_carry")
    if in_force:
        names = ("in_force", "issued", "repealed", "in_force_label", "issued_label", "repealed_label")
        con.register("_xy_in_force", _frame(names, in_force))
        con.execute(
            f"""
            INSERT INTO {table} (report_id, rule, severity, message, keys, expected, actual, scope)
            WITH u AS ({usable})
            SELECT c.report_id, '{RULE_IN_FORCE}', 'warning',
                   c.agency || ' ' || c.year || ' 年表二「' || p.in_force_label || '」为 ' || CAST(c.v AS BIGINT)
                   || '，按 ' || o.year || ' 年现行有效 ' || CAST(o.v AS BIGINT) || ' + 本年制发 '
                   || CAST(i.v AS BIGINT) || ' − 本年废止 ' || CAST(r.v AS BIGINT) || ' 应为 '
                   || CAST(o.v + i.v - r.v AS BIGINT),
                   [p.in_force, p.issued, p.repealed],
                   CAST(CAST(o.v + i.v - r.v AS BIGINT) AS VARCHAR), CAST(CAST(c.v AS BIGINT) AS VARCHAR),
                   '{SCOPE}'
            FROM _xy_in_force p
            JOIN u c ON c.key = p.in_force
            JOIN u i ON i.report_id = c.report_id AND i.key = p.issued
            JOIN u r ON r.report_id = c.report_id AND r.key = p.repealed
            JOIN u o ON o.key = p.in_force AND o.agency = c.agency AND o.year = c.year - 1
            WHERE c.v <> o.v + i.v - r.v""",
            {"keys": [k for row in in_force for k in row[:3]], **scope},
        )
        con.unregister("_xy_in_force")
