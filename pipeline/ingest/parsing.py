"""One file → a :class:`ParseOutcome` that never raises: a parse result, or the reason the file could not be read."""

from __future__ import annotations

import hashlib
import os
import time
from dataclasses import dataclass

from pipeline.model import ParseResult
from pipeline.readers import ReadError, read_source


@dataclass(slots=True)
class ParseJob:
    path: str
    overrides: dict[str, object] | None = None  # from the manifest
    synthetic: bool = False
    # set when the file's bytes are an already stored report's (pipeline.ingest.stored): it is not parsed
    stored_sha256: str | None = None
    stored_report_id: int | None = None
    checked_seconds: float | None = None  # what recognising it cost (hashing, the look-up)


@dataclass(slots=True)
class ParseOutcome:
    job: ParseJob
    result: ParseResult | None
    error: str | None
    seconds: float
    sha256: str | None = None
    stored_report_id: int | None = None  # not parsed: the bytes are this stored report's (result and error None)

    @classmethod
    def stored(cls, job: ParseJob) -> ParseOutcome:
        """The outcome of a job recognised as stored before parsing."""
        return cls(job, None, None, job.checked_seconds or 0.0, job.stored_sha256, job.stored_report_id)


def parse_one(job: ParseJob) -> ParseOutcome:
    """Parse one file; a file that cannot be read comes back with ``error`` set (one line, in Chinese)."""
    from pipeline.parse import parse_file  # imported where it runs: worker processes preload it

    started = time.perf_counter()
    try:
        data = read_source(job.path)
    except ReadError as exc:
        return ParseOutcome(job, None, str(exc) or "无法读取", time.perf_counter() - started)
    sha = hashlib.sha256(data).hexdigest()
    try:
        result = parse_file(job.path, data, overrides=job.overrides)
        return ParseOutcome(job, result, None, time.perf_counter() - started, result.sha256)
    except ReadError as exc:
        error = str(exc) or "无法读取"
    except MemoryError:
        error = "解析失败: 内存不足"
    except RecursionError:
        error = "解析失败: 文档结构嵌套过深"
    except Exception as exc:  # a parser bug must not stop the run: report it against this file
        error = f"解析失败（程序错误 {type(exc).__name__}）: {exc}"
    return ParseOutcome(job, None, " ".join(error.split()), time.perf_counter() - started, sha)


def sha256_or_none(path: str) -> str | None:
    """The file's hash when it can be read within the size limit (for the log row of a file that failed).

    Only a regular file is read: this runs in the parent after a worker was killed, and a named pipe or a device
    (what made the worker hang) would hang the parent too."""
    if not os.path.isfile(path):
        return None
    try:
        return hashlib.sha256(read_source(path)).hexdigest()
    except ReadError:
        return None
