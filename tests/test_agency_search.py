"""Agency choice at scale: the named queries behind type-to-search on a real DuckDB file, and the pickers of the
sidebar, 机关对比, 机关报告卡 and 报告详情 in Streamlit's AppTest — typing part of a name finds the agency, a link
naming an agency preselects it, and no widget ever holds more than a search's worth of agencies."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest
from typer.testing import CliRunner

from pipeline import cli
from pipeline.filters import Filters
from pipeline.metrics import (
    SEARCH_LIMIT,
    agency_reports,
    filter_options,
    has_unnamed_reports,
    known_agencies,
    search_agencies,
    selection_years,
)
from pipeline.store import Database
from tests.dashboard_fixtures import EVIL_AGENCY, HandReport, build_db, open_page, report_id, shared_db

MANY = 2 * SEARCH_LIMIT + 5  # agencies in the crowded store: more than one search may offer


def _report(stem: str, agency: str, year: int, region: str, **kw: object) -> HandReport:
    return HandReport(stem, agency, year, region, t3={"natural_person": {"new_received": year - 2018}}, **kw)


@pytest.fixture(scope="module")
def ranked_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Names chosen so that exact, prefix and report-count ranking each decide one place (ingested for real)."""
    reports = [
        _report("exact", "司法局", 2022, "辽宁省"),
        _report("prefix", "司法局机关服务中心", 2022, "辽宁省"),
        *[_report(f"sy_{y}", "沈阳市司法局", y, "辽宁省沈阳市") for y in (2021, 2022, 2023)],
        *[_report(f"dl_{y}", "大连市司法局", y, "辽宁省大连市") for y in (2022, 2023)],
        _report("sy_police", "沈阳市公安局", 2022, "辽宁省沈阳市"),
        _report("nj_2022", "南京市司法局", 2022, "江苏省南京市"),
        _report("nj_2023_v1", "南京市司法局", 2023, "江苏省南京市"),
        _report("nj_2023", "南京市司法局", 2023, "江苏省南京市", cells={"t2.regulations.issued": 1}),
        _report("pct", "100%_局", 2022, "江苏省南京市"),
    ]
    return build_db(tmp_path_factory.mktemp("ranked") / "ranked.duckdb", reports)


@pytest.fixture(scope="module")
def crowded_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """More agencies than a search offers, ingested for real (one report each)."""
    reports = [_report(f"n{i:03d}", f"第{i:03d}号测试局", 2022, "辽宁省阜新市") for i in range(MANY)]
    return build_db(tmp_path_factory.mktemp("crowded") / "crowded.duckdb", reports)


@pytest.fixture(scope="module")
def hand_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return shared_db(tmp_path_factory)


def names(df) -> list[str]:
    return df["agency"].to_list()


# -- the queries -------------------------------------------------------------------------------------------------


def test_search_ranks_exact_then_prefix_then_report_count(ranked_db):
    hits = Database(ranked_db).query(search_agencies, None, "司法局")
    # exact name, then the name that starts with it, then by reports: 沈阳 3, 大连 2, 南京 2 (shorter name first
    # among equals is not needed here: 大连 and 南京 tie on reports and length, so the name decides)
    assert names(hits) == ["司法局", "司法局机关服务中心", "沈阳市司法局", "南京市司法局", "大连市司法局"]
    assert hits["n_reports"].to_list() == [1, 1, 3, 2, 2]
    assert set(hits["n_matches"].to_list()) == {5}


def test_search_every_word_must_match_and_the_result_is_bounded(ranked_db):
    db = Database(ranked_db)
    assert names(db.query(search_agencies, None, "沈阳 司法")) == ["沈阳市司法局"]
    assert names(db.query(search_agencies, None, "　沈阳　公安 ")) == ["沈阳市公安局"]  # ideographic spaces
    two = db.query(search_agencies, None, "司法", 2)
    assert two.height == 2 and two["n_matches"][0] == 5
    assert db.query(search_agencies, None, "火星").is_empty()
    everyone = db.query(search_agencies, None, "")
    assert everyone["agency"][0] == "沈阳市司法局" and everyone["n_matches"][0] == 7  # most reports first


def test_search_text_is_literal_never_a_pattern(ranked_db):
    db = Database(ranked_db)
    assert names(db.query(search_agencies, None, "%")) == ["100%_局"]
    assert names(db.query(search_agencies, None, "_")) == ["100%_局"]
    assert db.query(search_agencies, None, "'; DROP TABLE reports; --").is_empty()
    assert db.execute("SELECT count(*) FROM reports")[0][0] > 0


