"""Hostile input the matcher and the value reader must survive with a clear result: numbers too large to store,
digit runs too long to split, a 表三 cut off at its last row, very long lines — never an exception or a hang."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.matcher.digits import MAX_RUN_CHARS, split_run
from pipeline.matcher.splits import t3_row_identities, t4_identities
from pipeline.normalize import parse_value
from pipeline.parse import parse_file

VARIANTS = Path(__file__).parent / "fixtures" / "variants"
TABS = VARIANTS / "v1_pdf_tabs_spaced.txt"
GLUED = VARIANTS / "v7_lost_separators.txt"


def _parse(tmp_path: Path, text: str, name: str = "r.txt"):
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return parse_file(p)


@pytest.mark.parametrize(
    ("raw", "kw"),
    [
        ("1" * 20, {}),
        ("100000000000000", {}),
        ("1" * 5000, {}),
        ("-" + "9" * 30, {"signed": True}),
        ("1234567890123456789", {"amount": True}),
        ("1." + "5" * 40, {"amount": True}),
    ],
)
def test_values_beyond_the_store_are_refused(raw, kw):
    assert parse_value(raw, **kw) == (None, "too_large")


def test_largest_storable_values_are_read():
    assert parse_value("99999999999999") == (99999999999999, "ok")
    value, status = parse_value("123456789012345678元", amount=True)  # 元 → 万元: 14 integer digits
    assert status == "ok" and value < 10**14


def test_a_20_digit_cell_is_refused_with_a_type_error_and_the_rest_loads(tmp_path):
    text = TABS.read_text(encoding="utf-8")
    huge = "12345678901234567890"
    assert "行政许可\t146\t" in text
    result = _parse(tmp_path, text.replace("行政许可\t146\t", f"行政许可\t{huge}\t"))
    fact = result.facts["t2.admin_license.decisions"]
    assert fact.value is None and fact.raw == huge
    assert any(
        f.rule == "TYPE" and f.severity == "error" and f.keys == ["t2.admin_license.decisions"] for f in result.findings
    )
    assert sum(1 for f in result.facts.values() if f.value is not None) > 150  # the rest of the report is read


def test_a_60_digit_run_is_bounded_and_flagged(tmp_path):
    text = GLUED.read_text(encoding="utf-8")
    row = "一、本年新收政府信息公开申请数量14730000150"
    assert row in text
    result = _parse(tmp_path, text.replace(row, "一、本年新收政府信息公开申请数量" + "1234567890" * 6))
    keys = [f"t3.new_received.{c}" for c in ("natural_person", "total")]
    assert all(result.facts[k].value is None for k in keys)
    assert any(f.rule == "LAYOUT" and f.severity == "error" and set(keys) <= set(f.keys) for f in result.findings)


@pytest.mark.parametrize("run", ["1234567890" * 6, "9" * 90, "10" * 99])
def test_split_search_stops_at_a_clear_limit_or_finds_nothing(run):
    for kinds, identities in (
        ((("int",) * 7), t3_row_identities()),
        ((("int",) * 15), t4_identities()),
        ((("int", "signed", "int")), ()),
    ):
        splits = split_run(run, kinds, identities)
        assert splits.count == 0 or splits.limit is not None or len(splits.candidates) <= 64
    assert split_run("1" * (MAX_RUN_CHARS + 1), ("int",) * 7, t3_row_identities()).limit is not None


def test_table_cut_off_after_its_last_row(tmp_path):
    """表三 ends the file (no 表四 heading after 结转下年度): the region must stop at the last line."""
    text = TABS.read_text(encoding="utf-8")
    cut = text[: text.index("\n", text.index("四、结转下年度"))]
    result = _parse(tmp_path, cut)
    assert result.facts["t3.carry_forward.total"].value is not None
    assert any(f.rule == "LAYOUT" and "表四" in f.message for f in result.findings)


@pytest.mark.parametrize(
    "filler",
    [
        "某" * 100_000,
        " ".join("政" for _ in range(50_000)),
        "申请1办理2结果 3" * 12_000,
        "\t" * 100_000,
        "1 2 3 " * 20 + "一" * 66_666 + " 4 5 6" * 20,
    ],  # a numeral run with no 、: the enumerator search took 15 s
)
def test_very_long_lines_inside_a_table(tmp_path, filler):
    text = TABS.read_text(encoding="utf-8")
    anchor = text.index("（七）总计") if "（七）总计" in text else text.index("(七)")
    result = _parse(tmp_path, text[:anchor] + filler + "\n" + text[anchor:])
    assert result.meta.edition == "2021"
    assert result.facts["t3.new_received.total"].value is not None


def _longest_chain_reference(pairs: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The quadratic search the matcher used before: every chain kept, the first longest one wins."""
    pairs = sorted(pairs)
    chains: list[list[tuple[int, int]]] = []
    for p in pairs:
        chain = max((c for c in chains if c[-1][1] < p[1]), key=len, default=[])
        chains.append([*chain, p])
    return max(chains, key=len, default=[])


def test_row_order_anchors_match_the_exhaustive_search():
    import random

    from pipeline.matcher.t3_rows import _monotone

    rng = random.Random(11)
    for _ in range(3000):
        lines = rng.sample(range(40), rng.randint(0, 14))
        pairs = [(k, rng.randrange(rng.randint(1, 9))) for k in lines]
        if any(a[1] >= b[1] for a, b in zip(sorted(pairs), sorted(pairs)[1:], strict=False)):
            assert _monotone(pairs) == _longest_chain_reference(pairs), pairs


def test_a_label_repeated_on_thousands_of_lines_gives_one_chain_per_row(tmp_path):
    """20,000 lines that each name 总计 (a fuzz input): anchors are at most one per template row, found in one pass."""
    from pipeline.matcher.t3_rows import _monotone

    pairs = [(k, (k * 7) % 25) for k in range(20000)]
    chain = _monotone(pairs)
    assert len(chain) == 25 and [r for _, r in chain] == list(range(25))
    result = _parse(tmp_path, TABS.read_text(encoding="utf-8") + "\n" + "总计 12 " * 20000)
    assert result.facts  # the report's own tables still read
