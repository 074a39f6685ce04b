"""The DuckDB store: schema migrations, writing parse results, cross-year checks and safe reading.

Concurrency design (see ``shared/notes/stack-notes.md``): DuckDB lets one process write a file *or* any number
read it, never both.  So an ingest never writes the live file.  :class:`Snapshot` copies the live database to a
temporary file in the same folder, the ingest writes into the copy (one transaction per report), then the copy is
checkpointed, closed and ``os.replace``-d over the live file in one atomic rename.  Readers holding the old file
keep reading the old inode until they reopen; a crash mid-ingest leaves the live file untouched.

Readers use :func:`read_connection`, which opens the file READ_ONLY through ``ATTACH`` inside a private in-memory
DuckDB instance.  That sidesteps DuckDB's per-process instance cache (which would hand back the *old* database
after a swap) and is cached per file identity ``(path, inode, mtime_ns)`` so a swap is picked up on the next call.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import threading
import traceback
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from importlib import resources
from pathlib import Path

import duckdb
import polars as pl

from pipeline.model import Finding, ParseResult
from pipeline.registry import registry

DEFAULT_DB = Path("data") / "xxgk.duckdb"
WRITER_MEMORY_LIMIT = os.environ.get("XXGK_WRITER_MEMORY", "128MB")
ENV_DB = "XXGK_DB"

# Statuses written to ingest_log.status (and counted in the ingest summary).
LOADED = "loaded"
LOADED_WITH_ERRORS = "loaded_with_errors"
REPLACED = "replaced"
UNCHANGED = "unchanged"
UNREADABLE = "unreadable"
NOT_REPORT = "not_report"  # read fine, but no annual-report tables in it: logged, not stored as a report
STATUSES = (LOADED, UNCHANGED, REPLACED, LOADED_WITH_ERRORS, NOT_REPORT, UNREADABLE)

# Rule ids of the soft cross-year checks (spec: "Validation rules", soft).
RULE_CARRY = "XY-1"  # carried_over[Y] = carry_forward[Y-1]
RULE_IN_FORCE = "XY-2"  # in_force[Y] = in_force[Y-1] + issued[Y] - repealed[Y]
RULE_META = "META"  # agency or year not detected


def resolve_db(db: str | os.PathLike[str] | None = None) -> Path:
    """The database path: ``--db`` if given, else env ``XXGK_DB``, else ``data/xxgk.duckdb``."""
    if db:
        return Path(db)
    env = os.environ.get(ENV_DB)
    return Path(env) if env else DEFAULT_DB


# ---------------------------------------------------------------------------------------------------------------
# Migrations


def _schema_v1() -> str:
    return resources.files("pipeline").joinpath("schema.sql").read_text(encoding="utf-8")


# (version, SQL). Version 1 is schema.sql, the single source of DDL. Never edit a released entry: append one.
MIGRATIONS: list[tuple[int, str]] = [
    (1, "@schema.sql"),
    # 2: facts without the (report_id, key) primary key.  Its ART index doubled the insert time and made the file
    # 3–7x larger (measured: the 10k benchmark 189 → 64 MB; 50k synthetic reports 680 → 93 MB).  Uniqueness holds by
    # construction: a report's facts come from a dict keyed by field key and report_id from a sequence; a test checks it.
    (
        2,
        """
        CREATE TABLE facts_v2 (
            report_id   INTEGER NOT NULL,
            key         VARCHAR NOT NULL,
            value       DECIMAL(18, 4),
            raw         VARCHAR,
            blank       BOOLEAN NOT NULL,
            status      VARCHAR NOT NULL,
            loc         VARCHAR,
            confidence  DOUBLE,
            page        INTEGER,
            bbox        DOUBLE[]
        );
        INSERT INTO facts_v2 SELECT report_id, key, value, raw, blank, status, loc, confidence, page, bbox
            FROM facts ORDER BY report_id, key;
        DROP TABLE facts;
        ALTER TABLE facts_v2 RENAME TO facts;
        """,
    ),
]


def _migration_sql(sql: str) -> str:
    return _schema_v1() if sql == "@schema.sql" else sql


def schema_version(con: duckdb.DuckDBPyConnection) -> int:
    """The highest applied migration (0 for an empty database)."""
    exists = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'schema_version'"
    ).fetchall()[0][0]
    if not exists:
        return 0
    return con.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchall()[0][0]


def migrate(con: duckdb.DuckDBPyConnection) -> int:
    """Apply every migration newer than the database's version, each in its own transaction."""
    current = schema_version(con)
    for version, sql in MIGRATIONS:
        if version <= current:
            continue
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute(_migration_sql(sql))
            con.execute("INSERT INTO schema_version (version) VALUES (?)", [version])
            con.execute("COMMIT")
        except Exception:
            con.execute("ROLLBACK")
            raise
        current = version
    return current


