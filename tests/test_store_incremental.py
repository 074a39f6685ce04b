"""A write's store-wide steps, done for what the write touched only, equal the same steps over the whole store.

A write session recomputes the cross-year findings (XY-1/XY-2) of the agencies it wrote, SUM-1 of the summary
reports whose region and year it wrote to, the copied-text tables of its own and its retired reports, and checks
its agency keys against the store's — each with the write's agencies, regions and ids as constant filters
(:mod:`pipeline.store.database`).  Here a regional corpus (every region with a summary report) is written in three
sessions plus a corrected version of one report, and everything is compared with a recomputation over the whole
store.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import duckdb
import pytest

from pipeline.generator.corpus import write_corpus
from pipeline.ingest import ingest
from pipeline.reuse import engine
from pipeline.store import Database, cells
from pipeline.store.segments import STORE_FINDINGS, open_reader
from pipeline.validator import summary
from pipeline.validator.cross_year import refresh_cross_year
from pipeline.validator.summary import refresh_summaries
from tests.regional_fixtures import config

pytestmark = pytest.mark.usefixtures("close_cached_readers")


def _files(corpus: Path) -> list[Path]:
    return sorted(p for p in corpus.rglob("*") if p.suffix in (".txt", ".html") and p.is_file())


def _corrected(corpus: Path, out: Path) -> tuple[Path, Path]:
    """A corrected version of one member report (same agency and year, one more sentence) and its manifest."""
    manifest = (corpus / "manifest.csv").read_text(encoding="utf-8")
    rows = list(csv.DictReader(io.StringIO(manifest)))
    row = next(r for r in rows if "汇总" not in (r.get("agency") or "") and r["path"].endswith(".txt"))
    source = corpus / row["path"]
    fixed = out / source.name
    fixed.parent.mkdir(parents=True)
    fixed.write_text(source.read_text(encoding="utf-8") + "\n本年度另行补充说明一则。\n", encoding="utf-8")
    header = manifest.splitlines()[0]
    line = next(x for x in manifest.splitlines()[1:] if x.startswith(row["path"] + ","))
    (out / "m.csv").write_text(header + "\n" + source.name + line[len(row["path"]) :] + "\n", encoding="utf-8")
    return fixed, out / "m.csv"


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The regional corpus written in three sessions (regions and years interleaved, so summaries arrive before
    and after their members) and a fourth that replaces one member report."""
    root = tmp_path_factory.mktemp("incremental")
    corpus = root / "corpus"
    write_corpus(corpus, config(), truth_files=False)
    db = root / "inc.duckdb"
    files = _files(corpus)
    for part in (files[0::3], files[1::3], files[2::3]):
        ingest(part, db=db, manifest=corpus / "manifest.csv", workers=1)
    fixed, manifest = _corrected(corpus, root / "fixed")
    assert ingest([fixed], db=db, manifest=manifest, workers=1).counts["replaced"] == 1
    return db


def test_scoped_cross_year_and_summary_findings_equal_a_full_recompute(written: Path) -> None:
    con = open_reader(written)
    try:
        stored = con.execute(f"SELECT * FROM cat.main.{STORE_FINDINGS} ORDER BY ALL").fetchall()
        con.execute(f"CREATE TABLE memory.main.full_findings AS SELECT * FROM cat.main.{STORE_FINDINGS} WHERE false")
        refresh_cross_year(con, None, table="memory.main.full_findings")
        refresh_summaries(con, table="memory.main.full_findings")
        full = con.execute("SELECT * FROM memory.main.full_findings ORDER BY ALL").fetchall()
    finally:
        con.close()
    rules = {row[1] for row in full}
    assert {"SUM-1", "XY-1"} <= rules  # the corpus exercises both rules (else the comparison proves little)
    assert stored == full


def test_cross_year_findings_do_not_depend_on_the_agency_chunk(written: Path) -> None:
    """The rules run per chunk of agencies (bounded memory at any session or store size); an agency's findings
    compare its own years only, so one agency per statement, a few, or all at once give the same findings."""
    con = open_reader(written)
    try:
        results = []
        agencies = [
            a for (a,) in con.execute("SELECT DISTINCT agency FROM reports WHERE agency IS NOT NULL").fetchall()
        ]
        for n, chunk in enumerate((1, 3, 1_000_000)):
            table = f"memory.main.chunk_{n}"
            con.execute(f"CREATE TABLE {table} AS SELECT * FROM cat.main.{STORE_FINDINGS} WHERE false")
            total = refresh_cross_year(con, None, table=table, chunk=chunk)
            scoped = refresh_cross_year(con, agencies, table=table, chunk=chunk)  # replaces, never duplicates
            assert scoped == total
            results.append(con.execute(f"SELECT * FROM {table} ORDER BY ALL").fetchall())
    finally:
        con.close()
    assert len(agencies) > 3 and results[0]  # several chunks, and findings to compare
    assert results[0] == results[1] == results[2]


