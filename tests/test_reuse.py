"""Copied text on a generated corpus with known copies: precision and recall, uncopied reports near 0,
incremental = rebuild, replaced versions, the read queries and the CLI."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from pipeline import narrative
from pipeline.cli import app
from pipeline.filters import Filters
from pipeline.reuse import engine, queries
from pipeline.reuse import signature as sig
from pipeline.reuse.index import BandIndex, folder_of
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
    copiers = db.execute("SELECT avg(copied_share) FROM reuse_reports WHERE NOT list_contains(?, report_id)", [clean])[
        0
    ][0]
    assert len(shares) == len(clean) > 20
    values = sorted(s for (s,) in shares)
    assert values[len(values) // 2] == 0.0  # median
    assert max(values) < 0.1
    assert copiers > 0.2


def _rebuilt_then_first_50(con: duckdb.DuckDBPyConnection) -> list[tuple]:
    """The tables of one pass over the store (returned); then emptied, reports 51.. hidden (as if not ingested yet)
    and the first 50 compared."""
    engine.update(con, rebuild=True, common_bucket=TEST_BUCKET)
    once = con.execute("SELECT * FROM reuse_reports ORDER BY report_id").fetchall()
    for table in engine.TABLES:
        con.execute(f"DELETE FROM {table}")
    con.execute("UPDATE reports SET is_current = false WHERE report_id > 50")
    engine.update(con, common_bucket=TEST_BUCKET, batch=7)
    return once


def test_incremental_equals_rebuild(corpus: narrative_corpus.Corpus, tmp_path: Path) -> None:
    """Comparing reports as they arrive (three batches, as three ingests would) gives the same result as one pass."""
    con = duckdb.connect(str(Database(corpus.db).flatten_to(tmp_path / "inc.duckdb")))  # rows changed in place
    try:
        once = _rebuilt_then_first_50(con)
        for upto in (100, 150):
            con.execute(f"UPDATE reports SET is_current = true WHERE report_id <= {upto}")
            engine.update(con, common_bucket=TEST_BUCKET, batch=16)
        again = con.execute("SELECT * FROM reuse_reports ORDER BY report_id").fetchall()
    finally:
        con.close()
    assert len(again) == len(once) == 150
    assert again == once


def test_scoped_update_equals_rebuild(corpus: narrative_corpus.Corpus, tmp_path: Path) -> None:
    """A write session's update looks only at the reports it wrote or retired (``scope``, as Database.write passes
    it): the same tables as one pass over the store.  A scope that misses a change is caught by the count check
    and the rest is compared store-wide."""
    con = duckdb.connect(str(Database(corpus.db).flatten_to(tmp_path / "scoped.duckdb")))  # rows changed in place
    try:
        once = _rebuilt_then_first_50(con)
        con.execute("UPDATE reports SET is_current = true WHERE report_id <= 100")
        assert engine.update(con, common_bucket=TEST_BUCKET, batch=16, scope=range(51, 101)).added == 50
        assert engine.update(con, common_bucket=TEST_BUCKET, scope=range(51, 101)).added == 0  # nothing left
        con.execute("UPDATE reports SET is_current = true WHERE report_id <= 150")
        # the scope names 20 of the 50 reports that came back: the other 30 are found by the store-wide pass
        assert engine.update(con, common_bucket=TEST_BUCKET, batch=16, scope=range(101, 121)).added == 50
        again = con.execute("SELECT * FROM reuse_reports ORDER BY report_id").fetchall()
    finally:
        con.close()
    assert len(again) == len(once) == 150
    assert again == once


def _new_version(con: duckdb.DuckDBPyConnection, old: int) -> int:
    """Store a new version of report ``old`` with the same sections, replacing it (as an ingest of a corrected
    file does); returns the new report's id."""
    new_id = con.execute("SELECT max(report_id) + 1 FROM reports").fetchall()[0][0]
    con.execute("INSERT INTO reports SELECT * REPLACE (? AS report_id, sha256 || 'x' AS sha256) FROM reports"
                " WHERE report_id = ?", [new_id, old])  # fmt: skip
    con.execute(
        "INSERT INTO sections SELECT * REPLACE (? AS report_id) FROM sections WHERE report_id = ?", [new_id, old]
    )
    con.execute("UPDATE reports SET is_current = false, replaced_by = ? WHERE report_id = ?", [new_id, old])
    return int(new_id)


@pytest.mark.parametrize("scoped", [False, True], ids=["store-wide", "scoped"])
def test_replaced_version_drops_out(corpus: narrative_corpus.Corpus, tmp_path: Path, scoped: bool) -> None:
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
        new_id = _new_version(con, old)
        result = engine.update(con, common_bucket=TEST_BUCKET, scope=[old, new_id] if scoped else None)
        assert result.retired == 1 and result.added == 1
        for table in ("reuse_reports", "reuse_passages"):
            assert con.execute(f"SELECT count(*) FROM {table} WHERE report_id = ?", [old]).fetchall()[0][0] == 0
        index = BandIndex.open(folder_of(con), *con.execute("SELECT token, version FROM reuse_state").fetchall()[0])
        assert index is not None and not index.report_texts([old]) and index.report_texts([new_id])
        assert con.execute("SELECT count(*) FROM reuse_matches WHERE source_id = ?", [old]).fetchall()[0][0] == 0
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
    out = runner.invoke(app, ["reuse", "--db", str(corpus.db), "--min-share", "0.5", "--format", "json", "-n", "5"])
    assert out.exit_code == 0, out.output
    rows = json.loads(out.stdout)
    assert rows and all(r["copied_share"] >= 0.5 for r in rows)
    csv = runner.invoke(app, ["reuse", "--db", str(corpus.db), "--kind", "previous", "--format", "csv"])
    assert csv.exit_code == 0
    frame = pl.read_csv(csv.stdout_bytes)
    assert frame.columns[:3] == ["报告编号", "机关", "年度"]
    assert runner.invoke(app, ["reuse", "--db", str(corpus.db), "--kind", "x"]).exit_code != 0


