"""PDF layout with a text layer (``pdf-text``).

The report's blocks (:mod:`pipeline.generator.blocks`) are typeset by :func:`blocks_to_pdf` with reportlab on A4 with ruled
tables: merged cells, group labels wrapped in narrow columns, tables split across pages (with the header repeated at noise ≥ 1, sometimes), page numbers.
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
from typing import TYPE_CHECKING

from pipeline.generator import prose
from pipeline.generator.blocks import Block, Table, place, report_blocks
from pipeline.generator.numbers import ReportTruth
from pipeline.generator.renderers import register

if TYPE_CHECKING:
    from reportlab.pdfgen.canvas import Canvas

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
    canvas: Canvas = field(init=False)
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


def blocks_to_pdf(
    blocks: list[Block], rng: random.Random, noise: int, title: str | None = None, created: str | None = None
) -> bytes:
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
