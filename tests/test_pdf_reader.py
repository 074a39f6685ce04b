"""PDF reader (text layer): real reports to their truth, generated PDFs, grid details, bad files, cell crops."""

from __future__ import annotations

import io
import random

import pypdfium2 as pdfium
import pytest
from conftest import REAL, REAL_CASES, load_truth

from pipeline.dashboard.source import crop_cell_png
from pipeline.generator.blocks import Block, Table, TableCell
from pipeline.generator.corpus import CorpusConfig, iter_truths
from pipeline.generator.render_pdf import blocks_to_pdf, render_pdf
from pipeline.parse import parse_file
from pipeline.readers import ReadError, read_document


def _facts_diff(result_json: dict, truth: dict) -> list[tuple[str, object, object]]:
    facts = result_json["facts"]
    return [(k, v, facts.get(k, "MISSING")) for k, v in truth["facts"].items() if facts.get(k, "MISSING") != v]


@pytest.mark.parametrize("case", REAL_CASES)
def test_real_pdf_parses_to_truth(shared_dir, case):
    folder = REAL / case
    result = parse_file(folder / "source.pdf")
    truth = load_truth(folder / "truth.facts.json")
    assert result.format == "pdf"
    assert _facts_diff(result.to_json(), truth) == []
    for key in ("agency", "year", "edition", "table3_layout"):
        assert result.to_json()["meta"][key] == truth["meta"][key]


def test_real_03_wrong_table4_flagged_as_printed(shared_dir):
    result = parse_file(REAL / "03_hongze_qzf_2023" / "source.pdf")
    facts = result.to_json()["facts"]
    assert (facts["t4.review.upheld"], facts["t4.review.corrected"], facts["t4.review.total"]) == (10, 1, 0)
    assert any(f.rule == "T4-1" and f.severity == "error" for f in result.findings)


def test_real_pdf_rows_have_provenance_and_grid(shared_dir):
    doc = read_document(REAL / "02_huaian_szf_2024" / "source.pdf")
    assert doc.title == "政府信息公开工作年度报告"
    table_rows = [r for r in doc.rows if r.table is not None]
    assert table_rows
    for row in doc.rows:
        xs = [c.x0 for c in row.cells]
        assert xs == sorted(xs)
        for cell in row.cells:
            assert cell.page == row.page and cell.bbox is not None and cell.loc.startswith(f"第 {cell.page} 页")
    # 表三 continues from page 4 to page 5 as the same table; its row "（七）总计" keeps seven separate numbers
    total = next(r for r in table_rows if "（七）总计" in r.text)
    assert [c.text for c in total.cells if not c.spanned][-7:] == ["2932", "53", "0", "0", "61", "4", "3050"]
    first_t3 = next(r for r in table_rows if "本年新收" in r.text)
    assert total.table == first_t3.table and total.page == 5 and first_t3.page == 4
    # 表四: fifteen numbers, none split
    t4 = next(r for r in table_rows if r.cells[0].text == "72")
    expected = [72, 64, 178, 37, 351, 13, 4, 8, 1, 26, 12, 1, 1, 6, 20]
    assert [c.text for c in t4.cells] == [str(v) for v in expected]


def _truths(n: int, seed: int) -> list:
    out = []
    for truth in iter_truths(CorpusConfig(size="tiny", seed=seed)):
        if truth.kind == "report":
            out.append(truth)
        if len(out) == n:
            break
    return out


@pytest.mark.parametrize("seed", [3, 11])
def test_generated_text_pdfs_parse_exactly(tmp_path, seed):
    for i, truth in enumerate(_truths(3, seed)):
        truth.layout = "pdf-text"
        data, ext = render_pdf(truth, random.Random(i), truth.noise)
        path = tmp_path / f"doc{i}{ext}"
        path.write_bytes(data)
        expected = truth.to_json()
        result = parse_file(path)
        assert _facts_diff(result.to_json(), expected) == [], (seed, i, truth.noise)


class _Always(random.Random):
    """An rng whose coin always lands "yes" (forces the repeated table header)."""

    def random(self) -> float:
        return 0.0


def test_blank_cells_kept_and_repeated_header_dropped(tmp_path):
    header = [TableCell("项目"), TableCell("甲"), TableCell("乙")]
    rows = [header] + [
        [TableCell(f"第{i}行"), TableCell("" if i == 5 else "0", numeric=True), TableCell(str(1000 + i), numeric=True)]
        for i in range(70)
    ]
    data = blocks_to_pdf([Block("table", table=Table(rows, [3, 1, 1], header_rows=1))], _Always(), noise=1)
    doc = read_document(tmp_path / "t.pdf", data)
    table_rows = [r for r in doc.rows if r.table is not None]
    assert len({r.page for r in table_rows}) >= 2
    assert {r.table for r in table_rows} == {table_rows[0].table}  # one table across pages
    assert sum(1 for r in table_rows if r.text == "项目 甲 乙") == 1  # the repeated header is dropped
    row5 = next(r for r in table_rows if r.cells[0].text == "第5行")
    assert [c.text for c in row5.cells] == ["第5行", "", "1005"]  # blank stays blank, not 0
    row6 = next(r for r in table_rows if r.cells[0].text == "第6行")
    assert [c.text for c in row6.cells] == ["第6行", "0", "1006"]
    assert any("接续" in n for n in doc.notes)


def test_crop_cell_png(shared_dir):
    data = (REAL / "02_huaian_szf_2024" / "source.pdf").read_bytes()
    doc = read_document("x.pdf", data)
    cell = next(c for r in doc.rows for c in r.cells if c.text == "3050")
    png = crop_cell_png(data, cell.page, cell.bbox)
    assert png.startswith(b"\x89PNG")
    from PIL import Image

    image = Image.open(io.BytesIO(png))
    assert 50 < image.width < 400 and 50 < image.height < 300


def _encrypted_pdf() -> bytes:
    from reportlab.lib import pdfencrypt
    from reportlab.pdfgen import canvas

    buf = io.BytesIO()
    c = canvas.Canvas(buf, encrypt=pdfencrypt.StandardEncryption("secret", canPrint=0))
    c.drawString(100, 700, "hello")
    c.save()
    return buf.getvalue()


def _blank_page_pdf() -> bytes:
    from reportlab.pdfgen import canvas

    buf = io.BytesIO()
    c = canvas.Canvas(buf)
    c.showPage()
    c.save()
    return buf.getvalue()


def _zero_page_pdf() -> bytes:
    pdf = pdfium.PdfDocument.new()
    buf = io.BytesIO()
    pdf.save(buf)
    return buf.getvalue()


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: b"%PDF-1.7\n" + bytes(range(256)) * 20, "损坏"),
        (lambda: _blank_page_pdf()[:200], "损坏"),
        (_encrypted_pdf, "加密"),
        (_zero_page_pdf, "没有任何页面"),
        (_blank_page_pdf, "没有可读取的文字"),
    ],
    ids=["garbage", "truncated", "encrypted", "zero-pages", "blank-page"],
)
def test_bad_pdfs_raise_clear_errors(tmp_path, make, message):
    with pytest.raises(ReadError, match=message):
        read_document(tmp_path / "bad.pdf", make())
