"""Every named metric query against values worked out by hand from tests/dashboard_fixtures.py."""

from __future__ import annotations

import duckdb
import polars as pl
import pytest

from pipeline import metrics as M
from pipeline.filters import Filters
from pipeline.registry import registry
from pipeline.store import Database
from tests.dashboard_fixtures import EVIL_AGENCY, build_db


@pytest.fixture(scope="module")
def con(tmp_path_factory: pytest.TempPathFactory) -> duckdb.DuckDBPyConnection:
    path = build_db(tmp_path_factory.mktemp("metrics") / "hand.duckdb")
    cur = Database(path).connection().cursor()
    yield cur
    cur.close()


@pytest.fixture(scope="module")
def empty(tmp_path_factory: pytest.TempPathFactory) -> duckdb.DuckDBPyConnection:
    path = build_db(tmp_path_factory.mktemp("metrics") / "empty.duckdb", empty=True)
    cur = Database(path).connection().cursor()
    yield cur
    cur.close()


def value(df: pl.DataFrame, metric: str, **where: object) -> dict:
    cond = pl.col("metric") == metric
    for col, v in where.items():
        cond &= pl.col(col) == v
    rows = df.filter(cond)
    assert rows.height == 1, rows
    return rows.row(0, named=True)


def test_disclosure_rate_per_year_and_pooled(con):
    by_year = M.aggregate(con, Filters(), ["rate.disclosure"], by=("year",))
    r2021 = value(by_year, "rate.disclosure", year=2021)
    # 甲 2021: 6 + 2 of 11; 乙 2021: 予以公开 blank (counts 0 in the numerator) + 3 of 5
    assert (r2021["numerator"], r2021["denominator"], r2021["n_reports"]) == (11, 16, 2)
    assert r2021["value"] == pytest.approx(11 / 16)
    r2022 = value(by_year, "rate.disclosure", year=2022)
    assert (r2022["numerator"], r2022["denominator"]) == (10, 16)  # replaced version (99) not counted
    # 2020: the only report has （七）总计 0 → no defined rate, NULL not 0
    assert value(by_year, "rate.disclosure", year=2020)["value"] is None
    pooled = value(M.aggregate(con, Filters(), ["rate.disclosure"], by=()), "rate.disclosure")
    assert pooled["value"] == pytest.approx(21 / 32) and pooled["n_reports"] == 3


def test_correction_rates(con):
    by_year = M.correction_rates_by_year(con, Filters())
    # 甲 2021: 1 / (3 − 1); 甲 2022: 1 / (4 − 0); 乙 2021 has a blank 总计 → excluded
    assert value(by_year, "rate.correction.review", year=2021)["value"] == pytest.approx(0.5)
    assert value(by_year, "rate.correction.review", year=2022)["value"] == pytest.approx(0.25)
    pooled = value(M.aggregate(con, Filters(), ["rate.correction.review"], by=()), "rate.correction.review")
    assert (pooled["numerator"], pooled["denominator"]) == (2, 6)
    # litigation groups are all 0: denominator 0 → undefined, not 0 %
    direct = value(by_year, "rate.correction.suit_direct", year=2021)
    assert direct["value"] is None and direct["n_reports"] == 0


def test_counts_yoy_and_null_is_not_zero(con):
    head = M.headline_by_year(con, Filters())
    r = value(head, "count.t3.new_received.total", year=2022)
    assert (r["value"], r["prev_value"], r["change"]) == (20, 17, 3)
    assert r["change_pct"] == pytest.approx(3 / 17)
    assert value(head, "count.t3.new_received.total", year=2021)["change_pct"] is None  # 2020 was 0
    # 乙县's 予以公开 is blank: the count over that report alone is NULL, not 0
    only_yi = Filters(agencies=("乙县人民政府",))
    granted = value(
        M.aggregate(con, only_yi, ["count.t3.granted.total"]), "count.t3.granted.total", year=2021
    )
    assert granted["value"] is None and granted["n_reports"] == 0
    marker = value(
        M.aggregate(con, only_yi, ["count.t3.unable_need_creation.total"]),
        "count.t3.unable_need_creation.total",
        year=2021,
    )
    assert marker["value"] is None  # "/" stays null


