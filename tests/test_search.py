"""Full-text search: the index built by ingest, its answers against a brute-force scan, filters, versions, CSV, CLI."""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from pipeline import narrative, search
from pipeline.cli import app
from pipeline.filters import Filters
from pipeline.ingest import ingest
from pipeline.search.export import hits_frame, safe_csv_bytes
from pipeline.store import Database
from tests import narrative_corpus


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> narrative_corpus.Corpus:
    return narrative_corpus.build(tmp_path_factory.mktemp("search"))


@pytest.fixture()
def index(corpus: narrative_corpus.Corpus):
    con = search.connect(search.index_path(corpus.db))
    yield con
    con.close()


def brute_force(db: Path, terms: list[str], filters: Filters | None = None) -> set[tuple[int, str, int]]:
    """(report, section, paragraph) of every current narrative paragraph containing every term, by plain scanning."""
    where, params = (filters or Filters()).where("r")
    rows = Database(db).execute(
        f"SELECT s.report_id, s.section, s.text FROM sections s JOIN reports r USING (report_id) WHERE {where}",
        params,
    )
    found = set()
    for rid, section, text in rows:
        for n, para in enumerate(narrative.paragraphs(text)):
            if all(t in para.lower() for t in terms):
                found.add((rid, section, n))
    return found


def hits(con: sqlite3.Connection, query: str, filters: Filters | None = None, **kw) -> set[tuple[int, str, int]]:
    result = search.search(con, query, filters, limit=100_000, **kw)
    return {(h.report_id, h.section, h.paragraph) for h in result.hits}


def test_ingest_builds_the_index_beside_the_store(corpus: narrative_corpus.Corpus, index: sqlite3.Connection) -> None:
    assert search.index_path(corpus.db) == corpus.db.with_name("x.duckdb.search.sqlite")
    assert index.execute("SELECT count(*) FROM reports").fetchone()[0] == 150
    assert search.lag(corpus.db) == 0
    assert index.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


@pytest.mark.parametrize(
    "query", ["信息处理费", "政务公开专区建设", "政府开放日 培训", "公开", "费", "g", "第三方 评估"]
)
def test_answers_equal_a_brute_force_scan(
    corpus: narrative_corpus.Corpus, index: sqlite3.Connection, query: str
) -> None:
    expected = brute_force(corpus.db, query.lower().split())
    assert hits(index, query) == expected
    if query != "g":
        assert expected, "the corpus should contain the query"


def test_hit_shows_report_section_and_highlighted_passage(index: sqlite3.Connection) -> None:
    result = search.search(index, "信息处理费", limit=5)
    assert result.total > 0 and len(result.hits) == 5
    for hit in result.hits:
        assert hit.agency and hit.year in (2022, 2023, 2024) and hit.section in narrative.SECTIONS
        assert hit.spans and all(hit.text[a:b] == "信息处理费" for a, b in hit.spans)
        assert "【信息处理费】" in hit.marked()
    row = hits_frame(result).row(0, named=True)
    assert row["link"] == f"/report?report={row['report_id']}&section={row['section']}"


def test_excerpt_is_a_window_around_the_match() -> None:
    text = "甲" * 300 + "信息处理费" + "乙" * 300
    hit = search.Hit(1, "机关", 2024, "六", 0, text, search.query.spans(text, ["信息处理费"]))
    marked = hit.marked(width=60)
    assert marked.startswith("…") and marked.endswith("…") and "【信息处理费】" in marked
    assert len(marked) < 80


def test_filters_are_respected(corpus: narrative_corpus.Corpus, index: sqlite3.Connection) -> None:
    by_year = Filters(years=(2023,))
    assert hits(index, "公开", by_year) == brute_force(corpus.db, ["公开"], by_year)
    agency = next(a for a, y in corpus.truth if y == 2024)
    narrow = Filters(agencies=(agency,))  # few reports: answered from the reports' own paragraphs
    found = hits(index, "信息公开", narrow)
    assert found and found == brute_force(corpus.db, ["信息公开"], narrow)
    quality = Filters(quality="fail")
    assert hits(index, "公开", quality) == set()  # error_share = 0: no report fails a hard check


