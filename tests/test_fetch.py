"""``xxgk fetch`` against a local HTTP server: stored reports and provenance, attachments, politeness, errors.

Everything is served by :class:`tests.fetch_server.FetchServer` on 127.0.0.1; nothing here touches the internet.
Timing claims (rate limit, back-off) are measured from the server's own request log, not from total run time.
"""

from __future__ import annotations

import csv
import json
import random
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pipeline import store
from pipeline.fetch import FetchSettings, fetch_reports
from pipeline.generator.corpus import CorpusConfig, iter_truths
from pipeline.generator.render_docx import render_docx
from pipeline.generator.render_pdf import render_pdf
from pipeline.readers import MAX_BYTES
from pipeline.store import Database
from tests.fetch_server import HTML, FetchServer

FAST = FetchSettings(delay=0.05, retries=2, timeout=5.0, backoff=0.05)
PDF_TYPE = {"Content-Type": "application/pdf"}
DOCX_TYPE = {
    "Content-Type": "application/octet-stream",
    "Content-Disposition": 'attachment; filename="../../evil.docx"',  # must never become a file name
}


@pytest.fixture(scope="module")
def generated() -> dict[str, tuple[bytes, object]]:
    """A generated PDF and DOCX report (fixed seed) with their truths: path → (bytes, truth)."""
    truths = [t for t in iter_truths(CorpusConfig(size="tiny", seed=11)) if t.kind == "report"][:2]
    pdf, _ = render_pdf(truths[0], random.Random(1), 0)
    docx, _ = render_docx(truths[1], random.Random(2), 0)
    return {"/files/2024/report.pdf": (pdf, truths[0]), "/download.jsp?id=7": (docx, truths[1])}


@pytest.fixture
def server(generated):
    documents = {
        "/files/2024/report.pdf": (generated["/files/2024/report.pdf"][0], PDF_TYPE),
        "/download.jsp?id=7": (generated["/download.jsp?id=7"][0], DOCX_TYPE),
    }
    with FetchServer(documents) as srv:
        yield srv
    Database.close_all()


def q(db: Path, sql: str, params: list | None = None) -> list[tuple]:
    return Database(db).execute(sql, params)


def now_utc() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


# ---------------------------------------------------------------------------------------------------------------
# Reports and provenance


def test_report_page_is_stored_with_url_and_fetch_time(server: FetchServer, tmp_path: Path) -> None:
    db = tmp_path / "x.duckdb"
    before = now_utc().replace(microsecond=0)
    run = fetch_reports([server.url("/report.html")], db=db, settings=FAST)
    after = now_utc()
    (result,) = run.results
    assert result.ok, result.error
    truth = json.loads((HTML / "b_2019_sichuan_zrzyt_gbk.truth.json").read_text(encoding="utf-8"))["meta"]
    rows = q(db, "SELECT report_id, agency, year, source_url, fetched_at, source_path, sha256 FROM reports")
    assert len(rows) == 1
    rid, agency, year, source_url, fetched_at, source_path, sha = rows[0]
    assert (agency, year) == (truth["agency"], truth["year"])
    assert source_url == server.url("/report.html")
    assert before <= fetched_at <= after
    # The raw bytes are kept as served (GBK, no charset header): the HTML reader detects the encoding itself.
    served = (HTML / "b_2019_sichuan_zrzyt_gbk.html").read_bytes()
    assert Path(source_path).read_bytes() == served
    assert Path(source_path).name == f"{sha}.html" and Path(source_path).parent == tmp_path / "fetched"
    sidecar = json.loads((tmp_path / "fetched" / f"{sha}.json").read_text(encoding="utf-8"))
    (fetch,) = sidecar["fetches"]
    assert fetch["page_url"] == fetch["url"] == fetch["final_url"] == server.url("/report.html")
    assert fetch["http_status"] == 200 and fetch["content_type"] == "text/html" and fetch["attempts"] == 1
    (doc,) = result.documents
    assert doc.report_id == rid and doc.status == store.LOADED and doc.role == "page"
    # robots.txt first, then the page; every request names xxgk.
    assert server.paths() == ["/robots.txt", "/report.html"]
    assert all(h.user_agent.startswith("xxgk/") for h in server.hits)


