"""Word layout (``docx``): the report structure of :func:`~pipeline.generator.render_pdf.report_blocks` as a
python-docx document, tables with real merged cells (gridSpan / vMerge)."""

from __future__ import annotations

import io
import random

from pipeline.generator import prose
from pipeline.generator.blocks import Block, Table, place, report_blocks
from pipeline.generator.numbers import ReportTruth
from pipeline.generator.renderers import register


def _add_table(document, table: Table) -> None:  # noqa: ANN001 - python-docx Document
    placed, ncols = place(table)
    grid = document.add_table(rows=len(table.rows), cols=ncols)
    grid.style = "Table Grid"
    cells = grid._cells  # once: Table.cell() rescans the whole table on every call (quadratic)
    for p in placed:
        cell = cells[p.row0 * ncols + p.col0]
        cell.text = p.cell.text
        if p.row1 > p.row0 or p.col1 > p.col0:  # the rectangles are disjoint: the corner cell is still there
            cell.merge(cells[p.row1 * ncols + p.col1])


def blocks_to_docx(blocks: list[Block], title: str | None = None, created: str | None = None) -> bytes:
    """``created``: the ISO date written as core.xml created / modified (10:00 China time, stored in UTC)."""
    from datetime import datetime

    from docx import Document

    document = Document()
    if title:
        document.core_properties.title = title
    if created:
        stamp = datetime.fromisoformat(f"{created}T02:00:00")
        document.core_properties.created = document.core_properties.modified = stamp
    for block in blocks:
        if block.kind == "title":
            document.add_heading(block.text, level=1)
        elif block.kind == "heading":
            document.add_heading(block.text, level=2)
        elif block.kind == "para":
            document.add_paragraph(block.text)
        elif block.kind == "table" and block.table is not None:
            _add_table(document, block.table)
    buf = io.BytesIO()
    document.save(buf)
    return buf.getvalue()


@register("docx")
def render_docx(truth: ReportTruth, rng: random.Random, noise: int) -> tuple[bytes, str]:
    blocks = report_blocks(truth, rng, noise)
    title = prose.title(truth) if truth.kind == "report" else None
    return blocks_to_docx(blocks, title, truth.published), ".docx"
