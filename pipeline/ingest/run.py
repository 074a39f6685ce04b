"""``ingest``: find files, parse them in worker processes under a budget, write them through the one write path.

Parsing (CPU-bound, no database) runs in worker processes; writing stays in this process, so there is exactly one
DuckDB writer.  A run is published in write sessions of at most ``PUBLISH_EVERY`` files (:meth:`Database.write`),
each all or nothing, so what a publish costs stays bounded however long the run is.  Memory
stays flat however many files there are: files are walked lazily, a bounded window of files is in flight, the
writer flushes every ``batch_size`` reports, and the parse workers are let go while a session publishes (new ones
parse the next session).  Files already in the store are recognised by their hash before parsing
(:mod:`pipeline.ingest.stored`), so an ingest run again over the same folder costs a read of each file, not a parse.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.ingest.parsing import ParseJob, ParseOutcome
from pipeline.ingest.sources import iter_source_files
from pipeline.ingest.stored import StoredFilter
from pipeline.ingest.workers import Budget, WorkerPool, start_forkserver
from pipeline.manifest import manifest_key, open_manifest
from pipeline.store import (
    LOADED_WITH_ERRORS,
    PROBLEM_STATUSES,
    STATUSES,
    UNREADABLE,
    Database,
    WriteOutcome,
)
from pipeline.store.rows import PendingFile


@dataclass
class IngestSummary:
    db: Path
    counts: Counter[str] = field(default_factory=Counter)
    problems: list[WriteOutcome] = field(default_factory=list)  # unreadable, not a report, or with hard errors
    n_files: int = 0
    cross_year_findings: int = 0
    search_note: str | None = None  # why the full-text index was not brought up to date after this ingest
    sessions: int = 0  # write sessions published (one per PUBLISH_EVERY files)
    skipped_unparsed: int = 0  # files recognised as stored by their hash and not parsed (all counted as unchanged)
    seconds: float = 0.0

    def record(self, outcomes: Iterable[WriteOutcome]) -> None:
        for o in outcomes:
            self.counts[o.status] += 1
            if o.status in PROBLEM_STATUSES:  # kept without its findings: a large ingest has many
                self.problems.append(dataclasses.replace(o, findings=[]) if o.findings else o)

    @property
    def unreadable(self) -> int:
        return self.counts[UNREADABLE]

    @property
    def with_errors(self) -> int:
        return self.counts[LOADED_WITH_ERRORS]

    def as_dict(self) -> dict[str, int]:
        return {status: self.counts[status] for status in STATUSES}


# Files per write session of a long ingest.  Everything a session does after its last file (the cross-year and
# region rules over its agencies, copied text, the checkpoint of its segment, the stored sums and the full-text
# index) grows with the session: bounded sessions keep that work, and the memory it takes, bounded however many
# files one command ingests (docs/storage.md, "Long ingests publish in bounded sessions").
PUBLISH_EVERY = 50_000
ENV_PUBLISH_EVERY = "XXGK_PUBLISH_EVERY"
# A file recognised as stored (:mod:`pipeline.ingest.stored`) costs its session one log row and nothing of the work
# after its last file: this many of them count as one file toward ``publish_every``, so that a resumed ingest does
# not publish a segment of log rows for every 50,000 files it already has (a resume over 850,000 stored files
# published 17 such segments, and each publish grows with the store).
STORED_PER_FILE = 20


def publish_every_default() -> int:
    """Files per write session: env ``XXGK_PUBLISH_EVERY`` (0: one session), else :data:`PUBLISH_EVERY`."""
    value = os.environ.get(ENV_PUBLISH_EVERY, "").strip()
    return int(value) if value else PUBLISH_EVERY


ProgressCallback = Callable[[ParseOutcome], None]
WrittenCallback = Callable[[WriteOutcome], None]


def plan_jobs(
    paths: Iterable[str | os.PathLike[str]], manifest: str | os.PathLike[str] | None = None
) -> Iterator[ParseJob]:
    """The files to ingest, in the fixed walk order, with their manifest overrides (raises ManifestError now).

    The manifest is read before the first file (:func:`open_manifest`: a large one is looked up on disk) and
    closed when the walk ends."""
    paths = list(paths)
    entries = open_manifest(Path(manifest)) if manifest else None

    def jobs() -> Iterator[ParseJob]:
        try:
            for path in iter_source_files(paths, exclude=manifest):
                entry = entries.get(manifest_key(path)) if entries is not None else None
                if entry:
                    yield ParseJob(str(path), entry.overrides(), entry.synthetic)
                else:
                    yield ParseJob(str(path))
        finally:
            if entries is not None:
                entries.close()

    return jobs()


def as_pending(outcome: ParseOutcome) -> PendingFile:
    """What the writer is given for one parse outcome, as :func:`ingest` below gives it (a cluster worker shards
    these; the loop below calls ``add``/``add_unreadable`` with the same values)."""
    job = outcome.job
    if outcome.result is None:
        return PendingFile(job.path, None, outcome.error or "无法读取", False, outcome.seconds, outcome.sha256)
    return PendingFile(job.path, outcome.result, None, bool(job.synthetic), outcome.seconds)


def ingest(
    paths: Iterable[str | os.PathLike[str]],
    db: Database | str | os.PathLike[str] | None = None,
    manifest: str | os.PathLike[str] | None = None,
    workers: int = 1,
    on_parsed: ProgressCallback | None = None,
    batch_size: int = 200,
    chunk_size: int = 16,
    budget: Budget | None = None,
    on_written: WrittenCallback | None = None,
    publish_every: int | None = None,
) -> IngestSummary:
    """Parse every file under ``paths`` and load them into the database (see the module docstring).

    The files are written in write sessions of ``publish_every`` files each (default :func:`publish_every_default`;
    0: one session for the whole run), each published atomically when it is complete: readers see every file of a
    session or none, and a failure or ``kill -9`` leaves the store as the last published session left it (an ingest
    run again does not parse the files already stored: :class:`~pipeline.ingest.stored.StoredFilter` recognises them
    by their hash and they are logged as unchanged).  An ingest of up to ``publish_every`` files is one
    session: all or nothing.  Raises :class:`pipeline.store.IngestLockedError` when another ingest is writing it
    and :class:`pipeline.manifest.ManifestError` for an unusable manifest.
    """
    started = time.perf_counter()
    start_forkserver()  # the parse workers' server warms up while the store is opened
    database = db if isinstance(db, Database) else Database(db)
    jobs = plan_jobs(paths, manifest)

    summary = IngestSummary(db=database.path)

    def record(outcomes: list[WriteOutcome]) -> None:
        summary.record(outcomes)
        if on_written:
            for o in outcomes:
                on_written(o)

    every = publish_every if publish_every is not None else publish_every_default()
    outcome: ParseOutcome | None = None
    first = True
    stored = StoredFilter(database)  # files already stored are recognised by their hash, not parsed again
    with WorkerPool(workers, budget, chunk_size) as pool, contextlib.closing(stored):
        stream = pool.parse(stored(jobs))
        while first or outcome is not None:  # one write session per `every` files (at least one session)
            with database.write(batch_size=batch_size) as session:
                if first:  # after the store is open: a locked store fails before any parsing
                    outcome, first = next(stream, None), False
                load = 0  # the session's files, a stored file counting 1/STORED_PER_FILE
                while outcome is not None and (not every or load < every * STORED_PER_FILE):
                    load += 1 if outcome.stored_report_id is not None else STORED_PER_FILE
                    summary.n_files += 1
                    job = outcome.job
                    if outcome.stored_report_id is not None:
                        assert outcome.sha256 is not None
                        done = session.add_stored(
                            job.path, outcome.sha256, outcome.stored_report_id, seconds=outcome.seconds
                        )
                    elif outcome.result is None:
                        done = session.add_unreadable(
                            job.path,
                            outcome.error or "无法读取",
                            sha256=outcome.sha256,
                            seconds=outcome.seconds,
                        )
                    else:
                        done = session.add(
                            outcome.result,
                            synthetic=job.synthetic,
                            source_path=job.path,
                            seconds=outcome.seconds,
                        )
                    record(done)
                    if on_parsed:
                        on_parsed(outcome)
                    outcome = next(stream, None)
                # the workers go while the session publishes (minutes at 50,000 files) and the next session's
                # first files are parsed by new ones: idle, they held ≈ 50 MB each through every publish
                pool.rest()
                record(session.flush())
            summary.sessions += 1
            if isinstance(session.search, str):
                summary.search_note = session.search
    summary.skipped_unparsed = stored.stored
    summary.cross_year_findings = session.cross_year_findings
    summary.seconds = time.perf_counter() - started
    return summary
