"""The report card as a Word file (A4, the agency and year in the header, the filters, data date and page number in
the footer, 「示例数据」 on every page of a synthetic report), from the same blocks as the PDF."""

from __future__ import annotations

import io

from pipeline.card.content import SYNTHETIC_NOTICE, blocks, footer_text, title
from pipeline.card.data import CardData
from pipeline.card.fonts import FONT_NAME


def _east_asian(run, size: float | None = None) -> None:  # noqa: ANN001
    """Chinese text in the card's font (Word picks the East Asian font from rFonts/@w:eastAsia)."""
    from docx.oxml.ns import qn
    from docx.shared import Pt

    run.font.name = FONT_NAME
    run._element.get_or_add_rPr().get_or_add_rFonts().set(qn("w:eastAsia"), FONT_NAME)
    if size:
        run.font.size = Pt(size)


def _page_field(paragraph) -> None:  # noqa: ANN001
    """「第 N 页」 with Word's PAGE field."""
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    _east_asian(paragraph.add_run("第 "), 8)
    run = paragraph.add_run()
    _east_asian(run, 8)
    for kind, text in (("begin", None), (None, "PAGE"), ("end", None)):
        if kind:
            el = OxmlElement("w:fldChar")
            el.set(qn("w:fldCharType"), kind)
        else:
            el = OxmlElement("w:instrText")
            el.set(qn("xml:space"), "preserve")
            el.text = text
        run._r.append(el)
    _east_asian(paragraph.add_run(" 页"), 8)


def card_docx(card: CardData) -> bytes:
    from docx import Document
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.shared import Cm, Pt, RGBColor

    document = Document()
    section = document.sections[0]
    section.page_width, section.page_height = Cm(21), Cm(29.7)
    for side in ("left_margin", "right_margin", "top_margin", "bottom_margin"):
        setattr(section, side, Cm(1.8))
    normal = document.styles["Normal"]
    normal.font.name = FONT_NAME
    normal.font.size = Pt(10)
    normal.element.get_or_add_rPr().get_or_add_rFonts().set(
        "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}eastAsia", FONT_NAME
    )
    document.core_properties.title = title(card)
    document.core_properties.subject = SYNTHETIC_NOTICE if card.synthetic else "政府信息公开工作年度报告卡"

    head = section.header.paragraphs[0]
    _east_asian(head.add_run(f"{card.agency} · {card.year} 年度 · 报告卡"), 8.5)
    if card.synthetic:
        run = head.add_run(f"    {SYNTHETIC_NOTICE}")
        _east_asian(run, 8.5)
        run.font.color.rgb = RGBColor(0xB7, 0x1C, 0x1C)
    foot = section.footer.paragraphs[0]
    _east_asian(foot.add_run(footer_text(card) + "    "), 7)
    _page_field(foot)

    heading = document.add_paragraph()
    _east_asian(heading.add_run(title(card)), 15)
    heading.runs[0].bold = True
    usable = Cm(21 - 3.6)
    for b in blocks(card):
        if b.kind == "heading":
            p = document.add_paragraph()
            run = p.add_run(b.text)
            run.bold = True
            _east_asian(run, 12.5)
        elif b.kind in ("para", "note", "warning"):
            p = document.add_paragraph()
            run = p.add_run(b.text)
            _east_asian(run, 8 if b.kind == "note" else 10)
            if b.kind == "warning":
                run.font.color.rgb = RGBColor(0xB7, 0x1C, 0x1C)
                run.bold = True
        elif b.kind == "image":
            document.add_picture(io.BytesIO(b.image), width=usable)
            document.paragraphs[-1].alignment = WD_ALIGN_PARAGRAPH.CENTER
        elif b.kind == "table":
            table = document.add_table(rows=1 + len(b.rows), cols=len(b.header))
            table.style = "Table Grid"
            size = 7 if b.small else 8.5
            total = sum(b.widths) or 1
            # row by row (table.cell(r, c) rebuilds the whole grid on every call: quadratic on a 200-row table)
            for r, (row, values) in enumerate(zip(table.rows, [b.header, *b.rows], strict=True)):
                for c, (cell, value) in enumerate(zip(row.cells, values, strict=True)):
                    if b.widths:
                        cell.width = int(usable * b.widths[c] / total)
                    run = cell.paragraphs[0].add_run(str(value))
                    _east_asian(run, size)
                    run.bold = r == 0
    buf = io.BytesIO()
    document.save(buf)
    return buf.getvalue()