def test_query_errors() -> None:
    with pytest.raises(search.QueryError):
        search.parse_query("   ")
    with pytest.raises(search.QueryError):
        search.parse_query("公" * 201)
    assert search.parse_query('"信息 公开" 费 费') == ["信息 公开", "费"]


def test_replaced_versions_drop_out_and_a_rebuilt_store_is_noticed(
    corpus: narrative_corpus.Corpus, tmp_path: Path
) -> None:
    db = tmp_path / "copy.duckdb"
    Database(corpus.db).copy_to(db)
    shutil.copyfile(search.index_path(corpus.db), search.index_path(db))
    # a corrected version of one report: same agency and year, one new sentence in section 五
    source = next(corpus.root.rglob("*_2023.txt"))
    text = source.read_text(encoding="utf-8")
    fixed = tmp_path / "fixed" / source.name
    fixed.parent.mkdir()
    anchor = re.search(r"\n五、[^\n]*\n", text)
    assert anchor
    fixed.write_text(
        text[: anchor.end()] + "本年度新增更正说明：核对校正全部统计口径。\n" + text[anchor.end() :],
        encoding="utf-8",
    )
    manifest = (corpus.root / "manifest.csv").read_text(encoding="utf-8").splitlines()
    row = next(line for line in manifest if source.name in line)
    (fixed.parent / "m.csv").write_text(
        manifest[0] + "\n" + row.replace(row.split(",")[0], source.name) + "\n", encoding="utf-8"
    )
    summary = ingest([fixed], db=db, manifest=fixed.parent / "m.csv")
    assert summary.counts["replaced"] == 1
    con = search.connect(search.index_path(db))
    try:
        new = hits(con, "核对校正全部统计口径")
        assert len({rid for rid, _, _ in new}) == 1
        old_id = con.execute("SELECT report_id FROM reports WHERE is_current = 0").fetchall()
        assert len(old_id) == 1
        everything = hits(con, "信息公开", current_only=False)
        current = hits(con, "信息公开")
        assert {r for r, _, _ in everything} - {r for r, _, _ in current} == {old_id[0][0]}
    finally:
        con.close()
    # the store is rebuilt from scratch at the same path: ids are reused, the index notices and rebuilds
    db.unlink()
    ingest([fixed], db=db, manifest=fixed.parent / "m.csv")
    con = search.connect(search.index_path(db))
    try:
        assert con.execute("SELECT count(*) FROM reports").fetchone()[0] == 1
        assert hits(con, "核对校正全部统计口径")
    finally:
        con.close()


def test_history_flags_are_compared_through_a_partial_index(corpus: narrative_corpus.Corpus, tmp_path: Path) -> None:
    """An index from before the partial index ``reports_history`` gets it at its next sync, which then reads the
    replaced versions through it (not one row per report) and still corrects every flag that differs."""
    db = tmp_path / "h.duckdb"
    Database(corpus.db).copy_to(db)
    shutil.copyfile(search.index_path(corpus.db), search.index_path(db))
    con = sqlite3.connect(search.index_path(db))
    con.execute("DROP INDEX reports_history")
    con.execute("UPDATE reports SET is_current = 0 WHERE report_id IN (3, 40)")  # not so in the store
    con.commit()
    con.close()
    assert Database(db).execute("SELECT count(*) FROM reports WHERE NOT is_current") == [(0,)]
    result = search.sync(db)
    assert result.added == 0 and result.retired == 0
    con = search.connect(search.index_path(db))
    try:
        plan = con.execute("EXPLAIN QUERY PLAN SELECT report_id FROM reports WHERE NOT is_current").fetchall()
        assert "reports_history" in str(plan)
        assert con.execute("SELECT count(*) FROM reports WHERE NOT is_current").fetchone()[0] == 0
    finally:
        con.close()


def test_rebuild_gives_the_same_index(corpus: narrative_corpus.Corpus, tmp_path: Path) -> None:
    db = tmp_path / "r.duckdb"
    Database(corpus.db).copy_to(db)
    result = search.sync(db, rebuild=True)
    assert result.rebuilt and result.added == 150
    a, b = search.connect(search.index_path(corpus.db)), search.connect(search.index_path(db))
    try:
        for query in ("公开", "信息处理费", "费"):
            assert hits(a, query) == hits(b, query)
    finally:
        a.close()
        b.close()


