"""The :class:`Database` object: the one way into a DuckDB store file, for reading and for writing.

    db = Database("data/xxgk.duckdb")          # or Database() for --db / $XXGK_DB / data/xxgk.duckdb
    db.query(metrics.headline_by_year, filters)  # a typed query function fn(con, ...) on a read-only cursor
    with db.write() as session:                 # the ingest lock, the schema migrated, the one write path
        session.add(parse_result)
    # leaving the block without an exception publishes everything at once; an exception publishes nothing

The path names the store's *catalog*; the data lives in immutable segment files beside it
(:mod:`pipeline.store.segments`), and a write publishes a new segment by swapping the small catalog
(:mod:`pipeline.store.swap`) — no write copies or rewrites the store.  A symlinked path is followed: the catalog
*file* is what is locked and replaced (its segments sit beside it), so two names of one file lock each other out and
the link keeps pointing at the live data.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar

import duckdb

from pipeline.model import ParseResult
from pipeline.store.cells import TABLE as CELLS_TABLE
from pipeline.store.cells import agency_key_clash
from pipeline.store.memory import SMALL_WRITE, memory_limit, release_freed_memory
from pipeline.store.reads import READERS, file_version, is_transient
from pipeline.store.relations import narrow_relation
from pipeline.store.rows import PendingFile, WriteOutcome
from pipeline.store.segment_files import copy_store, flatten
from pipeline.store.segments import STORE_FINDINGS
from pipeline.store.swap import SegmentWrite, ingest_lock, remove_stale_copies
from pipeline.store.writer import DEFAULT_BATCH_SIZE, ReportWriter
from pipeline.validator.cross_year import refresh_cross_year
from pipeline.validator.summary import refresh_summaries, touched_regions

DEFAULT_DB = Path("data") / "xxgk.duckdb"
ENV_DB = "XXGK_DB"
READ_RETRIES = 6  # a read that meets a swap in progress is retried (0.25 s, 0.5 s, … apart)
READ_RETRY_SLEEP_S = 0.25
# the most reports stored before a write that the write indexes for full-text search itself (≈ 1–2 min of indexing)
SEARCH_BACKLOG_INLINE = 20_000
SESSION_AGENCIES = "SELECT DISTINCT agency FROM seg.main.reports WHERE agency IS NOT NULL AND year IS NOT NULL"

P = ParamSpec("P")
T = TypeVar("T")


class DatabaseUnavailable(RuntimeError):
    """The database file is missing, or stayed unreadable after retries (the message is for people, in Chinese)."""


class DatabaseMissing(DatabaseUnavailable, FileNotFoundError):
    """No database file at the path (nothing has been ingested yet)."""


def resolve_db(db: str | os.PathLike[str] | None = None) -> Path:
    """The database path: ``--db`` if given, else env ``XXGK_DB``, else ``data/xxgk.duckdb``."""
    if db:
        return Path(db)
    env = os.environ.get(ENV_DB)
    return Path(env) if env else DEFAULT_DB


class Database:
    """A DuckDB store file (see the module docstring)."""

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = resolve_db(path)

    def __repr__(self) -> str:
        return f"Database({str(self.path)!r})"

    @property
    def file(self) -> Path:
        """The real database file (symlinks followed, absolute)."""
        return Path(os.path.realpath(self.path))

    def exists(self) -> bool:
        return self.file.is_file()

    def version(self) -> str:
        """A token that changes whenever a write is published (for cache keys); "" when there is no file yet."""
        return file_version(self.file)

    # -- reading ---------------------------------------------------------------------------------------------
    def connection(self) -> duckdb.DuckDBPyConnection:
        """The process's cached read-only connection to the current file (threads: use :meth:`cursor`)."""
        file = self.file
        if not file.is_file():
            raise DatabaseMissing(f"数据库文件不存在：{self.path}。请先运行 make db 或 xxgk ingest 建库。")
        return READERS.get(file, on_open=remove_stale_copies)  # a killed writer's copy goes when a reader opens

    @contextlib.contextmanager
    def cursor(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A cursor of the cached read-only connection, for one thread, closed on leaving the block."""
        cur = self.connection().cursor()
        try:
            yield cur
        finally:
            cur.close()

    def query(
        self, fn: Callable[Concatenate[duckdb.DuckDBPyConnection, P], T], /, *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """``fn(cursor, *args, **kwargs)`` on a read-only cursor, retried while a write swaps the file.

        Raises :class:`DatabaseUnavailable` when the file is missing or stays unreadable; errors of the query
        itself propagate unchanged.
        """
        last: BaseException | None = None
        for attempt in range(READ_RETRIES):
            try:
                cur = self.connection().cursor()
            except DatabaseMissing:
                raise
            except (duckdb.Error, OSError) as exc:
                last = exc
            else:
                try:
                    return fn(cur, *args, **kwargs)
                except duckdb.Error as exc:
                    if not is_transient(exc):
                        raise
                    last = exc
                finally:
                    cur.close()
            time.sleep(READ_RETRY_SLEEP_S * (attempt + 1))
        raise DatabaseUnavailable(f"数据库暂时无法读取（可能正在更新），请稍后刷新页面。详情：{last}")

    def execute(self, sql: str, params: list[Any] | dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
        """Rows of one read-only SQL statement (through :meth:`query`)."""
        return self.query(lambda con: con.execute(sql, params or []).fetchall())

    def close(self) -> None:
        """Close this process's cached connections to the file (tests, shutdown)."""
        READERS.close(self.file)

    @staticmethod
    def close_all() -> None:
        """Close every cached read connection of this process."""
        READERS.close()

    # -- writing ---------------------------------------------------------------------------------------------
    @contextlib.contextmanager
    def write(self, *, batch_size: int = DEFAULT_BATCH_SIZE) -> Iterator[WriteSession]:
        """A write session: holds the lock, the schema migrated; published atomically when the block completes.

        Raises :class:`pipeline.store.IngestLockedError` when another process is writing the same file.
        """
        file = self.file
        with ingest_lock(file):
            strategy = SegmentWrite(file)
            try:
                session = WriteSession(strategy.open(), batch_size)
                first_new = session.next_report_id
                yield session
                session.finish()
                strategy.commit()
            finally:
                strategy.discard()
            release_freed_memory()  # what the checkpoint freed, before the sums and the full-text sync
            session.sums = _sync_sums(file, first_new)  # under the lock: the next write updates what this one wrote
        session.search = _sync_search(self.path, first_new)
        release_freed_memory()  # a long ingest's next session starts from what it holds, not from this one's peak

    def migrate(self) -> int:
        """Create the store or bring its schema (and layout) up to date; returns the schema version."""
        with self.write() as session:
            return session.schema_version

    def compact(self, *, full: bool = False) -> int:
        """Merge segments as the size tiers call for (``full``: into one); returns the number of segments left.

        A write merges small segments itself; this runs the larger merges, e.g. after many single-file imports.
        Readers keep reading throughout; the result is published like any write.
        """
        file = self.file
        with ingest_lock(file):
            strategy = SegmentWrite(file)
            try:
                WriteSession(strategy.open(), DEFAULT_BATCH_SIZE)
                strategy.commit(merge="all" if full else "tiered")
                _sync_sums(file, None)  # a merge changes no report; a store without stored sums gets them here
                return len(strategy.segments)
            finally:
                strategy.discard()

    def copy_to(self, dst: str | os.PathLike[str]) -> Database:
        """Copy the store to ``dst`` (its catalog and segments, one published state) and return the copy."""
        file = self.file
        with ingest_lock(file):  # no merge deletes a segment while it is copied
            copy_store(file, Path(dst))
        return Database(dst)

    def flatten_to(self, dst: str | os.PathLike[str]) -> Path:
        """Write the store as one single-file DuckDB database at ``dst`` (:func:`pipeline.store.segments.flatten`)."""
        file = self.file
        with ingest_lock(file):
            flatten(file, Path(dst))
        return Path(dst)

    def remove_stale_copies(self) -> list[Path]:
        """Delete the temporary copies a killed writer left beside the file (never a running writer's)."""
        return remove_stale_copies(self.file)


# DuckDB's limit for the checks over a session's agencies (the agency-key check, the cross-year and region-summary
# refresh) when the session stored more than memory.SMALL_WRITE reports (env XXGK_FINISH_MEMORY); a smaller write keeps the
# writer's own limit.
FINISH_MEMORY_LIMIT = os.environ.get("XXGK_FINISH_MEMORY", "384MB")


class WriteSession:
    """What :meth:`Database.write` yields: queue parse results and unreadable files; batches are written as they fill.

    Outcomes come back from the calls that flushed a batch (:meth:`add`, :meth:`add_unreadable`, :meth:`flush`).
    """

    def __init__(self, con: duckdb.DuckDBPyConnection, batch_size: int) -> None:
        self._con = con
        self._writer = ReportWriter(con, batch_size)
        self.final_outcomes: list[WriteOutcome] = []  # what was still queued when the block ended
        self.cross_year_findings = 0  # cross-year findings in the store after this session
        self.reuse_rebuild = False  # recompute copied text for every report, not only the new ones
        self.reuse: Any = None  # pipeline.reuse.ReuseUpdate of this session
        self.search: Any = None  # after publishing: pipeline.search.SyncResult, or why the index lags
        self.sums: Any = None  # after publishing: how the stored metric sums followed (metrics.sums_build.sync)
        self.summary_findings = 0  # SUM-1 findings (region summary vs its members) in the store after this session

    @property
    def next_report_id(self) -> int:
        """The id the next stored report gets (reports this session writes have ids from here on)."""
        return int(self._con.execute("SELECT coalesce(max(report_id), 0) + 1 FROM reports").fetchall()[0][0])

    @property
    def schema_version(self) -> int:
        return int(self._con.execute("SELECT coalesce(max(version), 0) FROM cat.schema_version").fetchall()[0][0])

    @property
    def con(self) -> duckdb.DuckDBPyConnection:
        """The session's connection: the store's table names read every segment and this session's writes; new rows
        go to ``seg.<table>``, the catalog's small mutable tables are ``cat.<table>`` (see
        :mod:`pipeline.store.segments`)."""
        return self._con

    def add(
        self,
        result: ParseResult,
        *,
        synthetic: bool = False,
        source_path: str | None = None,
        seconds: float | None = None,
    ) -> list[WriteOutcome]:
        return self._writer.add(result, synthetic=synthetic, source_path=source_path, seconds=seconds)

    def add_unreadable(
        self, source_path: str, message: str, *, sha256: str | None = None, seconds: float | None = None
    ) -> list[WriteOutcome]:
        return self._writer.add_unreadable(source_path, message, sha256=sha256, seconds=seconds)

    def add_stored(
        self, source_path: str, sha256: str, report_id: int, *, seconds: float | None = None
    ) -> list[WriteOutcome]:
        """Log a file whose bytes are stored report ``report_id`` (recognised before parsing) as unchanged."""
        return self._writer.add_stored(source_path, sha256, report_id, seconds=seconds)

    def add_pending(self, item: PendingFile) -> list[WriteOutcome]:
        """Queue a file read back from a cluster shard (:func:`pipeline.store.shards.read_shard`)."""
        return self._writer.queue(item)

    def write(
        self,
        result: ParseResult,
        *,
        synthetic: bool = False,
        source_path: str | None = None,
        seconds: float | None = None,
    ) -> WriteOutcome:
        """Store one parse result now (in its own batch) and return its outcome."""
        earlier = self.flush()
        self.final_outcomes.extend(earlier)
        self.add(result, synthetic=synthetic, source_path=source_path, seconds=seconds)
        return self.flush()[0]

    def flush(self) -> list[WriteOutcome]:
        return self._writer.flush()

    def finish(self) -> None:
        """Write what is queued and recompute the cross-year findings of the agencies this session touched."""
        self.final_outcomes.extend(self.flush())
        # the checks over the session's agencies read the whole store: what they hold grows with the session and the
        # store (the writer's 128 MB ran out in the cross-year step at ≈ 600,000 reports and in the agency-key check
        # at ≈ 900,000, 1 M runs 6 and 7)
        n_session = self._con.execute("SELECT count(*) FROM seg.main.reports").fetchall()[0][0]
        with memory_limit(self._con, FINISH_MEMORY_LIMIT if n_session > SMALL_WRITE else None):
            self._check_agencies()
        from pipeline import reuse  # copied text is derived from the sections just written, in the same swap

        # the only reports whose copied-text state this session can have changed: its own and the ones it retired
        scope = [r for (r,) in self._con.execute(
            "SELECT report_id FROM seg.main.reports UNION SELECT report_id FROM seg.main.retired").fetchall()]  # fmt: skip
        self.reuse = reuse.update(self._con, rebuild=self.reuse_rebuild, scope=scope)

    def _check_agencies(self) -> None:
        """Refuse a session whose agency names clash; recompute the cross-year and region-summary findings."""
        store = narrow_relation(self._con, CELLS_TABLE, ["report_id", "is_current", "agency", "agency_key"])
        clash = agency_key_clash(self._con, f"seg.main.{CELLS_TABLE}", store or CELLS_TABLE)
        if clash:  # never merge two agencies silently: nothing of this session is published
            raise RuntimeError(
                f"机关「{clash[0]}」与「{clash[1]}」的内部键相同，无法区分，本次写入未发布；请报告此问题"
            )
        # the agencies of the reports this session stored, read back from its segment (not held while it writes)
        agencies = [a for (a,) in self._con.execute(SESSION_AGENCIES).fetchall()]
        self.cross_year_findings = refresh_cross_year(self._con, agencies, table=f"cat.main.{STORE_FINDINGS}")
        self.summary_findings = refresh_summaries(  # the summaries whose region this session added a report to
            self._con,
            table=f"cat.main.{STORE_FINDINGS}",
            summary_where=touched_regions(
                "(SELECT year, province, city, county FROM seg.main.reports UNION ALL SELECT year, province, city,"
                " county FROM reports WHERE report_id IN (SELECT report_id FROM seg.main.retired))",
                self._con,
            ),
        )


def _sync_sums(file: Path, first_new: int | None) -> Any:
    """Bring the stored metric sums beside the store up to the published state (derived, like the search index:
    :func:`pipeline.metrics.sums_build.sync`)."""
    from pipeline.metrics import sums_build

    return sums_build.sync(file, first_new)


def _sync_search(path: Path, first_new: int) -> Any:
    """Bring the full-text index beside the store up to date after a publish.  The index is derived: a failure
    leaves the published data as it is and the next sync (or ``xxgk search --rebuild``) catches up.

    A write indexes what it added, and an older backlog of at most :data:`SEARCH_BACKLOG_INLINE` reports; a larger
    one (a store copied or bulk-built without its index) is left to ``xxgk search --rebuild``, so that one uploaded
    file never pays hours for reports it did not bring.  The search page and this session's ``search`` say so."""
    from pipeline import search

    try:
        return search.sync(path, max_backlog=SEARCH_BACKLOG_INLINE, first_new=first_new)
    except search.BacklogTooLarge as exc:
        return f"全文检索索引缺少 {exc.missing} 份较早入库的报告，本次入库未补齐：运行 xxgk search --rebuild"
    except Exception as exc:
        return f"全文检索索引未能更新（{type(exc).__name__}: {exc}），运行 xxgk search --rebuild"