def test_search_is_narrowed_by_the_other_filters_not_by_the_agency_choice(ranked_db):
    db = Database(ranked_db)
    assert names(db.query(search_agencies, Filters(province="江苏省"), "司法")) == ["南京市司法局"]
    assert names(db.query(search_agencies, Filters(years=(2021,)), "司法")) == ["沈阳市司法局"]
    chosen = Filters(agencies=("沈阳市公安局",))
    assert "大连市司法局" in names(db.query(search_agencies, chosen, "司法"))


def test_known_agencies_checks_a_links_names(ranked_db):
    db = Database(ranked_db)
    assert db.query(known_agencies, ["南京市司法局", "火星局", "沈阳市司法局"]) == ["南京市司法局", "沈阳市司法局"]
    assert db.query(known_agencies, ["南京市司法局"], Filters(province="辽宁省")) == []
    assert db.query(known_agencies, []) == []


def test_filter_options_never_list_every_agency(ranked_db):
    db = Database(ranked_db)
    options = db.query(filter_options)
    assert options["agency"] == []
    assert options["province"] == ["江苏省", "辽宁省"] and options["year"] == [2021, 2022, 2023]
    assert ("辽宁省", "沈阳市", None) in options["regions"]
    assert db.query(filter_options, ("沈阳市公安局", "火星局"))["agency"] == ["沈阳市公安局"]


def test_agency_reports_and_years(ranked_db):
    db = Database(ranked_db)
    nanjing = db.query(agency_reports, Filters(), "南京市司法局")
    assert nanjing["year"].to_list() == [2023, 2023, 2022]  # newest year first, the current version first
    assert nanjing["is_current"].to_list() == [True, False, True]
    assert nanjing["report_id"][0] == report_id(ranked_db, "南京市司法局", 2023)
    assert db.query(agency_reports, Filters(years=(2022,)), "南京市司法局")["year"].to_list() == [2022]
    assert db.query(agency_reports, Filters(), None).is_empty()  # every report here has its agency
    assert not db.query(has_unnamed_reports, Filters())
    assert db.query(selection_years, Filters(province="江苏省")) == [2023, 2022]


