"""AppTest of the 搜索 page and the copied-text views (数据质量, 报告详情) on a corpus ingested for real."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from pipeline import search
from pipeline.store import Database
from tests import narrative_corpus, shown_tables
from tests.dashboard_fixtures import build_db

APP = str(Path(__file__).resolve().parents[1] / "app.py")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> narrative_corpus.Corpus:
    return narrative_corpus.build(tmp_path_factory.mktemp("pages"))


def open_page(monkeypatch: pytest.MonkeyPatch, db: Path, page: str, query: dict | None = None) -> AppTest:
    monkeypatch.setenv("XXGK_DB", str(db))
    at = AppTest.from_file(APP, default_timeout=60)
    for k, v in (query or {}).items():
        at.query_params[k] = v
    at.run()
    at.switch_page(f"views/{page}.py").run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def html_of(at: AppTest) -> str:
    return "".join(h.proto.body for h in at.get("html"))


def test_search_page_shows_highlighted_hits_within_filters(monkeypatch: pytest.MonkeyPatch, corpus) -> None:
    at = open_page(monkeypatch, corpus.db, "search", {"q": "信息处理费", "year": "2023"})
    body = html_of(at)
    assert body.count("<mark>信息处理费</mark>") >= 10
    assert "2023 年" in body and "2022 年" not in body and "2024 年" not in body
    assert 'href="/report?report=' in body and "section=" in body
    assert any("个段落包含「信息处理费」" in c.value for c in at.caption)
    assert at.get("download_button")


def test_search_page_without_query_or_index(monkeypatch: pytest.MonkeyPatch, corpus, tmp_path: Path) -> None:
    at = open_page(monkeypatch, corpus.db, "search")
    assert at.info and "在报告正文" in at.info[0].value
    db = build_db(tmp_path / "hand.duckdb")
    for p in search.index_path(db).parent.glob(search.index_path(db).name + "*"):
        p.unlink()  # a store built before full-text search: no index beside it
    at = open_page(monkeypatch, db, "search", {"q": "公开"})
    assert any("索引尚未建立" in w.value for w in at.warning)


def test_untrusted_report_text_is_escaped(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    db = build_db(tmp_path / "evil.duckdb")
    search.sync(db)
    at = open_page(monkeypatch, db, "search", {"q": "加粗"})
    body = html_of(at)
    assert "<mark>加粗</mark>" in body
    assert "<script>" not in body and "&lt;script&gt;" in body


def test_quality_page_lists_copied_reports(monkeypatch: pytest.MonkeyPatch, corpus) -> None:
    at = open_page(monkeypatch, corpus.db, "quality", {"copy_min": "50"})
    labels = [m.label for m in at.metric]
    assert "已比对报告" in labels
    ranking = shown_tables.table_with(at, "抄袭比例")
    shares = [float(v.rstrip("%")) for v in ranking["抄袭比例"]]
    assert len(ranking) > 0 and min(shares) >= 50


def test_report_page_marks_copied_sentences_and_opens_the_linked_section(
    monkeypatch: pytest.MonkeyPatch, corpus
) -> None:
    rid, section = Database(corpus.db).execute(
        "SELECT u.report_id, p.section FROM reuse_reports u JOIN reuse_passages p USING (report_id)"
        " JOIN reuse_matches m USING (report_id, pno) WHERE NOT p.common ORDER BY u.copied_share DESC LIMIT 1"
    )[0]
    at = open_page(monkeypatch, corpus.db, "report", {"report": str(rid), "section": section})
    assert any(c.value.startswith("抄袭比对：") for c in at.caption)
    opened = [e for e in at.expander if e.label.startswith(f"第{section}部分")]
    assert opened and opened[0].proto.expanded and "句与其他报告相同" in opened[0].label
    # report text only as plain text and escaped table cells: every HTML element is a static table
    assert all(shown_tables.TABLE_MARK in h.value for h in at.get("html"))
    copied = shown_tables.table_with(at, "句子")
    assert copied["句子"].str.len_chars().min() >= 20
    assert all(href.startswith("/report?") for href in shown_tables.links(at, "来源报告", "句子"))
