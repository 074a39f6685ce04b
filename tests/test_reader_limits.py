"""Every reader bounds its work: input beyond a limit is refused with one message naming the file and the limit
(or, for a span value, cut with a note), quickly and without a crash."""

from __future__ import annotations

import io
import re
import struct
import zipfile
import zlib

import pypdfium2 as pdfium
import pytest
from conftest import REAL, SEED
from PIL import Image

from pipeline.parse import parse_file
from pipeline.readers import MAX_BYTES, ReadError, check_size, limits, read_document
from pipeline.readers.encoding import decode
from pipeline.readers.limits import LimitError

SEED_TEXT = SEED.read_text(encoding="utf-8")
TITLE = "<h1>某市司法局2023年政府信息公开工作年度报告</h1>"


def _refused(name: str, data: bytes, *words: str) -> str:
    with pytest.raises(LimitError) as info:
        read_document(name, data)
    message = str(info.value)
    assert message.startswith(name) and "超过上限" in message, message
    for word in words:
        assert word in message, message
    return message


def test_size_limit_is_one_constant_in_mib() -> None:
    with pytest.raises(ReadError, match="超过上限 50 MiB"):
        check_size(MAX_BYTES + 1)
    check_size(MAX_BYTES)


def test_text_line_length_and_line_count() -> None:
    _refused("long.txt", (SEED_TEXT + "\n" + "一" * (limits.MAX_LINE_CHARS + 1)).encode(), "200,000", "字")
    _refused("many.txt", b"x\n" * (limits.MAX_LINES + 1), "行数")
    # the longest real line (a crawler saves a whole report on one line) is far below the limit
    crawler = (REAL.parent / "crawler" / "05_pingtan_2019" / "source.txt").read_bytes()
    assert read_document("crawler.txt", crawler).rows


