"""What the store writes for one file: its ingest_log status, and the rows of a report as polars column lists.

Everything here is plain Python (no database): the writer prepares every row of a report before any of them reaches
DuckDB, so a report is stored whole or not at all.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

import polars as pl

from pipeline.model import Finding, Meta, ParseResult
from pipeline.store.derived import DERIVED_SCHEMA, derived_columns
from pipeline.validator import RULE_RANGE, is_storable, range_findings

# Statuses written to ingest_log.status (and counted in the ingest summary).
LOADED = "loaded"
LOADED_WITH_ERRORS = "loaded_with_errors"
REPLACED = "replaced"
UNCHANGED = "unchanged"
UNREADABLE = "unreadable"
NOT_REPORT = "not_report"  # read fine, but no annual-report tables in it: logged, not stored as a report
STATUSES = (LOADED, UNCHANGED, REPLACED, LOADED_WITH_ERRORS, NOT_REPORT, UNREADABLE)
PROBLEM_STATUSES = (LOADED_WITH_ERRORS, NOT_REPORT, UNREADABLE)


@dataclass(slots=True)
class WriteOutcome:
    """What happened to one file: its ingest_log status, the report row and a message for people."""

    source_path: str
    status: str
    message: str
    report_id: int | None = None
    replaced_id: int | None = None
    n_errors: int = 0
    sha256: str | None = None
    findings: list[Finding] = field(default_factory=list)  # the report's own findings as stored


@dataclass(slots=True)
class ShardReport:
    """A parse result that a cluster worker already turned into rows (:mod:`pipeline.store.shards`).

    The writer's decisions (dedup by sha256, versions) need only what is held here; the report's facts and sections
    stay in the shard's Parquet files until the batch is inserted, under the report id the writer gives it.
    """

    sha256: str
    meta: Meta  # agency, year and edition: what the decisions read
    findings: list[Finding]  # as the writer stores them (stored_findings) for a report; the parser's otherwise
    row: dict | None  # the reports row the worker built from the result; None when it is not a report
    shard: str  # the shard folder
    seq: int  # the file's place in the ingest: the report_id of its rows inside the shard


@dataclass(slots=True)
class PendingFile:
    """One file queued for writing: a parse result, or None for a file that could not be read (log row only)."""

    source_path: str
    result: ParseResult | ShardReport | None
    message: str | None = None
    synthetic: bool = False
    seconds: float | None = None
    sha256: str | None = None
    stored_id: int | None = None  # recognised as this stored report by its hash before parsing (result is None)


Schema = dict[str, pl.DataType | type[pl.DataType]]

# Column types of the bulk inserts.  Polars frames, not pyarrow tables: building a pyarrow table from Python lists
# imports pandas (≈ 50 MB) into the ingest process.
REPORT_SCHEMA: Schema = {
    "report_id": pl.Int64, "sha256": pl.String, "source_path": pl.String, "source_url": pl.String,
    "format": pl.String, "size_bytes": pl.Int64, "agency": pl.String, "year": pl.Int32, "edition": pl.String,
    "t3_layout": pl.String, "edition_evidence": pl.String, "province": pl.String, "city": pl.String,
    "county": pl.String, "level": pl.String, "agency_type": pl.String, "synthetic": pl.Boolean,
    "n_errors": pl.Int32, "n_warnings": pl.Int32, "is_current": pl.Boolean, "replaced_by": pl.Int64,
    "fetched_at": pl.Datetime("us"), "published": pl.Date, "published_source": pl.String, "is_summary": pl.Boolean,
}  # fmt: skip
FACT_SCHEMA: Schema = {
    "report_id": pl.Int64, "key": pl.String,
    "value": pl.String,  # exact decimal text, cast to DECIMAL(18,4) in SQL
    "raw": pl.String, "blank": pl.Boolean, "status": pl.String, "loc": pl.String, "confidence": pl.Float64,
    "page": pl.Int32, "bbox": pl.List(pl.Float64),
}  # fmt: skip
FINDING_SCHEMA: Schema = {
    "report_id": pl.Int64, "rule": pl.String, "severity": pl.String, "message": pl.String,
    "keys": pl.List(pl.String), "expected": pl.String, "actual": pl.String, "suspect_key": pl.String,
}  # fmt: skip
SECTION_SCHEMA: Schema = {
    "report_id": pl.Int64, "section": pl.String, "heading": pl.String, "text": pl.String,
}  # fmt: skip
LOG_SCHEMA: Schema = {
    "source_path": pl.String, "sha256": pl.String, "status": pl.String, "message": pl.String,
    "report_id": pl.Int64, "seconds": pl.Float64,
}  # fmt: skip
FACTS_SELECT = "report_id, key, CAST(value AS DECIMAL(18, 4)), raw, blank, status, loc, confidence, page, bbox"


def _columns(schema: Schema) -> dict[str, list]:
    return {name: [] for name in schema}


@dataclass
class BatchRows:
    """The rows of one write batch, column by column, ready for bulk inserts."""

    reports: dict[int, dict] = field(default_factory=dict)  # new report rows by id (in-batch replacement edits them)
    facts: dict[str, list] = field(default_factory=lambda: _columns(FACT_SCHEMA))
    findings: dict[str, list] = field(default_factory=lambda: _columns(FINDING_SCHEMA))
    sections: dict[str, list] = field(default_factory=lambda: _columns(SECTION_SCHEMA))
    derived: dict[str, list] = field(default_factory=lambda: _columns(DERIVED_SCHEMA))
    log: dict[str, list] = field(default_factory=lambda: _columns(LOG_SCHEMA))
    from_shards: list[tuple[str, int, int]] = field(default_factory=list)  # (shard, seq, report id) to insert

    def log_row(self, item: PendingFile, sha: str | None, status: str, msg: str | None, rid: int | None) -> None:
        for name, v in zip(self.log, (item.source_path, sha, status, msg, rid, item.seconds), strict=True):
            self.log[name].append(v)

    def add_report(self, rid: int, item: PendingFile, findings: list[Finding], current: bool, kept: int | None) -> None:
        """The report, facts, findings, sections and derived rows of one parse result (facts, sections and derived
        totals of a :class:`ShardReport` are inserted from its shard, see :attr:`from_shards`)."""
        r = item.result
        assert r is not None
        if isinstance(r, ShardReport):
            assert r.row is not None
            row = dict(r.row)
            self.from_shards.append((r.shard, r.seq, rid))
        else:
            row = result_columns(r)
            self._add_facts(rid, r)
        row.update(
            report_id=rid, source_path=item.source_path, synthetic=item.synthetic,
            n_errors=sum(f.severity == "error" for f in findings),
            n_warnings=sum(f.severity == "warning" for f in findings), is_current=current, replaced_by=kept,
        )  # fmt: skip
        self.reports[rid] = row
        self.add_findings(rid, findings)

    def _add_facts(self, rid: int, r: ParseResult) -> None:
        """Facts, sections and derived totals (the rows a shard keeps in Parquet until they are inserted)."""
        facts, fs = self.facts, list(r.facts.values())
        storable = [is_storable(f.value) for f in fs]
        # column by column with comprehensions: ≈ 400 facts a report, the writer's largest per-row Python cost
        facts["report_id"].extend([rid] * len(fs))
        facts["key"].extend([f.key for f in fs])
        facts["value"].extend([_value_text(f.value) if ok else None for f, ok in zip(fs, storable, strict=True)])
        facts["raw"].extend([f.raw for f in fs])
        facts["blank"].extend([bool(f.blank) for f in fs])
        facts["status"].extend([f.status if ok else "ambiguous" for f, ok in zip(fs, storable, strict=True)])
        facts["loc"].extend([f.loc for f in fs])
        facts["confidence"].extend([f.confidence for f in fs])
        facts["page"].extend([f.page for f in fs])
        facts["bbox"].extend([list(f.bbox) if f.bbox else None for f in fs])
        for sec, text in r.sections.items():
            for name, v in zip(self.sections, (rid, sec, _heading(text), text), strict=True):
                self.sections[name].append(v)
        derived_columns(rid, r.derived, self.derived)

    def add_findings(self, rid: int, findings: list[Finding]) -> None:
        out = self.findings
        for fd in findings:
            out["report_id"].append(rid)
            out["rule"].append(fd.rule)
            out["severity"].append(fd.severity)
            out["message"].append(fd.message)
            out["keys"].append(list(fd.keys))
            out["expected"].append(None if fd.expected is None else str(fd.expected))
            out["actual"].append(None if fd.actual is None else str(fd.actual))
            out["suspect_key"].append(fd.suspect_key)

    def frames(self) -> dict[str, pl.DataFrame]:
        """Non-empty tables of this batch as polars frames (ingest_log always has rows)."""
        out = {"ingest_log": pl.DataFrame(self.log, schema=LOG_SCHEMA)}
        if self.reports:
            cols = {c: [row[c] for row in self.reports.values()] for c in REPORT_SCHEMA}
            out["reports"] = pl.DataFrame(cols, schema=REPORT_SCHEMA)
        if self.facts["key"]:
            out["facts"] = pl.DataFrame(self.facts, schema=FACT_SCHEMA)
        if self.findings["rule"]:
            out["findings"] = pl.DataFrame(self.findings, schema=FINDING_SCHEMA)
        if self.sections["section"]:
            out["sections"] = pl.DataFrame(self.sections, schema=SECTION_SCHEMA)
        if self.derived["key"]:
            out["derived"] = pl.DataFrame(self.derived, schema=DERIVED_SCHEMA)
        return out


def result_columns(r: ParseResult) -> dict:
    """The columns of a reports row that come from the parse result itself (the writer adds the rest)."""
    meta = r.meta
    return {
        "sha256": r.sha256, "source_url": meta.url, "format": r.format, "size_bytes": r.size_bytes or None,
        "agency": meta.agency, "year": meta.year, "edition": meta.edition, "t3_layout": meta.t3_layout,
        "edition_evidence": "；".join(meta.edition_evidence) or None, "province": meta.province,
        "city": meta.city, "county": meta.county, "level": meta.level, "agency_type": meta.agency_type,
        "fetched_at": meta.fetched_at,
        "published": date.fromisoformat(meta.published) if meta.published else None,
        "published_source": meta.published_source if meta.published else None, "is_summary": meta.summary,
    }  # fmt: skip


def stored_findings(result: ParseResult) -> list[Finding]:
    """The findings stored with a report: the parser's, plus the validator's range errors for values the store
    cannot hold (the parser refuses most of them first; this keeps the writer safe whatever it is given)."""
    if any(f.rule == RULE_RANGE for f in result.findings):
        return list(result.findings)
    return list(result.findings) + range_findings(result.facts)


def _value_text(value: int | Decimal | float | None) -> str | None:
    if value is None:
        return None
    if isinstance(value, float):
        value = Decimal(repr(value))
    return str(value)


def _heading(text: str) -> str | None:
    first = text.strip().split("\n", 1)[0].strip() if text else ""
    return first[:120] or None


def status_message(
    rid: int, previous: int | None, n_errors: int, findings: list[Finding], kept: int | None = None
) -> tuple[str, str]:
    """(status, message) of a stored report."""
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
