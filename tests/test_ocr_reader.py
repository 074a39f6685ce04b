"""OCR path: a scanned (image-only) PDF and a PNG of a ruled table, read offline with RapidOCR."""

from __future__ import annotations

import io
import random

import numpy as np
import pytest
from PIL import Image

from pipeline.generator.blocks import Block, Table, TableCell
from pipeline.generator.render_pdf import blocks_to_pdf
from pipeline.generator.render_scan import scan_pages
from pipeline.readers import read_document
from pipeline.readers.ocr import LOW_CONFIDENCE

VALUES = ["72", "64", "178", "", "351", "13", "0", "8", "1", "26"]


@pytest.fixture(scope="module")
def scanned_page() -> Image.Image:
    header = [TableCell(f"列{i + 1}") for i in range(len(VALUES))]
    row = [TableCell(v, numeric=True) for v in VALUES]
    blocks = [
        Block("title", "某某县人民政府2023年政府信息公开工作年度报告"),
        Block("heading", "四、政府信息公开行政复议、行政诉讼情况"),
        Block("table", table=Table([header, row], [1.0] * len(VALUES), header_rows=1)),
    ]
    pdf = blocks_to_pdf(blocks, random.Random(1), noise=0)
    pages, _dpi = scan_pages(pdf, random.Random(2), noise=1)  # grain, blur, a slight rotation
    return pages[0]


def _value_row(doc):
    return next(r for r in doc.rows if r.table is not None and r.cells and r.cells[0].text == "72")


def test_scanned_pdf_is_detected_and_read(tmp_path, scanned_page):
    buf = io.BytesIO()
    scanned_page.save(buf, format="PDF", resolution=175.0)
    doc = read_document(tmp_path / "scan.pdf", buf.getvalue())
    assert doc.format == "pdf"
    assert any("OCR" in n for n in doc.notes)
    assert "政府信息公开工作年度报告" in doc.text.replace(" ", "")
    row = _value_row(doc)
    assert [c.text for c in row.cells] == VALUES  # the blank cell stays "" (not 0), no number split or merged
    for cell in row.cells:
        assert cell.page == 1 and cell.bbox is not None
        if cell.text:
            assert cell.confidence is not None and cell.confidence >= LOW_CONFIDENCE


def test_png_is_read_by_ocr(tmp_path, scanned_page):
    buf = io.BytesIO()
    scanned_page.save(buf, format="PNG")
    doc = read_document(tmp_path / "page.png", buf.getvalue())
    assert doc.format == "image"
    assert [c.text for c in _value_row(doc).cells] == VALUES


def test_unreadable_image(tmp_path):
    from pipeline.readers import ReadError

    with pytest.raises(ReadError, match="图片"):
        read_document(tmp_path / "x.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 64)


def test_a_mark_left_unread_inside_a_numeric_reading_is_noticed():
    """The detector boxed "-3" but read "3": the minus is inside the box, so the reading is not trusted."""
    from pipeline.readers.layout import Glyph
    from pipeline.readers.ocr import _unexplained_ink

    gray = np.full((24, 24), 250, dtype=np.uint8)
    gray[11:13, 2:7] = 30  # the minus sign
    gray[4:20, 9:18] = 30  # the digit (one connected mark)
    gray[7:17, 11:16] = 250
    whole_box = [Glyph("3", 1, 3, 19, 21, 16, 0.99)]
    assert _unexplained_ink(gray, whole_box, 1.0)
    assert not _unexplained_ink(gray, [Glyph("-3", 1, 3, 19, 21, 16, 0.99)], 1.0)  # read as printed
    assert not _unexplained_ink(gray, [Glyph("3", 8, 3, 19, 21, 16, 0.99)], 1.0)  # the box holds the digit only
    assert not _unexplained_ink(gray, [Glyph("第三", 1, 3, 19, 21, 16, 0.99)], 1.0)  # labels are not checked
