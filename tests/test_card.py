"""The agency report card: its numbers against the generator's truth, peers and the guard; the Word file (opens with
python-docx, holds the numbers, header and page-number footer, A4); the PDF (every font embedded, Chinese text
extracts, A4, 「示例数据」 and the page number on every page); ``xxgk card``; the 机关报告卡 page (AppTest)."""

from __future__ import annotations

import io
from pathlib import Path

import pypdfium2 as pdfium
import pytest
from docx import Document
from pypdf import PdfReader
from streamlit.testing.v1 import AppTest
from typer.testing import CliRunner

from pipeline.card.data import CardData, card_data
from pipeline.card.docx import card_docx
from pipeline.card.pdf import card_pdf
from pipeline.cli import app as cli_app
from pipeline.filters import Filters
from pipeline.store import Database
from tests import shown_tables
from tests.regional_fixtures import RegionalCorpus, build_regional

APP = str(Path(__file__).resolve().parents[1] / "app.py")
A4 = (595.3, 841.9)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> RegionalCorpus:
    return build_regional(tmp_path_factory.mktemp("card"))


@pytest.fixture(scope="module")
def card(corpus: RegionalCorpus) -> CardData:
    truth = max((t for t in corpus.members if t.year == 2023),
                key=lambda t: t.clean["t3.new_received.total"])  # fmt: skip
    data = Database(corpus.db).query(card_data, Filters(), truth.agency.name, 2023)
    assert data is not None
    return data


def truth_of(corpus: RegionalCorpus, card: CardData):
    return next(t for t in corpus.reports if (t.agency.name, t.year) == (card.agency, card.year))


def test_card_numbers_are_the_reports(corpus: RegionalCorpus, card: CardData) -> None:
    truth = truth_of(corpus, card)
    cells = dict(zip(card.cells["key"], card.cells["value"], strict=True))
    for key, value in truth.facts.items():
        if value is not None:
            assert cells[key] == pytest.approx(float(value)), key
    assert card.cells["loc"].null_count() == 0  # every number with its source location
    rate = next(r for r in card.rates if r.key == "rate.disclosure")
    granted = truth.facts["t3.granted.total"] + truth.facts["t3.partially_granted.total"]
    assert rate.numerator == granted and rate.denominator == truth.facts["t3.result_total.total"]
    assert card.timeliness in ("on_time", "late", "unknown") and card.synthetic
    assert card.copied is not None and "copied_share" in card.copied  # compared at ingest (pipeline.reuse)
    peers = [t for t in corpus.members if t.year == 2023 and t.agency.agency_type == truth.agency.agency_type
             and t.agency.level == truth.agency.level]  # fmt: skip
    assert rate.peer_reports <= len(peers)
    assert 2022 in rate.history


def test_guard_hides_small_rates(corpus: RegionalCorpus, card: CardData) -> None:
    guarded = Database(corpus.db).query(card_data, Filters(min_n=1_000_000), card.agency, card.year)
    for rate in guarded.rates:
        assert rate.value is None and rate.peer_value is None and rate.rank is None
        assert rate.guarded or rate.state != "counted"


def test_docx_opens_and_holds_the_numbers(corpus: RegionalCorpus, card: CardData) -> None:
    data = card_docx(card)
    document = Document(io.BytesIO(data))
    text = "\n".join(p.text for p in document.paragraphs)
    cells = [c.text for t in document.tables for row in t.rows for c in row.cells]
    truth = truth_of(corpus, card)
    assert card.agency in text and "示例数据，非真实机关统计" in text
    assert f"{truth.facts['t3.new_received.total']:,}" in cells
    assert "公开率" in cells and "全部单元格及其来源" in text
    section = document.sections[0]
    assert round(section.page_width.cm, 1) == 21.0 and round(section.page_height.cm, 1) == 29.7
    header = section.header.paragraphs[0].text
    assert card.agency in header and str(card.year) in header and "示例数据" in header
    assert "PAGE" in section.footer._element.xml and "数据日期" in section.footer.paragraphs[0].text
    assert len(document.inline_shapes) == 2  # the two charts


def test_pdf_fonts_embedded_text_extracts_a4_every_page_marked(card: CardData) -> None:
    data = card_pdf(card)
    reader = PdfReader(io.BytesIO(data))
    fonts = []
    for page in reader.pages:
        assert (float(page.mediabox.width), float(page.mediabox.height)) == pytest.approx(A4, abs=0.5)
        for font in page["/Resources"]["/Font"].values():
            font = font.get_object()
            descendants = font.get("/DescendantFonts")
            desc = (descendants[0].get_object() if descendants else font).get("/FontDescriptor")
            fonts.append(
                (
                    font["/BaseFont"],
                    desc is not None and any(k in desc.get_object() for k in ("/FontFile", "/FontFile2", "/FontFile3")),
                )
            )
    assert fonts and all(embedded for _name, embedded in fonts), fonts
    assert all("WenQuanYiMicroHei" in str(name) for name, _ in fonts)  # subsets of the one Chinese font
    pdf = pdfium.PdfDocument(data)
    texts = [pdf[i].get_textpage().get_text_range() for i in range(len(pdf))]
    everything = "".join(texts).replace("\r", "").replace("\n", "")
    assert card.agency in everything and "公开率" in everything and "同类机关" in everything
    for n, text in enumerate(texts, 1):
        assert "示例数据" in text and f"第 {n} 页" in text and f"{card.year} 年度" in text


def test_card_cli(corpus: RegionalCorpus, card: CardData, tmp_path: Path) -> None:
    out = tmp_path / "card.pdf"
    result = CliRunner().invoke(cli_app, ["card", card.agency, str(card.year), "-o", str(out), "--db", str(corpus.db)])
    assert result.exit_code == 0, result.output
    assert out.read_bytes().startswith(b"%PDF")
    docx = tmp_path / "card.docx"
    result = CliRunner().invoke(cli_app, ["card", card.agency, str(card.year), "--format", "docx", "-o", str(docx),
                                          "--db", str(corpus.db)])  # fmt: skip
    assert result.exit_code == 0 and Document(str(docx)).paragraphs
    missing = CliRunner().invoke(cli_app, ["card", "没有这个机关", "2023", "--db", str(corpus.db)])
    assert missing.exit_code == 1


def test_card_page(monkeypatch: pytest.MonkeyPatch, corpus: RegionalCorpus, card: CardData) -> None:
    monkeypatch.setenv("XXGK_DB", str(corpus.db))
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params["card_agency"] = card.agency
    at.query_params["card_year"] = str(card.year)
    at.switch_page("views/card.py").run()
    assert not at.exception, [e.message for e in at.exception]
    assert at.selectbox(key="card_agency").value == card.agency
    labels = {b.label for b in at.get("download_button")}
    assert {"下载 PDF（A4，可打印）", "下载 Word（.docx）"} <= labels
    cells = shown_tables.links(at, "原文位置")
    assert any(f"report={card.report['report_id']}&cell=t3." in (href or "") for href in cells)
    rates = shown_tables.table_with(at, "同类机关")
    assert "公开率" in rates["比率"].to_list()
    assert any("本机关上年报告相同" in t.value for t in at.text)  # copied-text shares (pipeline.reuse)
