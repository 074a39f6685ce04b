"""Reports as users bring them from the web: pages saved by a crawler (cells run together, a metadata header on
top) and PDF→markdown converter output (rows swapped, unlabelled or printed one cell per line, notes in cells,
numbers pulled out of the table).  Whatever the text cannot decide comes out null and named by an error's keys."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.matcher.digits import split_fewest_blanks, split_run
from pipeline.matcher.splits import t3_row_identities, t4_identities
from pipeline.parse import parse_file
from pipeline.readers import read_document
from pipeline.readers.text import split_flattened
from pipeline.registry import T3_COLUMNS_ORDER, registry

REAL = Path(__file__).parent / "fixtures" / "real"
MARKDOWN = Path(__file__).parent / "fixtures" / "variants" / "v8_markdown_converter.md"
ROW = ("int",) * 7


def _parse(tmp_path: Path, text: str, name: str = "r.txt"):
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return parse_file(p)


def _named(result, key: str) -> bool:
    return any(key in f.keys for f in result.findings if f.severity == "error")


# --- digit runs ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("run", "cells"),
    [
        ("640020470", ("64", "0", "0", "2", "0", "4", "70")),
        ("230 000023", ("23", "0", "0", "0", "0", "0", "23")),  # a space from &nbsp; inside a cell
        ("500000 5", ("5", "0", "0", "0", "0", "0", "5")),
        (" 0 0 00 00 0 ", ("0",) * 7),
        ("—00000 0", ("—", "0", "0", "0", "0", "0", "0")),  # a null marker is a cell of its own
    ],
)
def test_a_row_run_with_one_split(run, cells):
    assert split_run(run, ROW, t3_row_identities()).candidates == [cells]


def test_blank_cells_that_left_no_trace_are_not_placed():
    """Six zeros for seven cells: one cell is blank, and nothing says which."""
    splits = split_fewest_blanks("000000", ROW, t3_row_identities())
    assert splits.count == 7 and splits.agreed() == [None] * 7


def test_blanks_are_never_invented_to_make_a_row_add_up():
    """'2000005' has digits for every cell but no split adds up: it is no row with a blank 总计 (20·0·0·0·0·5)."""
    assert split_fewest_blanks("2000005", ROW, t3_row_identities()).count == 0


def test_t4_run_split_by_its_three_groups():
    cells = split_run("10203120001200000", ("int",) * 15, t4_identities()).candidates
    assert cells == [("1", "0", "2", "0", "3", "12", "0", "0", "0", "12", "0", "0", "0", "0", "0")]


def test_t2_runs_have_no_identity():
    splits = split_run("693665", ("int",) * 3)
    assert splits.count == 10 and ("69", "3", "665") in splits.candidates
    signed = split_run("2648-18538", ("int", "signed", "int"))
    assert signed.agreed() == ["2648", None, None]  # the sign opens 本年增/减: 上一年项目数量 is certain


# --- crawler text -----------------------------------------------------------------------------------------------


def test_flattened_page_is_cut_at_enumerators_and_after_runs():
    line = (
        "二、主动公开政府信息情况第二十条第（一）项信息内容本年制发件数规章 000行政规范性文件693665三、收到和处理"
        "（本列数据…）一、本年新收政府信息公开申请数量640020470二、上年结转政府信息公开申请数量0000000（三）不予公开"
        "1.属于国家秘密00000002.其他法律行政法规禁止公开0000000共受理申请70件，办结69件。"
    ) * 2
    pieces = [p for _start, p in split_flattened(line)]
    assert "一、本年新收政府信息公开申请数量640020470" in pieces
    assert "1.属于国家秘密0000000" in pieces  # the "2" after the run is the next row's enumerator
    assert "2.其他法律行政法规禁止公开0000000" in pieces
    assert any("共受理申请70件，办结69件。" in p for p in pieces)  # numbers with a unit after them are prose


def test_crawler_page_header_is_metadata_not_text():
    doc = read_document(REAL / "42_pingtan_2021" / "source.txt")
    assert doc.title == "平潭综合实验区2021年度政府信息公开工作年度报告"
    assert doc.header["发布时间"] == "2022-02-08 16:34"
    assert "原文链接" not in doc.text and "本地目录" not in doc.text
    result = parse_file(REAL / "42_pingtan_2021" / "source.txt")
    meta = result.meta
    assert (meta.agency, meta.year, meta.published) == ("平潭综合实验区", 2021, "2022-02-08")
    assert meta.url.startswith("https://www.pingtan.gov.cn/")
    assert (meta.province, meta.city, meta.level, meta.agency_type) == ("福建省", "平潭综合实验区", "市级", "人民政府")
    assert result.to_json()["meta"]["published"] == "2022-02-08"


def test_crawler_report_cells_decided_by_the_columns(tmp_path):
    """'220000325' (（四）1) is 22·0·0·0·0·3·25 or 2·20·0·0·0·3·25 by its own sum; the 商业企业 column decides."""
    result = parse_file(REAL / "42_pingtan_2021" / "source.txt")
    cells = [result.facts[f"t3.unable_not_held.{c}"].value for c in T3_COLUMNS_ORDER]
    assert cells == [22, 0, 0, 0, 0, 3, 25]
    assert any(f.rule == "SPLIT" and "按各列算术关系唯一确定" in f.message for f in result.findings)


def test_a_report_whose_table_does_not_add_up_keeps_its_rows_as_printed():
    """平潭 2020: every 表三 row splits by its own sum, but （七）总计 disagrees with the outcome rows as published —
    the rows stay as printed and the validator names the columns that fail."""
    result = parse_file(REAL / "41_pingtan_2020" / "source.txt")
    assert result.facts["t3.result_total.total"].value == 21
    assert any(f.rule == "T3-2" and "t3.result_total.total" in f.keys for f in result.findings)


# --- converter markdown -------------------------------------------------------------------------------------


def _t3_markdown(rows: list[list[str]]) -> str:
    head = "| 项目 | 自然人 | 商业企业 | 科研机构 | 社会公益组织 | 法律服务机构 | 其他 | 总计 |\n|---|---|---|---|---|---|---|---|\n"
    return head + "\n".join("| " + " | ".join(r) + " |" for r in rows) + "\n"


def _with_t3(markdown_rows: list[list[str]]) -> str:
    text = MARKDOWN.read_text(encoding="utf-8")
    head, rest = text.split("## 三、收到和处理政府信息公开申请情况")
    tail = "## 四、" + rest.split("## 四、", 1)[1]
    return head + "## 三、收到和处理政府信息公开申请情况\n\n" + _t3_markdown(markdown_rows) + "\n" + tail


def _truth_rows() -> list[list[str]]:
    from tests.conftest import load_truth

    truth = load_truth(MARKDOWN.with_name("v8_markdown_converter.truth.json"))["facts"]
    return [
        [label, *(str(truth[f"t3.{key}.{c}"]) for c in T3_COLUMNS_ORDER)]
        for key, label, _b in registry().rows("t3", "2021")
    ]


def test_similar_rows_swapped_by_a_converter_are_placed_by_their_labels(tmp_path):
    rows = _truth_rows()
    i = next(k for k, r in enumerate(rows) if r[0].startswith("1.申请人无正当理由"))
    rows[i], rows[i + 1] = rows[i + 1], rows[i]  # （六）1 and （六）2: long labels that differ in a few characters
    rows[i][1:], rows[i + 1][1:] = ["3", "0", "0", "0", "0", "0", "3"], ["1", "1", "0", "0", "0", "0", "2"]
    rows[-1][1:] = ["1", "0", "0", "0", "0", "0", "1"]
    result = _parse(tmp_path, _with_t3(rows), "r.md")
    assert result.facts["t3.other_no_correction.total"].value == 2  # its own label, not the order, placed it
    assert result.facts["t3.other_fee_unpaid.total"].value == 3


def test_unlabelled_rows_are_placed_by_order_between_labelled_ones(tmp_path):
    rows = _truth_rows()
    rows[3][0] = ""  # （二）部分公开 reaches the markdown without its label
    rows[5][0] = ""  # and （三）2
    result = _parse(tmp_path, _with_t3(rows), "r.md")
    expected = parse_file(MARKDOWN).to_json()["facts"]
    assert {k: v for k, v in result.to_json()["facts"].items() if k.startswith("t3.")} == {
        k: v for k, v in expected.items() if k.startswith("t3.")
    }


def test_annotated_cell_keeps_its_note_in_raw():
    result = parse_file(MARKDOWN)
    fact = result.facts["t2.normative_docs.issued"]
    assert (fact.value, fact.raw) == (22, "22（其中修订16件）")


def test_old_label_in_a_new_edition(tmp_path):
    text = MARKDOWN.read_text(encoding="utf-8").replace("| 行政规范性文件 |", "| 规范性文件 |")
    result = _parse(tmp_path, text, "r.md")
    assert result.meta.edition == "2021" and result.facts["t2.normative_docs.in_force"].value == 156


def test_number_pulled_out_of_the_table_makes_its_blank_cells_uncertain(tmp_path):
    text = MARKDOWN.read_text(encoding="utf-8").replace(
        "| 行政规范性文件 | 22（其中修订16件） | 3 | 156 |", "| 行政规范性文件 |  | 3 | 156 |\n\n22（其中修订16件）\n"
    )
    result = _parse(tmp_path, text, "r.md")
    assert result.facts["t2.normative_docs.issued"].value is None
    assert _named(result, "t2.normative_docs.issued")  # never a silent blank where a number was


def test_table_printed_one_cell_per_line(tmp_path):
    block = "| 信息内容 | 本年处理决定数量 |\n|---|---|\n| 行政处罚 | 0 |\n| 行政强制 | 0 |"
    text = MARKDOWN.read_text(encoding="utf-8")
    assert block in text
    t4 = text.split("## 四、", 1)[1].split("## 五、")[0]
    flat_t4 = "\n".join(
        [
            "行政复议",
            "行政诉讼",
            "结果维持",
            "结果纠正",
            "其他结果",
            "尚未审结",
            "总计",
            "2",
            "0",
            "0",
            "0",
            "2",
            "1",
            "0",
            "0",
            "1",
            "2",
            "1",
            "0",
            "0",
            "0",
            "1",
        ]
    )
    text = text.replace(t4, "政府信息公开行政复议、行政诉讼情况\n\n" + flat_t4 + "\n\n")
    result = _parse(tmp_path, text, "r.md")
    assert [result.facts[f"t4.suit_direct.{c}"].value for c in ("upheld", "pending", "total")] == [1, 1, 2]


def test_blank_cells_at_both_edges_are_placed_by_the_header(tmp_path):
    rows = [[*r[:1], "", *r[1:]] for r in _truth_rows()]  # an empty column after the label
    head = "| 项目 |  | 自然人 | 商业企业 | 科研机构 | 社会公益组织 | 法律服务机构 | 其他 | 总计 |\n|---|---|---|---|---|---|---|---|---|\n"
    rows[2][-1] = ""  # （一）予以公开's 总计 left blank
    body = head + "\n".join("| " + " | ".join(r) + " |" for r in rows) + "\n"
    text = MARKDOWN.read_text(encoding="utf-8")
    head_part, rest = text.split("## 三、收到和处理政府信息公开申请情况")
    text = head_part + "## 三、收到和处理政府信息公开申请情况\n\n" + body + "\n## 四、" + rest.split("## 四、", 1)[1]
    result = _parse(tmp_path, text, "r.md")
    assert result.facts["t3.granted.natural_person"].value == 6  # not shifted into the empty column
    assert result.facts["t3.granted.total"].blank
