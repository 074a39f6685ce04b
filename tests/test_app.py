"""Streamlit AppTest of every dashboard page on a hand-made database and on an empty (schema only) one, and of the
walk-through items of issue 9: derived totals on the pages, like-for-like trends, the guard on every kind of chart,
link values that match nothing, Chinese everywhere."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from streamlit.testing.v1 import AppTest

from pipeline.dashboard.pages import available, page
from pipeline.filters import PARAMS, Filters
from pipeline.store import Database
from tests import shown_tables
from tests.dashboard_fixtures import (
    EVIL_AGENCY,
    EVIL_TEXT,
    SPARSE_AGENCY,
    HandReport,
    build_db,
    figures,
    open_page,
    parse_result,
    report_id,
    shared_db,
)

PAGES = [p.key for p in available() if p.key != "upload"]
SYNTHETIC = "示例数据，非真实机关统计"


@pytest.fixture(scope="module")
def hand_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return shared_db(tmp_path_factory)


@pytest.fixture(scope="module")
def empty_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return shared_db(tmp_path_factory, empty=True)


def texts(at: AppTest) -> list[str]:
    """Every piece of text Streamlit would interpret as markdown (titles, captions, alerts, labels)."""
    out = []
    for kind in ("title", "header", "subheader", "markdown", "caption", "warning", "info", "error", "success"):
        out += [str(e.value) for e in getattr(at, kind)]
    return out + [e.label for e in at.expander] + [e.label for e in at.metric]


def array(data: object) -> list:
    """A plotly trace array: plain list, or plotly's base64 typed-array form {"dtype", "bdata"}."""
    if isinstance(data, dict) and "bdata" in data:
        return np.frombuffer(base64.b64decode(data["bdata"]), dtype=np.dtype(data["dtype"])).tolist()
    return list(data)


def frame(at: AppTest, index: int = 0) -> pl.DataFrame:
    """The ``index``-th table the page shows (static HTML tables, read back as text)."""
    return shown_tables.tables(at)[index]


@pytest.mark.parametrize("key", PAGES)
def test_page_renders_on_hand_database(monkeypatch, hand_db, key):
    at = open_page(monkeypatch, hand_db, key)
    assert at.title[0].value == page(key).heading
    assert not at.error
    if key in ("publication", "requests", "litigation"):
        assert figures(at), "a chart is drawn"  # 总览 and 数据质量 open on tables, their charts are in tabs


@pytest.mark.parametrize("key", PAGES)
def test_page_renders_on_empty_database(monkeypatch, empty_db, key):
    at = open_page(monkeypatch, empty_db, key)
    assert not figures(at)
    if key != "about":
        assert any("没有报告" in i.value for i in at.info)


def test_missing_database_says_so(monkeypatch, tmp_path):
    at = open_page(monkeypatch, tmp_path / "nope.duckdb", "requests")
    assert any("数据库文件不存在" in e.value for e in at.error)


def test_filters_change_the_figures(monkeypatch, hand_db):
    def bars(query: dict) -> dict[str, list]:
        at = open_page(monkeypatch, hand_db, "requests", {"panel": "all", **query})
        fig = figures(at)[0]  # new requests by applicant type
        return {t["name"]: list(zip(array(t["x"]), array(t["y"]), strict=True)) for t in fig["data"]}

    everything = bars({})
    jia = bars({"agency": "甲市司法局"})
    assert dict(jia["自然人"])[2021] == 10 and dict(everything["自然人"])[2021] == 15  # 甲 10 + 乙 5
    assert {x for x, _ in bars({"year": "2022"})["自然人"]} == {2022}