def test_outcome_and_applicant_shares(con):
    shares = M.outcome_shares_by_year(con, Filters())
    assert value(shares, "share.granted", year=2021)["value"] == pytest.approx(6 / 16)
    assert value(shares, "share.partially_granted", year=2021)["value"] == pytest.approx(5 / 16)
    assert value(shares, "share.unable", year=2021)["value"] == pytest.approx(2 / 16)  # "/" counts 0
    assert value(shares, "share.not_processed", year=2022)["value"] == pytest.approx(6 / 16)
    applicants = M.aggregate(con, Filters(years=(2021,)), ["share.applicant.natural_person"], by=())
    assert value(applicants, "share.applicant.natural_person")["value"] == pytest.approx(15 / 17)
    per_type = M.applicants_by_year(con, Filters())
    assert value(per_type, "count.t3.new_received.commercial_enterprise", year=2021)["value"] == 2


def test_outcome_groups_come_from_the_registry():
    reg = registry()
    labels = [label for label, _ in M.outcome_groups()]
    assert labels[0] == reg["t3.granted.total"].row_label
    assert reg["t3.denied_state_secret.total"].block in labels
    # 2019 single row and 2021 sub-rows of （六）其他处理 form one group
    other = dict(M.outcome_groups())[reg["t3.other_handling.total"].row_label]
    assert "t3.other_misc.total" in other and "t3.other_handling.total" in other
    all_outcomes = {k for _, keys in M.outcome_groups() for k in keys}
    assert "t3.result_total.total" not in all_outcomes and "t3.new_received.total" not in all_outcomes


def test_formula_text_uses_official_labels():
    reg = registry()
    m = M.metric("rate.disclosure")
    for key in ("t3.granted.total", "t3.partially_granted.total", "t3.result_total.total"):
        assert reg[key].label in m.formula
    c = M.metric("rate.correction.review")
    assert reg["t4.review.pending"].label in c.denominator_text and "−" in c.denominator_text
    assert all(m.denominator_text for m in M.rate_metrics())


def test_publication_editions_stay_separate(con):
    y2019 = M.publication_by_year(con, Filters(), "2019")
    assert value(y2019, "count.t2.regulations.public_total", year=2020)["value"] == 7
    assert not y2019.filter(pl.col("metric").str.contains("in_force")).height
    y2021 = M.publication_by_year(con, Filters(), "2021")
    assert not y2021.filter(pl.col("metric").str.contains("public_total")).height
    assert value(y2021, "count.t2.regulations.in_force", year=2022)["value"] == 11 + 0  # 甲 11, evil report 0
    fees = value(y2021, "count.t2.admin_fees.amount_wan_yuan", year=2021)
    assert fees["value"] == pytest.approx(1.5)


def test_filters_select_the_right_reports(con):
    def ids(f: Filters) -> set[int]:
        return set(M.selected_reports(con, f)["report_id"].to_list())

    assert ids(Filters()) == {1, 2, 3, 4, 5}
    assert ids(Filters(province="江苏省")) == {4, 5}
    assert ids(Filters(province="辽宁省", city="阜新市", county="彰武县")) == {3}
    assert ids(Filters(years=(2021, 2022), levels=("市级",))) == {1, 2, 5}
    assert ids(Filters(quality="fail")) == {3}
    assert ids(Filters(quality="pass")) == {1, 2, 4, 5}
    assert ids(Filters(editions=("2019",))) == {4}
    assert ids(Filters(agency_types=("自然资源",), years=(2022,))) == {5}
    # SQL text in a filter value is data, never SQL
    assert ids(Filters(agencies=(EVIL_AGENCY,))) == {5}
    assert ids(Filters(agencies=("x'; DROP TABLE reports; --",))) == set()
    assert ids(Filters()) == {1, 2, 3, 4, 5}


