"""Ingest orchestration: find files, parse them in parallel, write them sequentially into a DB snapshot.

Parsing (CPU-bound, no database) runs in worker processes; writing stays in the parent so there is exactly one
DuckDB writer, and everything goes into a :class:`pipeline.store.Snapshot` that replaces the live database only
when the whole run succeeded.  Memory stays flat however many files there are: files are walked lazily, at most a
few chunks are in flight, and the writer flushes every ``batch_size`` reports.
"""

from __future__ import annotations

import contextlib
import hashlib
import multiprocessing
import os
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path

from pipeline.manifest import ManifestEntry, load_manifest, manifest_key
from pipeline.model import ParseResult
from pipeline.readers import MAX_BYTES, ReadError, supported_extensions
from pipeline.store import (
    LOADED_WITH_ERRORS,
    NOT_REPORT,
    STATUSES,
    UNREADABLE,
    ReportWriter,
    Snapshot,
    WriteOutcome,
    refresh_cross_year,
    resolve_db,
)

PROBLEM_STATUSES = (LOADED_WITH_ERRORS, NOT_REPORT, UNREADABLE)


# ---------------------------------------------------------------------------------------------------------------
# Finding files


def _walk(root: Path, exts: set[str]) -> Iterator[Path]:
    """Supported files under ``root``, depth first, names sorted in each folder (deterministic order)."""
    try:
        entries = sorted(os.scandir(root), key=lambda e: e.name)
    except OSError:
        return
    for entry in entries:
        if entry.name.startswith("."):
            continue
        if entry.is_dir(follow_symlinks=False):
            yield from _walk(Path(entry.path), exts)
        elif entry.is_file() and Path(entry.name).suffix.lower() in exts:
            yield Path(entry.path)


def iter_source_files(
    paths: Iterable[str | os.PathLike[str]], exclude: str | os.PathLike[str] | None = None
) -> Iterator[Path]:
    """Files named on the command line (whatever their extension) and supported files inside folders.

    A path that does not exist is yielded as is, so it is reported as unreadable rather than silently skipped.
    ``exclude`` (the manifest, which often sits in the reports folder) is never yielded.
    """
    exts = supported_extensions()
    skip = Path(exclude).resolve() if exclude else None
    for raw in paths:
        path = Path(raw)
        found = _walk(path, exts) if path.is_dir() else iter([path])
        for p in found:
            if skip is None or p.resolve() != skip:
                yield p


def count_source_files(
    paths: Iterable[str | os.PathLike[str]], exclude: str | os.PathLike[str] | None = None
) -> int:
    """How many files :func:`iter_source_files` will yield (a cheap first pass, for the progress bar)."""
    return sum(1 for _ in iter_source_files(paths, exclude))


# ---------------------------------------------------------------------------------------------------------------
# Parsing (runs in worker processes)


@dataclass(slots=True)
class ParseJob:
    path: str
    overrides: dict[str, object] | None = None
    synthetic: bool = False


@dataclass(slots=True)
class ParseOutcome:
    job: ParseJob
    result: ParseResult | None
    error: str | None
    seconds: float
    sha256: str | None = None


def _parse_file(path: str, overrides: dict[str, object] | None) -> ParseResult:
    from pipeline.parse import parse_file  # imported lazily: the lead's module, and cheap to re-import

    return parse_file(path, overrides=overrides)


def parse_one(job: ParseJob) -> ParseOutcome:
    """Parse one file; never raises — a file that cannot be read comes back with ``error`` set."""
    started = time.perf_counter()
    path = Path(job.path)
    try:
        if not path.exists():
            raise ReadError("文件不存在")
        if path.is_dir():
            raise ReadError("这是一个文件夹，不是文件")
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise ReadError(f"文件过大: {size / 1024 / 1024:.1f} MB，超过上限 {MAX_BYTES // 1024 // 1024} MB")
        result = _parse_file(job.path, job.overrides)
        _apply_overrides(result, job.overrides)
        return ParseOutcome(job, result, None, time.perf_counter() - started, result.sha256)
    except ReadError as exc:
        error = str(exc) or "无法读取"
    except MemoryError:
        error = "解析失败: 内存不足"
    except Exception as exc:  # a parser bug must not stop the run: report it against this file
        error = f"解析失败（程序错误 {type(exc).__name__}）: {exc}"
    return ParseOutcome(job, None, error, time.perf_counter() - started, _sha256_or_none(path))


def _apply_overrides(result: ParseResult, overrides: dict[str, object] | None) -> None:
    """Make sure manifest values win even where the parser only used them as hints."""
    if not overrides:
        return
    if overrides.get("agency"):
        result.meta.agency = str(overrides["agency"])
    if overrides.get("year") is not None:
        result.meta.year = int(overrides["year"])  # type: ignore[arg-type]
    if overrides.get("url"):
        result.meta.url = str(overrides["url"])