def test_query_string_round_trip(monkeypatch, hand_db):
    query = {
        "year": ["2021", "2022"], "province": "辽宁省", "city": "阜新市", "level": "市级", "type": "司法行政",
        "agency": "甲市司法局", "edition": "2021", "quality": "pass", "panel": "all", "min_n": "25",
    }  # fmt: skip
    at = open_page(monkeypatch, hand_db, "overview", query)
    state = {param: at.session_state[param] for param in PARAMS.values() if param in at.session_state}
    from_widgets = Filters.from_state(state)
    assert from_widgets == Filters.from_query(query)
    assert from_widgets == Filters(
        years=(2021, 2022), province="辽宁省", city="阜新市", levels=("市级",), agency_types=("司法行政",),
        agencies=("甲市司法局",), editions=("2021",), quality="pass", panel="all", min_n=25,
    )  # fmt: skip
    assert Filters.from_query(from_widgets.to_query()) == from_widgets  # … and back
    assert at.metric[1].value == "2"  # 报告数: 甲 2021 + 2022


def test_page_selections_come_from_the_query_string(monkeypatch, hand_db):
    yi = report_id(hand_db, "乙县人民政府", 2021)
    at = open_page(monkeypatch, hand_db, "report", {"report": str(yi)})
    assert at.selectbox(key="report").value == yi
    at = open_page(monkeypatch, hand_db, "compare", {
        "cmp_metric": "rate.correction.review", "cmp_agencies": ["甲市司法局", "乙县人民政府"], "min_n": "3",
        "panel": "all"})  # fmt: skip
    assert at.selectbox(key="cmp_metric").value == "rate.correction.review"
    assert at.number_input(key="min_n").value == 3
    assert len(figures(at)) == 2  # the comparison and the ranking


@pytest.mark.parametrize(
    ("key", "query", "named"),
    [
        ("requests", {"province": "火星省", "year": "1999"}, ["省份「火星省」", "年度「1999」"]),
        ("compare", {"min_n": "inf"}, ["最少分母（小数字保护）「inf」"]),
        ("compare", {"min_n": "1e400", "rank_year": "abc", "cmp_metric": "x"}, ["「1e400」", "排名年度「abc」", "指标「x」"]),
        ("overview", {"quality": "x", "panel": "some", "ov_trend": "nope"}, ["数据质量「x」", "比较口径「some」", "标签页「nope」"]),
        ("report", {"report": "99999", "cell": "<b>x</b>"}, ["「99999」", "单元格「<b>x</b>」"]),
        ("explore", {"fields": "nope", "view": "x", "sort": "zz"}, ["「nope」", "表格形式「x」", "排序「zz」"]),
    ],
)  # fmt: skip
def test_link_values_that_match_nothing_are_named_never_silently_dropped(monkeypatch, hand_db, key, query, named):
    at = open_page(monkeypatch, hand_db, key, query)
    notice = [w.value for w in at.warning if "无法识别" in w.value]
    assert notice, [w.value for w in at.warning]
    for part in named:
        assert part in notice[0], (part, notice[0])
    assert "Traceback" not in " ".join(texts(at))


def test_unknown_province_is_not_a_national_total_in_disguise(monkeypatch, hand_db):
    at = open_page(monkeypatch, hand_db, "overview", {"province": "火星省"})
    assert at.selectbox(key="province").value is None
    assert any("已忽略" in w.value and "火星省" in w.value for w in at.warning)


def test_synthetic_notice_only_when_the_view_has_synthetic_reports(monkeypatch, hand_db):
    assert any(
        SYNTHETIC in w.value for w in open_page(monkeypatch, hand_db, "overview", {"province": "江苏省"}).warning
    )
    assert not any(
        SYNTHETIC in w.value for w in open_page(monkeypatch, hand_db, "overview", {"province": "辽宁省"}).warning
    )


def test_empty_selection_says_so(monkeypatch, hand_db):
    at = open_page(monkeypatch, hand_db, "litigation", {"year": "2020", "province": "辽宁省"})
    assert any("没有报告" in i.value for i in at.info)
    assert not figures(at)


