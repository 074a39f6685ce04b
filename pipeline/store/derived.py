"""Rows of the ``derived`` table (derived totals, :mod:`pipeline.derive`) and their backfill for stored reports."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import duckdb
import polars as pl

from pipeline.derive import derive, is_total
from pipeline.model import Derived, Fact
from pipeline.validator import is_storable

DERIVED_SCHEMA: dict[str, Any] = {  # column → polars type of the bulk insert
    "report_id": pl.Int64, "key": pl.String, "value": pl.String, "sources": pl.List(pl.String), "method": pl.String,
}  # fmt: skip
DERIVED_SELECT = "report_id, key, CAST(value AS DECIMAL(18, 4)), sources, method"


def derived_columns(rid: int, derived: dict[str, Derived], out: dict[str, list]) -> None:
    """Append one report's derived totals to the column lists ``out`` (a value the store cannot hold is left out:
    the total then stays underivable, never wrong)."""
    for d in derived.values():
        if not is_storable(d.value):
            continue
        for name, v in zip(out, (rid, d.key, str(d.value), list(d.sources), d.method), strict=True):
            out[name].append(v)


def backfill_derived(con: duckdb.DuckDBPyConnection, batch: int = 2000) -> int:
    """Derive the totals of every stored report that has a blank 总计 (migration 4); returns the rows written."""
    candidates = [
        rid
        for (rid,) in con.execute(
            """SELECT DISTINCT f.report_id FROM facts f JOIN reports r USING (report_id)
               WHERE r.edition IN ('2019', '2021') AND f.status IN ('blank', 'null_marker')
                 AND split_part(f.key, '.', 1) IN ('t3', 't4') AND f.key LIKE '%.total'
               ORDER BY 1"""
        ).fetchall()
    ]
    written = 0
    for start in range(0, len(candidates), batch):
        ids = candidates[start : start + batch]
        rows = con.execute(
            """SELECT r.report_id, r.edition, r.t3_layout, f.key, CAST(f.value AS VARCHAR), f.raw, f.blank, f.status
               FROM reports r JOIN facts f USING (report_id)
               WHERE r.report_id IN (SELECT unnest(?::INTEGER[])) AND split_part(f.key, '.', 1) IN ('t3', 't4')
               ORDER BY r.report_id""",
            [ids],
        ).fetchall()
        columns: dict[str, list] = {name: [] for name in DERIVED_SCHEMA}
        reports: dict[int, tuple[str, str | None, dict[str, Fact]]] = {}
        for rid, edition, layout, key, value, raw, blank, status in rows:
            facts = reports.setdefault(rid, (edition, layout, {}))[2]
            number = None if value is None else _number(value)
            facts[key] = Fact(key, number, raw, bool(blank), status=status)
        for rid, (edition, layout, facts) in reports.items():
            derived = {k: d for k, d in derive(facts, edition, layout).items() if is_total(k)}
            derived_columns(rid, derived, columns)
        if columns["key"]:
            con.register("_xxgk_derived", pl.DataFrame(columns, schema=DERIVED_SCHEMA))
            con.execute(f"INSERT INTO derived SELECT {DERIVED_SELECT} FROM _xxgk_derived")
            con.unregister("_xxgk_derived")
            written += len(columns["key"])
    return written


def _number(text: str) -> int | Decimal:
    value = Decimal(text)
    return int(value) if value == value.to_integral_value() else value.normalize()
