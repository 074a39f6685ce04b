"""The parts of ``xxgk fetch`` on their own: attachment links, document types, robots rules, the manifest column."""

from __future__ import annotations

import io
import zipfile
from datetime import UTC, datetime

import pytest

from pipeline.fetch.client import FetchError, Response, check_url
from pipeline.fetch.documents import document_type
from pipeline.fetch.links import find_attachments
from pipeline.fetch.politeness import rules_from_response, user_agent
from pipeline.manifest import ManifestError, load_manifest
from tests.fetch_server import FETCH, HTML

PAGE = "https://www.example.gov.cn/col/nb/art_1.html"


def response(data: bytes, url: str = "https://example.gov.cn/f", content_type: str | None = None,
             disposition: str | None = None) -> Response:  # fmt: skip
    return Response(url, url, 200, content_type, disposition, data, datetime.now(UTC), 1)


def test_attachments_of_a_notice_page() -> None:
    found = find_attachments((FETCH / "index_pdf.html").read_bytes(), PAGE)
    assert [(a.url, a.unsupported) for a in found] == [
        ("https://www.example.gov.cn/files/2024/report.pdf", False),  # fragment dropped, relative resolved
        ("https://www.example.gov.cn/files/2024/statistics.xls", True),
    ]


def test_download_servlet_viewer_and_base_href() -> None:
    (servlet,) = find_attachments((FETCH / "index_docx.html").read_bytes(), PAGE)
    assert servlet.url == "https://www.example.gov.cn/download.jsp?id=7" and "下载" in servlet.text
    (viewer,) = find_attachments((FETCH / "index_viewer.html").read_bytes(), PAGE)
    assert viewer.url == "https://www.example.gov.cn/files/2024/report.pdf"


def test_pages_without_attachments() -> None:
    assert find_attachments((HTML / "f_not_report_news.html").read_bytes(), PAGE) == []
    assert find_attachments(b"\x00\x01 not html at all", PAGE) == []


def _zip(names: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in names.items():
            z.writestr(name, data)
    return buf.getvalue()


def test_document_types_come_from_the_bytes() -> None:
    import xlsxwriter
    from docx import Document

    docx = io.BytesIO()
    Document().save(docx)
    xlsx = io.BytesIO()
    book = xlsxwriter.Workbook(xlsx)
    book.add_worksheet().write(0, 0, "表三")
    book.close()
    ofd = _zip({"OFD.xml": b"<ofd:OFD/>", "Doc_0/Document.xml": b"<ofd:Document/>"})
    assert document_type(response(b"%PDF-1.7\n...", url="https://x.cn/download?id=1")) == (".pdf", None)
    assert document_type(response(docx.getvalue(), disposition='attachment; filename="a.pdf"'))[0] == ".docx"
    assert "Excel" in document_type(response(xlsx.getvalue(), url="https://x.cn/a.docx"))[1]
    assert "OFD" in document_type(response(ofd))[1]
    assert "ZIP" in document_type(response(_zip({"a.txt": b"x"})))[1]
    assert document_type(response(b"\x89PNG\r\n\x1a\n....")) == (".png", None)
    assert document_type(response(b"<p>hi</p>", content_type="text/html; charset=gbk")) == (".html", None)
    assert "为空" in document_type(response(b"  \n"))[1]
    assert "不支持" in document_type(response(b"\x7fELF\x02\x01", content_type="application/x-elf"))[1]


def test_word_binary_is_doc_or_wps_by_the_address() -> None:
    ole = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504 + "WordDocument".encode("utf-16-le")
    assert document_type(response(ole, url="https://x.cn/a.wps"))[0] == ".wps"
    assert document_type(response(ole, url="https://x.cn/download?id=3"))[0] == ".doc"
    excel = ole.replace("WordDocument".encode("utf-16-le"), "Workbook".encode("utf-16-le"))
    assert "Excel" in document_type(response(excel))[1]


def test_robots_rules_follow_rfc_9309() -> None:
    rules = rules_from_response(200, (FETCH / "robots.txt").read_bytes())
    assert rules.allows("https://x.cn/report.html") and not rules.allows("https://x.cn/private/a.html")
    assert not rules.allows("https://x.cn/old/a.bak")  # wildcard rule
    assert rules_from_response(404, b"").allows("https://x.cn/private/a.html")  # no robots.txt: no rules
    assert not rules_from_response(503, b"").allows("https://x.cn/a.html")  # unreachable: complete disallow
    delayed = rules_from_response(200, b"User-agent: xxgk\nCrawl-delay: 7\nDisallow: /x/\n")
    assert delayed.crawl_delay() == 7.0 and not delayed.allows("https://x.cn/x/1")
    assert rules_from_response(200, b"User-agent: *\nCrawl-delay: 9999\n").crawl_delay() == 60.0
    assert user_agent().startswith("xxgk/")


@pytest.mark.parametrize("bad", ["", "example.gov.cn/a.html", "ftp://example.gov.cn/a", "http:///a", "javascript:x"])
def test_only_absolute_http_urls(bad: str) -> None:
    with pytest.raises(FetchError):
        check_url(bad)
    assert check_url(" https://Example.gov.cn/a.html#p2 ") == "https://Example.gov.cn/a.html"


def test_manifest_fetched_at_is_utc_and_checked(tmp_path) -> None:
    (tmp_path / "a.pdf").write_bytes(b"%PDF-1.4")
    manifest = tmp_path / "m.csv"
    manifest.write_text("path,url,fetched_at\na.pdf,https://x.cn/a.pdf,2025-02-01T08:30:00+08:00\n", encoding="utf-8")
    (entry,) = load_manifest(manifest).values()
    assert entry.fetched_at == datetime(2025, 2, 1, 0, 30) and entry.overrides()["url"] == "https://x.cn/a.pdf"
    manifest.write_text("path,fetched_at\na.pdf,yesterday\n", encoding="utf-8")
    with pytest.raises(ManifestError, match="第 2 行: fetched_at"):
        load_manifest(manifest)