def test_untrusted_report_content_stays_plain_text(monkeypatch, hand_db):
    at = open_page(monkeypatch, hand_db, "report", {"report": str(report_id(hand_db, EVIL_AGENCY, 2022))})
    assert any(EVIL_TEXT in t.value for t in at.text)
    # the only HTML on the page is the static tables, every cell escaped: the agency's name reads as typed
    bodies = shown_tables.html_bodies(at)
    assert bodies and all(shown_tables.TABLE_MARK in b for b in bodies)
    assert not [b for b in bodies if "<script" in b or "<img" in b]
    assert any(EVIL_AGENCY in t["内容"].to_list() for t in shown_tables.tables(at) if t.columns == ["项目", "内容"])
    assert not [t for t in texts(at) if "<script" in t or "DROP TABLE" in t]
    at = open_page(monkeypatch, hand_db, "overview", {"agency": EVIL_AGENCY})
    assert at.metric[1].value == "1"
    for key in ("publication", "compare"):
        at = open_page(monkeypatch, hand_db, key, {"agency": EVIL_AGENCY} if key == "publication" else {})
        for fig in figures(at):
            assert "<script" not in json.dumps(fig, ensure_ascii=False)


def test_new_data_appears_after_an_ingest_swap(monkeypatch, tmp_path):
    db = build_db(tmp_path / "live.duckdb")
    at = open_page(monkeypatch, db, "overview")
    assert at.metric[1].value == "6"
    with Database(db).write() as session:
        session.write(parse_result(HandReport("wu_2022", "戊市司法局", 2022, "辽宁省阜新市")))
        at.run()  # while the ingest writes the page keeps working on the old data
        assert not at.exception and at.metric[1].value == "6"
    at.run()
    assert not at.exception
    assert at.metric[1].value == "7"


# -- derived totals on the pages (the Done-means report: 总计 only on rows 一, 二, （七）, 四) ------------------------


def test_requests_page_shows_hand_worked_rates_for_a_report_with_sparse_totals(monkeypatch, hand_db):
    at = open_page(monkeypatch, hand_db, "requests", {"agency": SPARSE_AGENCY, "rq_shares": "逐年比率（含分子、分母）"})
    shown = frame(at, 0)
    rates = dict(zip(shown["指标"].to_list(), shown["比率"].to_list(), strict=True))
    # worked out from the printed applicant columns: 予以公开 12+3+1 = 16, 部分公开 5+1 = 6, 不予公开 1+2+3+1 = 7,
    # 无法提供 10+2+1+1+1+2+1 = 18, 不予处理 3+1+1 = 5, 其他处理 1+2 = 3; （七）总计 55
    hand = {"公开率": 22 / 55, "（一）予以公开占比": 16 / 55, "（三）不予公开占比": 7 / 55, "（四）无法提供占比": 18 / 55,
            "（五）不予处理占比": 5 / 55, "（六）其他处理占比": 3 / 55}  # fmt: skip
    for name, expected in hand.items():
        assert rates[name] == f"{expected:.1%}", name  # shown as a percentage to one decimal
    assert shown["其中总计为推算值"].cast(pl.Int64).max() == 1
    assert any("其中 1 份的总计为推算值" in c.value for c in at.caption)
    bars = figures(at)[1]  # outcome bars: the （七）总计 of the same reports above them
    totals = next(t for t in bars["data"] if t["name"] == "（七）总计")
    assert array(totals["y"]) == [55]
    parts = sum(sum(array(t["y"])) for t in bars["data"] if t["name"] != "（七）总计")
    assert parts == 55


def test_litigation_page_derives_a_blank_review_total(monkeypatch, hand_db):
    at = open_page(monkeypatch, hand_db, "litigation", {"agency": SPARSE_AGENCY, "t4_rates": "逐年纠错率（含分子、分母）",
                                                        "min_n": "0"})  # fmt: skip
    shown = frame(at, 0)
    review = shown.filter(pl.col("指标") == "行政复议纠错率").row(0, named=True)
    assert review["纠错率"] == "33.3%"  # 1 ÷ (2+1+0+1 − 1)


