"""Ingest of real report files into a real DuckDB file: versioning, manifest, bad input, reading while ingesting."""

from __future__ import annotations

import json
import multiprocessing
import shutil
import time
from decimal import Decimal
from pathlib import Path

import pytest
from conftest import REAL as REAL_DIR
from conftest import SEED, SEED_TRUTH

from pipeline import store
from pipeline.ingest import ingest, iter_source_files
from pipeline.readers import MAX_BYTES
from pipeline.store import Database
from pipeline.store.writer import ReportWriter

pytestmark = pytest.mark.usefixtures("close_cached_readers")

REAL = sorted(REAL_DIR.glob("*/source.txt"))


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    """The seed and the three real reports, copied into a folder with a sub-folder."""
    root = tmp_path / "reports"
    (root / "real").mkdir(parents=True)
    shutil.copy(SEED, root / "seed.txt")
    for src in REAL:
        shutil.copy(src, root / "real" / f"{src.parent.name}.txt")
    return root


def q(db: Path, sql: str, params: list | None = None) -> list[tuple]:
    return Database(db).execute(sql, params)


def snapshot_of_loaded_data(db: Path) -> list[tuple]:
    return q(db, "SELECT r.report_id, r.sha256, r.is_current, count(f.key), sum(f.value) FROM reports r"
                 " LEFT JOIN facts f USING (report_id) GROUP BY ALL ORDER BY 1")  # fmt: skip


def test_ingest_real_reports(corpus: Path, tmp_path: Path) -> None:
    db = tmp_path / "x.duckdb"
    summary = ingest([corpus], db=db)
    assert summary.n_files == 4 and summary.unreadable == 0
    assert summary.counts[store.LOADED] + summary.counts[store.LOADED_WITH_ERRORS] == 4
    truth = json.loads(SEED_TRUTH.read_text(encoding="utf-8"))["facts"]
    stored = q(db, "SELECT f.key, f.value, f.blank FROM facts f JOIN reports r USING (report_id)"
                   " WHERE r.agency = '阜新市司法局' AND r.year = 2023")  # fmt: skip
    assert {k: (None if v is None else int(v)) for k, v, _ in stored if k in truth} == truth
    assert {k for k, v, blank in stored if v is None and blank} == {k for k, v in truth.items() if v is None}
    # a report published with a wrong 表四 is loaded as printed, flagged, and listed as a problem
    assert any(p.status == store.LOADED_WITH_ERRORS for p in summary.problems)
    assert q(db, "SELECT count(*) FROM ingest_log") == [(4,)]


def test_reingest_is_idempotent(corpus: Path, tmp_path: Path) -> None:
    db = tmp_path / "x.duckdb"
    ingest([corpus], db=db)
    before = snapshot_of_loaded_data(db)
    again = ingest([corpus], db=db, workers=2)
    assert again.counts[store.UNCHANGED] == 4 and sum(again.counts.values()) == 4
    assert snapshot_of_loaded_data(db) == before
    assert q(db, "SELECT status, count(*) FROM ingest_log GROUP BY 1 HAVING status = 'unchanged'") == [("unchanged", 4)]


def test_changed_report_replaces_previous_version(corpus: Path, tmp_path: Path) -> None:
    db = tmp_path / "x.duckdb"
    ingest([corpus / "seed.txt"], db=db)
    edited = tmp_path / "edited" / "seed_v2.txt"
    edited.parent.mkdir()
    text = SEED.read_text(encoding="utf-8")
    assert "行政规范性文件\t2\t0\t10" in text
    edited.write_text(text.replace("行政规范性文件\t2\t0\t10", "行政规范性文件\t3\t0\t11"), encoding="utf-8")
    summary = ingest([edited], db=db)
    assert summary.counts[store.REPLACED] == 1
    hist = Database(db).query(store.queries.report_history, "阜新市司法局", 2023)
    assert [(h[1], h[2]) for h in hist] == [(False, hist[1][0]), (True, None)]
    values = q(db, "SELECT r.is_current, f.value FROM facts f JOIN reports r USING (report_id)"
                   " WHERE f.key = 't2.normative_docs.in_force' ORDER BY r.report_id")  # fmt: skip
    assert values == [(False, Decimal(10)), (True, Decimal(11))]
    # facts carry no primary key (schema v2): one row per (report, key) holds by construction — check it
    assert q(db, "SELECT count(*) FROM (SELECT report_id, key FROM facts GROUP BY ALL HAVING count(*) > 1)") == [(0,)]