def test_scoped_copied_text_equals_a_rebuild(written: Path, tmp_path: Path) -> None:
    stored = Database(written).execute("SELECT * FROM reuse_reports ORDER BY report_id")
    flat = Database(written).flatten_to(tmp_path / "flat.duckdb")
    con = duckdb.connect(str(flat))
    try:
        engine.update(con, rebuild=True)
        rebuilt = con.execute("SELECT * FROM reuse_reports ORDER BY report_id").fetchall()
        current = con.execute("SELECT count(*) FROM reports WHERE is_current").fetchall()[0][0]
    finally:
        con.close()
    assert len(stored) == current
    assert stored == rebuilt


def test_an_agency_key_clash_publishes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two agencies whose keys collide (forced here: every key the same) are never merged: the second write fails
    and the store stays as the first left it."""
    corpus = tmp_path / "corpus"
    write_corpus(corpus, config(), truth_files=False)
    files = _files(corpus)
    monkeypatch.setattr(cells, "AGENCY_KEY_SQL", "CAST(length({agency}) * 0 + 42 AS BIGINT)")
    db = tmp_path / "clash.duckdb"
    ingest(files[:1], db=db, manifest=corpus / "manifest.csv", workers=1)
    before = Database(db).execute("SELECT report_id, agency FROM reports ORDER BY report_id")
    other = next(p for p in files[1:] if p.parent == files[0].parent)
    with pytest.raises(RuntimeError, match="内部键相同"):
        ingest([other], db=db, manifest=corpus / "manifest.csv", workers=1)
    Database.close_all()
    assert Database(db).execute("SELECT report_id, agency FROM reports ORDER BY report_id") == before


def _per_summary_comparison(derived: str) -> str:
    """The SUM-1 comparison as it was written before members were summed once per region: every summary joined
    with each of its members (the reference for :func:`pipeline.validator.summary.comparison_sql`)."""
    return f"""
        WITH {summary.member_ctes()},
        n_pairs AS (SELECT summary_id, count(*) AS n FROM pairs GROUP BY summary_id),
        rel AS (SELECT report_id FROM summaries UNION SELECT member_id FROM pairs),
        vals AS (
            SELECT f.report_id, f.key,
                   CASE WHEN f.status = 'ok' THEN f.value
                        WHEN f.status IN ('blank', 'null_marker') THEN
                             coalesce(d.value, CASE WHEN l.is_total THEN NULL ELSE 0 END)
                   END AS v
            FROM facts f JOIN rel USING (report_id) JOIN _sum_cells l ON l.key = f.key
            LEFT JOIN {derived} d ON d.report_id = f.report_id AND d.key = f.key
            WHERE f.status <> 'not_in_layout'),
        sums AS (
            SELECT p.summary_id, v.key, sum(v.v) AS total, count(*) AS n_with_cell,
                   count(*) FILTER (WHERE v.v IS NULL) AS n_unknown
            FROM pairs p JOIN vals v ON v.report_id = p.member_id
            GROUP BY p.summary_id, v.key)
        SELECT s.report_id AS summary_id, s.agency, s.year, sv.key, sv.v AS summary_value, x.total AS member_sum,
               coalesce(np.n, 0) AS n_members, coalesce(x.n_with_cell, 0) AS n_with_cell,
               coalesce(x.n_unknown, 0) AS n_unknown
        FROM summaries s JOIN vals sv ON sv.report_id = s.report_id
        LEFT JOIN n_pairs np ON np.summary_id = s.report_id
        LEFT JOIN sums x ON x.summary_id = s.report_id AND x.key = sv.key"""


def test_members_summed_once_per_region_equal_the_per_summary_pairs(written: Path) -> None:
    con = open_reader(written)
    try:
        summary.register_cells(con)
        derived = summary.derived_source(con)
        new = con.execute(f"SELECT * FROM ({summary.comparison_sql(derived)}) ORDER BY ALL").fetchall()
        old = con.execute(f"SELECT * FROM ({_per_summary_comparison(derived)}) ORDER BY ALL").fetchall()
    finally:
        con.close()
    assert len({row[0] for row in old}) >= 8  # every region's summary, several years
    assert any(row[5] is not None and row[4] != row[5] for row in old)  # some differ from their members' sum
    assert new == old