# ---------------------------------------------------------------------------------------------------------------
# Writing


@dataclass(slots=True)
class WriteOutcome:
    """What happened to one file: its ingest_log status, the report row and a message for people."""

    source_path: str
    status: str
    message: str
    report_id: int | None = None
    replaced_id: int | None = None
    n_errors: int = 0


@dataclass(slots=True)
class _Pending:
    """One file's rows, fully prepared in Python before any of them reaches the database."""

    source_path: str
    result: ParseResult | None  # None: a file that could not be read (log row only)
    message: str | None = None
    synthetic: bool = False
    seconds: float | None = None
    sha256: str | None = None


# Column types of the bulk inserts.  Polars frames, not pyarrow tables: building a pyarrow table from Python lists
# imports pandas (≈ 50 MB) into the ingest process.
_REPORT_SCHEMA: dict[str, pl.DataType] = {
    "report_id": pl.Int64, "sha256": pl.String, "source_path": pl.String, "source_url": pl.String,
    "format": pl.String, "size_bytes": pl.Int64, "agency": pl.String, "year": pl.Int32, "edition": pl.String,
    "t3_layout": pl.String, "edition_evidence": pl.String, "province": pl.String, "city": pl.String,
    "county": pl.String, "level": pl.String, "agency_type": pl.String, "synthetic": pl.Boolean,
    "n_errors": pl.Int32, "n_warnings": pl.Int32, "is_current": pl.Boolean, "replaced_by": pl.Int64,
}  # fmt: skip
_FACT_SCHEMA: dict[str, pl.DataType] = {
    "report_id": pl.Int64, "key": pl.String,
    "value": pl.String,  # exact decimal text, cast to DECIMAL(18,4) in SQL
    "raw": pl.String, "blank": pl.Boolean, "status": pl.String, "loc": pl.String, "confidence": pl.Float64,
    "page": pl.Int32, "bbox": pl.List(pl.Float64),
}  # fmt: skip
_FINDING_SCHEMA: dict[str, pl.DataType] = {
    "report_id": pl.Int64, "rule": pl.String, "severity": pl.String, "message": pl.String,
    "keys": pl.List(pl.String), "expected": pl.String, "actual": pl.String, "suspect_key": pl.String,
}  # fmt: skip
_SECTION_SCHEMA: dict[str, pl.DataType] = {
    "report_id": pl.Int64, "section": pl.String, "heading": pl.String, "text": pl.String,
}  # fmt: skip
_LOG_SCHEMA: dict[str, pl.DataType] = {
    "source_path": pl.String, "sha256": pl.String, "status": pl.String, "message": pl.String,
    "report_id": pl.Int64, "seconds": pl.Float64,
}  # fmt: skip


def _value_text(value: int | Decimal | float | None) -> str | None:
    if value is None:
        return None
    if isinstance(value, float):
        value = Decimal(repr(value))
    return str(value)


def _meta_findings(result: ParseResult) -> list[Finding]:
    """A finding for a report loaded without agency or year (it is then only keyed by its hash)."""
    missing = [
        label for label, v in (("发布机关", result.meta.agency), ("统计年度", result.meta.year)) if not v
    ]
    if not missing or any(f.rule == RULE_META for f in result.findings):
        return []
    return [
        Finding(
            rule=RULE_META,
            severity="warning",
            message=f"未能识别{'和'.join(missing)}，报告按内容哈希入库，不参与版本替换和跨年度核对；"
            "可在清单（manifest）中补充",
        )
    ]


