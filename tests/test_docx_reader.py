"""Word reader: generated reports to their truth, merged cells, bad files."""

from __future__ import annotations

import io
import random
import shutil

import pytest

from pipeline.generator.corpus import CorpusConfig, iter_truths
from pipeline.generator.render_docx import render_docx
from pipeline.parse import parse_file
from pipeline.readers import ReadError, read_document


def test_generated_docx_parse_exactly(tmp_path):
    done = 0
    for i, truth in enumerate(iter_truths(CorpusConfig(size="tiny", seed=5))):
        if truth.kind != "report":
            continue
        truth.layout = "docx"
        data, ext = render_docx(truth, random.Random(i), truth.noise)
        path = tmp_path / f"doc{i}{ext}"
        path.write_bytes(data)
        result = parse_file(path)
        expected = truth.to_json()["facts"]
        got = result.to_json()["facts"]
        assert {k: got.get(k, "MISSING") for k in expected if got.get(k, "MISSING") != expected[k]} == {}
        assert result.format == "docx"
        done += 1
        if done == 3:
            break


def _merged_docx() -> bytes:
    from docx import Document

    document = Document()
    document.core_properties.title = "测试报告"
    document.add_paragraph("一、总体情况")
    table = document.add_table(rows=3, cols=4)
    table.cell(0, 0).merge(table.cell(2, 0)).text = "三、本年度办理结果"  # vertical merge over 3 rows
    table.cell(0, 1).merge(table.cell(0, 2)).text = "（一）予以公开"  # horizontal merge
    table.cell(0, 3).text = "5"
    table.cell(1, 1).text = "甲"
    table.cell(1, 2).text = ""
    table.cell(1, 3).text = "0"
    table.cell(2, 1).text = "乙"
    table.cell(2, 2).text = "7"
    table.cell(2, 3).text = "/"
    buf = io.BytesIO()
    document.save(buf)
    return buf.getvalue()


def test_merged_cells_become_spanned_copies(tmp_path):
    doc = read_document(tmp_path / "m.docx", _merged_docx())
    assert doc.format == "docx" and doc.title == "测试报告"
    assert doc.rows[0].table is None and doc.rows[0].cells[0].text == "一、总体情况"
    grid = [[(c.text, c.spanned, c.x0) for c in r.cells] for r in doc.rows if r.table == 1]
    assert grid == [
        [
            ("三、本年度办理结果", False, 0.0),
            ("（一）予以公开", False, 1.0),
            ("（一）予以公开", True, 2.0),
            ("5", False, 3.0),
        ],
        [("三、本年度办理结果", True, 0.0), ("甲", False, 1.0), ("", False, 2.0), ("0", False, 3.0)],
        [("三、本年度办理结果", True, 0.0), ("乙", False, 1.0), ("7", False, 2.0), ("/", False, 3.0)],
    ]
    assert "三、本年度办理结果\t（一）予以公开\t\t5" in doc.text


def test_corrupt_docx(tmp_path):
    with pytest.raises(ReadError, match="Word"):
        read_document(tmp_path / "bad.docx", b"PK\x03\x04" + b"\x00garbage" * 100)


def test_truncated_docx(tmp_path):
    with pytest.raises(ReadError, match="Word"):
        read_document(tmp_path / "cut.docx", _merged_docx()[:3000])


def test_empty_docx(tmp_path):
    from docx import Document

    buf = io.BytesIO()
    Document().save(buf)
    with pytest.raises(ReadError, match="没有文字"):
        read_document(tmp_path / "empty.docx", buf.getvalue())


def test_encrypted_office_file(tmp_path):
    ole = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 500 + "EncryptedPackage".encode("utf-16-le") + b"\x00" * 100
    with pytest.raises(ReadError, match="加密"):
        read_document(tmp_path / "secret.docx", ole)


@pytest.mark.skipif(shutil.which("soffice") is not None, reason="LibreOffice installed: .doc is converted")
def test_doc_without_libreoffice_explains(tmp_path):
    ole = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 1000
    with pytest.raises(ReadError, match="LibreOffice"):
        read_document(tmp_path / "old.doc", ole)