def test_report_detail_click_shows_where_a_cell_came_from(monkeypatch, hand_db):
    rid = report_id(hand_db, SPARSE_AGENCY, 2023)
    at = open_page(monkeypatch, hand_db, "report", {"report": str(rid)})
    assert any("点击左侧表格" in i.value for i in at.info)
    grid = shown_tables.table_with(at, "自然人", "总计")  # 表三
    assert grid.row(2)[0] == "（一）予以公开" and grid["总计"][2] == "推 16"
    cells = {c["key"]: c for c in shown_tables.cell_keys(at)}
    granted = cells["t3.granted.total"]  # every cell says which registry cell it is: the click sends that key
    assert (granted["row"], granted["column"], granted["text"]) == ("（一）予以公开", "总计", "推 16")
    assert not any(c["picked"] for c in cells.values())
    click(at, "grid_t3_0", "t3.granted.total")
    assert not at.exception, [e.message for e in at.exception]
    assert at.query_params["cell"] in ("t3.granted.total", ["t3.granted.total"])  # the clicked cell is in the link
    assert [c["key"] for c in shown_tables.cell_keys(at) if c["picked"]] == ["t3.granted.total"]  # and marked
    provenance = dict(shown_tables.tables(at)[[i for i, t in enumerate(shown_tables.tables(at))
                                               if t.columns == ["项目", "内容"]][-1]].iter_rows())  # fmt: skip
    assert provenance["原文"] == "（空白）" and provenance["推算值"] == "16" and provenance["状态"] == "空白"
    assert "推算依据：自然人 + 商业企业 + 科研机构 + 社会公益组织 + 法律服务机构 + 其他" in [
        c.value for c in at.caption
    ]
    line = shown_tables.table_with(at, "第几格")
    assert line.filter(pl.col("第几格") == "▶ 9").row(0)[1] == "（空白）"  # the blank 总计 cell of line 33
    code = at.get("code")[0].value
    assert "▶" in code and "（一）予以公开" in code.split("▶", 1)[1].split("\n", 1)[0]


def click(at: AppTest, grid: str, key: str) -> AppTest:
    """A click on the cell ``key`` of the clickable table drawn under ``grid`` (what its component sends)."""
    return shown_tables.click_cell(at, grid, key)


# -- like-for-like, guard, walk-through ---------------------------------------------------------------------------


def test_overview_change_compares_the_same_agencies(monkeypatch, hand_db):
    at = open_page(monkeypatch, hand_db, "overview", {"year": ["2021", "2022"]})
    new = next(m for m in at.metric if m.label == "一、本年新收政府信息公开申请数量 / 总计")
    assert new.value == "20" and new.delta == "+8"  # 甲 12 → 20; the evil report (2022 only) is not compared
    assert any("两年都有数值的 1 个机关" in c.value for c in at.caption)
    at = open_page(monkeypatch, hand_db, "overview", {"year": ["2021", "2022"], "panel": "all"})
    assert next(m for m in at.metric if m.label.startswith("一、本年新收")).delta == "+3"  # 17 → 20


def test_guard_greys_rates_on_trend_lines(monkeypatch, hand_db):
    at = open_page(monkeypatch, hand_db, "requests", {"panel": "all", "min_n": "20"})
    shares = figures(at)[2]
    grey = [t for t in shares["data"] if t["name"].startswith("分母不足 20")]
    assert grey and 2021 in array(grey[0]["x"])  # 2021: denominator 16 < 20
    disclosure = next(t for t in shares["data"] if t["name"] == "公开率")
    assert dict(zip(array(disclosure["x"]), array(disclosure["y"]), strict=True)).get(2021) is None or np.isnan(
        dict(zip(array(disclosure["x"]), array(disclosure["y"]), strict=True))[2021]
    )