def _heading(text: str) -> str | None:
    first = text.strip().split("\n", 1)[0].strip() if text else ""
    return first[:120] or None


def _status_message(
    rid: int, previous: int | None, n_errors: int, findings: list[Finding], kept: int | None = None
) -> tuple[str, str]:
    if n_errors:
        first = next(f for f in findings if f.severity == "error")
        if kept is not None:
            extra = f"；同一机关同一年度的当前版本 #{kept} 错误更少，仍为当前版本，本文件仅存为历史"
        elif previous is not None:
            extra = f"，替换旧版本 #{previous}"
        else:
            extra = ""
        return LOADED_WITH_ERRORS, (
            f"有 {n_errors} 个错误，例如 [{first.rule}] {first.message}（已入库为 #{rid}{extra}）"
        )
    if previous is not None:
        return REPLACED, f"已入库为 #{rid}，替换同一机关同一年度的旧版本 #{previous}（旧版本保留为历史）"
    return LOADED, f"已入库为 #{rid}"


class ReportWriter:
    """Writes parse results into an open read-write connection.

    Each report is atomic: all its rows (report, facts, findings, sections, log) are prepared in Python first and
    then inserted together inside a transaction, so a report is either fully stored or not at all.  For speed the
    writer groups up to ``batch_size`` reports into one transaction of bulk Arrow inserts; if such a group fails,
    it is rolled back and retried one report per transaction, so one bad report cannot take others with it.
    Versioning: an identical file (same sha256) is a no-op ('unchanged'); a new file for an (agency, year) that
    already has a current report becomes current and the old one gets ``is_current = false`` and
    ``replaced_by`` = the new id ('replaced') — unless the new file has *more* hard errors than the current
    version (a truncated or garbled copy): then it is stored as history only (``is_current = false``,
    ``replaced_by`` = the version that stays current) and reported as loaded with errors.
    """

    def __init__(self, con: duckdb.DuckDBPyConnection, batch_size: int = 200) -> None:
        self.con = con
        self.batch_size = batch_size
        self._pending: list[_Pending] = []

    # -- public API ------------------------------------------------------------------------------------------
    def add(
        self,
        result: ParseResult,
        *,
        synthetic: bool = False,
        source_path: str | None = None,
        seconds: float | None = None,
    ) -> list[WriteOutcome]:
        """Queue one parse result; returns the outcomes of any batch this flushed."""
        self._pending.append(_Pending(source_path or result.path, result, None, bool(synthetic), seconds))
        return self.flush() if len(self._pending) >= self.batch_size else []

    def add_unreadable(
        self, source_path: str, message: str, *, sha256: str | None = None, seconds: float | None = None
    ) -> list[WriteOutcome]:
        """Queue the ingest_log row of a file that could not be read; nothing else is touched."""
        self._pending.append(_Pending(source_path, None, message, False, seconds, sha256))
        return self.flush() if len(self._pending) >= self.batch_size else []

    def write(
        self,
        result: ParseResult,
        *,
        synthetic: bool = False,
        source_path: str | None = None,
        seconds: float | None = None,
    ) -> WriteOutcome:
        """Store one parse result now, in its own transaction."""
        self.flush()
        self.add(result, synthetic=synthetic, source_path=source_path, seconds=seconds)
        return self.flush()[0]

    def flush(self) -> list[WriteOutcome]:
        """Write every queued report; returns one outcome per queued file, in order."""
        batch, self._pending = self._pending, []
        if not batch:
            return []
        try:
            return self._write_batch(batch)
        except Exception:
            if len(batch) == 1:
                return [self._failed(batch[0])]
        outcomes: list[WriteOutcome] = []
        for item in batch:  # isolate the culprit: one transaction per report
            try:
                outcomes.extend(self._write_batch([item]))
            except Exception:
                outcomes.append(self._failed(item))
        return outcomes

    # -- internals -------------------------------------------------------------------------------------------
    def _failed(self, item: _Pending) -> WriteOutcome:
        err = traceback.format_exc(limit=1).strip().splitlines()[-1]
        msg = f"写入数据库失败，未入库: {err}"
        sha = item.result.sha256 if item.result else None
        self.con.execute(
            "INSERT INTO ingest_log (source_path, sha256, status, message, seconds) VALUES (?, ?, ?, ?, ?)",
            [item.source_path, sha, UNREADABLE, msg, item.seconds],
        )
        return WriteOutcome(item.source_path, UNREADABLE, msg)

    def _write_batch(self, batch: list[_Pending]) -> list[WriteOutcome]:
        con = self.con
        results = [b.result for b in batch if b.result is not None]
        shas = list({r.sha256 for r in results})
        known: dict[str, int] = {}
        current: dict[tuple[str, int], tuple[int, int]] = {}  # (agency, year) → (current id, its n_errors)
        if shas:
            con.register("_xxgk_shas", pl.DataFrame({"sha256": shas}))
            known = dict(
                con.execute("SELECT sha256, report_id FROM reports JOIN _xxgk_shas USING (sha256)").fetchall()
            )
            con.unregister("_xxgk_shas")
            pairs = {
                (r.meta.agency, r.meta.year) for r in results if r.meta.agency and r.meta.year is not None
            }
            if pairs:
                agencies, years = zip(*pairs, strict=True)
                con.register("_xxgk_pairs", pl.DataFrame({"agency": list(agencies), "year": list(years)}))
                current = {
                    (a, y): (rid, n_err)
                    for a, y, rid, n_err in con.execute(
                        "SELECT agency, year, report_id, n_errors FROM reports JOIN _xxgk_pairs USING (agency, year)"
                        " WHERE is_current"
                    ).fetchall()
                }
                con.unregister("_xxgk_pairs")
        n_new = sum(1 for r in results if r.sha256 not in known)
        ids = iter(
            [row[0] for row in con.execute(f"SELECT nextval('report_id_seq') FROM range({n_new})").fetchall()]
            if n_new
            else []
        )

        reports: dict[int, dict] = {}  # new report rows by id (in-batch replacement edits them)
        retire: dict[int, int] = {}  # already stored report → replacing id
        facts: dict[str, list] = {name: [] for name in _FACT_SCHEMA}
        findings: dict[str, list] = {name: [] for name in _FINDING_SCHEMA}
        sections: dict[str, list] = {name: [] for name in _SECTION_SCHEMA}
        log: dict[str, list] = {name: [] for name in _LOG_SCHEMA}
        outcomes: list[WriteOutcome] = []

        def log_row(
            path: str, sha: str | None, status: str, msg: str | None, rid: int | None, secs: float | None
        ) -> None:
            for name, v in zip(log, (path, sha, status, msg, rid, secs), strict=True):
                log[name].append(v)

        for item in batch:
            r = item.result
            if r is None:
                log_row(item.source_path, item.sha256, UNREADABLE, item.message, None, item.seconds)
                outcomes.append(WriteOutcome(item.source_path, UNREADABLE, item.message or ""))
                continue
            if r.meta.edition is None:
                reason = next((f.message for f in r.findings if f.severity == "error"), "未找到年报表格")
                msg = f"不是政府信息公开工作年度报告，未入库：{reason}"
                log_row(item.source_path, r.sha256, NOT_REPORT, msg, None, item.seconds)
                outcomes.append(WriteOutcome(item.source_path, NOT_REPORT, msg))
                continue
            if r.sha256 in known:
                rid = known[r.sha256]
                msg = f"内容未变化（与已入库报告 #{rid} 相同），跳过"
                log_row(item.source_path, r.sha256, UNCHANGED, msg, rid, item.seconds)
                outcomes.append(WriteOutcome(item.source_path, UNCHANGED, msg, rid))
                continue
            rid = next(ids)
            known[r.sha256] = rid
            meta = r.meta
            all_findings = list(r.findings) + _meta_findings(r)
            n_errors = sum(f.severity == "error" for f in all_findings)
            previous = kept = None
            if meta.agency and meta.year is not None:
                prev = current.get((meta.agency, meta.year))
                if prev is not None and n_errors > prev[1]:
                    kept = prev[0]  # a worse copy (e.g. truncated) must not displace a better current version
                else:
                    previous = prev[0] if prev else None
                    current[(meta.agency, meta.year)] = (rid, n_errors)
                if previous in reports:
                    reports[previous]["is_current"] = False
                    reports[previous]["replaced_by"] = rid
                elif previous is not None:
                    retire[previous] = rid
            reports[rid] = {
                "report_id": rid, "sha256": r.sha256, "source_path": item.source_path, "source_url": meta.url,
                "format": r.format, "size_bytes": r.size_bytes or None, "agency": meta.agency,
                "year": meta.year, "edition": meta.edition, "t3_layout": meta.t3_layout,
                "edition_evidence": "；".join(meta.edition_evidence) or None, "province": meta.province,
                "city": meta.city, "county": meta.county, "level": meta.level, "agency_type": meta.agency_type,
                "synthetic": item.synthetic, "n_errors": n_errors,
                "n_warnings": sum(f.severity == "warning" for f in all_findings),
                "is_current": kept is None, "replaced_by": kept,
            }  # fmt: skip
            for f in r.facts.values():
                facts["report_id"].append(rid)
                facts["key"].append(f.key)
                facts["value"].append(_value_text(f.value))
                facts["raw"].append(f.raw)
                facts["blank"].append(bool(f.blank))
                facts["status"].append(f.status)
                facts["loc"].append(f.loc)
                facts["confidence"].append(f.confidence)
                page = getattr(f, "page", None)
                bbox = getattr(f, "bbox", None)
                facts["page"].append(page)
                facts["bbox"].append(list(bbox) if bbox else None)
            for fd in all_findings:
                findings["report_id"].append(rid)
                findings["rule"].append(fd.rule)
                findings["severity"].append(fd.severity)
                findings["message"].append(fd.message)
                findings["keys"].append(list(fd.keys))
                findings["expected"].append(None if fd.expected is None else str(fd.expected))
                findings["actual"].append(None if fd.actual is None else str(fd.actual))
                findings["suspect_key"].append(fd.suspect_key)
            for sec, text in r.sections.items():
                for name, v in zip(sections, (rid, sec, _heading(text), text), strict=True):
                    sections[name].append(v)
            status, msg = _status_message(rid, previous, n_errors, all_findings, kept)
            log_row(item.source_path, r.sha256, status, msg, rid, item.seconds)
            outcomes.append(WriteOutcome(item.source_path, status, msg, rid, previous, n_errors))

        report_cols: dict[str, list] = {c: [row[c] for row in reports.values()] for c in _REPORT_SCHEMA}
        con.execute("BEGIN TRANSACTION")
        try:
            if reports:
                self._insert("reports", pl.DataFrame(report_cols, schema=_REPORT_SCHEMA))
            if retire:
                con.register("_xxgk_retire", pl.DataFrame({"old": list(retire), "new": list(retire.values())}))
                con.execute(
                    "UPDATE reports SET is_current = false, replaced_by = t.new FROM _xxgk_retire t"
                    " WHERE reports.report_id = t.old"
                )
                con.unregister("_xxgk_retire")
            if facts["key"]:
                self._insert(
                    "facts",
                    pl.DataFrame(facts, schema=_FACT_SCHEMA),
                    "report_id, key, CAST(value AS DECIMAL(18, 4)), raw, blank, status, loc, confidence, page, bbox",
                )
            if findings["rule"]:
                self._insert("findings", pl.DataFrame(findings, schema=_FINDING_SCHEMA))
            if sections["section"]:
                self._insert("sections", pl.DataFrame(sections, schema=_SECTION_SCHEMA))
            self._insert("ingest_log", pl.DataFrame(log, schema=_LOG_SCHEMA))
            con.execute("COMMIT")
        except Exception:
            con.execute("ROLLBACK")
            raise
        return outcomes

    def _insert(self, table: str, data: pl.DataFrame, select: str | None = None) -> None:
        cols = ", ".join(data.columns)
        self.con.register("_xxgk_rows", data)
        try:
            self.con.execute(f"INSERT INTO {table} ({cols}) SELECT {select or cols} FROM _xxgk_rows")
        finally:
            self.con.unregister("_xxgk_rows")


