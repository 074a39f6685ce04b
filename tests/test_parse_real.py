"""The real reports: the seed and the three PDF-extracted reports must parse to their hand-checked truth exactly."""

from __future__ import annotations

import pytest

from pipeline.parse import parse_file
from tests.conftest import REAL, REAL_CASES, SEED, SEED_TRUTH, load_truth


def _hard(result) -> list[str]:
    return [f.rule for f in result.findings if f.severity == "error"]


def test_seed_parses_exactly(shared_dir):
    result = parse_file(SEED)
    truth = load_truth(SEED_TRUTH)
    out = result.to_json()
    assert out["facts"] == truth["facts"]
    assert _hard(result) == []
    meta = out["meta"]
    assert (meta["agency"], meta["year"], meta["edition"]) == ("阜新市司法局", 2023, "2021")
    assert (meta["province"], meta["city"], meta["county"]) == ("辽宁省", "阜新市", None)
    assert (meta["level"], meta["agency_type"]) == ("市级", "司法行政")
    # the five 行政复议 cells are blank in the source: null and flagged blank, not 0
    review = [k for k in out["facts"] if k.startswith("t4.review.")]
    assert len(review) == 5 and all(out["facts"][k] is None for k in review)
    assert all(result.facts[k].blank and result.facts[k].raw == "" for k in review)
    assert result.facts["t4.suit_direct.upheld"].value == 0 and not result.facts["t4.suit_direct.upheld"].blank
    # provenance: line numbers of the source
    assert result.facts["t3.unable_need_creation.natural_person"].loc.startswith("第 69 行")


@pytest.mark.parametrize("case", REAL_CASES)
def test_real_report_parses_exactly(shared_dir, case):
    truth = load_truth(REAL / case / "truth.facts.json")
    result = parse_file(REAL / case / "source.txt")
    out = result.to_json()
    assert out["facts"] == truth["facts"]
    for k in ("agency", "year", "edition", "table3_layout"):
        assert out["meta"][k] == truth["meta"][k], k
    assert (
        "".join(filter(None, (out["meta"]["province"], out["meta"]["city"], out["meta"]["county"])))
        == truth["meta"]["region"]
    )


def test_published_error_is_kept_and_flagged(shared_dir):
    result = parse_file(REAL / "03_hongze_qzf_2023" / "source.txt")
    t41 = [f for f in result.findings if f.rule == "T4-1"]
    assert {tuple(f.keys)[0] for f in t41} == {"t4.review.upheld", "t4.suit_after_review.upheld"}
    assert result.facts["t4.review.total"].value == 0  # as printed, not corrected
    assert _hard(result) == ["T4-1", "T4-1"]


def test_mixed_template_other_rows_are_null_not_zero(shared_dir):
    result = parse_file(REAL / "04_hongze_qzf_2024" / "source.txt")
    assert result.meta.edition == "2021" and result.meta.t3_layout == "2019"
    assert result.facts["t3.other_handling.total"].value == 0
    for k in ("t3.other_no_correction.total", "t3.other_fee_unpaid.natural_person", "t3.other_misc.total"):
        assert result.facts[k].value is None and result.facts[k].status == "not_in_layout"
    assert "t3.other_misc.total" not in result.to_json()["facts"]
    assert [f.rule for f in result.findings if f.rule == "NARRATIVE"] == ["NARRATIVE"]
    assert _hard(result) == []


def test_huaian_has_no_findings_of_note(shared_dir):
    result = parse_file(REAL / "02_huaian_szf_2024" / "source.txt")
    assert [f for f in result.findings if f.severity != "info"] == []
    assert result.facts["t2.admin_fees.amount_wan_yuan"].json_value() == 96171.6
    assert set(result.sections) == {"一", "二", "三", "四", "五", "六"}
