"""Regional roll-ups and summary reports: what counts as a summary report, SUM-1 on generated summaries (equal to
and different from their members' sum), the roll-up's sums worked out from the generator's truth, the guard and the
left-out counts, ``xxgk rollup``, and the 地区汇总 page (AppTest)."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from streamlit.testing.v1 import AppTest
from typer.testing import CliRunner

from pipeline.cli import app as cli_app
from pipeline.filters import Filters
from pipeline.generator.regional import MISMATCH_KEYS
from pipeline.metrics.regions import region_rollup, rollup_tree, rollup_wide, summary_cells, summary_reports
from pipeline.model import Cell, Document, Meta, Row
from pipeline.store import Database
from pipeline.summary import SUMMARY_TYPE, mark, marker, title_marker
from tests import shown_tables
from tests.dashboard_fixtures import figures
from tests.regional_fixtures import RegionalCorpus, build_regional

APP = str(Path(__file__).resolve().parents[1] / "app.py")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> RegionalCorpus:
    return build_regional(tmp_path_factory.mktemp("regional"))


def doc(*lines: str, title: str | None = None) -> Document:
    rows = [Row([Cell(text, f"第 {i} 行")], i) for i, text in enumerate(lines, 1)]
    return Document("x.txt", "txt", rows, "\n".join(lines), title=title)


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("平潭综合实验区管委会（汇总全区）2023年政府信息公开工作年度报告", "汇总全区"),
        ("某某市2023年政府信息公开工作年度报告（全市汇总）", "全市汇总"),
        ("2023年某某县全县政府信息公开工作年度报告", "全县"),
        ("某某区2023年政府信息公开工作年度报告汇总", "汇总"),
        ("某某市人民政府2023年政府信息公开工作年度报告", None),  # a government's own report is no summary
        ("北京市2023年政府信息公开工作年度报告", None),  # nor is a report named by its region only
    ],
)
def test_summary_reports_are_the_ones_that_say_so(title: str, expected: str | None) -> None:
    cleaned, found = title_marker(doc(title, "全市共受理申请 20 件。"))
    assert found == expected
    if expected:
        assert expected not in cleaned.rows[0].text  # taken out so the title's agency is read as usual
        assert cleaned.rows[1].text == "全市共受理申请 20 件。"  # body lines are never touched


def test_a_preamble_is_not_a_title() -> None:
    preamble = ("本报告根据《中华人民共和国政府信息公开条例》和政府信息公开工作年度报告格式的要求，汇总本区各有关单位政府信息公开"
                "工作情况编制而成。")  # fmt: skip
    assert title_marker(doc("某某区2023年政府信息公开工作年度报告", preamble))[1] is None


def test_a_summary_is_stored_under_a_name_of_its_own_and_the_manifest_flag_wins() -> None:
    meta = Meta(agency="平潭综合实验区管委会", year=2023, agency_type="人民政府")
    mark(meta, "汇总全区")
    assert meta.summary and meta.agency == "平潭综合实验区管委会（汇总全区）" and meta.agency_type == SUMMARY_TYPE
    named = Meta(agency="某某县人民政府（全县汇总）")
    mark(named, None)  # the marker in the agency name (a manifest's agency column) is enough
    assert named.summary and named.agency == "某某县人民政府（全县汇总）"
    overruled = Meta(agency="某某区人民政府", agency_type="人民政府")
    mark(overruled, "汇总", flag=False)
    assert not overruled.summary and overruled.agency == "某某区人民政府"
    flagged = Meta(agency="某某市人民政府")
    mark(flagged, None, flag=True)
    assert flagged.summary and flagged.agency == "某某市人民政府（汇总）"
    assert marker("某某市司法局") is None


def test_sum_1_flags_exactly_the_summaries_that_differ_from_their_members(corpus: RegionalCorpus) -> None:
    db = Database(corpus.db)
    found = db.execute(
        "SELECT r.agency, r.year, f.keys[1], f.severity, f.scope, f.message, f.expected, f.actual FROM findings f "
        "JOIN reports r USING (report_id) WHERE f.rule = 'SUM-1'"
    )
    wrong = {(t.agency.name, t.year) for t in corpus.summaries if t.agency_errors}
    right = {(t.agency.name, t.year) for t in corpus.summaries if not t.agency_errors}
    assert wrong and right  # both cases are generated
    assert {(a, y) for a, y, *_ in found} == wrong
    for agency, year, key, severity, scope, message, expected, actual in found:
        assert key in MISMATCH_KEYS and severity == "warning" and scope == "region"
        truth = next(t for t in corpus.summaries if (t.agency.name, t.year) == (agency, year))
        extra = int(truth.facts[key]) - int(truth.clean[key])
        assert int(actual) - int(expected) == extra
        assert f"为 {actual}" in message and f"之和为 {expected}" in message and agency in message
    assert len(found) == len(wrong) * len(MISMATCH_KEYS)


def test_members_sum_is_the_generators_sum(corpus: RegionalCorpus) -> None:
    """A consistent summary's cells equal the sum over the region's generated member reports, cell by cell."""
    db = Database(corpus.db)
    truth = next(t for t in corpus.summaries if not t.agency_errors and t.agency.level == "市级")
    rid = db.execute("SELECT report_id FROM reports WHERE agency = ? AND year = ?", [truth.agency.name, truth.year])[0][
        0
    ]
    cells = db.query(summary_cells, rid)
    members = [t for t in corpus.members if t.year == truth.year and t.agency.province == truth.agency.province
               and t.agency.city == truth.agency.city]  # fmt: skip
    row = cells.filter(pl.col("key") == "t3.new_received.total").row(0, named=True)
    assert row["n_members"] == len(members)
    assert row["member_sum"] == sum(t.clean["t3.new_received.total"] for t in members) == row["summary_value"]
    compared = cells.filter(pl.col("not_compared") == "")
    assert compared.height > 150 and (compared["difference"] == 0).all()


def test_rollup_sums_members_only_with_guard_and_left_out_counts(corpus: RegionalCorpus) -> None:
    db = Database(corpus.db)
    df = db.query(region_rollup, Filters(years=(2023,)))
    wide = rollup_wide(df)
    for province in {t.agency.province for t in corpus.members}:
        expected = sum(t.clean["t3.new_received.total"] for t in corpus.members
                       if t.year == 2023 and t.agency.province == province)  # fmt: skip
        got = wide.filter(pl.col("region") == province)["count.t3.new_received.total"][0]
        assert got == expected  # summary reports are not added on top
    assert {"n_left_out", "left_not_derivable", "guarded"} <= set(df.columns)
    rate = df.filter(pl.col("metric") == "rate.disclosure")
    assert not rate["guarded"].any()
    guarded = db.query(region_rollup, Filters(years=(2023,), min_n=1_000_000)).filter(
        pl.col("metric") == "rate.disclosure"
    )
    assert guarded["guarded"].all()
    assert (
        rollup_wide(db.query(region_rollup, Filters(years=(2023,), min_n=1_000_000)))["rate.disclosure"].is_null().all()
    )
    province = corpus.members[0].agency.province
    cities = rollup_wide(db.query(region_rollup, Filters(province=province)))["region"].to_list()
    assert "（省本级）" in cities and len(cities) == 3  # two cities and the province's own agencies
    tree = db.query(rollup_tree, Filters())
    assert set(tree["region"].to_list()) == {t.agency.province for t in corpus.members}


def test_summary_reports_listed_with_their_cells(corpus: RegionalCorpus) -> None:
    db = Database(corpus.db)
    table = db.query(summary_reports, Filters())
    assert table.height == len(corpus.summaries)
    differ = dict(zip(zip(table["agency"], table["year"], strict=True), table["n_differ"], strict=True))
    for t in corpus.summaries:
        assert differ[(t.agency.name, t.year)] == (len(MISMATCH_KEYS) if t.agency_errors else 0)
    for rid, n_members, n_differ in table.select("report_id", "n_members", "n_differ").iter_rows():
        cells = db.query(summary_cells, rid)  # the comparison of the one summary, member by member
        assert n_members == cells["n_members"].max() > 0
        compared = cells.filter(pl.col("not_compared") == "")
        assert n_differ == compared.filter(pl.col("difference") != 0).height


def test_rollup_cli(corpus: RegionalCorpus) -> None:
    runner = CliRunner()
    province = corpus.members[0].agency.province
    out = runner.invoke(cli_app, ["rollup", "--province", province, "--format", "json", "--db", str(corpus.db)])
    assert out.exit_code == 0, out.output
    rows = json.loads(out.stdout)["rows"]
    assert {r["region"] for r in rows} >= {"（省本级）"}
    out = runner.invoke(cli_app, ["rollup", "--summaries", "--format", "csv", "--db", str(corpus.db)])
    assert out.exit_code == 0 and out.stdout.startswith("\ufeffreport_id,") and "汇总报告" in out.stdout
    bad = runner.invoke(cli_app, ["rollup", "--province", "火星省", "--db", str(corpus.db)])
    assert bad.exit_code == 2


def test_rollup_page(monkeypatch: pytest.MonkeyPatch, corpus: RegionalCorpus) -> None:
    monkeypatch.setenv("XXGK_DB", str(corpus.db))
    province = corpus.members[0].agency.province
    for query in ({}, {"province": province}, {"province": province, "ru_view": "矩形树图"}):
        at = AppTest.from_file(APP, default_timeout=90)
        for k, v in query.items():
            at.query_params[k] = v
        at.switch_page("views/rollup.py").run()
        assert not at.exception, [e.message for e in at.exception]
        frames = shown_tables.tables(at)
        if "ru_view" in query:  # the treemap tab: regions coloured by 公开率, children inside
            spec = figures(at)[0]
            cities = {t.agency.city for t in corpus.members if t.agency.province == province and t.agency.city}
            assert spec["data"][0]["type"] == "treemap" and cities <= set(spec["data"][0]["labels"])
        else:
            assert any("下钻" in f.columns for f in frames)
        assert any("不一致的单元格" in f.columns for f in frames)
        text = " ".join(t.value for t in at.text)
        assert "SUM-1" in text
        # the 逐格核对 choice offers the summary reports of the table's page shown (a page of at most 50)
        summaries = next(f for f in frames if "不一致的单元格" in f.columns)
        offered = at.selectbox(key="ru_summary").options
        assert 0 < len(summaries) <= 50 and len(offered) == len(summaries)
        assert [o.split(" · ")[0] for o in offered] == [f"#{r}" for r in summaries["报告详情"]]  # the link shows the id
        assert all(href.endswith(f"report={r}") for href, r in zip(shown_tables.links(at, "报告详情", "不一致的单元格"),
                                                                   summaries["报告详情"], strict=True))  # fmt: skip
