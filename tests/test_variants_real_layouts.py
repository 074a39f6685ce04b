"""Layout variants of the spec, made by transforming the real reports' own text: the facts must not change
(or must change exactly as the transformation says), and anything uncertain must come out flagged, never shifted."""

from __future__ import annotations

import re

import pytest

from pipeline.matcher.digits import split_run
from pipeline.matcher.splits import t3_row_identities
from pipeline.parse import parse_file
from tests.conftest import REAL, SEED, SEED_TRUTH, load_truth


def _parse_text(tmp_path, text: str, name: str = "r.txt", encoding: str = "utf-8"):
    p = tmp_path / name
    p.write_bytes(text.encode(encoding))
    return parse_file(p)


def _hard(result) -> list[str]:
    return [f.rule for f in result.findings if f.severity == "error"]


@pytest.fixture
def seed_text(shared_dir) -> str:
    return SEED.read_text(encoding="utf-8")


@pytest.fixture
def huaian_text(shared_dir) -> str:
    return (REAL / "02_huaian_szf_2024" / "source.txt").read_text(encoding="utf-8")


def test_traditional_characters(tmp_path, seed_text):
    import opencc

    trad = opencc.OpenCC("s2t").convert(seed_text)
    assert trad != seed_text
    result = _parse_text(tmp_path, trad)
    assert result.to_json()["facts"] == load_truth(SEED_TRUTH)["facts"]
    assert result.meta.agency == "阜新市司法局"


def test_pinyin_spam_mirror(tmp_path, seed_text):
    counter = iter(range(10**6))
    spam = re.sub(r"([\u4e00-\u9fff])", lambda m: m.group(1) + ("(gong)" if next(counter) % 3 == 0 else ""), seed_text)
    result = _parse_text(tmp_path, spam)
    assert result.to_json()["facts"] == load_truth(SEED_TRUTH)["facts"]


@pytest.mark.parametrize("encoding", ["gb18030", "utf-16", "utf-8-sig"])
def test_encodings(tmp_path, seed_text, encoding):
    result = _parse_text(tmp_path, seed_text, encoding=encoding)
    assert result.to_json()["facts"] == load_truth(SEED_TRUTH)["facts"]


def test_blank_totals_in_layout_text(tmp_path, huaian_text, shared_dir):
    """总计 filled only on 一, 二, （七） and 四: other rows lose their last number; alignment by column position."""
    lines = huaian_text.split("\n")
    keep = ("一、本年新收", "二、上年结转", "（七）总计", "四、结转下年度")
    out = []
    blanked = 0
    for ln in lines:
        m = re.match(r"^(.*\S)\s+(\d+)\s*$", ln)
        nums = re.findall(r"(?<!\S)\d+(?!\S)", ln)
        if m and len(nums) == 7 and not any(k in ln for k in keep):
            ln = m.group(1)
            blanked += 1
        out.append(ln)
    assert blanked >= 20
    result = _parse_text(tmp_path, "\n".join(out))
    truth = load_truth(REAL / "02_huaian_szf_2024" / "truth.facts.json")["facts"]
    facts = result.to_json()["facts"]
    for k, v in truth.items():
        if (
            k.startswith("t3.")
            and k.endswith(".total")
            and k.split(".")[1] not in ("new_received", "carried_over", "result_total", "carry_forward")
        ):
            assert facts[k] is None and result.facts[k].blank, k
        else:
            assert facts[k] == v, k
    assert _hard(result) == []


def test_null_markers_stay_null_not_zero(tmp_path, seed_text):
    text = seed_text.replace("行政处罚\t0", "行政处罚\t/").replace("行政强制\t0", "行政强制\t—")
    text = text.replace("1. 属于国家秘密\t0\t0", "1. 属于国家秘密\t无\t0")
    result = _parse_text(tmp_path, text)
    for key, raw in (
        ("t2.admin_penalty.decisions", "/"),
        ("t2.admin_coercion.decisions", "—"),
        ("t3.denied_state_secret.natural_person", "无"),
    ):
        fact = result.facts[key]
        assert (fact.value, fact.raw, fact.blank, fact.status) == (None, raw, False, "null_marker"), key
    assert _hard(result) == []


