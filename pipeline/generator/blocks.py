"""The report as a document: title, headings, paragraphs and tables, shared by the PDF, DOCX and scan renderers.

:func:`report_blocks` lays a truth out as blocks, the tables as HTML-like rows of ``(text, colspan, rowspan)`` cells
built from :mod:`pipeline.generator.tables` (labels from the registry); :func:`place` puts a table's cells on a grid.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from pipeline.generator import prose
from pipeline.generator.numbers import ReportTruth
from pipeline.generator.tables import (
    T2_CONTENT,
    T3_APPLICANTS,
    T3_LEGAL_PERSONS,
    T3_NOTE,
    LabelStyle,
    t2_blocks,
    t3_columns,
    t3_rows,
    t4_column_labels,
    t4_groups,
)


@dataclass(slots=True)
class TableCell:
    text: str
    colspan: int = 1
    rowspan: int = 1
    numeric: bool = False


@dataclass(slots=True)
class Table:
    rows: list[list[TableCell]]
    widths: list[float]  # relative column widths
    header_rows: int = 0


@dataclass(slots=True)
class Block:
    kind: str  # "title", "heading", "para", "table"
    text: str = ""
    table: Table | None = None


@dataclass(slots=True)
class Placed:
    cell: TableCell
    row0: int
    row1: int
    col0: int
    col1: int


def place(table: Table) -> tuple[list[Placed], int]:
    """HTML-style rows → cells with their grid rectangles; returns (cells, number of columns)."""
    taken: dict[tuple[int, int], bool] = {}
    out: list[Placed] = []
    ncols = 0
    for r, row in enumerate(table.rows):
        c = 0
        for cell in row:
            while taken.get((r, c)):
                c += 1
            out.append(Placed(cell, r, r + cell.rowspan - 1, c, c + cell.colspan - 1))
            for dr in range(cell.rowspan):
                for dc in range(cell.colspan):
                    taken[(r + dr, c + dc)] = True
            c += cell.colspan
            ncols = max(ncols, c)
    return out, ncols


def _t2_table(truth: ReportTruth, style: LabelStyle) -> Table:
    blocks = t2_blocks(truth)
    ncols = 1 + max(len(b.columns) for b in blocks)
    rows: list[list[TableCell]] = []
    for block in blocks:
        rows.append([TableCell(style.brackets(block.heading), colspan=ncols)])
        header = [TableCell(T2_CONTENT)] + [TableCell(c) for c in block.columns]
        header[-1].colspan = ncols - len(block.columns)
        rows.append(header)
        for label, keys in block.rows:
            row = [TableCell(style.brackets(label))] + [TableCell(truth.cell_text(k), numeric=True) for k in keys]
            row[-1].colspan = ncols - len(keys)
            rows.append(row)
    return Table(rows, [3.2] + [2.0] * (ncols - 1))


def _t3_table(truth: ReportTruth, style: LabelStyle) -> Table:
    cols = t3_columns()
    rows: list[list[TableCell]] = [
        [TableCell(T3_NOTE, colspan=3, rowspan=3), TableCell(T3_APPLICANTS, colspan=7)],
        [TableCell(cols[0], rowspan=2), TableCell(T3_LEGAL_PERSONS, colspan=5), TableCell(cols[6], rowspan=2)],
        [TableCell(c) for c in cols[1:6]],
    ]
    data = t3_rows(truth)
    top_count: dict[str, int] = {}
    block_count: dict[str, int] = {}
    for r in data:
        if r.top:
            top_count[r.top] = top_count.get(r.top, 0) + 1
        if r.block:
            block_count[r.block] = block_count.get(r.block, 0) + 1
    seen: set[str] = set()
    for r in data:
        row: list[TableCell] = []
        if not r.top:
            row.append(TableCell(style.row(r.label), colspan=3))
        else:
            if r.top not in seen:
                seen.add(r.top)
                row.append(TableCell(style.group(r.top, spaced=False), rowspan=top_count[r.top]))
            if not r.block:
                row.append(TableCell(style.row(r.label), colspan=2))
            else:
                if r.block not in seen:
                    seen.add(r.block)
                    row.append(TableCell(style.group(r.block, spaced=False), rowspan=block_count[r.block]))
                row.append(TableCell(style.row(r.label)))
        row += [TableCell(truth.cell_text(k), numeric=True) for k in r.keys]
        rows.append(row)
    return Table(rows, [1.0, 2.2, 6.0] + [1.7] * 7, header_rows=3)


def _t4_table(truth: ReportTruth) -> Table:
    groups = t4_groups()
    labels = t4_column_labels()
    tops: list[TableCell] = []
    for g in groups:
        if tops and tops[-1].text == g.top:
            tops[-1].colspan += len(g.keys)
        else:
            tops.append(TableCell(g.top, colspan=len(g.keys)))
    second: list[TableCell] = []
    third: list[TableCell] = []
    for g in groups:
        if g.sub:
            second.append(TableCell(g.sub, colspan=len(g.keys)))
            third += [TableCell(label) for label in labels]
        else:
            second += [TableCell(label, rowspan=2) for label in labels]
    values = [TableCell(truth.cell_text(k), numeric=True) for g in groups for k in g.keys]
    return Table([tops, second, third, values], [1.0] * len(values), header_rows=3)


def report_blocks(truth: ReportTruth, rng: random.Random, noise: int) -> list[Block]:
    """The report as blocks in reading order."""
    if truth.kind != "report":
        lines = prose.legacy_lines(truth, rng) if truth.kind == "legacy" else prose.non_report_lines(truth, rng)
        return [Block("title", lines[0])] + [Block("para", line) for line in lines[1:] if line.strip()]
    style = LabelStyle(rng, noise)
    blocks = [Block("title", prose.title(truth)), Block("para", prose.preamble(truth))]
    blocks.append(Block("heading", prose.section_heading("一", rng)))
    blocks += [Block("para", p) for p in prose.section_one(truth, rng)]
    blocks.append(Block("heading", prose.section_heading("二", rng)))
    blocks.append(Block("table", table=_t2_table(truth, style)))
    blocks.append(Block("heading", prose.section_heading("三", rng)))
    blocks.append(Block("table", table=_t3_table(truth, style)))
    blocks.append(Block("heading", prose.section_heading("四", rng)))
    blocks.append(Block("table", table=_t4_table(truth)))
    blocks.append(Block("heading", prose.section_heading("五", rng)))
    blocks += [Block("para", p) for p in prose.section_five(truth, rng)]
    blocks.append(Block("heading", prose.section_heading("六", rng)))
    blocks += [Block("para", p) for p in prose.section_six(truth, rng)]
    return blocks
