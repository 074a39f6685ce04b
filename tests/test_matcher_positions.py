"""表四 in position-only text (pdftotext -layout) with a whole group left blank: the values are placed by where they
stand under the header's column labels; where the header does not name the columns, the only other evidence is the
thirds of the header's width, and when that does not put 0 or 5 values in every group the cells stay null with an
error — never shifted from the left."""

from __future__ import annotations

from pathlib import Path

from pipeline.parse import parse_file

LAYOUT_T4 = Path(__file__).parent / "fixtures" / "variants" / "v2_t4_ten_numbers_layout.txt"
COLUMNS = ("upheld", "corrected", "other", "pending", "total")


def _t4_values(result, group: str) -> list:
    return [result.facts[f"t4.{group}.{c}"].value for c in COLUMNS]


def test_blank_group_is_placed_under_the_column_labels():
    result = parse_file(LAYOUT_T4)
    assert all(result.facts[f"t4.review.{c}"].status == "blank" for c in COLUMNS)
    assert _t4_values(result, "suit_direct") == [2, 1, 0, 1, 4]
    assert _t4_values(result, "suit_after_review") == [1, 0, 1, 0, 2]


def test_without_column_labels_an_unclear_group_split_stays_null_and_named(tmp_path):
    lines = LAYOUT_T4.read_text(encoding="utf-8").split("\n")
    labels = [i for i, ln in enumerate(lines) if ln.split()[:3] in (["结果", "结果", "其他"], ["维持", "纠正", "结果"])]
    assert len(labels) == 2, "the fixture names the 15 columns on two lines"
    source = tmp_path / "no_column_labels.txt"
    source.write_text("\n".join(ln for i, ln in enumerate(lines) if i not in labels), encoding="utf-8")

    result = parse_file(source)

    keys = [f"t4.{g}.{c}" for g in ("review", "suit_direct", "suit_after_review") for c in COLUMNS]
    # the group headings span less than the data row: by thirds of their width, 未经复议直接起诉's 总计 would fall in
    # the last group (4 + 6 values), so no group assignment is certain
    assert all(result.facts[k].value is None and result.facts[k].status == "ambiguous" for k in keys)
    assert any(f.rule == "LAYOUT" and f.severity == "error" and f.keys == keys for f in result.findings)
