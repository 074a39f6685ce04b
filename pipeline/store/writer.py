"""The one write path: parse results → rows of reports, facts, findings, sections and ingest_log, in batches.

Each report is atomic: all its rows are prepared in Python first (:mod:`pipeline.store.rows`) and inserted together
inside a transaction, so a report is either fully stored or not at all.  For speed up to ``batch_size`` reports
share one transaction of bulk inserts; if such a batch fails it is rolled back and retried one report per
transaction, so one bad report cannot take others with it.

Versioning: an identical file (same sha256) is a no-op ('unchanged'); a new file for an (agency, year) that already
has a current report becomes current, and the old one gets ``is_current = false`` and ``replaced_by`` = the new id
('replaced') — unless the new file has *more* hard errors than the current version (a truncated or garbled copy):
then it is stored as history only (``is_current = false``, ``replaced_by`` = the version that stays current).

Rows go to the tables of ``target`` (the write session's new segment, :mod:`pipeline.store.segments`); look-ups read
the store's views (every segment).  Published segments are never changed, so retiring an older version is a row
in ``retired`` (applied by the ``reports`` view) rather than an UPDATE; a batch's ``report_cells`` rows are pivoted
from the facts and derived totals it has just inserted (:mod:`pipeline.store.cells`), in the same transaction.
"""

from __future__ import annotations

import traceback

import duckdb
import polars as pl

from pipeline.model import ParseResult
from pipeline.store.cells import TABLE as CELLS_TABLE
from pipeline.store.cells import batch_cells
from pipeline.store.derived import DERIVED_SELECT
from pipeline.store.rows import (
    FACTS_SELECT,
    NOT_REPORT,
    UNCHANGED,
    UNREADABLE,
    BatchRows,
    PendingFile,
    ShardReport,
    WriteOutcome,
    status_message,
    stored_findings,
)
from pipeline.store.shards import SHARD_INSERTS, insert_from_shards

DEFAULT_BATCH_SIZE = 200
# Insert order inside a batch's transaction (the report rows first: the others refer to them).
_TABLES = ("reports", "facts", "findings", "sections", "derived", "ingest_log")
_SELECT = {"facts": FACTS_SELECT, "derived": DERIVED_SELECT}