def test_peer_ranking_small_number_guard(con):
    ranks = M.peer_ranking(con, Filters(), "rate.disclosure", 2021, min_denominator=6)
    by_agency = {r["agency"]: r for r in ranks.iter_rows(named=True)}
    assert by_agency["甲市司法局"]["rank"] == 1 and by_agency["甲市司法局"]["eligible"]
    assert by_agency["乙县人民政府"]["rank"] is None and not by_agency["乙县人民政府"]["eligible"]  # 5 < 6
    loose = M.peer_ranking(con, Filters(), "rate.disclosure", 2021, min_denominator=0)
    assert set(loose["rank"].to_list()) == {1}  # each in its own peer group (type × level)
    # counts are always eligible
    counts = M.peer_ranking(con, Filters(), "count.t3.new_received.total", 2022, min_denominator=1000)
    assert counts["eligible"].all()
    assert counts.filter(pl.col("agency") == "甲市司法局")["rank"].item() == 1


def test_coverage_matrix_and_overview(con):
    matrix = M.coverage_matrix(con, Filters(years=(2020, 2021, 2022)))
    assert matrix.height == 4 * 3
    assert (matrix["status"] == "缺报").sum() == 7
    status = {(r["agency"], r["year"]): r["status"] for r in matrix.iter_rows(named=True)}
    assert status[("乙县人民政府", 2021)] == "有错误" and status[("甲市司法局", 2022)] == "有警告"
    counts = M.overview_counts(con, Filters())
    assert (counts["n_agencies"], counts["n_reports"], counts["n_synthetic"], counts["n_failing"]) == (
        4,
        5,
        1,
        1,
    )
    assert M.synthetic_share(con, Filters(province="辽宁省")) == (0, 3)


def test_explorer_long_keeps_blank_marker_and_zero_apart(con):
    keys = ["t3.granted.total", "t3.unable_need_creation.total", "t3.partially_granted.total"]
    long = M.explorer_long(con, Filters(agencies=("乙县人民政府",)), keys)
    by_key = {r["key"]: r for r in long.iter_rows(named=True)}
    assert by_key["t3.granted.total"]["value"] is None and by_key["t3.granted.total"]["status"] == "blank"
    assert by_key["t3.unable_need_creation.total"]["raw"] == "/"
    assert by_key["t3.partially_granted.total"]["value"] == 3
    wide = M.explorer_wide(con, Filters(years=(2021,)), keys)
    row = wide.filter(pl.col("agency") == "乙县人民政府").row(0, named=True)
    assert row["t3.granted.total"] is None and row["t3.unable_need_creation.total"] is None
    row = wide.filter(pl.col("agency") == "甲市司法局").row(0, named=True)
    assert row["t3.unable_need_creation.total"] == 0


def test_quality_queries(con):
    rules = M.findings_by_rule(con, Filters())
    assert set(rules["rule"].to_list()) == {"T3-2", "XY-1", "NARRATIVE"}
    assert M.findings_list(con, Filters(), "cross_year")["rule"].to_list() == ["XY-1"]
    assert M.failed_files(con)["source_path"].to_list() == ["reports/broken.pdf"]


def test_report_detail_and_versions(con):
    detail = M.report_detail(con, 2)
    assert detail["report"]["agency"] == "甲市司法局"
    assert detail["versions"]["report_id"].to_list() == [2, 6]
    assert M.report_detail(con, 12345) is None
    choices = M.report_choices(con, Filters(agencies=("甲市司法局",)))
    assert 6 in choices["report_id"].to_list()  # replaced versions stay reachable


@pytest.mark.parametrize(
    "name",
    ["headline_by_year", "applicants_by_year", "outcomes_by_year", "outcome_shares_by_year", "backlog_by_year",
     "litigation_by_year", "correction_rates_by_year", "coverage_matrix", "findings_by_rule", "selected_reports"],
)  # fmt: skip
def test_every_query_runs_on_an_empty_database(empty, name):
    df = getattr(M, name)(empty, Filters())
    assert isinstance(df, pl.DataFrame)
    assert df.filter(pl.col("value").is_not_null()).is_empty() if "value" in df.columns else df.is_empty()


def test_empty_database_counts(empty):
    counts = M.overview_counts(empty, Filters())
    assert counts["n_reports"] == 0 and counts["n_missing"] == 0
    assert M.peer_ranking(empty, Filters(), "rate.disclosure", 2021).is_empty()
    assert M.report_detail(empty, 1) is None
