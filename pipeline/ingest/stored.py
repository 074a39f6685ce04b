"""Files already in the store are recognised by their hash before they are parsed, not after.

An ingest run again over a folder (to resume one that was stopped, or to pick up a few new files) used to parse
every file before the writer found it ``unchanged``: at 1 M files that is hours of parsing for nothing.  Here the
parent hashes each file (a bounded streaming read, no parse) and asks the store, a chunk of files at a time, which
of the hashes it already holds; those files go straight to the writer as ``unchanged`` (the same log row and
outcome the writer gives a parsed duplicate) and never reach a parse worker.

The test is exact: the full sha256 of the file's bytes against ``reports.sha256`` — the writer's own test for
"unchanged".  Stored reports are never deleted, so a hash found here is still stored when the writer logs it.  A file
that cannot be hashed (missing, over the size limit, not a regular file) is passed on to the parser, which reports
it as it always did.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import os
import time
from collections.abc import Iterable, Iterator

import duckdb

from pipeline.ingest.parsing import ParseJob
from pipeline.readers import ReadError, check_size
from pipeline.store import Database
from pipeline.store.segments import open_reader

# Files hashed per look-up: one query of the store's hashes per chunk (≈ 10–30 ms at 1 M reports).
CHUNK = 1024
MEMORY_LIMIT = "64MB"  # the look-up connection's DuckDB cap


def file_sha256(path: str) -> str | None:
    """The sha256 of a regular file's bytes within the size limit, else None (the parser then reports why).

    Only a regular file is opened: a named pipe or a device would block this process (the parse workers read
    those under their watchdog)."""
    try:
        if not os.path.isfile(path):
            return None
        check_size(os.path.getsize(path))
        with open(path, "rb") as fh:
            return hashlib.file_digest(fh, "sha256").hexdigest()
    except (OSError, ReadError):
        return None


class StoredFilter:
    """Marks the jobs whose files are already stored (``stored_sha256``/``stored_report_id``): the worker pool
    answers those in their place without parsing them (:meth:`pipeline.ingest.workers.WorkerPool.parse`).

    The store is read through a private read-only connection opened at the first chunk: the state published
    before this run.  A file stored twice within one run, or stored by this run's earlier sessions, is parsed and
    then caught by the writer as before.  The connection only scans ``reports.sha256`` and is capped at
    :data:`MEMORY_LIMIT`, so the check adds little to the ingest's memory at any store size."""

    def __init__(self, database: Database, chunk: int | None = None) -> None:
        self.database = database
        self.chunk = chunk or CHUNK
        self.checked = 0  # files hashed and looked up
        self.stored = 0  # of which already stored
        self._con: duckdb.DuckDBPyConnection | None = None
        self._empty = False

    def __call__(self, jobs: Iterable[ParseJob]) -> Iterator[ParseJob]:
        jobs = iter(jobs)
        try:
            while batch := list(itertools.islice(jobs, self.chunk)):
                yield from self._marked(batch)
        finally:
            self.close()

    def close(self) -> None:
        if self._con is not None:
            self._con.close()
            self._con = None

    def _marked(self, batch: list[ParseJob]) -> list[ParseJob]:
        con = self._connection()
        if con is None:
            return batch
        started = time.perf_counter()
        hashes = [file_sha256(job.path) for job in batch]
        wanted = sorted({sha for sha in hashes if sha})
        rows = con.execute(
            "SELECT sha256, report_id FROM reports WHERE sha256 IN (SELECT unnest(?::VARCHAR[]))", [wanted]
        ).fetchall() if wanted else []  # fmt: skip
        stored = {sha: int(rid) for sha, rid in rows}
        per_file = (time.perf_counter() - started) / len(batch)
        self.checked += len(batch)
        self.stored += sum(sha in stored for sha in hashes if sha)
        return [
            dataclasses.replace(job, stored_sha256=sha, stored_report_id=stored[sha], checked_seconds=per_file)
            if sha is not None and sha in stored else job
            for job, sha in zip(batch, hashes, strict=True)
        ]  # fmt: skip

    def _connection(self) -> duckdb.DuckDBPyConnection | None:
        """The reader, or None when there is nothing stored to skip (a new or empty store)."""
        if self._con is None and not self._empty:
            if not self.database.exists():
                self._empty = True
                return None
            con = open_reader(self.database.file, tables=("reports",))
            con.execute(f"SET memory_limit = '{MEMORY_LIMIT}'")
            con.execute("SET threads = 1")  # the parse workers have the cores
            if con.execute("SELECT count(*) = 0 FROM reports").fetchall()[0][0]:
                con.close()
                self._empty = True
                return None
            self._con = con
        return self._con