class ReportWriter:
    """Writes parse results into an open read-write connection (see the module docstring)."""

    def __init__(self, con: duckdb.DuckDBPyConnection, batch_size: int = DEFAULT_BATCH_SIZE, *, target: str = "seg",
                 id_sequence: str = "cat.main.report_id_seq") -> None:  # fmt: skip
        self.con = con
        self.batch_size = batch_size
        self.target = f"{target}.main." if target else ""
        self.id_sequence = id_sequence
        self._pending: list[PendingFile] = []

    def add(
        self,
        result: ParseResult,
        *,
        synthetic: bool = False,
        source_path: str | None = None,
        seconds: float | None = None,
    ) -> list[WriteOutcome]:
        """Queue one parse result; returns the outcomes of any batch this flushed."""
        return self.queue(PendingFile(source_path or result.path, result, None, bool(synthetic), seconds))

    def add_unreadable(
        self, source_path: str, message: str, *, sha256: str | None = None, seconds: float | None = None
    ) -> list[WriteOutcome]:
        """Queue the ingest_log row of a file that could not be read; nothing else is touched."""
        return self.queue(PendingFile(source_path, None, message, False, seconds, sha256))

    def add_stored(
        self, source_path: str, sha256: str, report_id: int, *, seconds: float | None = None
    ) -> list[WriteOutcome]:
        """Queue the ingest_log row of a file recognised by its hash as stored report ``report_id``, unparsed."""
        return self.queue(PendingFile(source_path, None, None, False, seconds, sha256, report_id))

    def queue(self, item: PendingFile) -> list[WriteOutcome]:
        """Queue one file (also one read back from a cluster shard); returns the outcomes of any batch flushed."""
        self._pending.append(item)
        return self.flush() if len(self._pending) >= self.batch_size else []

    def flush(self) -> list[WriteOutcome]:
        """Write every queued file; returns one outcome per queued file, in order."""
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
    def _failed(self, item: PendingFile) -> WriteOutcome:
        err = traceback.format_exc(limit=1).strip().splitlines()[-1]
        msg = f"写入数据库失败，未入库: {err}"
        sha = item.result.sha256 if item.result else item.sha256
        self.con.execute(
            f"INSERT INTO {self.target}ingest_log (source_path, sha256, status, message, seconds) VALUES (?, ?, ?, ?, ?)",
            [item.source_path, sha, UNREADABLE, msg, item.seconds],
        )
        return WriteOutcome(item.source_path, UNREADABLE, msg, sha256=sha)

    def _lookup(
        self, results: list[ParseResult | ShardReport]
    ) -> tuple[dict[str, int], dict[tuple[str, int], tuple[int, int]]]:
        """Stored report ids of these hashes, and the current (id, n_errors) of these (agency, year) pairs."""
        con = self.con
        shas = list({r.sha256 for r in results})
        if not shas:
            return {}, {}
        con.register("_xxgk_shas", pl.DataFrame({"sha256": shas}))
        known = dict(con.execute("SELECT sha256, report_id FROM reports JOIN _xxgk_shas USING (sha256)").fetchall())
        con.unregister("_xxgk_shas")
        pairs = {(r.meta.agency, r.meta.year) for r in results if r.meta.agency and r.meta.year is not None}
        if not pairs:
            return known, {}
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
        return known, current

    def _write_batch(self, batch: list[PendingFile]) -> list[WriteOutcome]:
        results = [b.result for b in batch if b.result is not None]
        known, current = self._lookup(results)
        n_new = len({r.sha256 for r in results if r.sha256 not in known and r.meta.edition is not None})
        ids = iter(
            [row[0] for row in self.con.execute(f"SELECT nextval('{self.id_sequence}') FROM range({n_new})").fetchall()]
            if n_new
            else []
        )
        rows = BatchRows()
        retire: dict[int, int] = {}  # already stored report → replacing id
        outcomes: list[WriteOutcome] = []
        for item in batch:
            r = item.result
            if r is None and item.stored_id is not None:  # recognised by its hash before parsing
                outcomes.append(_unchanged(rows, item, item.sha256, item.stored_id))
                continue
            if r is None:
                rows.log_row(item, item.sha256, UNREADABLE, item.message, None)
                outcomes.append(WriteOutcome(item.source_path, UNREADABLE, item.message or "", sha256=item.sha256))
                continue
            if r.meta.edition is None:
                reason = next((f.message for f in r.findings if f.severity == "error"), "未找到年报表格")
                msg = f"不是政府信息公开工作年度报告，未入库：{reason}"
                rows.log_row(item, r.sha256, NOT_REPORT, msg, None)
                outcomes.append(WriteOutcome(item.source_path, NOT_REPORT, msg, sha256=r.sha256, findings=r.findings))
                continue
            if r.sha256 in known:
                outcomes.append(_unchanged(rows, item, r.sha256, known[r.sha256]))
                continue
            rid = next(ids)
            known[r.sha256] = rid
            findings = r.findings if isinstance(r, ShardReport) else stored_findings(r)
            n_errors = sum(f.severity == "error" for f in findings)
            previous = kept = None
            meta = r.meta
            if meta.agency and meta.year is not None:
                prev = current.get((meta.agency, meta.year))
                if prev is not None and n_errors > prev[1]:
                    kept = prev[0]  # a worse copy (e.g. truncated) must not displace a better current version
                else:
                    previous = prev[0] if prev else None
                    current[(meta.agency, meta.year)] = (rid, n_errors)
                if previous in rows.reports:
                    rows.reports[previous]["is_current"] = False
                    rows.reports[previous]["replaced_by"] = rid
                elif previous is not None:
                    retire[previous] = rid
            rows.add_report(rid, item, findings, current=kept is None, kept=kept)
            status, msg = status_message(rid, previous, n_errors, findings, kept)
            rows.log_row(item, r.sha256, status, msg, rid)
            outcomes.append(WriteOutcome(item.source_path, status, msg, rid, previous, n_errors, r.sha256, findings))
        self._commit(rows, retire)
        return outcomes

    def _commit(self, rows: BatchRows, retire: dict[int, int]) -> None:
        con = self.con
        frames = rows.frames()
        con.execute("BEGIN TRANSACTION")
        try:
            for table in _TABLES:
                if table in frames:
                    self._insert(table, frames[table], _SELECT.get(table))
                if rows.from_shards and table in SHARD_INSERTS:
                    insert_from_shards(con, table, rows.from_shards, self.target)
            if retire:
                self._insert("retired", pl.DataFrame({"report_id": list(retire), "replaced_by": list(retire.values())},
                                                     schema={"report_id": pl.Int64, "replaced_by": pl.Int64}))  # fmt: skip
            if rows.reports:
                self._insert(CELLS_TABLE, batch_cells(con, min(rows.reports), max(rows.reports), self.target))
            con.execute("COMMIT")
        except Exception:
            con.execute("ROLLBACK")
            raise

    def _insert(self, table: str, data: pl.DataFrame, select: str | None = None) -> None:
        cols = ", ".join(data.columns)
        self.con.register("_xxgk_rows", data)
        try:
            self.con.execute(f"INSERT INTO {self.target}{table} ({cols}) SELECT {select or cols} FROM _xxgk_rows")
        finally:
            self.con.unregister("_xxgk_rows")


def _unchanged(rows: BatchRows, item: PendingFile, sha: str | None, rid: int) -> WriteOutcome:
    """The log row and outcome of a file whose bytes are stored report ``rid``'s: nothing else is written."""
    msg = f"内容未变化（与已入库报告 #{rid} 相同），跳过"
    rows.log_row(item, sha, UNCHANGED, msg, rid)
    return WriteOutcome(item.source_path, UNCHANGED, msg, rid, sha256=sha)