def test_cli_finds_the_exact_name_for_agency_options(ranked_db):
    runner = CliRunner()
    res = runner.invoke(cli.app, ["agencies", "司法局", "--db", str(ranked_db), "--format", "json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["n_matches"] == 5 and [r["agency"] for r in out["rows"]][:3] == [
        "司法局",
        "司法局机关服务中心",
        "沈阳市司法局",
    ]
    res = runner.invoke(cli.app, ["agencies", "沈阳", "司法", "--db", str(ranked_db), "--format", "csv"])
    assert res.exit_code == 0 and "沈阳市司法局" in res.stdout and "大连" not in res.stdout
    assert runner.invoke(cli.app, ["agencies", "火星", "--db", str(ranked_db)]).exit_code == 1  # nothing found
    bad = runner.invoke(cli.app, ["agencies", "司法", "--province", "火星省", "--db", str(ranked_db)])
    assert bad.exit_code == 2 and "火星省" in bad.output


# -- the pages ---------------------------------------------------------------------------------------------------


def agency_widgets(at: AppTest) -> dict[str, list[str]]:
    """Options of every select widget whose key is an agency picker's (sidebar, 对比, 报告卡, 报告详情)."""
    keys = ("agency", "cmp_agencies", "card_agency", "report_agency")
    found = {}
    for widget in [*at.multiselect, *at.selectbox]:
        if widget.key in keys:
            found[widget.key] = list(widget.options)
    return found


def test_typing_part_of_a_name_finds_the_agency_and_filters_the_page(monkeypatch, hand_db):
    at = open_page(monkeypatch, hand_db, "overview")
    at.text_input(key="agency_q").input("司法").run()
    assert at.multiselect(key="agency").options == ["甲市司法局"]
    at.multiselect(key="agency").select("甲市司法局").run()
    assert not at.exception
    assert at.session_state["agency"] == ["甲市司法局"]  # the widget bound to the URL's agency=
    assert at.metric[1].value == "2"  # 报告数: 甲 2021 + 2022
    at.text_input(key="agency_q").input("乙县").run()  # a new search keeps what was chosen
    assert at.multiselect(key="agency").options == ["甲市司法局", "乙县人民政府"]
    assert at.multiselect(key="agency").value == ["甲市司法局"]


def test_a_link_naming_an_agency_preselects_it_without_any_list(monkeypatch, hand_db):
    at = open_page(monkeypatch, hand_db, "overview", {"agency": ["乙县人民政府", "火星局"]})
    assert at.multiselect(key="agency").value == ["乙县人民政府"]
    assert at.metric[1].value == "1"
    assert any("机关「火星局」" in w.value for w in at.warning)  # the unknown name is named, not silently dropped
    at = open_page(monkeypatch, hand_db, "compare", {"cmp_agencies": ["甲市司法局", "火星局"], "panel": "all"})
    assert at.multiselect(key="cmp_agencies").value == ["甲市司法局"]
    assert any("对比机关「火星局」" in w.value for w in at.warning)
    at = open_page(monkeypatch, hand_db, "card", {"card_agency": "乙县人民政府"})
    assert at.selectbox(key="card_agency").value == "乙县人民政府"


def test_no_agency_widget_holds_more_than_a_search(monkeypatch, crowded_db):
    """The store names more agencies than a search offers: every picker on every page stays bounded."""
    assert len(Database(crowded_db).execute("SELECT DISTINCT agency FROM reports")) == MANY
    seen = {}
    for key in ("overview", "compare", "card", "report"):
        at = open_page(monkeypatch, crowded_db, key)
        widgets = agency_widgets(at)
        assert widgets, key
        for name, options in widgets.items():
            assert len(options) <= SEARCH_LIMIT + 1, (key, name, len(options))  # + the one already chosen
        seen.update(widgets)
        assert any(f"共 {MANY} 个机关" in c.value for c in at.caption), key  # …and the page says there are more
    at = open_page(monkeypatch, crowded_db, "overview")
    at.text_input(key="agency_q").input(f"第{MANY - 1:03d}号").run()  # the last one is found by typing
    assert at.multiselect(key="agency").options == [f"第{MANY - 1:03d}号测试局"]


def test_compare_and_card_pick_agencies_by_search(monkeypatch, hand_db):
    at = open_page(monkeypatch, hand_db, "compare", {"panel": "all", "min_n": "0"})
    at.text_input(key="cmp_agencies_q").input("司法").run()
    at.multiselect(key="cmp_agencies").select("甲市司法局").run()
    at.text_input(key="cmp_agencies_q").input("人民政府").run()
    at.multiselect(key="cmp_agencies").select("乙县人民政府").run()
    assert not at.exception
    assert at.session_state["cmp_agencies"] == ["甲市司法局", "乙县人民政府"]
    assert not any("请至少选择 2 个机关" in i.value for i in at.info)
    at = open_page(monkeypatch, hand_db, "card")
    at.text_input(key="card_agency_q").input("乙县").run()
    at.selectbox(key="card_agency").select("乙县人民政府").run()
    assert not at.exception
    assert at.query_params["card_agency"] == "乙县人民政府"
    assert at.selectbox(key="card_year").value == 2021


def test_report_page_finds_a_report_through_its_agency(monkeypatch, hand_db):
    at = open_page(monkeypatch, hand_db, "report")
    at.text_input(key="report_agency_q").input("甲市").run()
    at.selectbox(key="report_agency").select("甲市司法局").run()
    assert not at.exception
    jia = [report_id(hand_db, "甲市司法局", 2022), report_id(hand_db, "甲市司法局", 2022, current=False),
           report_id(hand_db, "甲市司法局", 2021)]  # fmt: skip
    assert at.selectbox(key="report").options == [f"#{r} · {y}{s}" for r, y, s in zip(
        jia, (2022, 2022, 2021), ("", " · 已被替换的旧版本", ""), strict=True)]  # fmt: skip
    assert at.selectbox(key="report").value == jia[0]  # the newest current report
    old = open_page(monkeypatch, hand_db, "report", {"report": str(jia[1])})  # a link to an old version
    assert old.selectbox(key="report_agency").value == "甲市司法局"
    assert old.selectbox(key="report").value == jia[1]


def test_evil_agency_name_is_found_and_shown_as_plain_text(monkeypatch, hand_db):
    at = open_page(monkeypatch, hand_db, "overview")
    at.text_input(key="agency_q").input("DROP TABLE").run()
    assert at.multiselect(key="agency").options == [EVIL_AGENCY]
    at.multiselect(key="agency").select(EVIL_AGENCY).run()
    assert at.metric[1].value == "1"
