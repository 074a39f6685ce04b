"""Merged table cells → a rectangular grid, shared by the HTML and Word readers.

A table comes in as rows of :data:`SpanCell` tuples ``(text, colspan, rowspan, vmerge)``: HTML ``colspan`` /
``rowspan`` (rowspan 0 = to the end of the table), Word ``w:gridSpan`` and ``w:vMerge`` ("restart" opens a
vertical merge, "continue" repeats the text of the merge open in that column).  Out comes one row per source row
with one ``(text, spanned)`` per grid column: a merged cell's text at its origin and ``spanned=True`` copies over
the rest of its area, ``("", False)`` where no cell is.

Malformed spans are tolerated the way browsers do: a rowspan past the last row stops at the table's end,
overlapping spans keep the first cell, and spans are cut at :data:`~pipeline.readers.limits.MAX_COLUMNS`.  A table
whose cells start beyond that many columns, or a document whose tables expand past
:data:`~pipeline.readers.limits.MAX_GRID_CELLS` cells, is refused with the limit named.
"""

from __future__ import annotations

from collections.abc import Sequence

from pipeline.readers.limits import MAX_COLUMNS, MAX_GRID_CELLS, refuse

SpanCell = tuple[str, int, int, str | None]  # (text, colspan, rowspan, vmerge)
GridCell = tuple[str, bool]  # (text, spanned)
_BLANK: GridCell = ("", False)


class CellBudget:
    """The grid cells a document may expand to (all its tables together), and notes on spans that were cut."""

    def __init__(self, path: str, limit: int = MAX_GRID_CELLS) -> None:
        self.path = path
        self.limit = limit
        self.used = 0
        self.notes: list[str] = []

    def check(self, n: int) -> None:
        """Refuse the document if ``n`` more cells would pass the limit."""
        if self.used + n > self.limit:
            raise refuse(self.path, "表格展开后的单元格数", self.used + n, self.limit)

    def take(self, n: int) -> None:
        self.check(n)
        self.used += n

    def cut_span(self, span: int) -> None:
        note = f"合并单元格跨度 {span:,} 超过上限 {MAX_COLUMNS} 列，已截断"
        if note not in self.notes:
            self.notes.append(note)


def expand(
    rows: Sequence[Sequence[SpanCell]], budget: CellBudget, *, width_from_starts: bool = False
) -> list[list[GridCell]]:
    """The grid of one table (see the module docstring), every row as wide as the table.

    ``width_from_starts``: the table is as wide as its right-most cell *start* (HTML: a ``colspan="99"`` meant as
    "the whole row" must not widen the table); otherwise as wide as its widest expanded row (Word).
    """
    n_rows = len(rows)
    grid: list[list[GridCell | None]] = [[] for _ in range(n_rows)]
    above: dict[int, str] = {}  # grid column → text of the vertical merge open there
    width = 0
    spans = 0  # cells covered by merged cells so far
    for r, cells in enumerate(rows):
        row = grid[r]
        c = 0
        for text, colspan, rowspan, vmerge in cells:
            n = len(row)
            while c < n and row[c] is not None:
                c += 1
            if c >= MAX_COLUMNS:
                raise refuse(budget.path, "表格列数", c + 1, MAX_COLUMNS)
            spanned = False
            if vmerge == "continue":
                text, spanned = above.get(c, ""), True
            elif vmerge is not None:
                above[c] = text
            elif c in above:
                del above[c]
            if c >= width:
                width = c + 1
            if colspan == 1 and rowspan == 1:  # the common case, fast
                if c >= n:
                    row.extend([None] * (c + 1 - n))
                row[c] = (text, spanned)
                c += 1
                continue
            if colspan > MAX_COLUMNS - c:
                budget.cut_span(colspan)
                colspan = MAX_COLUMNS - c
            colspan = max(colspan, 1)
            if rowspan <= 0 or r + rowspan > n_rows:
                rowspan = n_rows - r
            spans += colspan * rowspan
            budget.check(spans)  # before the copies are made
            end = c + colspan
            origin: GridCell = (text, spanned)
            copy: GridCell = (text, True)
            for dr in range(rowspan):
                target = grid[r + dr]
                if len(target) < end:
                    target.extend([None] * (end - len(target)))
                for col in range(c, end):
                    if target[col] is None:
                        target[col] = origin if (dr == 0 and col == c) else copy
            c = end
    if not width_from_starts:
        width = max((len(row) for row in grid), default=0)
    budget.take(width * n_rows)
    return [[cell or _BLANK for cell in row[:width]] + [_BLANK] * (width - len(row)) for row in grid]
