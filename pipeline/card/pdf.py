"""The report card as a printable PDF: A4, the agency and year in every page's header, the filters, data date and
page number in its footer, 「示例数据」 on every page of a synthetic report; the Chinese font embedded
(:mod:`pipeline.card.fonts`)."""

from __future__ import annotations

import io
from xml.sax.saxutils import escape

from pipeline.card.content import SYNTHETIC_NOTICE, Block, blocks, footer_text, title
from pipeline.card.data import CardData
from pipeline.card.fonts import register_pdf_font

MARGIN_MM = 16


def _wrap(text: str, width: float, font: str, size: float, canvas) -> list[str]:  # noqa: ANN001
    """Lines of ``text`` no wider than ``width`` points (character by character: Chinese has no spaces)."""
    lines, line = [], ""
    for ch in text:
        if canvas.stringWidth(line + ch, font, size) > width:
            lines.append(line)
            line = ch
        else:
            line += ch
    return [*lines, line] if line else lines


def card_pdf(card: CardData) -> bytes:
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.platypus import Image, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    font = register_pdf_font()
    width, height = A4
    margin = MARGIN_MM * mm
    body = ParagraphStyle("body", fontName=font, fontSize=9.5, leading=14, wordWrap="CJK")
    note = ParagraphStyle("note", parent=body, fontSize=8, leading=11, textColor=colors.HexColor("#555555"))
    cell = ParagraphStyle("cell", parent=body, fontSize=8.5, leading=11)
    small = ParagraphStyle("small", parent=body, fontSize=7, leading=9)
    heading = ParagraphStyle("heading", parent=body, fontSize=12.5, leading=18, spaceBefore=8, spaceAfter=4,
                             keepWithNext=1)
    big = ParagraphStyle("title", parent=body, fontSize=15, leading=21, spaceAfter=6)
    warn = ParagraphStyle("warn", parent=body, textColor=colors.HexColor("#b71c1c"), backColor=colors.HexColor("#fdecea"),
                          borderPadding=4, spaceAfter=6)  # fmt: skip
    header_text = f"{card.agency} · {card.year} 年度 · 报告卡"
    footer = footer_text(card)

    def page(canvas, doc) -> None:  # noqa: ANN001
        canvas.saveState()
        canvas.setFont(font, 8.5)
        canvas.setFillColor(colors.HexColor("#333333"))
        canvas.drawString(margin, height - margin + 6 * mm, header_text[:60])
        canvas.drawRightString(width - margin, height - margin + 6 * mm, "政府信息公开年报数据")
        canvas.line(margin, height - margin + 4.5 * mm, width - margin, height - margin + 4.5 * mm)
        canvas.setFont(font, 7)
        lines = _wrap(footer, width - 2 * margin - 30 * mm, font, 7, canvas)[:2]
        for i, line in enumerate(lines):
            canvas.drawString(margin, margin - 8 * mm - i * 9, line)
        canvas.drawRightString(width - margin, margin - 8 * mm, f"第 {doc.page} 页")
        if card.synthetic:
            canvas.setFillColor(colors.HexColor("#b71c1c"))
            canvas.setFont(font, 9)
            canvas.drawCentredString(width / 2, height - margin + 6 * mm, SYNTHETIC_NOTICE)
        canvas.restoreState()

    story: list = [Paragraph(escape(title(card)), big)]
    usable = width - 2 * margin
    for b in blocks(card):
        story += _flowables(b, usable, body, note, cell, small, heading, warn, Paragraph, Table, TableStyle, Image,
                            Spacer, colors, font, mm)  # fmt: skip
    buf = io.BytesIO()
    doc = SimpleDocTemplate(buf, pagesize=A4, leftMargin=margin, rightMargin=margin, topMargin=margin,
                            bottomMargin=margin + 6 * mm, title=title(card), author="xxgk", initialFontName=font,
                            subject=SYNTHETIC_NOTICE if card.synthetic else "政府信息公开工作年度报告卡")  # fmt: skip
    doc.build(story, onFirstPage=page, onLaterPages=page)
    return buf.getvalue()


def _flowables(b: Block, usable: float, body, note, cell, small, heading, warn, Paragraph, Table, TableStyle,  # noqa: ANN001, N803
               Image, Spacer, colors, font: str, mm: float) -> list:  # noqa: ANN001, N803
    if b.kind == "heading":
        return [Paragraph(escape(b.text), heading)]
    if b.kind == "para":
        return [Paragraph(escape(b.text), body)]
    if b.kind == "note":
        return [Paragraph(escape(b.text), note)]
    if b.kind == "warning":
        return [Paragraph(escape(b.text), warn)]
    if b.kind == "image":
        from reportlab.lib.utils import ImageReader

        reader = ImageReader(io.BytesIO(b.image))
        w, h = reader.getSize()
        shown = usable
        return [Image(io.BytesIO(b.image), width=shown, height=shown * h / w), Spacer(1, 4)]
    style = small if b.small else cell
    total = sum(b.widths) or 1
    widths = [usable * w / total for w in b.widths] if b.widths else None
    data = [[Paragraph(escape(h), style) for h in b.header]]
    data += [[Paragraph(escape(str(v)), style) for v in row] for row in b.rows]
    table = Table(data, colWidths=widths, repeatRows=1)
    table.setStyle(TableStyle([
        ("GRID", (0, 0), (-1, -1), 0.4, colors.HexColor("#999999")),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eeeeee")),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("FONTNAME", (0, 0), (-1, -1), font),
        ("TOPPADDING", (0, 0), (-1, -1), 1.5), ("BOTTOMPADDING", (0, 0), (-1, -1), 1.5),
    ]))  # fmt: skip
    return [table, Spacer(1, 5)]