# ---------------------------------------------------------------------------------------------------------------
# Cross-year soft rules


def _cross_year_pairs() -> tuple[list[tuple[str, str, str, str]], list[tuple[str, str, str, str, str, str]]]:
    """Registry-derived key pairs: XY-1 (carried_over key, carry_forward key, labels) and XY-2 rows."""
    reg = registry()
    carry = []
    for col_key, _ in reg.columns("t3"):
        cur, prev = reg.key_for("t3", "carried_over", col_key), reg.key_for("t3", "carry_forward", col_key)
        if cur in reg and prev in reg:
            carry.append((cur, prev, reg[cur].label, reg[prev].label))
    in_force = []
    for row_key, _, _ in reg.rows("t2"):
        keys = [reg.key_for("t2", row_key, c) for c in ("in_force", "issued", "repealed")]
        if all(k in reg for k in keys):
            in_force.append((*keys, reg[keys[0]].label, reg[keys[1]].label, reg[keys[2]].label))
    return carry, in_force


def refresh_cross_year(con: duckdb.DuckDBPyConnection) -> int:
    """Recompute the cross-year findings over current reports (replacing the previous set). Returns the count.

    Blank and "/" cells count as 0 here, as in the arithmetic checks; cells that were not located or are not in
    the report's layout are skipped (nothing to compare).
    """
    carry, in_force = _cross_year_pairs()
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute("DELETE FROM findings WHERE scope = 'cross_year'")
        usable = """
            SELECT r.report_id, r.agency, r.year, f.key, coalesce(f.value, 0) AS v
            FROM reports r JOIN facts f USING (report_id)
            WHERE r.is_current AND r.agency IS NOT NULL AND r.year IS NOT NULL
              AND f.status IN ('ok', 'blank', 'null_marker')
              AND f.key IN (SELECT unnest(?::VARCHAR[]))"""  # only the cells the rules compare: bounded memory
        if carry:
            pairs = pl.DataFrame(
                {
                    k: list(v)
                    for k, v in zip(
                        ("cur", "prev", "cur_label", "prev_label"), zip(*carry, strict=True), strict=True
                    )
                }
            )
            con.register("_xy_carry", pairs)
            con.execute(f"""
                INSERT INTO findings (report_id, rule, severity, message, keys, expected, actual, scope)
                WITH u AS ({usable})
                SELECT c.report_id, '{RULE_CARRY}', 'warning',
                       c.agency || ' ' || c.year || ' 年表三「' || p.cur_label || '」为 ' || CAST(c.v AS BIGINT)
                       || '，与 ' || o.year || ' 年表三「' || p.prev_label || '」' || CAST(o.v AS BIGINT)
                       || ' 不一致（上年结转应等于上一年度的结转下年度继续办理）',
                       [p.cur, p.prev], CAST(CAST(o.v AS BIGINT) AS VARCHAR), CAST(CAST(c.v AS BIGINT) AS VARCHAR),
                       'cross_year'
                FROM _xy_carry p
                JOIN u c ON c.key = p.cur
                JOIN u o ON o.key = p.prev AND o.agency = c.agency AND o.year = c.year - 1
                WHERE c.v <> o.v""", [[k for pair in carry for k in pair[:2]]])
            con.unregister("_xy_carry")
        if in_force:
            names = ("in_force", "issued", "repealed", "in_force_label", "issued_label", "repealed_label")
            rows = pl.DataFrame({k: list(v) for k, v in zip(names, zip(*in_force, strict=True), strict=True)})
            con.register("_xy_in_force", rows)
            con.execute(f"""
                INSERT INTO findings (report_id, rule, severity, message, keys, expected, actual, scope)
                WITH u AS ({usable})
                SELECT c.report_id, '{RULE_IN_FORCE}', 'warning',
                       c.agency || ' ' || c.year || ' 年表二「' || p.in_force_label || '」为 ' || CAST(c.v AS BIGINT)
                       || '，按 ' || o.year || ' 年现行有效 ' || CAST(o.v AS BIGINT) || ' + 本年制发 '
                       || CAST(i.v AS BIGINT) || ' − 本年废止 ' || CAST(r.v AS BIGINT) || ' 应为 '
                       || CAST(o.v + i.v - r.v AS BIGINT),
                       [p.in_force, p.issued, p.repealed],
                       CAST(CAST(o.v + i.v - r.v AS BIGINT) AS VARCHAR), CAST(CAST(c.v AS BIGINT) AS VARCHAR),
                       'cross_year'
                FROM _xy_in_force p
                JOIN u c ON c.key = p.in_force
                JOIN u i ON i.report_id = c.report_id AND i.key = p.issued
                JOIN u r ON r.report_id = c.report_id AND r.key = p.repealed
                JOIN u o ON o.key = p.in_force AND o.agency = c.agency AND o.year = c.year - 1
                WHERE c.v <> o.v + i.v - r.v""", [[k for row in in_force for k in row[:3]]])
            con.unregister("_xy_in_force")
        n = con.execute("SELECT count(*) FROM findings WHERE scope = 'cross_year'").fetchall()[0][0]
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    return n


