"""Copied text on a generated corpus with known copies: precision and recall, uncopied reports near 0,
incremental = rebuild, replaced versions, the read queries and the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import polars as pl
import pytest
from typer.testing import CliRunner

from pipeline import narrative
from pipeline.cli import app
from pipeline.filters import Filters
from pipeline.reuse import engine, queries
from pipeline.reuse import signature as sig
from pipeline.store import Database
from tests import narrative_corpus

# The corpus has 50 reports a year: formulaic sentences (the requests-received sentence, the fee sentence) are
# used by fewer than the production bucket cap of 20, so the tests recompute with a cap that fits the corpus.
TEST_BUCKET = 5


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> narrative_corpus.Corpus:
    built = narrative_corpus.build(tmp_path_factory.mktemp("reuse"))
    with Database(built.db).write() as session:
        engine.update(session.con, rebuild=True, common_bucket=TEST_BUCKET)
    return built


def shared_truth(corpus: narrative_corpus.Corpus) -> dict[tuple[str, int], set[str]]:
    """Normalised sentences each report shares with another by construction: what it copied, and (for copies from
    another agency of the same year, whose direction text alone cannot tell) what was copied from it."""
    shared: dict[tuple[str, int], set[str]] = {}
    for (agency, year), truth in corpus.truth.items():
        for copy in truth.get("copied", []):
            shared.setdefault((agency, year), set()).add(sig.normalise(copy["text"], agency))
            if copy["kind"] == "other":
                source = (copy["source"]["agency"], copy["source"]["year"])
                shared.setdefault(source, set()).add(sig.normalise(copy["text"], agency))
    return shared


def detection(corpus: narrative_corpus.Corpus) -> tuple[int, int, int, list[int]]:
    """(true positives, false positives, false negatives, ids of reports that share nothing by construction)."""
    truth = shared_truth(corpus)
    db = Database(corpus.db)
    matched = set(db.execute(
        "SELECT m.report_id, m.pno FROM reuse_matches m JOIN reuse_passages p USING (report_id, pno)"
        " WHERE NOT p.common"))  # fmt: skip
    reports = db.execute("SELECT report_id, agency, year FROM reports")
    sections = db.execute("SELECT report_id, section, text FROM sections")
    texts: dict[int, dict[str, str]] = {}
    for rid, section, text in sections:
        texts.setdefault(rid, {})[section] = text
    tp = fp = fn = 0
    clean = []
    for rid, agency, year in reports:
        expected = truth.get((agency, year), set())
        if not expected:
            clean.append(rid)
        by_number = {(p.section, p.number): p.text for s in narrative.SECTIONS
                     for p in narrative.passages(s, texts[rid].get(s))}  # fmt: skip
        found = 0
        for p in sig.report_passages(texts[rid], agency):
            copied = sig.normalise(by_number[(p.section, p.number)], agency) in expected
            found += copied
            predicted = (rid, p.pno) in matched
            tp += copied and predicted
            fp += predicted and not copied
            fn += copied and not predicted
        assert found == len(expected), f"every copied sentence of {agency} {year} is read back as a passage"
    return tp, fp, fn, clean


def test_precision_and_recall_on_known_copies(corpus: narrative_corpus.Corpus) -> None:
    tp, fp, fn, _ = detection(corpus)
    assert tp > 300  # the corpus copies hundreds of sentences
    precision, recall = tp / (tp + fp), tp / (tp + fn)
    assert precision >= 0.9, (tp, fp, fn)
    assert recall >= 0.95, (tp, fp, fn)


def test_an_uncopied_report_scores_about_zero(corpus: narrative_corpus.Corpus) -> None:
    _, _, _, clean = detection(corpus)
    db = Database(corpus.db)
    shares = db.execute("SELECT copied_share FROM reuse_reports WHERE list_contains(?, report_id)", [clean])
    copiers = db.execute(
        "SELECT avg(copied_share) FROM reuse_reports WHERE NOT list_contains(?, report_id)", [clean]
    )[0][0]
    assert len(shares) == len(clean) > 20
    values = sorted(s for (s,) in shares)
    assert values[len(values) // 2] == 0.0  # median
    assert max(values) < 0.1
    assert copiers > 0.2


def test_incremental_equals_rebuild(corpus: narrative_corpus.Corpus, tmp_path: Path) -> None:
    """Comparing reports as they arrive (three batches, as three ingests would) gives the same result as one pass."""
    db = Database(corpus.db).flatten_to(tmp_path / "inc.duckdb")  # one file: rows changed in place below
    con = duckdb.connect(str(db))
    try:
        engine.update(con, rebuild=True, common_bucket=TEST_BUCKET)
        once = con.execute("SELECT * FROM reuse_reports ORDER BY report_id").fetchall()
        # hide reports 51.. (as if not ingested yet), compare, then bring them back in two steps
        for table in engine.TABLES:
            con.execute(f"DELETE FROM {table}")
        con.execute("UPDATE reports SET is_current = false WHERE report_id > 50")
        engine.update(con, common_bucket=TEST_BUCKET, batch=7)
        for upto in (100, 150):
            con.execute(f"UPDATE reports SET is_current = true WHERE report_id <= {upto}")
            engine.update(con, common_bucket=TEST_BUCKET, batch=16)
        again = con.execute("SELECT * FROM reuse_reports ORDER BY report_id").fetchall()
    finally:
        con.close()
    assert len(again) == len(once) == 150
    assert again == once


def test_replaced_version_drops_out(corpus: narrative_corpus.Corpus, tmp_path: Path) -> None:
    db = Database(corpus.db).flatten_to(tmp_path / "rep.duckdb")  # one file: rows changed in place below
    con = duckdb.connect(str(db))
    try:
        # the 2023 report of an agency whose 2024 report copied from 2023
        copier = next((a, y) for (a, y), t in corpus.truth.items()
                      if y == 2024 and any(c["kind"] == "previous" for c in t.get("copied", [])))  # fmt: skip
        old, new_next = (con.execute("SELECT report_id FROM reports WHERE agency = ? AND year = ?", [copier[0], y]).fetchall()[0][0]
                         for y in (2023, 2024))  # fmt: skip
        before = con.execute(
            "SELECT previous_share, previous_id FROM reuse_reports WHERE report_id = ?", [new_next]
        ).fetchall()[0]
        assert before[0] > 0 and before[1] == old
        # a new version of 2023 with the same sections replaces the old one
        new_id = con.execute("SELECT max(report_id) + 1 FROM reports").fetchall()[0][0]
        con.execute(
            "INSERT INTO reports SELECT * REPLACE (? AS report_id, sha256 || 'x' AS sha256) FROM reports WHERE report_id = ?",
            [new_id, old],
        )
        con.execute(
            "INSERT INTO sections SELECT * REPLACE (? AS report_id) FROM sections WHERE report_id = ?",
            [new_id, old],
        )
        con.execute(
            "UPDATE reports SET is_current = false, replaced_by = ? WHERE report_id = ?", [new_id, old]
        )
        result = engine.update(con, common_bucket=TEST_BUCKET)
        assert result.retired == 1 and result.added == 1
        for table in ("reuse_reports", "reuse_passages", "reuse_bands"):
            assert (
                con.execute(f"SELECT count(*) FROM {table} WHERE report_id = ?", [old]).fetchall()[0][0] == 0
            )
        assert (
            con.execute("SELECT count(*) FROM reuse_matches WHERE source_id = ?", [old]).fetchall()[0][0] == 0
        )
        after = con.execute(
            "SELECT previous_share, previous_id FROM reuse_reports WHERE report_id = ?", [new_next]
        ).fetchall()[0]
        assert after == (before[0], new_id)
    finally:
        con.close()


def test_queries_for_pages(corpus: narrative_corpus.Corpus) -> None:
    db = Database(corpus.db)
    assert db.query(queries.available) and db.query(queries.pending) == 0
    top = db.query(queries.ranking, Filters(years=(2023,)), min_share=0.3, limit=10)
    assert 0 < top.height <= 10 and set(top["year"]) == {2023}
    assert top["copied_share"].min() >= 0.3 and top["copied_share"].is_sorted(descending=True)
    other = db.query(queries.ranking, kind="other", limit=5).row(0, named=True)
    assert other["top_source_id"] is not None and other["top_source_agency"] != other["agency"]
    row, passages = db.query(queries.report_reuse, other["report_id"])
    assert row is not None and row["other_share"] == pytest.approx(other["other_share"])
    assert not passages.is_empty() and set(passages["kind"]) <= {"previous", "other"}
    assert other["top_source_id"] in passages["source_id"].to_list()
    stats = db.query(queries.summary)
    assert stats["reports"] == 150 and 0 < stats["with_copies"] < 150


def test_cli_reuse(corpus: narrative_corpus.Corpus) -> None:
    runner = CliRunner()
    out = runner.invoke(
        app, ["reuse", "--db", str(corpus.db), "--min-share", "0.5", "--format", "json", "-n", "5"]
    )
    assert out.exit_code == 0, out.output
    rows = json.loads(out.stdout)
    assert rows and all(r["copied_share"] >= 0.5 for r in rows)
    csv = runner.invoke(app, ["reuse", "--db", str(corpus.db), "--kind", "previous", "--format", "csv"])
    assert csv.exit_code == 0
    frame = pl.read_csv(csv.stdout_bytes)
    assert frame.columns[:3] == ["报告编号", "机关", "年度"]
    assert runner.invoke(app, ["reuse", "--db", str(corpus.db), "--kind", "x"]).exit_code != 0
