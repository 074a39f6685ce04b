"""The DuckDB store through its Database object: migrations, versioning, bulk writes, cross-year rules, the
atomic publish, the lock, symlinks, stale copies and readers that follow swaps.

These tests feed hand-built ParseResults (exact control over the numbers); tests/test_ingest.py covers real files.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from pipeline import store
from pipeline.model import Fact, Finding, Meta, ParseResult
from pipeline.registry import registry
from pipeline.store import Database, IngestLockedError
from pipeline.store import swap as swap_module
from pipeline.store.schema import MIGRATIONS, Migration, migrate, schema_sql, schema_version
from pipeline.validator import meta_findings

pytestmark = pytest.mark.usefixtures("close_cached_readers")


def make_result(
    tag: str,
    agency: str | None = "测试市司法局",
    year: int | None = 2023,
    values: dict[str, int | Decimal | None] | None = None,
    findings: list[Finding] | None = None,
    t3_layout: str = "2021",
) -> ParseResult:
    """A 2021-edition result: every cell 0 unless ``values`` says otherwise (None = blank cell)."""
    reg = registry()
    layout = set(reg.layout_keys("2021", t3_layout))
    facts: dict[str, Fact] = {}
    for key in reg.keys("2021"):
        if key not in layout:
            facts[key] = Fact(key, None, None, False, None, None, "not_in_layout")
            continue
        v = (values or {}).get(key, 0)
        facts[key] = Fact(key, v, "" if v is None else str(v), v is None, f"line {len(facts) + 1}", None,
                          "blank" if v is None else "ok")  # fmt: skip
    sha = hashlib.sha256(f"{tag}|{agency}|{year}|{sorted((values or {}).items())}".encode()).hexdigest()
    meta = Meta(agency=agency, year=year, edition="2021", t3_layout=t3_layout, province="辽宁省")
    return ParseResult(
        path=f"/reports/{tag}.txt",
        sha256=sha,
        format="txt",
        meta=meta,
        facts=facts,
        findings=(findings or []) + meta_findings(meta),
        sections={"一": "一、总体情况\n正文", "六": "六、其他需要报告的事项\n无"},
        size_bytes=1234,
    )


def write_all(db: Path, *results: ParseResult, synthetic: bool = False) -> list[store.WriteOutcome]:
    with Database(db).write() as session:
        outcomes = [o for r in results for o in session.add(r, synthetic=synthetic)]
        outcomes += session.flush()
    return outcomes


def q(db: Path, sql: str, params: list | None = None) -> list[tuple]:
    return Database(db).execute(sql, params)


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "xxgk.duckdb"


def test_resolve_db_prefers_flag_then_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("XXGK_DB", raising=False)
    assert Database().path == Path("data/xxgk.duckdb")
    monkeypatch.setenv("XXGK_DB", "/tmp/env.duckdb")
    assert Database().path == Path("/tmp/env.duckdb")
    assert Database("/tmp/flag.duckdb").path == Path("/tmp/flag.duckdb")


def test_migrate_is_versioned_and_idempotent(db: Path) -> None:
    database = Database(db)
    assert not database.exists()
    assert database.migrate() == store.SCHEMA_VERSION
    assert database.migrate() == store.SCHEMA_VERSION
    versions = [v for (v,) in q(db, "SELECT version FROM schema_version ORDER BY version")]
    assert versions == [m.version for m in MIGRATIONS]
    tables = {r[0] for r in q(db, "SELECT table_name FROM information_schema.tables")}
    assert {"reports", "facts", "findings", "sections", "ingest_log", "schema_version", "derived"} <= tables


def test_migration_2_keeps_the_facts_of_a_version_1_database(db: Path) -> None:
    con = duckdb.connect(str(db))
    con.execute(schema_sql())
    con.execute("INSERT INTO schema_version (version) VALUES (1)")
    con.execute("INSERT INTO facts (report_id, key, value, raw, blank, status, bbox) VALUES"
                " (1, 't3.granted.total', 5, '5', false, 'ok', [1.0, 2.0, 3.0, 4.0]),"
                " (1, 't4.review.upheld', NULL, '', true, 'blank', NULL)")  # fmt: skip
    con.close()
    assert Database(db).migrate() == store.SCHEMA_VERSION  # an old file is brought up to date by the next write
    assert q(db, "SELECT report_id, key, value, raw, blank, status, bbox FROM facts ORDER BY key") == [
        (1, "t3.granted.total", Decimal(5), "5", False, "ok", [1.0, 2.0, 3.0, 4.0]),
        (1, "t4.review.upheld", None, "", True, "blank", None),
    ]


def test_a_migration_is_one_appended_entry_sql_or_python(db: Path) -> None:
    con = duckdb.connect(str(db))

    def backfill(c: duckdb.DuckDBPyConnection) -> None:
        c.execute("INSERT INTO notes VALUES ('from python')")

    extra = [Migration(90, "a table", "CREATE TABLE notes (text VARCHAR)"), Migration(91, "a row", backfill)]
    assert migrate(con, MIGRATIONS + extra) == 91
    assert con.execute("SELECT text FROM notes").fetchall() == [("from python",)]
    # a failing migration leaves the database at the version before it
    broken = [Migration(92, "broken", "CREATE TABLE notes (text VARCHAR)")]
    with pytest.raises(duckdb.Error):
        migrate(con, MIGRATIONS + extra + broken)
    assert schema_version(con) == 91
    con.close()


def test_report_facts_findings_sections_and_log_are_stored(db: Path) -> None:
    values = {"t3.new_received.total": 7, "t2.admin_fees.amount_wan_yuan": Decimal("7730.28"),
              "t4.review.upheld": None}  # fmt: skip
    finding = Finding("T3-1", "error", "表三 总计 不平", ["t3.new_received.total"], "8", "7", "t3.new_received.total")
    (outcome,) = write_all(db, make_result("a", values=values, findings=[finding]), synthetic=True)
    assert outcome.status == store.LOADED_WITH_ERRORS and outcome.n_errors == 1
    assert [f.rule for f in outcome.findings] == ["T3-1"]  # what was stored comes back with the outcome
    rid = outcome.report_id
    assert q(db, "SELECT agency, year, synthetic, n_errors, is_current FROM reports") == [
        ("测试市司法局", 2023, True, 1, True)
    ]
    facts = dict(q(db, "SELECT key, value FROM facts WHERE report_id = ?", [rid]))
    assert facts["t3.new_received.total"] == Decimal("7")
    assert facts["t2.admin_fees.amount_wan_yuan"] == Decimal("7730.28")  # exact, not a float
    # blank, zero and "not in this layout" stay distinguishable
    rows = {k: (v, b, s) for k, v, b, s in q(db, "SELECT key, value, blank, status FROM facts")}
    assert rows["t4.review.upheld"] == (None, True, "blank")
    assert rows["t4.review.corrected"] == (Decimal("0"), False, "ok")
    assert len(rows) == len(registry().keys("2021"))
    assert q(db, "SELECT rule, keys, expected, actual, suspect_key, scope FROM findings") == [
        ("T3-1", ["t3.new_received.total"], "8", "7", "t3.new_received.total", "report")
    ]
    assert q(db, "SELECT section, heading FROM sections ORDER BY section") == [
        ("一", "一、总体情况"),
        ("六", "六、其他需要报告的事项"),
    ]
    assert q(db, "SELECT status, report_id FROM ingest_log") == [(store.LOADED_WITH_ERRORS, rid)]


def test_mixed_template_keeps_not_in_layout_cells(db: Path) -> None:
    reg = registry()
    absent = set(reg.keys("2021")) - set(reg.layout_keys("2021", "2019"))
    assert absent  # the three （六） sub-rows of the 2021 表三
    write_all(db, make_result("mixed", t3_layout="2019"))
    rows = q(db, "SELECT key, value, raw FROM facts WHERE status = 'not_in_layout'")
    assert {k for k, _, _ in rows} == absent
    assert all(v is None and raw is None for _, v, raw in rows)  # "not reported in this layout", not 0


def test_identical_content_is_a_noop(db: Path) -> None:
    r = make_result("same")
    (first,) = write_all(db, r)
    (second,) = write_all(db, r)
    assert first.status == store.LOADED and second.status == store.UNCHANGED
    assert second.report_id == first.report_id
    assert q(db, "SELECT count(*) FROM reports") == [(1,)]
    assert q(db, "SELECT count(*) FROM facts") == [(len(r.facts),)]
    assert q(db, "SELECT status FROM ingest_log ORDER BY status") == [("loaded",), ("unchanged",)]


def test_changed_report_replaces_and_keeps_history(db: Path) -> None:
    (old,) = write_all(db, make_result("v1", values={"t3.new_received.total": 1}))
    (new,) = write_all(db, make_result("v2", values={"t3.new_received.total": 2}))
    assert new.status == store.REPLACED and new.replaced_id == old.report_id
    hist = Database(db).query(store.queries.report_history, "测试市司法局", 2023)
    assert [(h[0], h[1], h[2]) for h in hist] == [
        (old.report_id, False, new.report_id),
        (new.report_id, True, None),
    ]
    # history stays queryable: the old version's facts are still there
    old_value = q(db, "SELECT value FROM facts WHERE report_id = ? AND key = 't3.new_received.total'", [old.report_id])
    assert old_value == [(Decimal(1),)]


def test_replacement_inside_one_batch(db: Path) -> None:
    outcomes = write_all(db, make_result("b1", values={"t3.granted.total": 1}),
                         make_result("b2", values={"t3.granted.total": 2}))  # fmt: skip
    assert [o.status for o in outcomes] == [store.LOADED, store.REPLACED]
    assert q(db, "SELECT report_id, is_current, replaced_by FROM reports ORDER BY report_id") == [
        (outcomes[0].report_id, False, outcomes[1].report_id),
        (outcomes[1].report_id, True, None),
    ]


def test_report_without_agency_or_year_is_kept_by_hash(db: Path) -> None:
    outcomes = write_all(db, make_result("x1", agency=None, year=None), make_result("x2", agency=None, year=None))
    assert [o.status for o in outcomes] == [store.LOADED, store.LOADED]
    assert q(db, "SELECT count(*) FROM reports WHERE is_current") == [(2,)]
    messages = [m for (m,) in q(db, "SELECT message FROM findings WHERE rule = 'META'")]
    assert len(messages) == 2 and "发布机关和统计年度" in messages[0]


def test_cross_year_rules(db: Path) -> None:
    reg = registry()
    prev = make_result("y22", year=2022, values={"t3.carry_forward.natural_person": 3,
                                                 "t2.normative_docs.in_force": 10})  # fmt: skip
    cur = make_result("y23", year=2023, values={"t3.carried_over.natural_person": 2,
                                                "t2.normative_docs.in_force": 11,
                                                "t2.normative_docs.issued": 2,
                                                "t2.normative_docs.repealed": 0})  # fmt: skip
    other = make_result("o22", agency="另一局", year=2022, values={"t3.carry_forward.natural_person": 9})
    outcomes = write_all(db, prev, cur, other)
    rows = q(db, "SELECT report_id, rule, severity, message, keys, expected, actual FROM findings"
                 " WHERE scope = 'cross_year' ORDER BY rule")  # fmt: skip
    assert [r[1] for r in rows] == ["XY-1", "XY-2"]
    xy1, xy2 = rows
    assert xy1[0] == outcomes[1].report_id and xy1[2] == "warning"
    assert xy1[4] == ["t3.carried_over.natural_person", "t3.carry_forward.natural_person"]
    assert reg["t3.carried_over.natural_person"].label in xy1[3] and "2022" in xy1[3] and "测试市司法局" in xy1[3]
    assert (xy1[5], xy1[6]) == ("3", "2")
    assert reg["t2.normative_docs.in_force"].label in xy2[3]
    assert (xy2[5], xy2[6]) == ("12", "11")

    # a write for another agency leaves these findings alone (only the agencies a write touched are recomputed)
    write_all(db, make_result("o23", agency="另一局", year=2023, values={"t3.carried_over.natural_person": 1}))
    assert [r[0] for r in q(db, "SELECT rule FROM findings WHERE scope = 'cross_year' ORDER BY rule")] == [
        "XY-1",
        "XY-1",
        "XY-2",
    ]
    # fixing the 2023 report (a replacement) clears its warnings: they are recomputed over current reports only
    fixed = make_result("y23b", year=2023, values={"t3.carried_over.natural_person": 3,
                                                   "t2.normative_docs.in_force": 12,
                                                   "t2.normative_docs.issued": 2})  # fmt: skip
    write_all(db, fixed)
    assert q(db, "SELECT r.agency FROM findings f JOIN reports r USING (report_id) WHERE f.scope = 'cross_year'") == [
        ("另一局",)
    ]


def test_a_value_the_store_cannot_hold_is_refused_with_a_finding_and_the_report_loads(db: Path) -> None:
    key = "t3.granted.total"
    (outcome,) = write_all(db, make_result("huge", values={key: 10**20, "t3.denied_state_secret.total": 4}))
    assert outcome.status == store.LOADED_WITH_ERRORS
    (finding,) = [f for f in outcome.findings if f.rule == "RANGE"]
    assert finding.keys == [key] and "100000000000000000000" in finding.message
    stored = {k: (v, s, raw) for k, v, s, raw in q(db, "SELECT key, value, status, raw FROM facts")}
    assert stored[key] == (None, "ambiguous", str(10**20))  # null, never a wrong number; the raw text kept
    assert stored["t3.denied_state_secret.total"] == (Decimal(4), "ok", "4")
    # also decimals beyond the column's 4 places and negative giants
    (o2,) = write_all(db, make_result("frac", agency="乙局", values={"t2.admin_fees.amount_wan_yuan": Decimal("0.00001"),
                                                                     key: -(10**15)}))  # fmt: skip
    assert sorted(k for f in o2.findings if f.rule == "RANGE" for k in f.keys) == sorted(
        [key, "t2.admin_fees.amount_wan_yuan"]
    )


def test_a_report_the_database_refuses_does_not_take_the_batch_down(db: Path) -> None:
    bad = make_result("bad", agency="坏数据局")
    bad.format = None  # type: ignore[assignment]  # reports.format is NOT NULL: the insert itself fails
    outcomes = write_all(db, make_result("ok1", agency="甲局"), bad, make_result("ok2", agency="乙局"))
    assert [o.status for o in outcomes] == [store.LOADED, store.UNREADABLE, store.LOADED]
    assert "写入数据库失败" in outcomes[1].message
    assert q(db, "SELECT agency FROM reports ORDER BY agency") == [("乙局",), ("甲局",)]
    assert q(db, "SELECT count(DISTINCT report_id) FROM facts") == [(2,)]
    assert q(db, "SELECT status FROM ingest_log WHERE source_path LIKE '%bad%'") == [(store.UNREADABLE,)]


def test_a_failed_write_leaves_the_live_file_untouched(db: Path) -> None:
    write_all(db, make_result("keep"))
    before = (db.read_bytes(), Database(db).version())
    with pytest.raises(RuntimeError), Database(db).write() as session:
        session.write(make_result("lost", agency="另一局"))
        raise RuntimeError("crash in the middle of an ingest")
    assert (db.read_bytes(), Database(db).version()) == before
    assert [p.name for p in db.parent.iterdir() if ".ingest-" in p.name] == []
    assert q(db, "SELECT agency FROM reports") == [("测试市司法局",)]


def test_second_concurrent_writer_is_refused(db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(swap_module, "LOCK_WAIT_S", 0.1)
    with Database(db).write(), pytest.raises(IngestLockedError, match="另一个入库任务"), Database(db).write():
        pass


def test_a_symlinked_database_is_followed_and_locked_as_one_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = tmp_path / "data" / "real.duckdb"
    real.parent.mkdir()
    link = tmp_path / "link.duckdb"
    link.symlink_to(real)
    write_all(link, make_result("via-link"))
    assert link.is_symlink() and os.readlink(link) == str(real)  # the link survives the swap
    assert real.is_file() and q(real, "SELECT count(*) FROM reports") == [(1,)]
    write_all(link, make_result("again", agency="乙局"))
    assert link.is_symlink() and q(link, "SELECT count(*) FROM reports") == [(2,)]
    # two names of one file lock each other out
    monkeypatch.setattr(swap_module, "LOCK_WAIT_S", 0.1)
    with Database(link).write(), pytest.raises(IngestLockedError), Database(real).write():
        pass


def test_stale_copies_of_a_killed_writer_are_removed_when_the_database_is_next_opened(db: Path) -> None:
    write_all(db, make_result("r1"))
    stale = [db.with_name(f".{db.name}.ingest-999999.tmp"), db.with_name(f".{db.name}.ingest-999999.tmp.wal")]
    # while a writer holds the lock, no copy is touched (it could be that writer's)
    with Database(db).write():
        for p in stale:
            p.write_bytes(b"a running writer's copy")
        assert Database(db).remove_stale_copies() == []
        assert all(p.exists() for p in stale)
    for p in stale:
        p.write_bytes(b"left by kill -9")
    Database.close_all()
    assert Database(db).execute("SELECT count(*) FROM reports") == [(1,)]  # a reader opening the file cleans up
    assert not any(p.exists() for p in stale)


def test_query_runs_typed_functions_and_names_a_missing_file(db: Path) -> None:
    def count_reports(con: duckdb.DuckDBPyConnection, agency: str) -> int:
        return con.execute("SELECT count(*) FROM reports WHERE agency = ?", [agency]).fetchall()[0][0]

    with pytest.raises(store.DatabaseMissing, match="不存在"):
        Database(db).query(count_reports, "甲局")
    write_all(db, make_result("r1", agency="甲局"))
    assert Database(db).query(count_reports, "甲局") == 1
    with pytest.raises(duckdb.Error):  # a broken query is not retried or disguised
        Database(db).execute("SELECT no_such_column FROM reports")


def test_read_connection_follows_swaps(db: Path) -> None:
    write_all(db, make_result("r1", agency="甲局"))
    database = Database(db)
    con1 = database.connection()
    assert database.connection() is con1  # cached while the file is unchanged
    v1 = database.version()
    write_all(db, make_result("r2", agency="乙局"))
    assert database.version() != v1
    con2 = database.connection()
    assert con2 is not con1
    assert con2.execute("SELECT count(*) FROM reports").fetchall() == [(2,)]
    assert con2.cursor().execute("SELECT count(*) FROM facts WHERE key = 't3.granted.total'").fetchall() == [(2,)]
    assert con1.execute("SELECT count(*) FROM reports").fetchall() == [(1,)]  # retired, still usable for now
    write_all(db, make_result("r3", agency="丙局"))
    assert database.execute("SELECT count(*) FROM reports") == [(3,)]
    with pytest.raises(duckdb.Error):  # closed at the next swap
        con1.execute("SELECT 1").fetchall()


def test_readers_keep_reading_while_writes_are_published(db: Path) -> None:
    """The dashboard's situation: reader threads query in a loop while writes replace the file."""
    write_all(db, make_result("start", agency="起始局"))
    errors: list[str] = []
    seen: set[int] = set()
    stop = threading.Event()

    def reader() -> None:
        while not stop.is_set():
            try:
                seen.add(Database(db).query(lambda con: con.execute("SELECT count(*) FROM reports").fetchall()[0][0]))
            except Exception as exc:  # a lock error or anything else fails the test
                errors.append(repr(exc))

    threads = [threading.Thread(target=reader) for _ in range(3)]
    for t in threads:
        t.start()
    for i in range(6):
        write_all(db, make_result(f"n{i}", agency=f"新增局{i}"))
        time.sleep(0.02)
    time.sleep(0.1)
    stop.set()
    for t in threads:
        t.join()
    assert errors == []
    assert 7 in seen  # the last swap is visible to the readers
    assert os.path.exists(db)


def test_a_worse_copy_does_not_displace_the_current_version(db: Path) -> None:
    (good,) = write_all(db, make_result("good"))
    broken = make_result("broken", findings=[Finding("LAYOUT", "error", "未找到表三", [])])
    (worse,) = write_all(db, broken)
    assert worse.status == store.LOADED_WITH_ERRORS and "仍为当前版本" in worse.message
    assert q(db, "SELECT report_id, is_current, replaced_by FROM reports ORDER BY report_id") == [
        (good.report_id, True, None),
        (worse.report_id, False, good.report_id),
    ]


def test_fact_page_and_box_are_kept(db: Path) -> None:
    r = make_result("pdf")
    fact = r.facts["t3.granted.total"]
    fact.page, fact.bbox = 3, (10.0, 20.5, 30.0, 40.0)
    write_all(db, r)
    assert q(db, "SELECT page, bbox FROM facts WHERE key = 't3.granted.total'") == [(3, [10.0, 20.5, 30.0, 40.0])]
