"""An ingest run again over the same files recognises the stored ones by their hash and does not parse them: the
outcomes, the log and the store are what a parse would have given, at the cost of reading each file once."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from conftest import REAL as REAL_DIR
from conftest import SEED

from pipeline.ingest import IngestSummary, ingest
from pipeline.ingest import run as run_module
from pipeline.ingest import stored as stored_module
from pipeline.ingest.parsing import ParseJob, ParseOutcome
from pipeline.ingest.stored import StoredFilter, file_sha256
from pipeline.ingest.workers import WorkerPool
from pipeline.readers.limits import MAX_BYTES
from pipeline.store import UNCHANGED, Database

pytestmark = pytest.mark.usefixtures("close_cached_readers")

STORE = {
    "reports": "SELECT report_id, sha256, agency, year, is_current FROM reports ORDER BY report_id",
    "facts": "SELECT count(*), sum(value) FROM facts",
    "findings": "SELECT count(*) FROM findings",
}


@pytest.fixture
def corpus(four_reports: Path) -> Path:
    return four_reports


def _store(db: Path) -> dict[str, list[tuple]]:
    return {name: Database(db).execute(sql) for name, sql in STORE.items()}


def _ingest(corpus: Path, db: Path) -> tuple[IngestSummary, list[ParseOutcome]]:
    seen: list[ParseOutcome] = []
    summary = ingest([corpus], db=db, workers=2, on_parsed=seen.append)
    return summary, seen


def test_a_second_run_parses_nothing_and_logs_every_file_unchanged(corpus: Path, tmp_path: Path) -> None:
    db = tmp_path / "x.duckdb"
    first, parsed = _ingest(corpus, db)
    assert all(o.result is not None for o in parsed) and first.skipped_unparsed == 0
    ids = dict(Database(db).execute("SELECT source_path, report_id FROM ingest_log"))
    before = _store(db)

    second, again = _ingest(corpus, db)
    assert len(again) == 4 and second.n_files == 4
    assert all(o.result is None and o.error is None and o.stored_report_id is not None for o in again)
    assert {o.job.path: o.stored_report_id for o in again} == ids  # each file named as the report it is
    assert all(o.sha256 == file_sha256(o.job.path) for o in again)
    assert second.skipped_unparsed == 4 and second.as_dict()[UNCHANGED] == 4 and not second.problems
    assert _store(db) == before  # nothing stored twice, nothing retired
    log = Database(db).execute(
        "SELECT source_path, status, report_id, sha256, message FROM ingest_log WHERE status = 'unchanged'"
    )
    assert sorted((p, r) for p, _s, r, _h, _m in log) == sorted(ids.items())
    assert all(f"#{r}" in m and h for _p, _s, r, h, m in log)


def test_only_new_and_changed_files_are_parsed(corpus: Path, tmp_path: Path) -> None:
    db = tmp_path / "x.duckdb"
    _ingest(corpus, db)
    changed = corpus / "a-seed.txt"
    changed.write_bytes(changed.read_bytes() + "\n（补充说明）\n".encode())
    added = corpus / "c-copy.txt"
    shutil.copy(sorted(REAL_DIR.glob("*/source.txt"))[0], added)  # the same bytes under a new name: stored already

    summary, outcomes = _ingest(corpus, db)
    parsed = sorted(Path(o.job.path).name for o in outcomes if o.result is not None)
    assert parsed == ["a-seed.txt"]
    assert summary.skipped_unparsed == 4
    by_name = {Path(o.job.path).name: o.stored_report_id for o in outcomes}
    original = f"b-{sorted(REAL_DIR.glob('*/source.txt'))[0].parent.name}.txt"
    assert by_name["c-copy.txt"] == by_name[original] is not None


def test_a_run_of_duplicates_on_a_new_store_is_still_caught_by_the_writer(corpus: Path, tmp_path: Path) -> None:
    shutil.copy(corpus / "a-seed.txt", corpus / "z-seed-again.txt")
    summary, outcomes = _ingest(corpus, tmp_path / "x.duckdb")
    assert all(o.result is not None for o in outcomes)  # nothing was stored before the run: all parsed
    assert summary.as_dict()[UNCHANGED] == 1 and summary.skipped_unparsed == 0


def test_the_pool_answers_marked_jobs_in_their_place_without_a_worker(corpus: Path) -> None:
    files = sorted(str(p) for p in corpus.iterdir())
    jobs = [ParseJob(f) for f in files]
    jobs[1] = ParseJob("/nonexistent/never-read.txt", stored_sha256="ab" * 32, stored_report_id=7, checked_seconds=0.5)
    jobs.append(ParseJob("/nonexistent/also-never-read.txt", stored_sha256="cd" * 32, stored_report_id=9))
    with WorkerPool(2) as pool:
        outcomes = list(pool.parse(jobs))
    assert [o.job.path for o in outcomes] == [j.path for j in jobs]  # input order kept
    assert [o.stored_report_id for o in outcomes] == [None, 7, None, None, 9]
    assert outcomes[1].sha256 == "ab" * 32 and outcomes[1].seconds == 0.5 and outcomes[1].error is None
    assert all(o.result is not None for i, o in enumerate(outcomes) if i not in (1, 4))


def test_only_marked_jobs_when_every_file_is_stored() -> None:
    jobs = [ParseJob(f"/nonexistent/{i}.txt", stored_sha256=f"{i:064x}", stored_report_id=i) for i in range(300)]
    with WorkerPool(2, chunk_size=4) as pool:
        outcomes = list(pool.parse(jobs))
    assert [o.stored_report_id for o in outcomes] == list(range(300))


def test_files_that_cannot_be_hashed_go_to_the_parser(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.txt"
    os.mkfifo(fifo)  # opening it would block this process until a writer came
    assert file_sha256(str(fifo)) is None
    big = tmp_path / "big.txt"
    with big.open("wb") as fh:
        fh.truncate(MAX_BYTES + 1)
    assert file_sha256(str(big)) is None
    assert file_sha256(str(tmp_path / "missing.txt")) is None
    assert file_sha256(str(tmp_path)) is None


def test_the_filter_passes_everything_on_for_a_new_store(corpus: Path, tmp_path: Path) -> None:
    stored = StoredFilter(Database(tmp_path / "none.duckdb"))
    jobs = [ParseJob(str(p)) for p in sorted(corpus.iterdir())]
    assert list(stored(jobs)) == jobs and stored.checked == 0


def test_the_command_says_how_many_files_it_did_not_parse_again(corpus: Path, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from pipeline import cli

    runner = CliRunner()
    db = tmp_path / "x.duckdb"
    first = runner.invoke(cli.app, ["ingest", str(corpus), "--db", str(db)])
    assert first.exit_code == 0 and "未重新解析" not in first.stdout
    again = runner.invoke(cli.app, ["ingest", str(corpus), "--db", str(db)])
    assert again.exit_code == 0, again.output
    assert "其中 4 个文件按内容（sha256）识别为已入库，未重新解析" in again.stdout


def test_files_of_later_sessions_are_recognised_after_earlier_sessions_publish(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A resumed ingest publishes its first sessions (and merges small segments) before it looks up later files."""
    db = tmp_path / "x.duckdb"
    text = SEED.read_text(encoding="utf-8")
    for part in range(4):  # four ingests: four small segments, which later publishes merge
        folder = tmp_path / "in" / f"{part}"
        folder.mkdir(parents=True)
        for i in range(part * 5, part * 5 + 5):
            (folder / f"{i:02d}.txt").write_text(text.replace("阜新市司法局", f"阜新市第{i}局"), encoding="utf-8")
        ingest([folder], db=db)
    monkeypatch.setattr(stored_module, "CHUNK", 1)  # one look-up per file, as the pool asks for them
    monkeypatch.setattr(run_module, "STORED_PER_FILE", 1)  # a session of five stored files: four publishes
    seen: list[ParseOutcome] = []
    summary = ingest([tmp_path / "in"], db=db, publish_every=5, chunk_size=1, on_parsed=seen.append)
    assert summary.sessions == 4 and summary.n_files == 20
    assert [o.stored_report_id is not None for o in seen] == [True] * 20  # the pool holds 7 ahead: 13 came later
    assert summary.skipped_unparsed == 20


def test_stored_files_count_a_twentieth_toward_a_session(corpus: Path, tmp_path: Path) -> None:
    """A resume does not publish a session of log rows per ``publish_every`` stored files: twenty stored files
    count as one parsed file, so the four stored ones and a new one fit in a session of two."""
    db = tmp_path / "x.duckdb"
    first = ingest([corpus], db=db, publish_every=2)
    assert first.sessions == 2
    (corpus / "z_new.txt").write_text(SEED.read_text(encoding="utf-8") + "\n（修订版）\n", encoding="utf-8")
    again = ingest([corpus], db=db, publish_every=2)
    assert again.skipped_unparsed == 4 and again.n_files == 5
    assert again.sessions == 1
    parsed_again = ingest([corpus], db=tmp_path / "y.duckdb", publish_every=2)
    assert parsed_again.sessions == 3  # files that are parsed count one each