# ---------------------------------------------------------------------------------------------------------------
# Snapshot swap (writer side)


class IngestLockedError(RuntimeError):
    """Another ingest holds the database's lock file."""


@contextlib.contextmanager
def _ingest_lock(db: Path) -> Iterator[None]:
    """One ingest per database at a time (two snapshots would overwrite each other's work)."""
    lock_path = db.with_name(db.name + ".ingest.lock")
    with open(lock_path, "a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise IngestLockedError(f"数据库 {db} 正在被另一个入库任务写入，请稍后再试") from None
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


class Snapshot:
    """A private writable copy of the database that replaces the live file atomically on :meth:`commit`.

    Use as a context manager: leaving the block without :meth:`commit` (e.g. on an exception) deletes the copy and
    leaves the live database exactly as it was.
    """

    def __init__(self, db: str | os.PathLike[str]) -> None:
        self.db = Path(db)
        self.tmp = self.db.with_name(f".{self.db.name}.ingest-{os.getpid()}.tmp")
        self.con: duckdb.DuckDBPyConnection | None = None
        self._lock = _ingest_lock(self.db)
        self.committed = False

    def __enter__(self) -> Snapshot:
        self.db.parent.mkdir(parents=True, exist_ok=True)
        self._lock.__enter__()
        try:
            for stale in self.db.parent.glob(f".{self.db.name}.ingest-*.tmp*"):
                stale.unlink(missing_ok=True)  # left by a crashed ingest; we hold the lock, so nobody uses it
            if self.db.exists():
                shutil.copyfile(self.db, self.tmp)
            # Bound DuckDB's buffer pool so the writer's memory stays flat as the database grows (it evicts
            # cached blocks and spills large joins to disk instead).
            self.con = duckdb.connect(str(self.tmp), config={"memory_limit": WRITER_MEMORY_LIMIT})
            migrate(self.con)
        except BaseException:
            self._cleanup()
            self._lock.__exit__(None, None, None)
            raise
        return self

    def commit(self) -> None:
        """CHECKPOINT, close and atomically swap the copy in as the live database."""
        assert self.con is not None
        self.con.execute("CHECKPOINT")
        self.con.close()
        self.con = None
        os.replace(self.tmp, self.db)
        self.committed = True

    def _cleanup(self) -> None:
        if self.con is not None:
            with contextlib.suppress(Exception):
                self.con.close()
            self.con = None
        if not self.committed:
            for p in (self.tmp, self.tmp.with_name(self.tmp.name + ".wal")):
                p.unlink(missing_ok=True)

    def __exit__(self, *exc: object) -> None:
        try:
            self._cleanup()
        finally:
            self._lock.__exit__(None, None, None)


def init_db(db: str | os.PathLike[str]) -> Path:
    """Create (or migrate) the database at ``db`` through a snapshot; returns its path."""
    with Snapshot(db) as snap:
        snap.commit()
    return Path(db)


# ---------------------------------------------------------------------------------------------------------------
# Reader side


def db_version(db_path: str | os.PathLike[str]) -> str:
    """A token that changes whenever the database file is swapped or rewritten (for cache keys).

    Empty string when the file does not exist.
    """
    try:
        st = os.stat(db_path)
    except FileNotFoundError:
        return ""
    return f"{st.st_ino}:{st.st_mtime_ns}:{st.st_size}"


_readers: dict[str, tuple[str, duckdb.DuckDBPyConnection]] = {}
_retired: dict[str, duckdb.DuckDBPyConnection] = {}
_readers_lock = threading.Lock()


def open_read_only(db_path: str | os.PathLike[str]) -> duckdb.DuckDBPyConnection:
    """A fresh read-only connection (caller closes it), immune to DuckDB's instance cache."""
    path = Path(db_path)
    if not path.exists():
        raise FileNotFoundError(f"数据库不存在: {path}（先运行 xxgk ingest）")
    con = duckdb.connect(":memory:")
    try:
        quoted = str(path.resolve()).replace("'", "''")
        con.execute(f"ATTACH '{quoted}' AS xxgk (READ_ONLY)")
        # Views in the private in-memory catalog make plain table names work on this connection *and* on its
        # cursors (``USE`` would only apply to this one connection).
        names = con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = 'xxgk' AND schema_name = 'main'"
            " UNION SELECT view_name FROM duckdb_views() WHERE database_name = 'xxgk' AND schema_name = 'main'"
            " AND NOT internal"
        ).fetchall()
        for (name,) in names:
            ident = '"' + name.replace('"', '""') + '"'
            con.execute(f"CREATE VIEW {ident} AS SELECT * FROM xxgk.main.{ident}")
    except Exception:
        con.close()
        raise
    return con


