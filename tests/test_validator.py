"""Validator rules on facts built from the seed's truth, with one cell changed at a time."""

from __future__ import annotations

from decimal import Decimal

import pytest

from pipeline.model import Fact
from pipeline.registry import registry
from pipeline.validator import narrative_findings, validate


def _facts(values: dict[str, int | None], edition: str = "2021") -> dict[str, Fact]:
    facts = {}
    for key in registry().layout_keys(edition):
        v = values.get(key, 0)
        facts[key] = Fact(key, v, "" if v is None else str(v), blank=v is None, status="blank" if v is None else "ok")
    return facts


BASE = {
    "t3.new_received.natural_person": 7,
    "t3.new_received.commercial_enterprise": 2,
    "t3.new_received.total": 9,
    "t3.carried_over.natural_person": 1,
    "t3.carried_over.total": 1,
    "t3.granted.natural_person": 5,
    "t3.granted.commercial_enterprise": 2,
    "t3.granted.total": 7,
    "t3.unable_not_held.natural_person": 2,
    "t3.unable_not_held.total": 2,
    "t3.result_total.natural_person": 7,
    "t3.result_total.commercial_enterprise": 2,
    "t3.result_total.total": 9,
    "t3.carry_forward.natural_person": 1,
    "t3.carry_forward.total": 1,
    "t4.review.upheld": 2,
    "t4.review.corrected": 1,
    "t4.review.total": 3,
}


def _rules(findings) -> list[str]:
    return sorted(f.rule for f in findings)


def test_consistent_report_has_no_findings():
    assert validate(_facts(BASE), "2021", "2021") == []


def test_single_wrong_cell_is_pinpointed():
    values = dict(BASE, **{"t3.granted.natural_person": 6})  # row 予以公开 and column 自然人 both fail
    findings = validate(_facts(values), "2021", "2021")
    assert _rules(findings) == ["T3-2", "T3-3"]
    assert {f.suspect_key for f in findings} == {"t3.granted.natural_person"}
    assert all("（一）予以公开 / 自然人" in f.message for f in findings)


def test_t3_1_names_the_column():
    values = dict(BASE, **{"t3.carry_forward.natural_person": 2, "t3.carry_forward.total": 2})
    findings = validate(_facts(values), "2021", "2021")
    assert _rules(findings) == ["T3-1", "T3-1"]
    assert any("“自然人”列" in f.message for f in findings)


def test_blank_total_skips_row_rule_and_blank_column_skips_t3_2():
    from pipeline.validator import t3_outcome_rows

    values = dict(BASE)
    for row in t3_outcome_rows("2021"):  # 总计 filled only on 一, 二, （七） and 四
        values[f"t3.{row}.total"] = None
    assert validate(_facts(values), "2021", "2021") == []


def test_blank_counts_as_zero_in_arithmetic():
    values = dict(BASE, **{"t3.new_received.commercial_enterprise": None})
    findings = validate(_facts(values), "2021", "2021")
    assert "T3-3" in _rules(findings)


def test_t4_1_and_missing_cells_skip():
    values = dict(BASE, **{"t4.review.total": 0})
    findings = validate(_facts(values), "2021", "2021")
    assert _rules(findings) == ["T4-1"]
    facts = _facts(values)
    facts["t4.review.total"] = Fact("t4.review.total", None, None, blank=False, status="missing")
    assert validate(facts, "2021", "2021") == []


def test_type_rule_negative_count():
    values = dict(BASE, **{"t2.admin_license.decisions": -3})
    assert _rules(validate(_facts(values), "2021", "2021")) == ["TYPE"]


def test_signed_2019_change_is_allowed():
    values = {"t2.admin_license.items_change": -2, "t2.central_procurement.total_amount_wan_yuan": Decimal("25.1")}
    assert validate(_facts(values, "2019"), "2019", "2019") == []


def test_doubtful_ocr_reading_is_an_error():
    """A signed cell read from a scan with low confidence (e.g. a minus sign possibly lost) is not a checked number."""
    facts = _facts({"t2.admin_license.items_change": 3}, "2019")
    facts["t2.admin_license.items_change"].confidence = 0.3
    findings = validate(facts, "2019", "2019")
    assert [(f.rule, f.severity, f.keys) for f in findings] == [("OCR", "error", ["t2.admin_license.items_change"])]
    facts["t2.admin_license.items_change"].confidence = 0.95
    assert validate(facts, "2019", "2019") == []


@pytest.mark.parametrize(("stated", "expected"), [(9, []), (17, ["NARRATIVE"])])
def test_narrative_number(stated, expected):
    assert _rules(narrative_findings(_facts(BASE), {"received": stated})) == expected


def test_unreadable_cell_text_is_an_error_not_a_silent_null():
    facts = _facts(BASE)
    facts["t2.admin_license.decisions"] = Fact(
        "t2.admin_license.decisions", None, "1.5", blank=False, status="ambiguous"
    )
    assert _rules(validate(facts, "2021", "2021")) == ["TYPE"]