def test_index_page_without_tables_follows_its_pdf_attachment(server, generated, tmp_path: Path) -> None:
    db = tmp_path / "x.duckdb"
    run = fetch_reports([server.url("/index-pdf.html")], db=db, settings=FAST)
    (result,) = run.results
    assert result.ok, result.error
    truth = generated["/files/2024/report.pdf"][1]
    (doc,) = result.documents
    assert doc.role == "attachment" and doc.url == server.url("/files/2024/report.pdf")  # no #page fragment
    assert (doc.agency, doc.year) == (truth.agency.name, truth.year)
    assert q(db, "SELECT source_url, format FROM reports") == [(server.url("/files/2024/report.pdf"), "pdf")]
    # The .xls attachment is reported, not downloaded; nav links and the APP installer are not followed.
    assert any("statistics.xls" in p and "不受支持" in p for p in result.problems)
    assert server.paths() == ["/robots.txt", "/index-pdf.html", "/files/2024/report.pdf"]
    # The index page is not a report: it is not handed to ingest.
    assert q(db, "SELECT count(*) FROM ingest_log WHERE source_path LIKE '%.html'") == [(0,)]
    sidecar = json.loads(Path(doc.file).with_suffix(".json").read_text(encoding="utf-8"))
    assert sidecar["fetches"][0]["page_url"] == server.url("/index-pdf.html")
    assert sidecar["fetches"][0]["content_type"] == "application/pdf"


def test_download_servlet_docx_is_followed_and_named_by_its_hash(server, generated, tmp_path: Path) -> None:
    run = fetch_reports([server.url("/index-docx.html")], db=tmp_path / "x.duckdb", settings=FAST)
    (result,) = run.results
    assert result.ok, result.error
    (doc,) = result.documents
    truth = generated["/download.jsp?id=7"][1]
    assert (doc.agency, doc.year) == (truth.agency.name, truth.year)
    assert Path(doc.file).name == f"{doc.sha256}.docx"
    assert not list(tmp_path.rglob("evil*"))  # the server's file name never reaches the disk


def test_viewer_iframe_and_same_document_twice_are_one_report(server, tmp_path: Path) -> None:
    db = tmp_path / "x.duckdb"
    urls = [server.url("/index-viewer.html"), server.url("/index-pdf.html")]
    run = fetch_reports(urls, db=db, settings=FAST)
    assert [r.ok for r in run.results] == [True, True]
    ids = {r.documents[0].report_id for r in run.results}
    assert len(ids) == 1 and q(db, "SELECT count(*) FROM reports") == [(1,)]
    assert server.paths().count("/files/2024/report.pdf") == 2  # fetched from both pages, stored once


def test_same_url_twice_and_same_content_at_two_urls(server, tmp_path: Path) -> None:
    db = tmp_path / "x.duckdb"
    urls = [server.url("/report.html"), server.url("/report.html#top"), server.url("/copy-of-report.html")]
    run = fetch_reports(urls, db=db, settings=FAST)
    assert all(r.ok for r in run.results), [r.error for r in run.results]
    assert server.paths().count("/report.html") == 1
    assert "只抓取一次" in run.results[1].problems[0]
    assert len({r.documents[0].report_id for r in run.results}) == 1
    assert q(db, "SELECT count(*) FROM reports") == [(1,)]
    assert q(db, "SELECT count(*) FROM ingest_log") == [(1,)]  # identical bytes are one file, ingested once


def test_fetching_again_is_unchanged_and_keeps_every_fetch(server, tmp_path: Path) -> None:
    db = tmp_path / "x.duckdb"
    first = fetch_reports([server.url("/report.html")], db=db, settings=FAST)
    second = fetch_reports([server.url("/report.html")], db=db, settings=FAST)
    assert second.results[0].documents[0].status == store.UNCHANGED
    assert second.results[0].documents[0].report_id == first.results[0].documents[0].report_id
    sha = first.results[0].documents[0].sha256
    sidecar = json.loads((tmp_path / "fetched" / f"{sha}.json").read_text(encoding="utf-8"))
    assert len(sidecar["fetches"]) == 2