def test_concatenated_digits_unique_split():
    row = ("int",) * 7
    assert split_run("15130000154", row, t3_row_identities()).candidates == [("151", "3", "0", "0", "0", "0", "154")]
    assert split_run("010102012115", row, t3_row_identities()).count == 3  # 0|1|0|102|0|12|115, 0|10|102|0|1|2|115, …


def test_concatenated_rows_in_text(tmp_path, seed_text):
    text = seed_text.replace(
        "一、本年新收政府信息公开申请数量\t\t1\t0\t0\t0\t0\t0\t1\t", "一、本年新收政府信息公开申请数量\t1000001"
    )
    result = _parse_text(tmp_path, text)
    assert result.facts["t3.new_received.natural_person"].value == 1
    assert result.facts["t3.new_received.total"].value == 1
    assert "SPLIT" in [f.rule for f in result.findings]


def test_concatenated_row_in_layout_text_unique(tmp_path, huaian_text):
    row = "一、本年新收政府信息公开申请数量                3001        53       0        0    61       4   3119"
    assert row in huaian_text
    result = _parse_text(tmp_path, huaian_text.replace(row, "一、本年新收政府信息公开申请数量  300153006143119"))
    truth = load_truth(REAL / "02_huaian_szf_2024" / "truth.facts.json")["facts"]
    assert result.to_json()["facts"] == truth
    assert _hard(result) == []


def test_concatenated_row_with_several_readings_is_flagged(tmp_path, huaian_text):
    row = "一、本年新收政府信息公开申请数量                3001        53       0        0    61       4   3119"
    result = _parse_text(tmp_path, huaian_text.replace(row, "一、本年新收政府信息公开申请数量  010102012115"))
    assert all(result.facts[f"t3.new_received.{c}"].value is None for c in ("natural_person", "total"))
    assert "LAYOUT" in _hard(result)


def test_extra_local_rows_are_reported_not_matched(tmp_path, huaian_text):
    text = huaian_text.replace(
        "行政规范性文件       8          26       66",
        "行政规范性文件       8          26       66\n\n其他主动公开文件      5          0        7",
    ).replace(
        "二、上年结转政府信息公开申请数量",
        "其中：通过网络平台提交申请             900         0        0        0        0    0    900\n二、上年结转政府信息公开申请数量",
    )
    result = _parse_text(tmp_path, text)
    truth = load_truth(REAL / "02_huaian_szf_2024" / "truth.facts.json")["facts"]
    assert result.to_json()["facts"] == truth
    assert len(result.extra_rows) == 2
    assert _hard(result) == []


def test_repeated_header_and_blank_lines_at_page_break(tmp_path, huaian_text):
    header = "\n".join(huaian_text.split("\n")[111:120])
    text = huaian_text.replace("-4-\n", "-4-\n\n" + header + "\n\n\n")
    result = _parse_text(tmp_path, text)
    assert result.to_json()["facts"] == load_truth(REAL / "02_huaian_szf_2024" / "truth.facts.json")["facts"]


def test_t4_ten_numbers_without_positions_is_flagged_not_shifted(tmp_path, huaian_text):
    row = "72   64    178    37    351   13    4        8        1        26   12   1     1    6       20"
    assert row in huaian_text
    result = _parse_text(tmp_path, huaian_text.replace(row, "13 4 8 1 26 12 1 1 6 20"))
    # either aligned by position (review blank) or left null with a LAYOUT error — never shifted left
    got = result.facts["t4.review.upheld"]
    assert got.value is None
    if result.facts["t4.suit_direct.upheld"].value is None:
        assert "LAYOUT" in _hard(result)
    else:
        assert result.facts["t4.suit_direct.upheld"].value == 13


def test_tables_missing_is_not_a_report(tmp_path):
    result = _parse_text(tmp_path, "关于开展2024年春季植树活动的通知\n各单位：\n请于3月12日前报送名单。\n")
    assert result.meta.edition is None
    assert "NOT_REPORT" in _hard(result)


def test_table3_cut_off(tmp_path, seed_text):
    cut = seed_text.split("(四) 无法提供")[0]
    result = _parse_text(tmp_path, cut)
    assert result.meta.edition == "2021"
    assert result.facts["t3.granted.total"].value == 0
    assert result.facts["t3.result_total.total"].value is None
    assert "LAYOUT" in _hard(result)


