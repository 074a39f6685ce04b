"""Streamlit AppTest of every dashboard page on a hand-made database and on an empty (schema only) one."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from pipeline.filters import PARAMS, Filters
from pipeline.store import Database
from tests.dashboard_fixtures import EVIL_AGENCY, EVIL_TEXT, HandReport, build_db, parse_result

APP = str(Path(__file__).resolve().parents[1] / "app.py")
PAGES = {
    "overview": "总览",
    "publication": "主动公开（表二）",
    "requests": "依申请公开（表三）",
    "litigation": "复议诉讼（表四）",
    "compare": "机关对比",
    "explore": "数据浏览与导出",
    "quality": "数据质量",
    "about": "指标说明",
    "report": "报告详情",
}
SYNTHETIC = "示例数据，非真实机关统计"


@pytest.fixture(scope="module")
def hand_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_db(tmp_path_factory.mktemp("app") / "hand.duckdb")


@pytest.fixture(scope="module")
def empty_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_db(tmp_path_factory.mktemp("app") / "empty.duckdb", empty=True)


def open_page(monkeypatch, db: Path, page: str, query: dict | None = None) -> AppTest:
    monkeypatch.setenv("XXGK_DB", str(db))
    at = AppTest.from_file(APP, default_timeout=60)
    for k, v in (query or {}).items():
        at.query_params[k] = v
    at.run()
    if page != "overview":
        at.switch_page(f"pages/{page}.py").run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def texts(at: AppTest) -> list[str]:
    """Every piece of text Streamlit would interpret as markdown (titles, captions, alerts, labels)."""
    out = []
    for kind in (
        "title",
        "header",
        "subheader",
        "markdown",
        "caption",
        "warning",
        "info",
        "error",
        "success",
    ):
        out += [str(e.value) for e in getattr(at, kind)]
    out += [e.label for e in at.expander] + [e.label for e in at.metric]
    return out


def figures(at: AppTest) -> list[dict]:
    return [json.loads(c.proto.spec) for c in at.get("plotly_chart")]


def array(data: object) -> list:
    """A plotly trace array: plain list, or plotly's base64 typed-array form {"dtype", "bdata"}."""
    if isinstance(data, dict) and "bdata" in data:
        return np.frombuffer(base64.b64decode(data["bdata"]), dtype=np.dtype(data["dtype"])).tolist()
    return list(data)


@pytest.mark.parametrize("page", list(PAGES))
def test_page_renders_on_hand_database(monkeypatch, hand_db, page):
    at = open_page(monkeypatch, hand_db, page)
    assert at.title[0].value == PAGES[page]
    assert not at.error
    if page in ("publication", "requests", "litigation"):
        assert figures(at), "a chart is drawn"  # 总览 and 数据质量 open on tables, their charts are in tabs


@pytest.mark.parametrize("page", list(PAGES))
def test_page_renders_on_empty_database(monkeypatch, empty_db, page):
    at = open_page(monkeypatch, empty_db, page)
    assert not figures(at)
    if page != "about":
        assert any("没有报告" in i.value for i in at.info)


def test_missing_database_says_so(monkeypatch, tmp_path):
    at = open_page(monkeypatch, tmp_path / "nope.duckdb", "requests")
    assert any("数据库文件不存在" in e.value for e in at.error)


def test_filters_change_the_figures(monkeypatch, hand_db):
    def bars(query: dict) -> dict[str, list]:
        at = open_page(monkeypatch, hand_db, "requests", query)
        fig = figures(at)[0]  # new requests by applicant type
        return {t["name"]: list(zip(array(t["x"]), array(t["y"]), strict=True)) for t in fig["data"]}

    everything = bars({})
    jia = bars({"agency": "甲市司法局"})
    assert everything != jia
    assert dict(jia["自然人"])[2021] == 10 and dict(everything["自然人"])[2021] == 15
    year_only = bars({"year": "2022"})
    assert {x for x, _ in year_only["自然人"]} == {2022}


def test_query_string_round_trip(monkeypatch, hand_db):
    query = {
        "year": ["2021", "2022"], "province": "辽宁省", "city": "阜新市", "level": "市级", "type": "司法行政",
        "agency": "甲市司法局", "edition": "2021", "quality": "pass",
    }  # fmt: skip
    at = open_page(monkeypatch, hand_db, "overview", query)
    state = {param: at.session_state[param] for param in PARAMS.values() if param in at.session_state}
    from_widgets = Filters.from_state(state)
    assert from_widgets == Filters.from_query(query)
    assert from_widgets == Filters(
        years=(2021, 2022), province="辽宁省", city="阜新市", levels=("市级",), agency_types=("司法行政",),
        agencies=("甲市司法局",), editions=("2021",), quality="pass",
    )  # fmt: skip
    # … and back: the query string the filter produces reopens the same selection
    assert Filters.from_query(from_widgets.to_query()) == from_widgets
    assert at.multiselect(key="year").value == [2021, 2022]
    assert at.selectbox(key="city").value == "阜新市"
    assert at.metric[1].value == "2"  # 报告数: 甲 2021 + 2022