def test_signatures_are_datasketch_minhashes() -> None:
    """The batch MinHash equals datasketch's MinHash of the same shingles, and batch normalisation equals one by one."""
    from datasketch import MinHash

    texts = ["２０２３年，北京市公安局全年共收到政府信息公开申请12件。", "本机关依法依规公开政府信息；", "ab"]
    normalised = sig.normalise_all(texts, "北京市公安局")
    assert normalised == [sig.normalise(t, "北京市公安局") for t in texts]
    assert normalised[0].startswith("0年〇全年")
    sets = sig.shingle_sets(normalised)
    signatures = sig.minhashes(sets)
    for text, row, size in zip(normalised, signatures, sets.sizes, strict=True):
        grams = {(text + "\0\0")[i : i + 3] for i in range(max(1, len(text) - 2))}
        assert size == len(grams)

        def number(gram: str) -> int:
            a, b, c = (ord(ch) for ch in gram)
            return int(sig.shingle_hash(np.array([(a << 42) | (b << 21) | c], dtype=np.uint64))[0])

        reference = MinHash(num_perm=sig.NUM_PERM, seed=sig.SEED, hashfunc=number)
        reference.update_batch(sorted(grams))
        assert (reference.hashvalues == row).all()
    exact = len(set(normalised[0][i : i + 3] for i in range(len(normalised[0]) - 2)))
    assert sig.pair_jaccard(sets, np.array([0]), sets, np.array([0]))[0] == 1.0 and sets.sizes[0] == exact


def test_index_runs_merge_to_the_same_lookups(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Runs merged in small chunks answer every lookup as one pass over all entries would; dead reports and retired
    keys drop out; texts survive merges."""
    from pipeline.reuse import index as idx

    monkeypatch.setattr(idx, "MERGE_CHUNK", 7)  # many key ranges per merge
    rng = np.random.default_rng(3)
    index = idx.BandIndex.create(tmp_path / "x.reuse")
    every_k, every_p = [], []
    for report in range(1, 13):
        keys = rng.integers(0, 40, 30).astype(np.int64)  # few distinct keys: buckets with many entries
        pids = idx.passage_ids(np.full(30, report), np.arange(30) % 5)
        index.add(
            keys,
            pids,
            idx.passage_ids(np.full(5, report), np.arange(5)),
            [f"r{report}p{i}" for i in range(5)],
        )
        every_k.append(keys)
        every_p.append(pids)
        if report == 8:
            index.drop_reports([5])  # the merges that follow leave report 5 out
        index.publish(np.array([3, 4], dtype=np.int64))
    assert len(index.m.runs) < 12  # merged
    k, p = np.concatenate(every_k), np.concatenate(every_p)
    want = np.arange(40, dtype=np.int64)
    got_k, got_p = index.lookup(want)
    live = (p >> 16) != 5
    retired_at_merge = np.isin(k, [3, 4])
    got = sorted(zip(got_k.tolist(), got_p.tolist(), strict=True))
    expected = sorted(zip(k[live].tolist(), p[live].tolist(), strict=True))
    assert set(got) <= set(expected) and set(expected) - set(got) <= set(zip(k[retired_at_merge].tolist(), p[retired_at_merge].tolist(), strict=True))  # fmt: skip
    assert index.report_texts([2, 5, 12]) == {
        2: [(i, f"r2p{i}") for i in range(5)],
        12: [(i, f"r12p{i}") for i in range(5)],
    }
    assert index.texts([idx.passage_ids(np.array([7]), np.array([3]))[0]]) == {7 << 16 | 3: "r7p3"}


def test_an_unpublished_session_leaves_the_index_as_published(corpus: narrative_corpus.Corpus, tmp_path: Path) -> None:
    """A write session's copy that compares a new version and is never published (kill -9, an error) leaves runs
    and a manifest beside the store; the next update of the published store deletes them and its results are those
    of a store that never saw the session."""
    db = Database(corpus.db).flatten_to(tmp_path / "s.duckdb")  # one file, so a session's copy is one file too
    con = duckdb.connect(str(db))
    try:
        engine.update(con, common_bucket=TEST_BUCKET)  # the copied store's index is rebuilt beside it
        before = con.execute("SELECT * FROM reuse_reports ORDER BY report_id").fetchall()
        published = con.execute("SELECT version FROM reuse_state").fetchall()[0][0]
    finally:
        con.close()
    folder = db.with_name(db.name + ".reuse")
    files = {p.name for p in folder.iterdir()}
    session = tmp_path / f".{db.name}.ingest-4242.tmp"  # what pipeline.store.swap names a write session's copy
    shutil.copyfile(db, session)
    con = duckdb.connect(str(session))
    try:
        old = con.execute("SELECT min(report_id) FROM reuse_reports WHERE previous_share > 0").fetchall()[0][0]
        _new_version(con, old)
        assert engine.update(con, common_bucket=TEST_BUCKET).added == 1
        assert con.execute("SELECT version FROM reuse_state").fetchall()[0][0] > published
    finally:
        con.close()
    session.unlink()  # never published
    assert {p.name for p in folder.iterdir()} > files  # the session wrote beside the live store
    con = duckdb.connect(str(db))
    try:
        assert engine.update(con, common_bucket=TEST_BUCKET).added == 0
        assert {p.name for p in folder.iterdir()} == files
        assert con.execute("SELECT * FROM reuse_reports ORDER BY report_id").fetchall() == before
    finally:
        con.close()