def test_legacy_report_is_detected_not_guessed(tmp_path):
    text = "某某市司法局2017年政府信息公开工作年度报告\n一、概述\n本年度主动公开政府信息 120 条。\n二、依申请公开\n共受理申请 3 件。\n"
    result = _parse_text(tmp_path, text)
    assert result.meta.edition == "legacy" and result.meta.year == 2017
    assert result.facts == {}


def test_blank_cells_instead_of_zero_everywhere_in_layout_text(tmp_path, shared_dir):
    """pdftotext -layout of a report that leaves every 0 blank: no complete row — columns come from the header
    on the header's page; rows on the next page (other column offsets, no header) are flagged, not guessed."""
    text = (REAL / "03_hongze_qzf_2023" / "source.txt").read_text(encoding="utf-8")
    lines = text.split("\n")
    start = next(i for i, ln in enumerate(lines) if "一、本年新收" in ln)
    end = next(i for i, ln in enumerate(lines) if "四、结转下年度" in ln)
    for i in range(start, end + 1):
        lines[i] = re.sub(r"(?<=\s)0(?=\s|$)", " ", lines[i])
    result = _parse_text(tmp_path, "\n".join(lines))
    truth = load_truth(REAL / "03_hongze_qzf_2023" / "truth.facts.json")["facts"]
    page_three = {
        "new_received",
        "carried_over",
        "granted",
        "partially_granted",
        "unable_not_held",
        "unable_need_creation",
    }
    page_three |= {k.split(".")[1] for k in truth if k.startswith("t3.denied_")}
    flagged = {k for f in result.findings if f.rule == "LAYOUT" for k in f.keys}
    for key, value in truth.items():
        if not key.startswith("t3."):
            continue
        got = result.facts[key]
        if key.split(".")[1] in page_three:
            assert got.value == (value or None), key
            assert got.blank == (value == 0), key
        else:  # either read right or flagged — never silently wrong
            assert got.value == (value or None) or key in flagged, key


def test_markdown_table_rows_out_of_order_with_notes(tmp_path, huaian_text):
    """PDF→markdown output: 表三 as a markdown table with two rows swapped, a 表二 cell with a note in brackets."""
    from pipeline.registry import T3_COLUMNS_ORDER, registry

    truth = load_truth(REAL / "02_huaian_szf_2024" / "truth.facts.json")["facts"]
    t3_rows = []
    for row_key, label, _block in registry().rows("t3", "2021"):
        vals = [str(truth[f"t3.{row_key}.{c}"]) for c in T3_COLUMNS_ORDER]
        t3_rows.append(f"| {label} | " + " | ".join(vals) + " |")
    t3_rows[2], t3_rows[3] = t3_rows[3], t3_rows[2]  # 部分公开 before 予以公开
    head = huaian_text.split("三、收到和处理政府信息公开申请情况")[0]
    tail = "四、政府信息公开行政复议" + huaian_text.split("四、政府信息公开行政复议")[1]
    head = head.replace(
        "行政规范性文件       8          26       66", "| 行政规范性文件 | 8（其中修订2件） | 26 | 66 |"
    )
    md = (
        head
        + "三、收到和处理政府信息公开申请情况\n\n| 项目 | 自然人 | 商业企业 | 科研机构 | 社会公益组织 | 法律服务机构 | 其他 | 总计 |\n"
    )
    md += "|---|---|---|---|---|---|---|---|\n" + "\n".join(t3_rows) + "\n\n" + tail
    result = _parse_text(tmp_path, md, name="r.md")
    assert result.to_json()["facts"] == truth
    assert result.facts["t2.normative_docs.issued"].raw == "8（其中修订2件）"
    assert _hard(result) == []


def test_wrapped_title_and_page_numbers_inside_tables(tmp_path, seed_text):
    text = seed_text.replace("工作年度报告", "工作年度报\n告", 1)
    text = text.replace("(四) 无法提供", "- 2 -\n(四) 无法提供").replace("(五) 不予处理", "— 3 —\n(五) 不予处理")
    result = _parse_text(tmp_path, text)
    assert result.meta.agency == "阜新市司法局" and result.meta.year == 2023
    assert result.to_json()["facts"] == load_truth(SEED_TRUTH)["facts"]
    assert _hard(result) == []
