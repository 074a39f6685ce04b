"""The scale benchmark's bulk builder (``bench/bench_scale_build.py``) leaves the derived indexes the write path
would have left: a one-file ingest afterwards opens the copied-text band index (no rebuild from every report), the
band index is byte for byte the one the engine rebuilds from the same store, the new report's copied-text results
are the same either way, and the full-text index is the one ``search.sync(rebuild=True)`` writes.

The source is a small generated corpus with known copies, ingested by the real ingest (``tests/narrative_corpus``);
the built store holds 3 copies of it.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bench import bench_scale_build
from pipeline import search
from pipeline.ingest import ingest
from pipeline.reuse.index import SUFFIX, BandIndex
from pipeline.store import Database
from pipeline.store import segments as seg
from tests import narrative_corpus

pytestmark = pytest.mark.usefixtures("close_cached_readers")
COPIES = 3


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[narrative_corpus.Corpus, Path]:
    corpus = narrative_corpus.build(tmp_path_factory.mktemp("source"))
    n = Database(corpus.db).execute("SELECT count(*) FROM reports")[0][0]
    out = tmp_path_factory.mktemp("built") / "scale.duckdb"
    bench_scale_build.build(corpus.db, out, COPIES * n, log=lambda _: None)
    Database.close_all()
    return corpus, out


def copy_store(db: Path, to: Path, indexes: bool) -> Path:
    """A copy of the store at ``db`` (catalog and segments; with ``indexes``, its band and full-text indexes too)."""
    shutil.copyfile(db, to)
    shutil.copytree(seg.segment_dir(db), seg.segment_dir(to))
    if indexes:
        shutil.copytree(db.with_name(db.name + SUFFIX), to.with_name(to.name + SUFFIX))
        shutil.copyfile(search.index_path(db), search.index_path(to))
    return to


def reuse_state(db: Path) -> tuple[str, int]:
    return Database(db).execute("SELECT token, version FROM reuse_state")[0]


def new_report_results(db: Path, rid: int) -> dict[str, list[tuple]]:
    database = Database(db)
    return {
        "passages": database.execute("SELECT * FROM reuse_passages WHERE report_id = ? ORDER BY ALL", [rid]),
        "matches": database.execute(
            "SELECT * FROM reuse_matches WHERE report_id = ? OR source_id = ? ORDER BY ALL", [rid, rid]
        ),
        "summaries": database.execute(
            "SELECT * FROM reuse_reports WHERE report_id IN (SELECT report_id FROM reuse_matches WHERE source_id = ?)"
            " OR report_id = ? ORDER BY ALL",
            [rid, rid],
        ),
    }


def test_band_index_is_the_engines_and_an_ingest_only_adds_its_own(
    built: tuple[narrative_corpus.Corpus, Path], tmp_path: Path
) -> None:
    corpus, out = built
    n = Database(out).execute("SELECT count(*) FROM reports")[0][0]
    token, version = reuse_state(out)
    folder = out.with_name(out.name + SUFFIX)
    index = BandIndex.open(folder, token, version)
    assert index is not None and len(index.m.runs) == 1
    assert index.m.runs[0].texts > 0 and index.m.runs[0].bands > 0

    replicated = copy_store(out, tmp_path / "replicated.duckdb", indexes=True)
    engine_built = copy_store(out, tmp_path / "engine.duckdb", indexes=False)  # the first write rebuilds the index
    run = replicated.with_name(replicated.name + SUFFIX) / f"{index.m.runs[0].name}.band"
    inode = run.stat().st_ino
    # a report of the source corpus: its agency's name is the source's, its passages are the copies' passages
    new_file = next(p for p in sorted((corpus.root / "2023").rglob("*")) if p.suffix in (".txt", ".html"))
    for db in (replicated, engine_built):
        summary = ingest([new_file], db=db)
        assert summary.counts["loaded"] == 1, summary.as_dict()
    Database.close_all()
    assert run.stat().st_ino == inode, "the replicated run is still the index's: the ingest did not rebuild it"
    # the engine's rebuild of the same store, followed by the same new run: the same index state (the token is
    # chained over every entry and text ever added), so the same bytes in the engine's rebuilt run as in ours
    assert reuse_state(replicated)[0] == reuse_state(engine_built)[0]
    rid = Database(replicated).execute("SELECT max(report_id) FROM reports")[0][0]
    assert rid == Database(engine_built).execute("SELECT max(report_id) FROM reports")[0][0]
    ours, theirs = new_report_results(replicated, rid), new_report_results(engine_built, rid)
    assert ours == theirs
    # the new report shares its passages with the copies of its source (other agencies, same year)
    others = {m[2] for m in ours["matches"] if m[0] == rid and m[4] == "other"}
    assert len(others) >= COPIES, ours["matches"]
    assert search.lag(replicated) == 0  # the write indexed its own report, not a backlog
    assert search.connect(search.index_path(replicated)).execute("SELECT count(*) FROM reports").fetchone()[0] == n + 1


def test_full_text_index_is_the_one_a_rebuild_writes(
    built: tuple[narrative_corpus.Corpus, Path], tmp_path: Path
) -> None:
    _, out = built
    synced = copy_store(out, tmp_path / "synced.duckdb", indexes=False)
    result = search.sync(synced, rebuild=True)
    assert result.added == Database(out).execute("SELECT count(*) FROM reports")[0][0]
    ours, theirs = search.connect(search.index_path(out)), search.connect(search.index_path(synced))
    for table in ("reports", "passages"):
        sql = f"SELECT * FROM {table} ORDER BY 1"
        assert ours.execute(sql).fetchall() == theirs.execute(sql).fetchall(), table
    for query in ("信息公开", "依申请", "收费", "费", "公开", "政府信息 申请"):
        a = search.search(ours, query, limit=100_000)
        b = search.search(theirs, query, limit=100_000)
        assert a.total == b.total and [(h.report_id, h.section, h.paragraph) for h in a.hits] == [
            (h.report_id, h.section, h.paragraph) for h in b.hits
        ], query
        assert a.total > 0, query
    # each FTS5 table itself (a search over few reports may check the paragraphs without them)
    for table, match in (
        ("tri", '"信息公开"'),
        ("tri", '"依申请" AND "政府信息"'),
        ("grams", '"费"'),
        ("grams", '"公开"'),
    ):
        sql = f"SELECT rowid FROM {table} WHERE {table} MATCH ? ORDER BY rowid"
        found = ours.execute(sql, [match]).fetchall()
        assert found == theirs.execute(sql, [match]).fetchall() and found, (table, match)
    for table in ("tri", "grams"):  # the FTS5 structures are sound
        ours.execute(f"INSERT INTO {table}({table}) VALUES ('integrity-check')")


def test_a_copys_agency_name_in_the_text_stops_the_build() -> None:
    """A copy's passages are written as normalised without the copy's (renamed) agency: a text naming a copy's agency
    would normalise differently, and the builder refuses it instead of writing a wrong index."""
    from bench.scale_indexes import _check_copy_names
    from pipeline.reuse import signature as sig

    def check(text: str) -> None:
        sections = {"一": text}
        passages = sig.report_passages(sections, None)
        assert passages
        _check_copy_names(5, "某市某局", 2023, sections, passages, stride=10, top=25)

    check("本年度某市某局依法主动公开政府信息，及时回应社会关切，公开内容涵盖机构职能、政策文件和办事指南等方面。")
    check("本年度某市某局·联络处依法主动公开政府信息，及时回应社会关切，公开内容涵盖机构职能和政策文件等方面。")
    with pytest.raises(SystemExit, match="某市某局·1"):  # copy 1 of report 5 (id 15) is named 某市某局·1
        check(
            "本年度某市某局·1依法主动公开政府信息，及时回应社会关切，公开内容涵盖机构职能、政策文件和办事指南等方面。"
        )
