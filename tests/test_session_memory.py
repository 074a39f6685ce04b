"""What a long ingest holds stays bounded from one write session to the next (docs/storage.md, "Memory of a long
ingest"): the parse workers are let go while a session publishes and new ones parse the next session, and no cache
of the write path keeps something per report or per agency for the whole run."""

from __future__ import annotations

import functools
import importlib
import inspect
import os
import sys
from pathlib import Path

import pytest
from conftest import SEED

from pipeline.ingest import ParseJob, ingest
from pipeline.ingest.workers import QUEUED_CHUNKS, WorkerPool
from pipeline.reuse import signature

pytestmark = pytest.mark.usefixtures("close_cached_readers")


def _children(pid: int) -> list[int]:
    """Live (not zombie) child processes of ``pid``."""
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid and fields[0] != "Z":
                out.append(int(entry.name))
    return out


def _is_forkserver(pid: int) -> bool:
    try:
        return b"multiprocessing.forkserver" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def parse_workers(besides: frozenset[int] = frozenset()) -> list[int]:
    """The parse workers of this process: children of its forkserver (a child of this process), except
    ``besides`` (workers of pools that other tests in this process left running, e.g. a kept warm pool)."""
    found = [w for child in _children(os.getpid()) if _is_forkserver(child) for w in _children(child)]
    return [w for w in found if w not in besides]


@pytest.fixture
def corpus(four_reports: Path) -> Path:
    return four_reports


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads /proc")
def test_no_parse_worker_waits_through_a_publish(corpus: Path, tmp_path: Path) -> None:
    """The outcomes of a session come back from its last flush, after its last file and before it publishes; no
    worker is alive then, and the next session's files are parsed all the same."""
    workers_at_flush: list[int] = []
    others = frozenset(parse_workers())
    summary = ingest([corpus], db=tmp_path / "x.duckdb", workers=2, publish_every=2,
                     on_written=lambda _: workers_at_flush.append(len(parse_workers(others))))  # fmt: skip
    assert summary.sessions == 2 and summary.n_files == 4
    assert sum(summary.as_dict().values()) == 4 and not summary.unreadable
    assert workers_at_flush == [0, 0, 0, 0]


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads /proc")
def test_a_pool_at_rest_has_no_workers_and_resumes_in_order(tmp_path: Path) -> None:
    files = []
    n = 3 * 2 * (QUEUED_CHUNKS + 2) + 12  # more than the pool holds in flight: new workers parse the rest
    for i in range(n):
        p = tmp_path / f"{i:02d}.txt"
        p.write_text(SEED.read_text(encoding="utf-8").replace("阜新市司法局", f"阜新市第{i}局"), encoding="utf-8")
        files.append(p)
    others = frozenset(parse_workers())
    with WorkerPool(workers=2, chunk_size=3) as pool:
        stream = pool.parse(ParseJob(str(f)) for f in files)
        first = [next(stream) for _ in range(5)]
        assert parse_workers(others)
        pool.rest()
        assert parse_workers(others) == []
        rest = list(stream)
        assert pool.started == 4  # two, then two new ones after the rest
    outcomes = first + rest
    assert [o.job.path for o in outcomes] == [str(f) for f in files]
    assert [o.result.meta.agency for o in outcomes if o.result] == [f"阜新市第{i}局" for i in range(n)]


def test_agency_names_are_not_kept_for_the_whole_run() -> None:
    """Copied text normalises every report's passages with its agency's name; a long ingest meets a new agency with
    nearly every report, so what is kept per name must stay bounded however many it meets."""
    signature._agency_form.cache_clear()
    for i in range(signature.AGENCY_FORMS_CACHED + 2_000):
        assert (
            signature.normalise(f"本机关第{i}号文：阜新市第{i}局依法公开", f"阜新市第{i}局")
            == "本机关第0号文〇依法公开"
        )
    assert signature._agency_form.cache_info().currsize == signature.AGENCY_FORMS_CACHED


# Unbounded caches of the write path whose arguments come from the national template (editions, layouts, registry
# keys), never from the reports: each holds a handful of entries however long an ingest runs.
TEMPLATE_KEYED = {
    "pipeline.derive.is_total",
    "pipeline.matcher.labels.t2_row_aliases",
    "pipeline.matcher.labels.t2_template",
    "pipeline.matcher.labels.t3_template",
    "pipeline.matcher.splits.t3_row_identities",
    "pipeline.validator.arithmetic.t3_outcome_rows",
}
WRITE_PATH = ("pipeline.ingest", "pipeline.store", "pipeline.reuse.engine", "pipeline.search",
              "pipeline.metrics.sums_build", "pipeline.validator.cross_year", "pipeline.validator.summary")  # fmt: skip


def test_the_write_path_has_no_unbounded_cache_keyed_by_what_it_reads() -> None:
    """A function cache without a size limit whose arguments are data (a report, an agency, a path) grows with
    every session of a long ingest; such a cache needs ``lru_cache(maxsize=…)`` (or none)."""
    for name in WRITE_PATH:
        importlib.import_module(name)
    unbounded = set()
    for module_name, module in list(sys.modules.items()):
        if not module_name.startswith("pipeline.") or module_name.startswith("pipeline.generator"):
            continue
        for attr in vars(module).values():
            if (isinstance(attr, functools._lru_cache_wrapper) and attr.__module__ == module_name
                    and attr.cache_info().maxsize is None and inspect.signature(attr).parameters):  # fmt: skip
                unbounded.add(f"{module_name}.{attr.__qualname__}")
    assert unbounded <= TEMPLATE_KEYED, sorted(unbounded - TEMPLATE_KEYED)