def test_manifest_rebuilds_the_same_provenance(server, tmp_path: Path) -> None:
    from pipeline.ingest import ingest

    db = tmp_path / "x.duckdb"
    fetch_reports([server.url("/old-address"), server.url("/index-pdf.html")], db=db, settings=FAST)
    out = tmp_path / "fetched"
    with (out / "manifest.csv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert {r["url"] for r in rows} == {server.url("/report.html"), server.url("/files/2024/report.pdf")}
    rebuilt = tmp_path / "rebuilt.duckdb"
    ingest([out], db=rebuilt, manifest=out / "manifest.csv")
    query = "SELECT sha256, source_url, fetched_at FROM reports ORDER BY sha256"
    assert q(rebuilt, query) == q(db, query)


# ---------------------------------------------------------------------------------------------------------------
# Politeness


def test_robots_txt_disallow_is_refused_without_a_request(server, tmp_path: Path) -> None:
    run = fetch_reports([server.url("/private/report.html")], db=tmp_path / "x.duckdb", settings=FAST)
    (result,) = run.results
    assert not result.ok and "robots.txt" in result.error and server.url("/private/report.html") in result.error
    assert "/private/report.html" not in server.paths()


@pytest.mark.parametrize(("status", "allowed"), [(404, True), (503, False)])
def test_robots_txt_missing_allows_unavailable_refuses(server, tmp_path: Path, status: int, allowed: bool) -> None:
    server.routes["/robots.txt"] = lambda: (status, {"Content-Type": "text/plain"}, b"")
    settings = FetchSettings(delay=0.05, retries=1, timeout=5.0, backoff=0.05)
    run = fetch_reports([server.url("/report.html")], db=tmp_path / "x.duckdb", settings=settings)
    assert run.results[0].ok is allowed
    if not allowed:
        assert "RFC 9309" in run.results[0].error and "/report.html" not in server.paths()
        assert server.paths() == ["/robots.txt", "/robots.txt"]  # a 5xx is retried like any request


def test_rate_limit_between_requests_to_one_host(server, tmp_path: Path) -> None:
    settings = FetchSettings(delay=0.4, retries=0, timeout=5.0)
    urls = [server.url(p) for p in ("/report.html", "/missing.html", "/news.html", "/index-pdf.html")]
    fetch_reports(urls, db=tmp_path / "x.duckdb", settings=settings)
    gaps = server.gaps()
    assert len(gaps) == 5  # robots.txt, four pages, one attachment: six requests
    # measured at the server, request arrival to request arrival: a loaded machine delays when the server notes an
    # arrival, which shortens one gap by what it lengthens the one before; the sum of the gaps is free of that
    assert sum(gaps) >= 5 * 0.4 - 0.02 and min(gaps) >= 0.4 / 2, gaps


def test_retry_with_backoff_after_503(server, tmp_path: Path) -> None:
    settings = FetchSettings(delay=0.05, retries=3, timeout=5.0, backoff=0.2)
    run = fetch_reports([server.url("/flaky.html")], db=tmp_path / "x.duckdb", settings=settings)
    assert run.results[0].ok, run.results[0].error
    assert run.retries == 2 and server.paths().count("/flaky.html") == 3
    gaps = server.gaps()[1:]  # between the three /flaky.html requests
    assert gaps[0] >= 0.2 - 0.02 and gaps[1] >= 0.4 - 0.02, gaps  # exponential: 0.2 s, then 0.4 s


def test_retries_are_bounded(server, tmp_path: Path) -> None:
    server.flaky_failures = 100
    settings = FetchSettings(delay=0.05, retries=2, timeout=5.0, backoff=0.05)
    run = fetch_reports([server.url("/flaky.html")], db=tmp_path / "x.duckdb", settings=settings)
    (result,) = run.results
    assert not result.ok and "HTTP 503" in result.error and "已尝试 3 次" in result.error
    assert server.paths().count("/flaky.html") == 3


# ---------------------------------------------------------------------------------------------------------------
# Errors: one line each, naming the URL


def test_errors_are_one_line_naming_the_url(server, tmp_path: Path) -> None:
    server.slow_seconds = 2.0
    settings = FetchSettings(delay=0.05, retries=1, timeout=0.5, backoff=0.05)
    cases = {
        "/missing.html": "HTTP 404",
        "/slow.html": "超时",
        "/news.html": "不是年报页面",
        "/index-unsupported.html": "没有 PDF/Word/WPS 附件",
        "/loop": "重定向超过",
        "/declared-huge.pdf": "文件过大",
    }
    run = fetch_reports([server.url(p) for p in cases] + ["ftp://example.org/a.pdf"], db=tmp_path / "x.duckdb",
                        settings=settings)  # fmt: skip
    for result, (path, words) in zip(run.results, cases.items(), strict=False):
        assert not result.ok
        assert words in result.error and server.url(path) in result.error, result.error
        assert "\n" not in result.error
    assert "http:// 或 https://" in run.results[-1].error
    assert server.paths().count("/slow.html") == 2  # a timeout is retried, within the bound
    unsupported = run.results[3].problems
    assert len(unsupported) == 2 and all("不受支持" in p for p in unsupported)
    assert not (tmp_path / "x.duckdb").exists() or q(tmp_path / "x.duckdb", "SELECT count(*) FROM reports") == [(0,)]


def test_oversized_body_without_length_is_cut_off(server, tmp_path: Path) -> None:
    server.stream_bytes = MAX_BYTES + 2 * 1024 * 1024
    run = fetch_reports([server.url("/huge.pdf")], db=tmp_path / "x.duckdb", settings=FAST)
    assert "文件过大" in run.results[0].error and f"{MAX_BYTES // 1024 // 1024} MB" in run.results[0].error
    assert not list(tmp_path.rglob("*.pdf"))  # nothing half-downloaded is kept


def test_redirect_records_the_final_url(server, tmp_path: Path) -> None:
    db = tmp_path / "x.duckdb"
    run = fetch_reports([server.url("/old-address")], db=db, settings=FAST)
    (doc,) = run.results[0].documents
    assert doc.url == server.url("/report.html")
    assert q(db, "SELECT source_url FROM reports") == [(server.url("/report.html"),)]
    sidecar = json.loads(Path(doc.file).with_suffix(".json").read_text(encoding="utf-8"))
    assert sidecar["fetches"][0]["redirects"] == [server.url("/old-address")]
    assert sidecar["fetches"][0]["url"] == server.url("/old-address")


def test_public_only_refuses_the_local_network(server, tmp_path: Path) -> None:
    settings = FetchSettings(delay=0.05, public_only=True)
    run = fetch_reports([server.url("/report.html")], db=tmp_path / "x.duckdb", settings=settings)
    assert "内网或本机" in run.results[0].error and server.paths() == []


def test_word_binary_without_libreoffice_is_kept_with_a_clear_message(server, tmp_path, monkeypatch) -> None:
    # The start of an OLE compound file holding a Word stream, as WPS Writer saves it (.wps).
    ole = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504 + "WordDocument".encode("utf-16-le") + b"\x00" * 512
    server.routes["/files/report.wps"] = lambda: (200, {"Content-Type": "application/octet-stream"}, ole)
    monkeypatch.setenv("PATH", str(tmp_path))  # no soffice / libreoffice on this PATH
    run = fetch_reports([server.url("/files/report.wps")], db=tmp_path / "x.duckdb", settings=FAST)
    (result,) = run.results
    assert not result.ok and any("LibreOffice" in p and ".wps" in p for p in result.problems)
    assert list((tmp_path / "fetched").glob("*.wps"))  # kept, to import once LibreOffice is installed


def test_real_pdf_attachment(shared_dir: Path, tmp_path: Path) -> None:
    """A real published report PDF (shared fixtures) behind a notice page."""
    case = shared_dir / "fixtures" / "real" / "04_hongze_qzf_2024"
    truth = json.loads((case / "truth.facts.json").read_text(encoding="utf-8"))["meta"]
    with FetchServer({"/files/2024/report.pdf": ((case / "source.pdf").read_bytes(), PDF_TYPE)}) as srv:
        run = fetch_reports([srv.url("/index-pdf.html")], db=tmp_path / "x.duckdb", settings=FAST)
    (doc,) = run.results[0].documents
    assert (doc.agency, doc.year) == (truth["agency"], truth["year"])
    Database.close_all()
