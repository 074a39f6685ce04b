"""``xxgk fetch`` on the command line: URLs and --list, human and JSON output, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pipeline import cli, store
from pipeline.store import Database
from tests.fetch_server import FetchServer

runner = CliRunner()


@pytest.fixture
def server():
    with FetchServer() as srv:
        yield srv
    Database.close_all()


def test_fetch_prints_one_line_per_url_and_a_summary(server: FetchServer, tmp_path: Path) -> None:
    db = tmp_path / "x.duckdb"
    urls = [server.url("/report.html"), server.url("/missing.html")]
    res = runner.invoke(cli.app, ["fetch", *urls, "--db", str(db), "--delay", "0.5", "--retries", "0"])
    assert res.exit_code == 1, res.output  # one URL failed
    out = res.stdout
    assert f"✓ {urls[0]}" in out and f"✗ {urls[1]}: HTTP 404" in out
    assert "四川省自然资源厅" in out and "抓取结果" in out and "网址 成功 / 失败" in out
    assert str(tmp_path / "fetched") in out.replace("\n", "")
    assert Database(db).execute("SELECT count(*) FROM reports") == [(1,)]


def test_fetch_list_file_and_json(server: FetchServer, tmp_path: Path) -> None:
    listing = tmp_path / "urls.txt"
    listing.write_text(f"# 年报网址\n\n{server.url('/report.html')}\n{server.url('/old-address')}\n", encoding="utf-8")
    out_dir = tmp_path / "downloads"
    res = runner.invoke(cli.app, ["fetch", "--list", str(listing), "--db", str(tmp_path / "x.duckdb"),
                                  "--out", str(out_dir), "--delay", "0.5", "--json"])  # fmt: skip
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert [u["ok"] for u in data["urls"]] == [True, True]
    first, second = (u["documents"][0] for u in data["urls"])
    assert first["report_id"] == second["report_id"] and first["status"] == store.LOADED
    assert second["status"] == store.LOADED  # the same file (one ingest) serves both addresses
    assert data["out_dir"] == str(out_dir) and list(out_dir.glob("*.html"))
    assert data["requests"] == 4 and data["retries"] == 0  # robots.txt, /report.html, /old-address → /report.html


def test_fetch_without_urls_is_a_usage_error(tmp_path: Path) -> None:
    res = runner.invoke(cli.app, ["fetch", "--db", str(tmp_path / "x.duckdb")])
    assert res.exit_code == 2 and "没有网址" in res.output
    res = runner.invoke(cli.app, ["fetch", "--list", str(tmp_path / "nope.txt")])
    assert res.exit_code == 2 and "无法读取" in res.output
    res = runner.invoke(cli.app, ["fetch", "https://example.gov.cn/", "--delay", "0.1"])
    assert res.exit_code == 2  # below the politeness floor
