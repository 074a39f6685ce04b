"""Parsing in worker processes gives exactly what parsing in this process gives, keeps input order, and a file
that hangs is killed under its budget without losing the files queued behind it."""

from __future__ import annotations

import json
import os
from pathlib import Path

from conftest import CRAWLER, REAL, REPO, SEED

from pipeline.ingest import Budget, ParseJob, parse_in_process, parse_stream

FIXTURES = REPO / "tests" / "fixtures"


def sample_documents() -> list[Path]:
    """Real reports of every text/HTML kind: PDF text, crawler text, converter markdown, web pages, variants."""
    docs = [SEED, *sorted(REAL.glob("*/source.txt")), *sorted(CRAWLER.glob("*/source.txt"))]
    docs += sorted((FIXTURES / "real").glob("*/source.*"))
    docs += sorted((FIXTURES / "html").glob("*.html"))
    docs += sorted((FIXTURES / "variants").glob("*.txt")) + sorted((FIXTURES / "variants").glob("*.md"))
    return docs


def canonical(outcome) -> str:  # noqa: ANN001 - a ParseOutcome
    """Everything of a parse result the store writes, as text (facts with raw text, place and status)."""
    r = outcome.result
    assert r is not None, outcome.error
    facts = [[f.key, str(f.value), f.raw, f.blank, f.loc, f.status, f.page, f.confidence] for f in r.facts.values()]
    findings = [[f.rule, f.severity, f.message, f.keys, f.expected, f.actual, f.suspect_key] for f in r.findings]
    return json.dumps([r.to_json(), facts, findings, r.sections, r.extra_rows, r.narrative, r.size_bytes],
                      ensure_ascii=False, default=str)  # fmt: skip


def test_workers_parse_exactly_as_in_process() -> None:
    docs = sample_documents()
    assert len(docs) >= 40
    jobs = [ParseJob(str(p)) for p in docs]
    reference = [canonical(o) for o in parse_in_process(jobs)]
    for workers in (1, 2):
        outcomes = list(parse_stream(jobs, workers=workers, chunk_size=3))
        assert [o.job.path for o in outcomes] == [j.path for j in jobs]  # input order
        assert [canonical(o) for o in outcomes] == reference


def test_a_hanging_file_is_killed_and_the_queued_files_still_parse(tmp_path: Path) -> None:
    """A named pipe given by name blocks its reader forever: its worker is killed at the time budget, the files
    queued behind it in the same and the next chunk go to a fresh worker, and nothing hangs the parent.  The
    budget is wide (a report takes milliseconds) so a machine under heavy load does not time out the others."""
    fifo = tmp_path / "hangs.txt"
    os.mkfifo(fifo)
    docs = sample_documents()[:12]
    jobs = [ParseJob(str(p)) for p in docs[:5]] + [ParseJob(str(fifo))] + [ParseJob(str(p)) for p in docs[5:]]
    outcomes = list(parse_stream(jobs, workers=2, chunk_size=2, budget=Budget(seconds=20.0)))
    assert [o.job.path for o in outcomes] == [j.path for j in jobs]
    hung = outcomes[5]
    assert hung.result is None and "解析超时" in (hung.error or "") and hung.sha256 is None
    assert all(o.result is not None for i, o in enumerate(outcomes) if i != 5), [o.error for o in outcomes]
