"""Ingest: report files → parse results (in worker processes, under a per-file budget) → the store.

- :mod:`~pipeline.ingest.sources`: which files (folders walked in a fixed order);
- :mod:`~pipeline.ingest.parsing`: one file → a parse outcome that never raises;
- :mod:`~pipeline.ingest.workers`: killable worker processes, the time budget and memory cap;
- :mod:`~pipeline.ingest.run`: :func:`ingest`, the whole run into one atomic write;
- :mod:`~pipeline.ingest.upload`: files uploaded on the 导入 page (stored by hash, then ingested).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pipeline.ingest.parsing import ParseJob, ParseOutcome, parse_one
from pipeline.ingest.sources import count_source_files, iter_source_files
from pipeline.ingest.workers import Budget, WorkerPool, parse_in_process, parse_stream

if TYPE_CHECKING:
    from pipeline.ingest.run import IngestSummary, ingest


def __getattr__(name: str) -> Any:
    """``ingest`` and ``IngestSummary`` load the store (DuckDB, polars) on first use only: the parse workers import
    this package too and never write, so they are spared that import (≈ 0.6 s of CPU per worker)."""
    if name in ("ingest", "IngestSummary"):
        from pipeline.ingest import run

        return getattr(run, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "Budget",
    "IngestSummary",
    "ParseJob",
    "ParseOutcome",
    "WorkerPool",
    "count_source_files",
    "ingest",
    "iter_source_files",
    "parse_in_process",
    "parse_one",
    "parse_stream",
]