def test_manifest_overrides_metadata(corpus: Path, tmp_path: Path) -> None:
    db = tmp_path / "x.duckdb"
    manifest = corpus / "manifest.csv"
    manifest.write_text(
        "path,agency,year,region,url,synthetic\n"
        "seed.txt,测试县司法局,2022,辽宁省阜新市,https://example.gov.cn/r.html,true\n",
        encoding="utf-8",
    )
    summary = ingest([corpus / "seed.txt", manifest], db=db, manifest=manifest)
    assert summary.n_files == 1  # the manifest itself is not tried as a report
    assert q(db, "SELECT agency, year, source_url, synthetic FROM reports") == [
        ("测试县司法局", 2022, "https://example.gov.cn/r.html", True)
    ]


def _bad_inputs(folder: Path) -> dict[str, str]:
    """Each bad input of issue item 9, written at test time; value = expected status."""
    folder.mkdir()
    seed_text = SEED.read_text(encoding="utf-8")
    (folder / "empty.txt").write_bytes(b"")
    (folder / "junk.txt").write_bytes(bytes(range(256)) * 64)
    (folder / "renamed_pdf.txt").write_bytes(b"%PDF-1.4\n1 0 obj <<>> endobj\n%%EOF broken\x00\xff" * 20)
    (folder / "not_a_report.html").write_text(
        "<html><head><meta charset='utf-8'><title>首页</title></head><body><nav>网站首页 | 新闻</nav>"
        "<p>欢迎访问本网站。今日要闻：春季植树活动。</p></body></html>",
        encoding="utf-8",
    )
    cut = seed_text.index("三、收到和处理政府信息公开申请情况")
    (folder / "table3_cut.txt").write_text(seed_text[:cut], encoding="utf-8")
    (folder / "gbk_no_charset.txt").write_bytes(seed_text.replace("阜新市司法局", "阜新市民政局").encode("gbk"))
    with open(folder / "huge.txt", "wb") as fh:  # sparse: 60 MB on paper, no disk space used
        fh.truncate(60 * 1024 * 1024)
    return {
        "empty.txt": store.UNREADABLE,
        "junk.txt": store.UNREADABLE,
        "renamed_pdf.txt": store.UNREADABLE,
        "not_a_report.html": store.NOT_REPORT,
        "table3_cut.txt": store.LOADED_WITH_ERRORS,
        "gbk_no_charset.txt": store.LOADED,
        "huge.txt": store.UNREADABLE,
    }


def test_bad_inputs_get_one_clear_line_and_leave_loaded_data_untouched(corpus: Path, tmp_path: Path) -> None:
    db = tmp_path / "x.duckdb"
    ingest([corpus], db=db)
    before = snapshot_of_loaded_data(db)
    expected = _bad_inputs(tmp_path / "bad")
    assert (tmp_path / "bad" / "huge.txt").stat().st_size > MAX_BYTES

    summary = ingest([tmp_path / "bad"], db=db)
    log = {Path(p).name: (s, m) for p, s, m in q(db, "SELECT source_path, status, message FROM ingest_log"
                                                      " WHERE source_path LIKE '%/bad/%'")}  # fmt: skip
    assert {name: s for name, (s, _) in log.items()} == expected
    for name, (_, message) in log.items():
        assert message and "\n" not in message, name
    assert "为空" in log["empty.txt"][1]
    assert "过大" in log["huge.txt"][1] and "50 MiB" in log["huge.txt"][1]
    assert "表三" in log["table3_cut.txt"][1]
    # every problem file is named in the summary's problem list
    assert {Path(p.source_path).name for p in summary.problems} == {n for n, s in expected.items() if s != store.LOADED}
    # what was loaded before is exactly as it was; the GBK copy loaded as a new agency's report
    assert snapshot_of_loaded_data(db)[: len(before)] == before
    assert q(db, "SELECT count(*) FROM reports WHERE agency = '阜新市民政局' AND year = 2023") == [(1,)]