def test_page_selections_come_from_the_query_string(monkeypatch, hand_db):
    at = open_page(monkeypatch, hand_db, "report", {"report": "3"})
    assert at.selectbox(key="report").value == 3
    at = open_page(
        monkeypatch,
        hand_db,
        "compare",
        {
            "cmp_metric": "rate.correction.review",
            "cmp_agencies": ["甲市司法局", "乙县人民政府"],
            "min_n": "3",
        },
    )
    assert at.selectbox(key="cmp_metric").value == "rate.correction.review"
    assert at.number_input(key="min_n").value == 3
    assert len(figures(at)) == 2  # the comparison and the ranking


def test_invalid_query_values_are_ignored(monkeypatch, hand_db):
    at = open_page(
        monkeypatch, hand_db, "overview", {"province": "<b>不存在</b>", "quality": "x", "year": "abc"}
    )
    assert at.selectbox(key="province").value is None
    assert at.metric[1].value == "5"


def test_synthetic_notice_only_when_the_view_has_synthetic_reports(monkeypatch, hand_db):
    at = open_page(monkeypatch, hand_db, "overview", {"province": "江苏省"})
    assert any(SYNTHETIC in w.value for w in at.warning)
    at = open_page(monkeypatch, hand_db, "overview", {"province": "辽宁省"})
    assert not any(SYNTHETIC in w.value for w in at.warning)


def test_empty_selection_says_so(monkeypatch, hand_db):
    at = open_page(monkeypatch, hand_db, "litigation", {"year": "2020", "province": "辽宁省"})
    assert any("没有报告" in i.value for i in at.info)
    assert not figures(at)


def test_untrusted_report_content_stays_plain_text(monkeypatch, hand_db):
    at = open_page(monkeypatch, hand_db, "report", {"report": "5"})
    assert EVIL_TEXT in [t.value for t in at.text]
    assert not at.get("html")
    assert not [t for t in texts(at) if "<script" in t or "DROP TABLE" in t]
    # the agency name reaches charts only neutralised
    at = open_page(monkeypatch, hand_db, "overview", {"agency": EVIL_AGENCY})
    assert at.metric[1].value == "1"
    for page in ("publication", "compare"):
        at = open_page(monkeypatch, hand_db, page, {"agency": EVIL_AGENCY} if page == "publication" else {})
        for fig in figures(at):
            assert "<script" not in json.dumps(fig, ensure_ascii=False)


def test_new_data_appears_after_an_ingest_swap(monkeypatch, tmp_path):
    db = build_db(tmp_path / "live.duckdb")
    at = open_page(monkeypatch, db, "overview")
    assert at.metric[1].value == "5"
    with Database(db).write() as session:
        session.write(parse_result(HandReport(7, "丁市司法局", 2022)))
        at.run()  # while the ingest writes the page keeps working on the old data
        assert not at.exception and at.metric[1].value == "5"
    at.run()
    assert not at.exception
    assert at.metric[1].value == "6"


# (page, tab key, tab label) → what the tab draws: alternative views sit in tabs whose label is in the URL, and only
# the open tab is computed, so each one is opened from a link here.
TAB_VIEWS = [
    ("overview", "ov_trend", "申请与复议数量（图）", "chart"),
    ("overview", "ov_trend", "公开率与纠错率（图）", "chart"),
    ("overview", "ov_trend", "逐年数值与同比（表，含分母）", "table"),
    ("overview", "ov_coverage", "机关 × 年度矩阵（表）", "table"),
    ("overview", "ov_coverage", "各年度状态汇总（图）", "chart"),
    ("publication", "t2_view", "各项数量（件）", "chart"),
    ("publication", "t2_view", "逐年合计（表）", "table"),
    ("publication", "t2_rank", "按机关类型", "chart"),
    ("requests", "rq_outcomes", "结果层级（矩形树图）", "treemap"),
    ("requests", "rq_shares", "逐年比率（含分子、分母）", "table"),
    ("litigation", "t4_view", "逐年各项合计（表）", "table"),
    ("litigation", "t4_rates", "逐年纠错率（含分子、分母）", "table"),
    ("quality", "q_rules", "各规则发现数（表）", "table"),
    ("quality", "q_rules", "柱状图", "chart"),
]


@pytest.mark.parametrize(("page", "key", "label", "drawn"), TAB_VIEWS)
def test_every_tab_opens_from_the_url(monkeypatch, hand_db, page, key, label, drawn):
    at = open_page(monkeypatch, hand_db, page, {key: label})
    assert not at.error
    tabs = [t for t in at.tabs if t.label == label]
    assert tabs, [t.label for t in at.tabs]
    if drawn == "table":
        assert tabs[0].get("dataframe"), f"{label}: table drawn"
    else:
        assert tabs[0].get("plotly_chart"), f"{label}: chart drawn"
        if drawn == "treemap":
            assert figures(at)[1]["data"][0]["type"] == "treemap"
    # hidden tabs are not computed: one tab per group has content
    groups = {k for p, k, _, _ in TAB_VIEWS if p == page}
    assert len([t for t in at.tabs if t.children]) == len(groups)