def test_text_of_any_format_beyond_the_character_limit_is_refused() -> None:
    """The matcher's work grows with the text: 1,000,000 characters at most, whichever reader produced them."""
    repeats = limits.MAX_TEXT_CHARS // len(SEED_TEXT) + 1
    _refused("repeated.txt", (SEED_TEXT + "\n").encode() * repeats, "文本字数")
    paragraph = "<p>" + "本机关依申请公开政府信息。" * 2000 + "</p>"
    page = "<html><body>" + paragraph * (limits.MAX_TEXT_CHARS // 26_000 + 1) + "</body></html>"
    _refused("page.html", page.encode(), "文本字数")
    assert len(read_document("seed.txt", SEED_TEXT.encode()).text) < limits.MAX_TEXT_CHARS // 10


def test_markdown_is_read_by_the_text_reader_and_says_txt() -> None:
    doc = read_document("report.md", SEED_TEXT.encode())
    assert doc.format == "txt"  # the documented contract: the reader that was used


def test_truncated_utf8_is_still_utf8() -> None:
    data = SEED_TEXT.encode("utf-8")
    cut = data[: len(data) - 1]  # the last character's bytes cut short
    decoded = decode(cut)
    assert decoded.encoding == "utf-8" and decoded.text == SEED_TEXT[:-1]


def test_html_nesting_depth_is_refused_before_parsing() -> None:
    for tag, depth in (("div", 20_000), ("span", 20_000), ("table><tr><td", 1_000)):
        close = "</" + tag.split(">")[0] + ">"
        page = "<html><body>" + f"<{tag}>" * depth + TITLE + close * depth + "</body></html>"
        _refused("deep.html", page.encode(), f"{limits.MAX_DEPTH} 层")
    normal = (REAL.parent.parent.parent / "html" / "a_2021_xihu_scjg.html").read_bytes()
    assert read_document("ok.html", normal * 3).rows  # a big but ordinary page (many tags) is read


def test_html_table_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    from pipeline.readers import html

    row = "<tr><td>总计</td><td>1</td></tr>"
    _refused("tables.html", (TITLE + "<table>" + row * 2 + "</table>" * 1).encode() * (limits.MAX_TABLES + 1), "表格数")
    _refused("wide.html", (TITLE + '<table><tr><td colspan="999999999">x</td><td>1</td></tr></table>').encode(), "列数")
    rows = '<tr><td rowspan="0" colspan="200">x</td><td>1</td></tr>' * 3000
    _refused("spans.html", (TITLE + "<table>" + rows + "</table>").encode(), "展开后的单元格数")
    # absurd span values are cut, not fatal: a "span everything" title row in a real table
    page = TITLE + '<table><tr><td colspan="' + "9" * 400 + '">表三</td></tr><tr><td>总计</td><td>1</td></tr></table>'
    doc = read_document("span.html", page.encode())
    assert any("超过上限 256 列" in n for n in doc.notes)
    monkeypatch.setattr(html, "MAX_GRID_CELLS", 1000)  # the real limit needs a 20 MB page
    _refused("cells.html", (TITLE + "<table>" + row * 501 + "</table>").encode(), "单元格数", "1,000")


def _docx(xml_edit, extra: tuple[str, bytes] | None = None, core_edit=None) -> bytes:  # noqa: ANN001
    from docx import Document

    d = Document()
    d.add_paragraph("某局2023年政府信息公开工作年度报告")
    table = d.add_table(rows=3, cols=3)
    for r in table.rows:
        for c in r.cells:
            c.text = "1"
    buf = io.BytesIO()
    d.save(buf)
    src = zipfile.ZipFile(io.BytesIO(buf.getvalue()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for name in src.namelist():
            data = src.read(name)
            if name == "word/document.xml":
                data = xml_edit(data)
            elif name == "docProps/core.xml" and core_edit is not None:
                data = core_edit(data)
            z.writestr(name, data)
        if extra:
            z.writestr(*extra)
    return out.getvalue()


def test_hostile_word_tables() -> None:
    huge = b'<w:tc><w:tcPr><w:gridSpan w:val="999999999"/></w:tcPr>'
    _refused("span.docx", _docx(lambda x: x.replace(b"<w:tc>", huge, 1)), "列数")
    before = b'<w:tr><w:trPr><w:gridBefore w:val="999999999"/></w:trPr>'
    _refused("before.docx", _docx(lambda x: x.replace(b"<w:tr>", before, 1)), "gridBefore")

    def span_last_cell(xml: bytes) -> bytes:
        end = xml.index(b"</w:tr>")
        start = xml.rindex(b"<w:tc>", 0, end)
        return xml[:start] + huge + xml[start + len(b"<w:tc>") :]

    doc = read_document("last.docx", _docx(span_last_cell))  # a huge span on the last cell of a row is cut
    assert any("超过上限 256 列" in n for n in doc.notes)
    bomb = _docx(lambda x: x, ("word/media/zeros.bin", b"\0" * (limits.MAX_UNPACKED_BYTES + 1)))
    assert len(bomb) < 2 * 1024 * 1024
    _refused("bomb.docx", bomb, "解压后")


def test_word_dates_out_of_range_are_no_dates() -> None:
    """core.xml dates whose time zone crosses year 1 or 9999 (python-docx raises OverflowError) are not dates; the
    file is read, and a well-formed date beside them still counts."""

    def created(value: str):  # noqa: ANN202
        def core(xml: bytes) -> bytes:
            tag = f'<dcterms:created xsi:type="dcterms:W3CDTF">{value}</dcterms:created>'.encode()
            xml = re.sub(rb"<dcterms:created[^>]*>[^<]*</dcterms:created>", b"", xml)
            return xml.replace(b"</cp:coreProperties>", tag + b"</cp:coreProperties>")

        return core

    for value in ("9999-12-31T23:59:59Z", "9999-12-31T23:59:59-12:00", "0001-01-01T00:00:00+14:00", "garbage"):
        doc = read_document("dates.docx", _docx(lambda x: x, core_edit=created(value)))
        assert "文件创建时间" not in doc.header, value
    doc = read_document("dates.docx", _docx(lambda x: x, core_edit=created("2024-01-20T02:00:00Z")))
    assert doc.header["文件创建时间"] == "2024-01-20"


def test_fetch_does_not_parse_a_page_beyond_the_limits() -> None:
    """A fetched page that is not a report is searched for attachments only within the web page reader's limits."""
    from pipeline.fetch.links import find_attachments

    link = '<a href="/files/report.pdf">附件</a>'
    page = "<html><body>" + link + "<div>" * 20_000 + "</div>" * 20_000 + "</body></html>"
    assert find_attachments(page.encode(), "http://example.gov.cn/a.html") == []
    ordinary = "<html><body>" + link + "<div>x</div>" * 5_000 + "</body></html>"
    assert [a.url for a in find_attachments(ordinary.encode(), "http://example.gov.cn/a.html")] == [
        "http://example.gov.cn/files/report.pdf"
    ]


def test_many_word_rows_are_read_in_linear_time() -> None:
    def repeat_rows(xml: bytes) -> bytes:
        start, end = xml.index(b"<w:tr"), xml.index(b"</w:tr>") + len(b"</w:tr>")
        return xml[:end] + xml[start:end] * 5_000 + xml[end:]

    doc = read_document("rows.docx", _docx(repeat_rows))  # was quadratic: every row counted the rows before it
    assert sum(1 for r in doc.rows if r.table == 1) == 5_003


def test_pdf_page_count_and_damaged_pages() -> None:
    pdf = pdfium.PdfDocument.new()
    for _ in range(limits.MAX_PAGES + 1):
        pdf.new_page(100, 100)
    buf = io.BytesIO()
    pdf.save(buf)
    _refused("pages.pdf", buf.getvalue(), "PDF 页数", "300")


def test_image_pixels_and_frames_are_checked_from_the_header() -> None:
    ihdr = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 2, 0, 0, 0)
    png = b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + b"IHDR" + ihdr + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    _refused("giant.png", png + b"\0\0\0\0IEND\xaeB`\x82", "像素数")
    frames = [Image.new("L", (8, 8), 255) for _ in range(limits.MAX_OCR_PAGES + 1)]
    buf = io.BytesIO()
    frames[0].save(buf, format="TIFF", save_all=True, append_images=frames[1:])
    _refused("frames.tif", buf.getvalue(), "帧数")
    with pytest.raises(ReadError, match="图片"):
        read_document("broken.tif", buf.getvalue()[:40])


def test_a_refusal_reaches_the_caller_as_a_read_error() -> None:
    with pytest.raises(ReadError, match="超过上限"):
        parse_file("deep.html", ("<div>" * 30_000 + TITLE).encode())
