"""导入 page, 按网址导入: the URL box fetches from a local server in a child process and lists each URL's result."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from pipeline.fetch.background import parse_url_box, run_fetch
from pipeline.store import Database
from tests import shown_tables
from tests.fetch_server import FetchServer


@pytest.fixture
def server():
    with FetchServer() as srv:
        yield srv
    Database.close_all()


def _shown(markdown: str) -> str:
    """Text as the reader sees it (the page escapes user-supplied text for Markdown)."""
    return re.sub(r"\\(.)", r"\1", markdown)


def _texts(at: AppTest) -> dict[str, str]:
    texts = {
        "success": "\n".join(e.value for e in at.success),
        "error": "\n".join(e.value for e in at.error),
        "warning": "\n".join(e.value for e in at.warning),
        "links": "\n".join([p.proto.label for p in at.get("page_link")] + [m.value for m in at.markdown]),
        "captions": "\n".join(c.value for c in at.caption),
    }
    return {name: _shown(value) for name, value in texts.items()}


def test_url_box_fetches_ingests_and_lists_each_url(server: FetchServer, tmp_path: Path, monkeypatch) -> None:
    db = tmp_path / "db" / "x.duckdb"
    monkeypatch.setenv("XXGK_DB", str(db))
    monkeypatch.setenv("XXGK_FETCH_ALLOW_PRIVATE", "1")  # the test server is on 127.0.0.1
    at = AppTest.from_file("../views/upload.py", default_timeout=120).run()
    assert not at.exception
    urls = [server.url(p) for p in ("/report.html", "/missing.html", "/private/report.html", "/mixed.html")]
    at.text_area(key="fetch_urls").input("\n".join(urls)).run()
    at.button(key="fetch_go").click().run()
    assert not at.exception, at.exception
    text = _texts(at)
    assert urls[0] in text["success"]
    assert f"{urls[1]}: HTTP 404" in text["error"] and "robots.txt" in text["error"]
    assert "报告 #1 四川省自然资源厅" in text["links"]
    assert "已入库" in text["captions"]
    assert "- 提示 [MIXED_TEMPLATE] 表二为 2021 版" in text["links"]  # the report's findings are listed
    assert (db.parent / "fetched").is_dir()
    stored = Database(db).execute("SELECT source_url FROM reports ORDER BY report_id")
    assert stored == [(urls[0],), (urls[3],)]
    assert "/private/report.html" not in server.paths()


def test_url_box_refuses_the_local_network_by_default(server: FetchServer, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("XXGK_DB", str(tmp_path / "x.duckdb"))
    monkeypatch.delenv("XXGK_FETCH_ALLOW_PRIVATE", raising=False)
    at = AppTest.from_file("../views/upload.py", default_timeout=120).run()
    at.text_area(key="fetch_urls").input(server.url("/report.html")).run()
    at.button(key="fetch_go").click().run()
    assert "内网或本机" in _texts(at)["error"]
    assert server.paths() == []


def test_url_box_limits(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("XXGK_DB", str(tmp_path / "x.duckdb"))
    at = AppTest.from_file("../views/upload.py", default_timeout=60).run()
    at.button(key="fetch_go").click().run()
    assert "至少一个网址" in _texts(at)["warning"]
    many = "\n".join(f"https://example.gov.cn/{i}.html" for i in range(21))
    at.text_area(key="fetch_urls").input(many).run()
    at.button(key="fetch_go").click().run()
    assert "一次最多 20 个网址" in _texts(at)["error"]
    assert parse_url_box(" https://a.cn/1 , https://a.cn/2\n\nhttps://a.cn/3 ") == [
        "https://a.cn/1", "https://a.cn/2", "https://a.cn/3"
    ]  # fmt: skip


def test_time_budget_stops_the_child(server: FetchServer, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("XXGK_FETCH_ALLOW_PRIVATE", "1")
    server.slow_seconds = 10.0
    result = run_fetch([server.url("/slow.html")], tmp_path / "x.duckdb", budget=3.0)
    assert "时间上限 3 秒" in result["error"]


def test_report_page_shows_the_fetch_provenance(server: FetchServer, tmp_path: Path, monkeypatch) -> None:
    from pipeline.fetch import FetchSettings, fetch_reports

    db = tmp_path / "x.duckdb"
    run = fetch_reports([server.url("/old-address")], db=db, settings=FetchSettings(delay=0.05))
    rid = run.results[0].documents[0].report_id
    monkeypatch.setenv("XXGK_DB", str(db))
    at = AppTest.from_file("../app.py", default_timeout=60)
    at.query_params["report"] = str(rid)
    at.run()
    at.switch_page("views/report.py").run()
    assert not at.exception, at.exception
    shown = shown_tables.table_with(at, "项目", "内容")
    meta = dict(zip(shown["项目"], shown["内容"], strict=True))
    assert meta["来源网址"] == server.url("/report.html")
    assert meta["抓取时间（UTC）"].startswith(run.results[0].documents[0].fetched_at[:10])
