"""Every hand-written fixture with a ``*.truth.json`` beside it parses to exactly its truth.

Fixtures live in ``tests/fixtures/html`` (web pages) and ``tests/fixtures/variants`` (one text file per layout
variant of the spec); ``tests/fixtures/README.md`` says what each one covers.  For each: the facts equal the truth
(every key, null where the truth is null), the meta fields the truth gives are equal, every rule id in
``expect_findings`` appears, and no hard finding (severity ``error``) appears unless its rule is expected.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.parse import parse_file

FIXTURES = Path(__file__).parent / "fixtures"
TRUTHS = sorted([*FIXTURES.glob("html/*.truth.json"), *FIXTURES.glob("variants/*.truth.json")])


def _source(truth: Path) -> Path:
    stem = truth.name.removesuffix(".truth.json")
    (source,) = [p for p in truth.parent.glob(f"{stem}.*") if not p.name.endswith(".truth.json")]
    return source


@pytest.fixture(scope="module", params=TRUTHS, ids=lambda p: f"{p.parent.name}/{p.name.removesuffix('.truth.json')}")
def case(request) -> tuple[dict, dict]:
    truth = json.loads(request.param.read_text(encoding="utf-8"))
    return truth, parse_file(_source(request.param)).to_json()


def test_fixture_set_is_complete():
    assert len(TRUTHS) >= 18
    for truth in TRUTHS:
        _source(truth)


def test_facts_exact(case):
    truth, got = case
    want = truth["facts"]
    wrong = {
        k: (want.get(k, "—"), got["facts"].get(k, "—"))
        for k in want.keys() | got["facts"].keys()
        if want.get(k, "—") != got["facts"].get(k, "—")
    }
    assert not wrong, f"{len(wrong)} facts differ (truth, parsed): {dict(sorted(wrong.items())[:12])}"


def test_meta(case):
    truth, got = case
    wrong = {k: (v, got["meta"].get(k)) for k, v in truth["meta"].items() if got["meta"].get(k) != v}
    assert not wrong, f"meta differs (truth, parsed): {wrong}"


def test_findings(case):
    truth, got = case
    rules = {f["rule"] for f in got["findings"]}
    missing = [r for r in truth["expect_findings"] if r not in rules]
    assert not missing, f"expected findings missing: {missing}; got {sorted(rules)}"
    hard = [
        f"{f['rule']}: {f['message']}"
        for f in got["findings"]
        if f["severity"] == "error" and f["rule"] not in truth["expect_findings"]
    ]
    assert not hard, f"unexpected hard findings: {hard[:5]}"


def test_punctuation_in_a_value_cell_is_reported_not_read_as_a_blank_row(tmp_path: Path) -> None:
    """OCR or a converter leaves "。" where a 0 was printed: the row keeps its other numbers and the cell is an error."""
    html = (FIXTURES / "html" / "c_2021_tianhe_szf_blank_totals.html").read_text(encoding="utf-8")
    row = "<tr><td>3.危及“三安全一稳定”</td><td>1</td><td>0</td><td>—</td><td>0</td><td>0</td><td>0</td><td>&nbsp;</td></tr>"
    assert row in html
    page = tmp_path / "page.html"
    page.write_text(html.replace(row, row.replace("<td>0</td><td>0</td><td>0</td>", "<td>0</td><td>。</td><td>0</td>")),
                    encoding="utf-8")  # fmt: skip
    result = parse_file(page)
    facts = result.facts
    assert facts["t3.denied_security_stability.natural_person"].value == 1
    assert facts["t3.denied_security_stability.legal_service_org"].status == "ambiguous"
    assert facts["t3.denied_security_stability.legal_service_org"].raw == "。"
    assert facts["t3.denied_security_stability.other_org"].value == 0
    assert any(f.rule == "TYPE" and f.severity == "error" and "t3.denied_security_stability.legal_service_org" in f.keys
               for f in result.findings)  # fmt: skip
    assert not any(f.rule == "BLANK_ROW" for f in result.findings)