def read_connection(db_path: str | os.PathLike[str] | None = None) -> duckdb.DuckDBPyConnection:
    """A cached read-only connection to the current database file.

    Cached per (path, inode, mtime_ns, size): after an ingest swaps the file in, the next call opens the new file;
    the stale connection is closed at the swap after that (so a query still running on it can finish).
    Threads should run queries on their own ``read_connection(p).cursor()``.
    """
    path = resolve_db(db_path).resolve()
    key = str(path)
    with _readers_lock:
        version = db_version(path)
        cached = _readers.get(key)
        if cached and cached[0] == version:
            return cached[1]
        con = open_read_only(path)
        _readers[key] = (version, con)
        if cached:
            # Close the connection retired at the previous swap; keep the one just retired open a while longer
            # so queries other threads are running on it can finish.
            stale = _retired.pop(key, None)
            _retired[key] = cached[1]
            if stale is not None:
                with contextlib.suppress(Exception):
                    stale.close()
        return con


def close_readers() -> None:
    """Close every cached reader connection (tests, shutdown)."""
    with _readers_lock:
        for con in [c for _, c in _readers.values()] + list(_retired.values()):
            with contextlib.suppress(Exception):
                con.close()
        _readers.clear()
        _retired.clear()


# ---------------------------------------------------------------------------------------------------------------
# Queries used by the CLI


def recent_findings(
    con: duckdb.DuckDBPyConnection, limit: int = 50, severity: str | None = None
) -> list[tuple]:
    """Findings of current reports (and cross-year ones), newest report first."""
    where = "AND f.severity = ?" if severity else ""
    params: list[object] = [severity] if severity else []
    return con.execute(
        f"""SELECT r.report_id, r.agency, r.year, f.rule, f.severity, f.message, f.scope
            FROM findings f LEFT JOIN reports r USING (report_id)
            WHERE (r.is_current OR r.report_id IS NULL) {where}
            ORDER BY r.loaded_at DESC NULLS LAST, r.report_id DESC, f.severity, f.rule
            LIMIT {int(limit)}""",
        params,
    ).fetchall()


def report_history(con: duckdb.DuckDBPyConnection, agency: str, year: int) -> list[tuple]:
    """Every stored version of one agency's report for one year, oldest first."""
    return con.execute(
        """SELECT report_id, is_current, replaced_by, sha256, source_path, loaded_at, n_errors, n_warnings
           FROM reports WHERE agency = ? AND year = ? ORDER BY report_id""",
        [agency, year],
    ).fetchall()
