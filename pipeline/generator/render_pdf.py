"""PDF layout with a text layer (``pdf-text``), plus the report structure the DOCX and scan renderers share.

:func:`report_blocks` lays a truth out as title / headings / paragraphs / tables, the tables as HTML-like rows of
``(text, colspan, rowspan)`` cells built from :mod:`pipeline.generator.tables` (labels from the registry).
:func:`blocks_to_pdf` typesets them with reportlab on A4 with ruled tables: merged cells, group labels wrapped in
narrow columns, tables split across pages (with the header repeated at noise ≥ 1, sometimes), page numbers.
The CJK font is a TrueType font found on the machine and embedded (subset); without one, reportlab's CID font
STSong-Light is used (not embedded: text extraction works, rendering depends on the viewer's fallback font).
"""

from __future__ import annotations

import io
import random
import subprocess
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from pipeline.generator import prose
from pipeline.generator.numbers import ReportTruth
from pipeline.generator.renderers import register
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

# ---------------------------------------------------------------------------------------------------------------
# Document structure shared by the PDF, DOCX and scan renderers


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


# ---------------------------------------------------------------------------------------------------------------
# Fonts

_FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/arphic/uming.ttc",
)


def find_cjk_font() -> str | None:
    """Path of a TrueType CJK font on this machine (Debian fonts-wqy-microhei / fonts-noto-cjk), or None."""
    for path in _FONT_CANDIDATES:
        if Path(path).exists():
            return path
    try:
        out = subprocess.run(["fc-match", "-f", "%{file}", ":lang=zh-cn"], capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    path = out.stdout.strip()
    return path if path.lower().endswith((".ttf", ".ttc")) and Path(path).exists() else None


@cache
def cjk_font_name() -> str:
    """Register and return the reportlab font name used for Chinese text."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfbase.ttfonts import TTFError, TTFont

    path = find_cjk_font()
    if path:
        try:
            pdfmetrics.registerFont(TTFont("XXGK-CJK", path, subfontIndex=0))
            return "XXGK-CJK"
        except (TTFError, OSError):
            pass
    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    return "STSong-Light"


# ---------------------------------------------------------------------------------------------------------------
# Typesetting

PAGE_W, PAGE_H = 595.0, 842.0
MARGIN_X, MARGIN_TOP, MARGIN_BOTTOM = 72.0, 72.0, 80.0
BODY, TABLE_SIZE, TITLE_SIZE = 12.0, 8.5, 16.0


def wrap(text: str, font: str, size: float, width: float) -> list[str]:
    from reportlab.pdfbase.pdfmetrics import stringWidth

    lines: list[str] = []
    cur = ""
    for ch in text:
        if cur and stringWidth(cur + ch, font, size) > width:
            lines.append(cur)
            cur = ""
        cur += ch
    if cur or not lines:
        lines.append(cur)
    return lines


@dataclass
class _Writer:
    rng: random.Random
    noise: int
    font: str
    canvas: object = None
    y: float = MARGIN_TOP
    page: int = 1
    buf: io.BytesIO = field(default_factory=io.BytesIO)

    def __post_init__(self) -> None:
        from reportlab.pdfgen import canvas

        self.canvas = canvas.Canvas(self.buf, pagesize=(PAGE_W, PAGE_H))

    def text(self, x: float, top: float, s: str, size: float) -> None:
        c = self.canvas
        c.setFont(self.font, size)
        c.drawString(x, PAGE_H - top - size * 0.88, s)

    def new_page(self) -> None:
        self.footer()
        self.canvas.showPage()
        self.page += 1
        self.y = MARGIN_TOP

    def footer(self) -> None:
        label = f"- {self.page} -"
        self.canvas.setFont(self.font, 10)
        self.canvas.drawCentredString(PAGE_W / 2, 40, label)

    def need(self, height: float) -> None:
        if self.y + height > PAGE_H - MARGIN_BOTTOM:
            self.new_page()

    def paragraph(self, s: str, size: float = BODY, indent: bool = True, centre: bool = False) -> None:
        width = PAGE_W - 2 * MARGIN_X
        lines = wrap(("\u3000\u3000" if indent else "") + s, self.font, size, width)
        for line in lines:
            self.need(size * 1.6)
            if centre:
                from reportlab.pdfbase.pdfmetrics import stringWidth

                x = (PAGE_W - stringWidth(line, self.font, size)) / 2
            else:
                x = MARGIN_X
            self.text(x, self.y, line, size)
            self.y += size * 1.6

    def table(self, table: Table) -> None:
        from reportlab.pdfbase.pdfmetrics import stringWidth

        placed, ncols = place(table)
        total = PAGE_W - 2 * MARGIN_X
        scale = total / sum(table.widths[:ncols])
        xs = [MARGIN_X]
        for w in table.widths[:ncols]:
            xs.append(xs[-1] + w * scale)
        nrows = len(table.rows)
        pad, size = 3.0, TABLE_SIZE
        lead = size * 1.35
        heights = [size + 2 * pad + 6] * nrows
        wrapped: dict[int, list[str]] = {}
        for k, p in enumerate(placed):
            width = xs[p.col1 + 1] - xs[p.col0] - 2 * pad
            wrapped[k] = wrap(p.cell.text, self.font, size, width) if p.cell.text else []
            need = len(wrapped[k]) * lead + 2 * pad + 4
            have = sum(heights[p.row0 : p.row1 + 1])
            if need > have:
                heights[p.row1] += need - have
        repeat_header = table.header_rows and self.noise >= 1 and self.rng.random() < 0.5
        # rows → pages: (page-local top) per row; a page break may fall inside a rowspan
        self.need(sum(heights[: max(table.header_rows, 1) + 1]))
        tops: dict[int, tuple[int, float]] = {}
        r = 0
        while r < nrows:
            if self.y + heights[r] > PAGE_H - MARGIN_BOTTOM:
                self._table_page(placed, xs, heights, tops, wrapped, pad, lead, size, stringWidth)
                tops = {}
                self.new_page()
                if repeat_header and r >= table.header_rows:
                    for h in range(table.header_rows):
                        tops[-1 - h] = (self.page, self.y)
                        self.y += heights[h]
            tops[r] = (self.page, self.y)
            self.y += heights[r]
            r += 1
        self._table_page(placed, xs, heights, tops, wrapped, pad, lead, size, stringWidth)
        self.y += 10

    def _table_page(self, placed, xs, heights, tops, wrapped, pad, lead, size, stringWidth) -> None:  # noqa: ANN001
        """Draw the part of the table whose rows are on the current page (``tops``: row → (page, top))."""
        c = self.canvas
        c.setLineWidth(0.6)
        on_page = sorted(tops)
        if not on_page:
            return

        def row_top(r: int) -> float:
            return tops[r][1]

        header_copy = [k for k in on_page if k < 0]
        body = [k for k in on_page if k >= 0]
        for rows_here, mapping in ((header_copy, {-1 - k: k for k in header_copy}), (body, {k: k for k in body})):
            if not rows_here:
                continue
            real = sorted(mapping)
            first, last = real[0], real[-1]
            for k, p in enumerate(placed):
                lo, hi = max(p.row0, first), min(p.row1, last)
                if lo > hi:
                    continue
                top = row_top(mapping[lo])
                bottom = row_top(mapping[hi]) + heights[hi]
                x0, x1 = xs[p.col0], xs[p.col1 + 1]
                c.line(x0, PAGE_H - top, x0, PAGE_H - bottom)
                c.line(x1, PAGE_H - top, x1, PAGE_H - bottom)
                c.line(x0, PAGE_H - top, x1, PAGE_H - top)
                c.line(x0, PAGE_H - bottom, x1, PAGE_H - bottom)
                if p.row0 < first:
                    continue  # the text was drawn on the page where the cell began
                lines = wrapped[k]
                block = len(lines) * lead
                y = top + max(pad, (bottom - top - block) / 2)
                for line in lines:
                    x = (x0 + x1 - stringWidth(line, self.font, size)) / 2 if p.cell.numeric else x0 + pad
                    self.text(x, y, line, size)
                    y += lead

    def finish(self) -> bytes:
        self.footer()
        self.canvas.save()
        return self.buf.getvalue()


def blocks_to_pdf(blocks: list[Block], rng: random.Random, noise: int, title: str | None = None,
                  created: str | None = None) -> bytes:
    """``created``: the ISO date written as CreationDate / ModDate (else 2000-01-01, which no report year accepts
    as a publication date: see pipeline.published)."""
    writer = _Writer(rng, noise, cjk_font_name())
    stamp = (created or "2000-01-01").replace("-", "")
    writer.canvas.setDateFormatter(lambda *_: f"D:{stamp}100000+08'00'")
    if title:
        writer.canvas.setTitle(title)
    for block in blocks:
        if block.kind == "title":
            writer.y += 10
            writer.paragraph(block.text, TITLE_SIZE, indent=False, centre=True)
            writer.y += 12
        elif block.kind == "heading":
            writer.need(BODY * 4)
            writer.y += 4
            writer.paragraph(block.text, BODY + 1, indent=True)
        elif block.kind == "para":
            writer.paragraph(block.text)
        elif block.kind == "table" and block.table is not None:
            writer.table(block.table)
    return writer.finish()


@register("pdf-text")
def render_pdf(truth: ReportTruth, rng: random.Random, noise: int) -> tuple[bytes, str]:
    """A PDF with a text layer and ruled tables, like an agency's exported Word document."""
    blocks = report_blocks(truth, rng, noise)
    title = prose.title(truth) if truth.kind == "report" and rng.random() < 0.7 else None
    return blocks_to_pdf(blocks, rng, noise, title=title, created=truth.published), ".pdf"
