"""The report card as a printable PDF: A4, the agency and year in every page's header, the filters, data date and
page number in its footer, 「示例数据」 on every page of a synthetic report; the Chinese font embedded
(:mod:`pipeline.card.fonts`; the document starts in it, so no unembedded base-14 font appears)."""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.lib.utils import ImageReader
from reportlab.platypus import Image, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from pipeline.card.content import SYNTHETIC_NOTICE, Block, blocks, footer_text, title
from pipeline.card.data import CardData
from pipeline.card.fonts import register_pdf_font

MARGIN = 16 * mm
RED = colors.HexColor("#b71c1c")


@dataclass(frozen=True)
class Styles:
    body: ParagraphStyle
    note: ParagraphStyle
    cell: ParagraphStyle
    small: ParagraphStyle
    heading: ParagraphStyle
    title: ParagraphStyle
    warning: ParagraphStyle

    @classmethod
    def make(cls, font: str) -> Styles:
        body = ParagraphStyle("body", fontName=font, fontSize=9.5, leading=14, wordWrap="CJK")
        return cls(
            body=body,
            note=ParagraphStyle("note", parent=body, fontSize=8, leading=11, textColor=colors.HexColor("#555555")),
            cell=ParagraphStyle("cell", parent=body, fontSize=8.5, leading=11),
            small=ParagraphStyle("small", parent=body, fontSize=7, leading=9),
            heading=ParagraphStyle(
                "heading", parent=body, fontSize=12.5, leading=18, spaceBefore=8, spaceAfter=4, keepWithNext=1
            ),  # fmt: skip
            title=ParagraphStyle("title", parent=body, fontSize=15, leading=21, spaceAfter=6),
            warning=ParagraphStyle(
                "warn", parent=body, textColor=RED, backColor=colors.HexColor("#fdecea"), borderPadding=4, spaceAfter=6
            ),  # fmt: skip
        )


def _wrap(text: str, width: float, font: str, size: float, canvas: Any) -> list[str]:
    """Lines of ``text`` no wider than ``width`` points (character by character: Chinese has no spaces)."""
    lines, line = [], ""
    for ch in text:
        if canvas.stringWidth(line + ch, font, size) > width:
            lines.append(line)
            line = ch
        else:
            line += ch
    return [*lines, line] if line else lines


def _flowables(b: Block, usable: float, s: Styles, font: str) -> list[Any]:
    text_styles = {"heading": s.heading, "para": s.body, "note": s.note, "warning": s.warning}
    if b.kind in text_styles:
        return [Paragraph(escape(b.text), text_styles[b.kind])]
    if b.kind == "image":
        w, h = ImageReader(io.BytesIO(b.image)).getSize()
        return [Image(io.BytesIO(b.image), width=usable, height=usable * h / w), Spacer(1, 4)]
    style = s.small if b.small else s.cell
    total = sum(b.widths) or 1
    widths = [usable * w / total for w in b.widths] if b.widths else None
    data = [[Paragraph(escape(str(v)), style) for v in row] for row in [b.header, *b.rows]]
    table = Table(data, colWidths=widths, repeatRows=1)
    table.setStyle(TableStyle([
        ("GRID", (0, 0), (-1, -1), 0.4, colors.HexColor("#999999")),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eeeeee")),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("FONTNAME", (0, 0), (-1, -1), font),
        ("TOPPADDING", (0, 0), (-1, -1), 1.5), ("BOTTOMPADDING", (0, 0), (-1, -1), 1.5),
    ]))  # fmt: skip
    return [table, Spacer(1, 5)]


def card_pdf(card: CardData) -> bytes:
    font = register_pdf_font()
    styles = Styles.make(font)
    width, height = A4
    header_text = f"{card.agency} · {card.year} 年度 · 报告卡"
    footer = footer_text(card)

    def page(canvas: Any, doc: Any) -> None:
        canvas.saveState()
        canvas.setFont(font, 8.5)
        canvas.setFillColor(colors.HexColor("#333333"))
        top = height - MARGIN + 6 * mm
        canvas.drawString(MARGIN, top, header_text[:60])
        canvas.drawRightString(width - MARGIN, top, "政府信息公开年报数据")
        canvas.line(MARGIN, top - 1.5 * mm, width - MARGIN, top - 1.5 * mm)
        canvas.setFont(font, 7)
        for i, line in enumerate(_wrap(footer, width - 2 * MARGIN - 30 * mm, font, 7, canvas)[:2]):
            canvas.drawString(MARGIN, MARGIN - 8 * mm - i * 9, line)
        canvas.drawRightString(width - MARGIN, MARGIN - 8 * mm, f"第 {doc.page} 页")
        if card.synthetic:
            canvas.setFillColor(RED)
            canvas.setFont(font, 9)
            canvas.drawCentredString(width / 2, top, SYNTHETIC_NOTICE)
        canvas.restoreState()

    usable = width - 2 * MARGIN
    story: list[Any] = [Paragraph(escape(title(card)), styles.title)]
    for b in blocks(card):
        story += _flowables(b, usable, styles, font)
    buf = io.BytesIO()
    doc = SimpleDocTemplate(buf, pagesize=A4, leftMargin=MARGIN, rightMargin=MARGIN, topMargin=MARGIN,
                            bottomMargin=MARGIN + 6 * mm, title=title(card), author="xxgk", initialFontName=font,
                            subject=SYNTHETIC_NOTICE if card.synthetic else "政府信息公开工作年度报告卡")  # fmt: skip
    doc.build(story, onFirstPage=page, onLaterPages=page)
    return buf.getvalue()