def test_a_crash_mid_ingest_leaves_the_database_as_it_was(corpus: Path, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    db = tmp_path / "x.duckdb"
    ingest([corpus / "seed.txt"], db=db)
    before = (snapshot_of_loaded_data(db), Database(db).version())

    calls = {"n": 0}
    original = ReportWriter.add

    def add_then_die(self, result, **kw):  # the process "dies" after the second report was queued
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return original(self, result, **kw)

    monkeypatch.setattr(ReportWriter, "add", add_then_die)
    with pytest.raises(KeyboardInterrupt):
        ingest([corpus / "real"], db=db, batch_size=1)
    assert (snapshot_of_loaded_data(db), Database(db).version()) == before
    assert not [p for p in tmp_path.iterdir() if ".ingest-" in p.name]


def test_a_failing_file_in_the_middle_does_not_lose_the_others(corpus: Path, tmp_path: Path) -> None:
    db = tmp_path / "x.duckdb"
    (corpus / "real" / "02b_broken.txt").write_bytes(b"\x00\x01\x02" * 100)
    summary = ingest([corpus], db=db, batch_size=2)
    assert summary.unreadable == 1
    assert q(db, "SELECT count(*) FROM reports") == [(4,)]
    assert q(db, "SELECT count(*) FROM ingest_log") == [(5,)]


def test_walk_is_recursive_sorted_and_filters_extensions(tmp_path: Path) -> None:
    (tmp_path / "b").mkdir()
    for name in ("b/2.txt", "b/1.html", "a.md", "skip.exe", ".hidden.txt"):
        (tmp_path / name).write_text("x", encoding="utf-8")
    assert [p.relative_to(tmp_path).as_posix() for p in iter_source_files([tmp_path])] == [
        "a.md",
        "b/1.html",
        "b/2.txt",
    ]
    explicit = tmp_path / "skip.exe"
    assert list(iter_source_files([explicit])) == [explicit]  # named explicitly: tried (and reported)


# ---------------------------------------------------------------------------------------------------------------
# Reading while ingesting: a separate reader process (the dashboard) queries in a loop during real ingests.


def _reader_process(db: str, stop_file: str, out: str) -> None:
    from pipeline.store import Database

    errors, counts, n = [], set(), 0
    ready = Path(out + ".ready")
    while not Path(stop_file).exists():
        try:
            con = Database(db).connection()
            counts.add(con.execute("SELECT count(*) FROM reports WHERE is_current").fetchall()[0][0])
            con.execute("SELECT sum(value) FROM facts").fetchall()
            n += 1
            if n == 1:
                ready.touch()
        except Exception as exc:
            errors.append(repr(exc))
        time.sleep(0.002)
    result = {"errors": errors[:5], "n_errors": len(errors), "counts": sorted(counts), "queries": n}
    Path(out).write_text(json.dumps(result))


def _wait_for(path: Path, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists() and time.monotonic() < deadline:
        time.sleep(0.05)


def test_dashboard_keeps_reading_while_ingest_runs(corpus: Path, tmp_path: Path) -> None:
    db = tmp_path / "x.duckdb"
    ingest([corpus / "seed.txt"], db=db)
    stop, out = tmp_path / "stop", tmp_path / "reader.json"
    ctx = multiprocessing.get_context("spawn")
    reader = ctx.Process(target=_reader_process, args=(str(db), str(stop), str(out)))
    reader.start()
    try:
        _wait_for(Path(str(out) + ".ready"))  # the reader is querying
        for src in sorted((corpus / "real").iterdir()):
            ingest([src], db=db)  # three ingests, three swaps under the reader's feet
        time.sleep(0.5)
    finally:
        stop.touch()
        reader.join(timeout=60)
    result = json.loads(out.read_text())
    assert result["n_errors"] == 0, result["errors"]
    assert result["queries"] > 10
    assert 1 in result["counts"] and 4 in result["counts"]  # old data before, new data after the swaps
