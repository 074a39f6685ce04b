"""A long ingest is published in bounded write sessions (``publish_every``): the result is the same store as one
session gives, and ``kill -9`` in the middle leaves exactly the sessions published before it."""

from __future__ import annotations

import multiprocessing
import os
import signal
from pathlib import Path

import pytest

from pipeline.ingest import ingest, iter_source_files
from pipeline.store import Database
from pipeline.store import segments as seg
from pipeline.store.segment_files import referenced

pytestmark = pytest.mark.usefixtures("close_cached_readers")


@pytest.fixture
def corpus(four_reports: Path) -> Path:
    return four_reports


STATE = {
    "reports": "SELECT report_id, sha256, agency, year, is_current, n_errors FROM reports ORDER BY report_id",
    "facts": "SELECT report_id, key, value, raw FROM facts ORDER BY ALL",
    "findings": "SELECT report_id, rule, severity, message FROM findings ORDER BY ALL",
    "cells": "SELECT count(*), count(DISTINCT report_id) FROM report_cells",
}


def state(db: Path) -> dict[str, list[tuple]]:
    return {name: Database(db).execute(sql) for name, sql in STATE.items()}


def test_sessions_of_two_files_store_what_one_session_stores(corpus: Path, tmp_path: Path) -> None:
    whole = ingest([corpus], db=tmp_path / "one" / "x.duckdb", publish_every=0)
    steps = ingest([corpus], db=tmp_path / "steps" / "x.duckdb", publish_every=2)
    assert whole.sessions == 1 and steps.sessions == 2
    assert steps.n_files == whole.n_files == 4
    assert steps.as_dict() == whole.as_dict()
    assert state(tmp_path / "steps" / "x.duckdb") == state(tmp_path / "one" / "x.duckdb")
    # every session published a segment of its own (no inline merge of two small ones yet)
    assert len(referenced((tmp_path / "steps" / "x.duckdb").resolve()) or ()) == 2


def _killed_in_second_session(corpus: str, db: str) -> None:
    """Ingest two files per session and die (SIGKILL, nothing cleaned up) once the third file is parsed and
    queued: the first session is published, the second is not."""
    parsed = 0

    def on_parsed(_outcome: object) -> None:
        nonlocal parsed
        parsed += 1
        if parsed == 3:
            os.kill(os.getpid(), signal.SIGKILL)

    ingest([corpus], db=db, publish_every=2, on_parsed=on_parsed)


def test_kill_9_mid_ingest_keeps_the_sessions_published_before_it(corpus: Path, tmp_path: Path) -> None:
    db = tmp_path / "x.duckdb"
    child = multiprocessing.get_context("spawn").Process(target=_killed_in_second_session, args=(str(corpus), str(db)))
    child.start()
    child.join(120)
    assert child.exitcode == -signal.SIGKILL
    first_two = [str(p) for p in list(iter_source_files([corpus]))[:2]]
    stored = Database(db).execute("SELECT source_path FROM ingest_log ORDER BY source_path")
    assert [p for (p,) in stored] == sorted(first_two)  # the first session whole, nothing of the second
    assert Database(db).execute("SELECT count(*) FROM reports")[0][0] == 2
    assert Database(db).execute("SELECT count(DISTINCT report_id) FROM report_cells")[0][0] == 2
    Database.close_all()
    # ingesting again completes the store: the published files are unchanged, the rest is new
    again = ingest([corpus], db=db, publish_every=2)
    assert again.counts["unchanged"] == 2
    assert Database(db).execute("SELECT count(*) FROM reports WHERE is_current")[0][0] == 4
    # what the killed session left (its unpublished segment, the catalog copy) is gone
    assert {p.name for p in seg.segment_dir(db).iterdir()} == referenced(db.resolve())
    assert [p.name for p in tmp_path.iterdir() if ".ingest-" in p.name] == []