def _sha256_or_none(path: Path) -> str | None:
    try:
        if path.is_file() and path.stat().st_size <= MAX_BYTES:
            return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        pass
    return None


def parse_chunk(jobs: list[ParseJob]) -> list[ParseOutcome]:
    return [parse_one(job) for job in jobs]


def _warm_up() -> None:
    """Import the parser once per worker process (so the first chunk is not charged for it)."""
    with contextlib.suppress(Exception):
        import pipeline.parse  # noqa: F401


def parse_stream(jobs: Iterable[ParseJob], workers: int = 1, chunk_size: int = 16) -> Iterator[ParseOutcome]:
    """Parse ``jobs`` and yield outcomes in input order, with at most ``4 × workers`` chunks in flight."""
    if workers <= 1:
        for job in jobs:
            yield parse_one(job)
        return
    job_iter = iter(jobs)

    def next_chunk() -> list[ParseJob]:
        return list(islice(job_iter, chunk_size))

    ctx = multiprocessing.get_context("forkserver")
    pool = ProcessPoolExecutor(workers, mp_context=ctx, initializer=_warm_up)
    try:
        pending: deque[tuple[list[ParseJob], Future[list[ParseOutcome]]]] = deque()
        for _ in range(workers * 4):
            chunk = next_chunk()
            if not chunk:
                break
            pending.append((chunk, pool.submit(parse_chunk, chunk)))
        while pending:
            chunk, fut = pending.popleft()
            try:
                outcomes = fut.result()
            except Exception as exc:  # a worker died (e.g. killed): report its files, start a fresh pool
                outcomes = [
                    ParseOutcome(j, None, f"解析进程异常退出: {type(exc).__name__}", 0.0) for j in chunk
                ]
                pool.shutdown(wait=False, cancel_futures=True)
                pool = ProcessPoolExecutor(workers, mp_context=ctx, initializer=_warm_up)
                pending = deque((c, pool.submit(parse_chunk, c)) for c, _ in pending)
            more = next_chunk()
            if more:
                pending.append((more, pool.submit(parse_chunk, more)))
            yield from outcomes
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


# ---------------------------------------------------------------------------------------------------------------
# Ingest


@dataclass
class IngestSummary:
    db: Path
    counts: Counter[str] = field(default_factory=Counter)
    problems: list[WriteOutcome] = field(default_factory=list)  # unreadable or loaded with hard errors
    n_files: int = 0
    cross_year_findings: int = 0
    seconds: float = 0.0

    def record(self, outcomes: Iterable[WriteOutcome]) -> None:
        for o in outcomes:
            self.counts[o.status] += 1
            if o.status in PROBLEM_STATUSES:
                self.problems.append(o)

    @property
    def unreadable(self) -> int:
        return self.counts[UNREADABLE]

    @property
    def with_errors(self) -> int:
        return self.counts[LOADED_WITH_ERRORS]

    def as_dict(self) -> dict[str, int]:
        return {status: self.counts[status] for status in STATUSES}


ProgressCallback = Callable[[ParseOutcome], None]


def ingest(
    paths: Iterable[str | os.PathLike[str]],
    db: str | os.PathLike[str] | None = None,
    manifest: str | os.PathLike[str] | None = None,
    workers: int = 1,
    on_parsed: ProgressCallback | None = None,
    batch_size: int = 200,
    chunk_size: int = 16,
) -> IngestSummary:
    """Parse every file under ``paths`` and load them into the database (see module docstring).

    The live database is replaced only at the end, atomically; if anything fails before that (or the process is
    killed), the live database is exactly as it was.
    """
    started = time.perf_counter()
    db_path = resolve_db(db)
    paths = list(paths)
    entries: dict[str, ManifestEntry] = load_manifest(manifest) if manifest else {}

    def jobs() -> Iterator[ParseJob]:
        for path in iter_source_files(paths, exclude=manifest):
            entry = entries.get(manifest_key(path)) if entries else None
            if entry:
                yield ParseJob(str(path), entry.overrides(), entry.synthetic)
            else:
                yield ParseJob(str(path))

    summary = IngestSummary(db=db_path)
    with Snapshot(db_path) as snap:
        assert snap.con is not None
        writer = ReportWriter(snap.con, batch_size=batch_size)
        for outcome in parse_stream(jobs(), workers=workers, chunk_size=chunk_size):
            summary.n_files += 1
            job = outcome.job
            if outcome.result is None:
                done = writer.add_unreadable(
                    job.path, outcome.error or "无法读取", sha256=outcome.sha256, seconds=outcome.seconds
                )
            else:
                done = writer.add(
                    outcome.result, synthetic=job.synthetic, source_path=job.path, seconds=outcome.seconds
                )
            summary.record(done)
            if on_parsed:
                on_parsed(outcome)
        summary.record(writer.flush())
        summary.cross_year_findings = refresh_cross_year(snap.con)
        snap.commit()
    summary.seconds = time.perf_counter() - started
    return summary