def test_csv_is_excel_safe() -> None:
    hit = search.Hit(7, '=HYPERLINK("http://x")', 2024, "一", 0, "@SUM(1) 信息公开", [(8, 12)])
    result = search.SearchResult("信息公开", ["信息公开"], hits=[hit], total=1)
    data = safe_csv_bytes(hits_frame(result))
    assert data.startswith(b"\xef\xbb\xbf")
    text = data.decode("utf-8-sig")
    assert "'=HYPERLINK" in text and ",'@SUM(1) 【信息公开】" in text
    for cell in ("-1+1", "+1", "\tx", "\rx"):
        frame = hits_frame(search.SearchResult("x", ["x"], hits=[search.Hit(1, cell, 2024, "一", 0, "x", [])]))
        assert safe_csv_bytes(frame).decode("utf-8-sig").splitlines()[1].split(",")[1].startswith(("'", "\"'"))


def test_cli_search(corpus: narrative_corpus.Corpus) -> None:
    runner = CliRunner()
    out = runner.invoke(
        app, ["search", "信息处理费", "--db", str(corpus.db), "--year", "2023", "--format", "json", "-n", "3"]
    )
    assert out.exit_code == 0, out.output
    data = json.loads(out.stdout)
    assert data["total"] > 0 and len(data["hits"]) == 3 and {h["year"] for h in data["hits"]} == {2023}
    csv = runner.invoke(app, ["search", "公开", "--db", str(corpus.db), "--format", "csv", "-n", "2"])
    assert csv.exit_code == 0 and csv.stdout.splitlines()[0].lstrip("\ufeff").startswith("报告编号,机关")
    bad = runner.invoke(app, ["search", "  ", "--db", str(corpus.db)])
    assert bad.exit_code == 2
    table = runner.invoke(app, ["search", "--rebuild", "--db", str(corpus.db)])
    assert table.exit_code == 0 and "已重建" in table.output


def test_store_ids_unchanged_by_search(corpus: narrative_corpus.Corpus) -> None:
    """The index only reads the store: the DuckDB file has no search tables."""
    con = duckdb.connect(str(corpus.db), read_only=True)
    try:
        names = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    finally:
        con.close()
    assert not any(n.startswith(("tri", "grams", "passages")) for n in names)


def test_a_write_does_not_pay_for_an_old_backlog(
    corpus: narrative_corpus.Corpus, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A store copied without its index: a one-file ingest indexes nothing old beyond the inline limit, says so
    on the CLI, and ``xxgk search --rebuild`` catches up; within the limit the write brings the index up to date."""
    from pipeline.store import database

    db = tmp_path / "noindex.duckdb"
    Database(corpus.db).copy_to(db)  # the store without its .search.sqlite
    source = next(corpus.root.rglob("*_2023.txt"))
    one = tmp_path / "one" / source.name
    one.parent.mkdir()
    one.write_text(source.read_text(encoding="utf-8") + "\n本年度另行补充说明一则。\n", encoding="utf-8")
    monkeypatch.setattr(database, "SEARCH_BACKLOG_INLINE", 100)  # the copied store holds 150 reports
    result = CliRunner().invoke(app, ["ingest", str(one), "--db", str(db)])
    assert result.exit_code == 0, result.output
    assert "全文检索索引缺少 150 份较早入库的报告" in result.output and "xxgk search --rebuild" in result.output
    assert not search.index_path(db).exists()  # nothing was indexed by the one-file ingest
    assert search.sync(db).added == 151 and search.lag(db) == 0
    monkeypatch.setattr(database, "SEARCH_BACKLOG_INLINE", 200)
    search.index_path(db).unlink()
    two = tmp_path / "two" / source.name
    two.parent.mkdir()
    two.write_text(source.read_text(encoding="utf-8") + "\n本年度另行补充说明两则。\n", encoding="utf-8")
    summary = ingest([two], db=db)
    assert summary.search_note is None and search.lag(db) == 0  # 151 old reports ≤ 200: indexed by the write
