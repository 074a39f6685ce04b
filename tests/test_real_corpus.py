"""The real-report corpus: every report under ``tests/fixtures/real/`` (and the shared crawler and PDF fixtures and
the seed when ``../shared`` is beside the repository) parses to its hand-typed truth exactly.

- every cell equals the truth (null for a blank or "/" cell, 0 only where 0 is printed);
- a cell the text cannot decide (``undecidable``: a digit run no identity splits) is null *and* named by an error
  finding's keys;
- the published report's own arithmetic mistakes come out as printed and flagged by an error;
- the meta fields the truth gives (agency, year, edition, region, level, type) are equal;
- each truth itself holds the template arithmetic except the mistakes it lists (``tests/check_truth.py``).

Layout classes are measured per source class by ``make accuracy`` (docs/accuracy.md), with the same scoring.
"""

from __future__ import annotations

import json

import pytest

from pipeline.generator.scoring import DISPUTED_TRUTHS, SHARED_UNDECIDABLE, real_cases, score_case
from pipeline.parse import parse_file
from tests.check_truth import problems
from tests.conftest import REPO, SHARED

CASES = [
    pytest.param(c, marks=pytest.mark.xfail(reason=DISPUTED_TRUTHS[c.name], strict=True))
    if c.name in DISPUTED_TRUTHS
    else c
    for c in real_cases(REPO)
]
OWN = [c for c in real_cases(REPO) if not c.name.startswith("shared/")]


def test_corpus_is_present():
    assert len({c.name for c in OWN}) >= 10, "tests/fixtures/real/ should hold the real-report corpus"


@pytest.mark.parametrize("case", OWN, ids=lambda c: c.name)
def test_truth_holds_the_template_arithmetic(case):
    assert problems(json.loads(case.truth.read_text(encoding="utf-8"))) == []


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_real_report_parses_to_its_truth(case):
    s = score_case(case)
    assert s.error is None, s.error
    assert not s.wrong, (
        f"{len(s.wrong)} cells wrong (key, truth, parsed), {len(s.unnamed)} named by no error: {s.wrong[:8]}"
    )
    assert not s.meta_wrong, f"meta differs (field, truth, parsed): {s.meta_wrong}"
    assert not s.mistakes_unflagged, f"the report's own mistakes not flagged: {s.mistakes_unflagged}"


@pytest.mark.skipif(not SHARED.is_dir(), reason="../shared not beside the repository")
@pytest.mark.parametrize(
    ("folder", "run"),
    [("06_pingtan_2021", "693665"), ("05_pingtan_2019", "898989"), ("05_pingtan_2019", "13575394432.52元")],
)
def test_undecidable_runs_are_named_with_their_candidates(folder, run):
    """表二 has no identity: "693665" (行政规范性文件) is 69·3·665 or 6·93·665 or …; the cells stay null and one error
    names them and lists the candidate splits."""
    result = parse_file(SHARED / "fixtures" / "crawler" / folder / "source.txt")
    errors = [f for f in result.findings if f.severity == "error" and run in f.message]
    assert len(errors) == 1, [f.message for f in result.findings if f.severity == "error"]
    (error,) = errors
    assert error.rule == "LAYOUT" and "|" in error.message  # the candidates are listed
    assert set(error.keys) <= set(SHARED_UNDECIDABLE[folder])
    assert all(result.facts[k].value is None for k in error.keys)
    if run == "693665":
        assert "69|3|665" in error.message


@pytest.mark.skipif(not SHARED.is_dir(), reason="../shared not beside the repository")
def test_crawler_page_header_is_metadata():
    result = parse_file(SHARED / "fixtures" / "crawler" / "06_pingtan_2021" / "source.txt")
    assert result.meta.agency == "平潭综合实验区" and result.meta.province == "福建省"
    assert result.meta.published == "2022-02-08"
    assert result.meta.url.startswith("https://www.pingtan.gov.cn/")
    assert "原文链接" not in "".join(result.sections.values())