def test_guard_on_agency_lines_and_the_ranking(monkeypatch, hand_db):
    at = open_page(monkeypatch, hand_db, "compare", {
        "cmp_agencies": ["甲市司法局", "乙县人民政府"], "min_n": "6", "rank_year": "2021", "panel": "all"})  # fmt: skip
    lines, ranking = figures(at)
    grey = [t for t in lines["data"] if t["name"].startswith("分母不足 6")]
    assert grey and "乙县人民政府" in grey[0]["text"][0]  # 乙: denominator 5
    assert lines["layout"]["xaxis"]["range"] == [2020.5, 2022.5]
    names = {t["name"] for t in ranking["data"]}
    assert "所选机关" in names  # 甲 is highlighted in its peer group


def test_one_point_series_gets_a_sensible_axis(monkeypatch, hand_db):
    at = open_page(monkeypatch, hand_db, "compare", {
        "cmp_agencies": ["甲市司法局", "乙县人民政府"], "year": "2021", "panel": "all", "min_n": "0"})  # fmt: skip
    lines = figures(at)[0]
    assert lines["layout"]["xaxis"]["range"] == [2020.5, 2021.5]
    assert lines["layout"]["xaxis"]["dtick"] == 1


def test_default_peer_group_has_data(monkeypatch, hand_db):
    at = open_page(monkeypatch, hand_db, "compare", {"rank_year": "2021", "panel": "all"})
    assert figures(at), "the default peer group draws its ranking"
    assert "（1 / 1）" in at.selectbox(key="peer").format_func(at.selectbox(key="peer").value)


def test_region_view_guards_small_denominators(monkeypatch, hand_db):
    at = open_page(monkeypatch, hand_db, "requests",
                   {"panel": "all", "min_n": "60", "year": "2021", "rq_shares": "公开率：按地区"})  # fmt: skip
    regions = figures(at)[2]
    assert {t["name"] for t in regions["data"]} == {"分母不足 60"}  # 辽宁省 2021: 11 + 5 = 16 < 60
    assert regions["data"][0]["text"][0] == "n=16"  # greyed with its n, no rate shown
    at = open_page(monkeypatch, hand_db, "requests", {"panel": "all", "min_n": "10", "rq_shares": "公开率：按地区"})
    assert {t["name"] for t in figures(at)[2]["data"]} == {"公开率"}  # 辽宁省 87 ≥ 10


def test_publication_bars_are_labelled_without_empty_panels_or_years(monkeypatch, hand_db):
    at = open_page(monkeypatch, hand_db, "publication", {"panel": "all"})
    volumes = figures(at)[0]
    assert all(t.get("texttemplate") for t in volumes["data"])
    panels = {a["text"] for a in volumes["layout"]["annotations"]}
    assert "行政事业性收费" not in panels  # 2021: only an amount (万元), drawn in its own tab
    assert volumes["layout"]["xaxis"]["range"][0] == 2020.5  # the 2021 edition starts in 2021: no empty 2020 slot
    at = open_page(monkeypatch, hand_db, "publication", {"panel": "all", "t2_field": "count.t2.regulations.issued"})
    top = figures(at)[1]
    assert all(v > 0 for t in top["data"] for v in array(t["x"]))  # no empty bars


def test_chinese_labels_for_codes(monkeypatch, hand_db):
    at = open_page(monkeypatch, hand_db, "quality", {"q_rules": "各规则发现数（表）"})
    rules = frame(at, 0)["规则"].to_list()
    assert "T3-2 表三办理结果合计" in rules and "DERIVED 推算的总计" in rules
    at = open_page(monkeypatch, hand_db, "explore")
    picker = at.multiselect(key="fields")
    assert picker.format_func("t3.granted.total") == "（一）予以公开 / 总计（t3.granted.total）"
    edition = at.multiselect(key="edition")
    assert edition.format_func("legacy") == "2018 年及以前的旧格式"


