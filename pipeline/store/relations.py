"""The segments' rows as SQL relations: the union a view of the store is made of, and a narrow one of a few columns.

:mod:`pipeline.store.segments` creates the store's views from :func:`union_sql`; the metric queries read
``report_cells`` through :func:`narrow_relation`, which skips binding the view's every column.
"""

from __future__ import annotations

import duckdb

from pipeline.store.cells import TABLE as CELLS_TABLE

RETIRED = "retired"  # a segment's table of the replacements of reports stored in older segments
MAX_INLINE_RETIRED = 1000  # replaced reports narrow_relation writes into a query as constants
LAYOUT = "store_layout"  # a reader's view of its segments' aliases (narrow_relation)


def union_sql(table: str, aliases: list[str], retired: list[str], columns: str = "*") -> str:
    """The rows of ``table`` over the segments ``aliases`` (``columns`` of it: ``*`` or a list that includes
    ``report_id`` and ``is_current``), with the replacements recorded in the ``retired`` tables of ``retired``
    applied to ``reports`` and ``report_cells`` (``is_current``, and ``replaced_by`` of ``reports``)."""
    union = " UNION ALL ".join(f"SELECT {columns} FROM {a}.main.{table}" for a in aliases)
    if table not in ("reports", CELLS_TABLE) or not retired:
        return union
    done = " UNION ALL ".join(f"SELECT report_id, replaced_by FROM {a}.main.{RETIRED}" for a in retired)
    by = (", CASE WHEN t.report_id IS NULL THEN r.replaced_by ELSE t.replaced_by END AS replaced_by"
          if table == "reports" and columns == "*" else "")  # fmt: skip
    return f"""SELECT r.* REPLACE (
            CASE WHEN t.report_id IS NULL THEN r.is_current ELSE false END AS is_current{by})
        FROM ({union}) r LEFT JOIN ({done}) t USING (report_id)"""


def narrow_relation(con: duckdb.DuckDBPyConnection, table: str, columns: list[str]) -> str | None:
    """``table`` as a relation of only ``columns`` (which include ``report_id`` and ``is_current``), read straight
    from the segments: the same rows as the view ``table``, without binding its every column.  Binding the view of
    ``report_cells`` (≈ 470 columns, a ``UNION ALL`` over the segments and the ``retired`` join) costs 10 ms per
    reference with one segment and 80 ms with seven — more than many queries' work.  None where the connection
    has no segment layout (a single-file store from before segments): use the view."""
    try:
        layout = con.execute(f"SELECT alias, has_retired FROM {LAYOUT}").fetchall()
    except duckdb.CatalogException:
        return None
    if not layout:
        return None
    aliases = [a for a, _ in layout]
    retired = [a for a, r in layout if r]
    names = ", ".join(columns)
    if retired:
        # a few replaced reports (the usual case): their ids as constants, not a join of every row with ``retired``
        ids = con.execute(" UNION ALL ".join(f"SELECT report_id FROM {a}.main.{RETIRED}" for a in retired)
                          + f" LIMIT {MAX_INLINE_RETIRED + 1}").fetchall()  # fmt: skip
        if len(ids) <= MAX_INLINE_RETIRED:
            union = union_sql(table, aliases, [], names)
            listed = ", ".join(str(int(i)) for (i,) in ids) or "NULL"
            return f"""(SELECT * REPLACE (CASE WHEN report_id IN ({listed}) THEN false ELSE is_current END AS is_current)
                        FROM ({union}))"""
    return f"({union_sql(table, aliases, retired, names)})"