def test_quality_findings_choice_offers_the_reports_of_the_table_shown(monkeypatch, hand_db):
    """The findings list is paged (its page box walks through the rest) and labelled page by page: the rows shown
    carry the Chinese labels, and 打开报告详情 offers exactly the reports of the rows shown."""
    at = open_page(monkeypatch, hand_db, "quality")
    findings = shown_tables.table_with(at, "可疑单元格")
    assert len(findings) > 0
    assert all(" " in r for r in findings["规则"])  # "T3-2 表三办理结果合计": code and label, never a bare code
    shown = list(dict.fromkeys(int(report) for report in findings["报告详情"]))  # the link shows the report number
    assert all(href.endswith(f"report={r}") for href, r in zip(shown_tables.links(at, "报告详情", "可疑单元格"),
                                                               findings["报告详情"], strict=True))  # fmt: skip
    assert at.selectbox(key="q_open").options == [str(r) for r in shown]


def test_about_page_explains_every_rate_in_full(monkeypatch, hand_db):
    at = open_page(monkeypatch, hand_db, "about")
    formulas = pl.from_pandas(at.table[0].value)
    assert len(formulas) == len([k for k in formulas["指标键"]]) >= 12
    longest = max(formulas["公式"].to_list(), key=len)
    assert longest.endswith("」") and "（六）其他处理" in longest or len(longest) > 100  # whole, not cut
    assert not figures(at)  # the page explains; it draws no chart
    assert any("推算的总计" in m.value for m in at.markdown) and any("同一批机关" in m.value for m in at.markdown)
    sources = frame(at, 1)
    assert set(sources["来源"].to_list()) == {"示例数据", "真实报告"}


# (page, tab key, tab label) → what the tab draws: alternative views sit in tabs whose label is in the URL, and only
# the open tab is computed, so each one is opened from a link here.
TAB_VIEWS = [
    ("overview", "ov_trend", "申请与复议数量（图）", "chart"),
    ("overview", "ov_trend", "公开率与纠错率（图）", "chart"),
    ("overview", "ov_trend", "逐年数值与同比（表，含分母与覆盖）", "table"),
    ("overview", "ov_coverage", "机关 × 年度矩阵（表）", "table"),
    ("overview", "ov_coverage", "各年度状态汇总（图）", "chart"),
    ("publication", "t2_view", "各项数量（件）", "chart"),
    ("publication", "t2_view", "逐年合计（表）", "table"),
    ("publication", "t2_rank", "按机关类型", "chart"),
    ("requests", "rq_outcomes", "结果层级（矩形树图）", "treemap"),
    ("requests", "rq_shares", "逐年比率（含分子、分母）", "table"),
    ("requests", "rq_shares", "公开率：按地区", "chart"),
    ("litigation", "t4_view", "逐年各项合计（表）", "table"),
    ("litigation", "t4_rates", "逐年纠错率（含分子、分母）", "table"),
    ("quality", "q_rules", "各规则发现数（表）", "table"),
    ("quality", "q_rules", "柱状图", "chart"),
]


@pytest.mark.parametrize(("key", "tab", "label", "drawn"), TAB_VIEWS)
def test_every_tab_opens_from_the_url(monkeypatch, hand_db, key, tab, label, drawn):
    at = open_page(monkeypatch, hand_db, key, {tab: label, "panel": "all"})
    assert not at.error
    tabs = [t for t in at.tabs if t.label == label]
    assert tabs, [t.label for t in at.tabs]
    if drawn == "table":
        assert any(shown_tables.TABLE_MARK in h.value for h in tabs[0].get("html")), f"{label}: table drawn"
    else:
        assert figures(tabs[0]), f"{label}: chart drawn"
        if drawn == "treemap":
            assert figures(at)[1]["data"][0]["type"] == "treemap"
    groups = {k for p, k, _, _ in TAB_VIEWS if p == key}  # hidden tabs are not computed: one open tab per group
    assert len([t for t in at.tabs if t.children]) == len(groups)
