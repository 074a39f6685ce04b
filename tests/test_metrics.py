"""Every metric query against values worked out by hand from tests/dashboard_fixtures.py (never from the code)."""

from __future__ import annotations

from fractions import Fraction

import duckdb
import polars as pl
import pytest

from pipeline import metrics as M
from pipeline.filters import Filters, unrecognised
from pipeline.registry import registry
from pipeline.store import Database
from tests.dashboard_fixtures import EVIL_AGENCY, SPARSE_AGENCY, HandReport, build_db, report_id, shared_db

ALL = Filters(panel="all")


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory):
    return shared_db(tmp_path_factory)


@pytest.fixture(scope="module")
def con(db) -> duckdb.DuckDBPyConnection:
    cur = Database(db).connection().cursor()
    yield cur
    cur.close()


@pytest.fixture(scope="module")
def empty(tmp_path_factory: pytest.TempPathFactory) -> duckdb.DuckDBPyConnection:
    cur = Database(shared_db(tmp_path_factory, empty=True)).connection().cursor()
    yield cur
    cur.close()


def value(df: pl.DataFrame, metric: str, **where: object) -> dict:
    cond = pl.col("metric") == metric
    for col, v in where.items():
        cond &= pl.col(col) == v
    rows = df.filter(cond)
    assert rows.height == 1, rows
    return rows.row(0, named=True)


# -- the fixture report with 总计 only on rows 一, 二, （七）, 四 (tests/fixtures/dashboard/sparse_totals_2023.txt) ------

# 表三 as printed: (row, six applicant columns); its 总计 column is blank on every outcome row
SPARSE_T3 = {
    "granted": (12, 3, 0, 0, 1, 0),
    "partially_granted": (5, 1, 0, 0, 0, 0),
    "denied": [(0,) * 6, (0,) * 6, (0,) * 6, (1, 0, 0, 0, 0, 0), (0,) * 6, (2, 0, 0, 0, 0, 0), (0,) * 6,
               (3, 1, 0, 0, 0, 0)],
    "unable": [(10, 2, 0, 1, 1, 1), (2, 0, 0, 0, 0, 0), (1, 0, 0, 0, 0, 0)],
    "not_processed": [(3, 0, 0, 0, 0, 0), (1, 1, 0, 0, 0, 0), (0,) * 6, (0,) * 6, (0,) * 6],
    "other": [(1, 0, 0, 0, 0, 0), (0,) * 6, (2, 0, 0, 0, 0, 0)],
}  # fmt: skip
SPARSE_RESULT_TOTAL = 55  # （七）总计, printed


def hand_shares() -> dict[str, Fraction]:
    """Each outcome group's share of （七）总计, from the applicant columns — arithmetic done here, by hand."""

    def total(rows) -> int:
        rows = rows if isinstance(rows, list) else [rows]
        return sum(sum(r) for r in rows)

    return {f"share.{g}": Fraction(total(rows), SPARSE_RESULT_TOTAL) for g, rows in SPARSE_T3.items()}


def test_disclosure_rate_of_a_report_with_totals_only_on_rows_one_two_seven_four(con):
    only = Filters(agencies=(SPARSE_AGENCY,))
    shares = M.outcome_shares_by_year(con, only)
    rate = value(shares, "rate.disclosure", year=2023)
    # (12+3+0+0+1+0) + (5+1+0+0+0+0) = 16 + 6 = 22 of 55 → 40 %, not the 0 % of blanks counted as 0
    assert (rate["numerator"], rate["denominator"], rate["n_reports"], rate["n_derived"]) == (22, 55, 1, 1)
    assert rate["value"] == pytest.approx(0.4)
    expected = hand_shares()
    assert expected == {"share.granted": Fraction(16, 55), "share.partially_granted": Fraction(6, 55),
                        "share.denied": Fraction(7, 55), "share.unable": Fraction(18, 55),
                        "share.not_processed": Fraction(5, 55), "share.other": Fraction(3, 55)}  # fmt: skip
    for key, share in expected.items():
        assert value(shares, key, year=2023)["value"] == pytest.approx(float(share)), key
    assert sum(expected.values()) == 1  # the outcomes add up to （七）总计


def test_t4_group_with_a_blank_total(con):
    only = Filters(agencies=(SPARSE_AGENCY,))
    r = value(M.correction_rates_by_year(con, only), "rate.correction.review", year=2023)
    # 结果纠正 1 ÷ (总计 derived 2+1+0+1 = 4 − 尚未审结 1) = 1/3
    assert (r["numerator"], r["denominator"], r["n_derived"]) == (1, 3, 1)
    assert r["value"] == pytest.approx(1 / 3)


def test_disclosure_rate_per_year_and_pooled(con):
    by_year = M.aggregate(con, ALL, ["rate.disclosure"], by=("year",))
    r2021 = value(by_year, "rate.disclosure", year=2021)
    # 甲 2021: 6 + 2 of 11; 乙 2021: 予以公开 总计 blank, derived 2 (自然人 2) + 3 of 5
    assert (r2021["numerator"], r2021["denominator"], r2021["n_reports"], r2021["n_derived"]) == (13, 16, 2, 1)
    r2022 = value(by_year, "rate.disclosure", year=2022)
    assert (r2022["numerator"], r2022["denominator"]) == (10, 16)  # the replaced version (99) is not counted
    assert r2022["left_zero_denominator"] == 1  # the evil report: （七）总计 0
    r2020 = value(by_year, "rate.disclosure", year=2020)
    assert r2020["value"] is None and r2020["n_reports"] == 0 and r2020["left_zero_denominator"] == 1
    pooled = value(M.aggregate(con, ALL, ["rate.disclosure"], by=()), "rate.disclosure")
    assert pooled["value"] == pytest.approx((13 + 10 + 22) / (16 + 16 + 55)) and pooled["n_reports"] == 4


def test_correction_rates_leave_out_what_cannot_be_derived(con):
    by_year = M.correction_rates_by_year(con, ALL)
    r2021 = value(by_year, "rate.correction.review", year=2021)
    # 甲 2021: 1 ÷ (3 − 1); 乙 2021: all five cells blank → left out, not 0
    assert r2021["value"] == pytest.approx(0.5) and r2021["left_not_derivable"] == 1
    assert value(by_year, "rate.correction.review", year=2022)["value"] == pytest.approx(0.25)  # 1 ÷ (4 − 0)
    pooled = value(M.aggregate(con, ALL, ["rate.correction.review"], by=()), "rate.correction.review")
    assert (pooled["numerator"], pooled["denominator"]) == (1 + 1 + 1, 2 + 4 + 3)
    direct = value(by_year, "rate.correction.suit_direct", year=2021)
    assert direct["value"] is None and direct["n_reports"] == 0  # denominators 0 → undefined, not 0 %


def test_counts_use_derived_totals_and_a_blank_part_stays_null(con):
    only_yi = Filters(agencies=("乙县人民政府",), panel="all")
    granted = value(M.aggregate(con, only_yi, ["count.t3.granted.total"]), "count.t3.granted.total", year=2021)
    assert (granted["value"], granted["n_derived"]) == (2, 1)  # blank in print, 2 from 自然人
    marker = value(M.aggregate(con, only_yi, ["count.t3.unable_need_creation.total"]),
                   "count.t3.unable_need_creation.total", year=2021)  # fmt: skip
    assert marker["value"] == 0 and marker["n_derived"] == 1  # "/" over printed zeros
    corrected = value(M.aggregate(con, only_yi, ["count.t4.review.corrected"]), "count.t4.review.corrected", year=2021)
    assert corrected["value"] is None and corrected["left_empty"] == 1  # a blank part is not a number


def test_year_over_year_compares_the_same_agencies(con):
    head = M.headline_by_year(con, Filters())
    r = value(head, "count.t3.new_received.total", year=2022)
    # 2021: 甲 12, 乙 5; 2022: 甲 20, the evil report 0 → only 甲 is in both years
    assert (r["value"], r["prev_value"]) == (20, 17)
    assert (r["n_agencies"], r["n_agencies_prev"], r["n_matched"]) == (2, 2, 1)
    assert (r["matched_prev"], r["matched_value"], r["change"]) == (12, 20, 8)
    assert r["change_pct"] == pytest.approx(8 / 12)
    every = value(M.headline_by_year(con, ALL), "count.t3.new_received.total", year=2022)
    assert every["change"] == 3 and every["change_pct"] == pytest.approx(3 / 17)


def test_matched_panel_with_a_changing_set_of_agencies(tmp_path):
    """One more report in the later year moves the all-reports change, never the like-for-like one."""

    def agency(name: str, year: int, new: int) -> HandReport:
        return HandReport(f"{name}_{year}", name, year, "辽宁省阜新市",
                          t3={"natural_person": {"new_received": new, "granted": new}})  # fmt: skip

    base = [agency("甲市司法局", 2023, 10), agency("甲市司法局", 2024, 12),
            agency("乙市司法局", 2023, 20), agency("乙市司法局", 2024, 18)]  # fmt: skip
    db = build_db(tmp_path / "panel.duckdb", base + [agency("丙市司法局", 2024, 500)])
    cur = Database(db).connection().cursor()
    try:
        head = M.headline_by_year(cur, Filters())
        r = value(head, "count.t3.new_received.total", year=2024)
        assert (r["n_agencies"], r["n_agencies_prev"], r["n_matched"]) == (3, 2, 2)
        assert (r["matched_prev"], r["matched_value"], r["change"]) == (30, 30, 0)  # 10+20 → 12+18
        assert value(M.headline_by_year(cur, ALL), "count.t3.new_received.total", year=2024)["change"] == 500
        # the trend over the same agencies: 丙 (2024 only) is left out of both years
        trend = M.aggregate(cur, Filters(), ["count.t3.new_received.total"], by=("year",))
        assert value(trend, "count.t3.new_received.total", year=2024)["value"] == 30
        assert value(trend, "count.t3.new_received.total", year=2024)["left_not_in_panel"] == 1
        assert M.panel_size(cur, Filters())["n_panel"] == 2
    finally:
        cur.close()


def test_balanced_panel_of_the_hand_database(con):
    # 2021–2022: only 甲 reported in both years (乙 2021 only, the evil report 2022 only)
    trend = M.aggregate(con, Filters(years=(2021, 2022)), ["rate.disclosure"], by=("year",))
    assert (
        value(trend, "rate.disclosure", year=2021)["numerator"],
        value(trend, "rate.disclosure", year=2021)["denominator"],
    ) == (8, 11)
    assert value(trend, "rate.disclosure", year=2021)["left_not_in_panel"] == 1
    # no agency reported in every year of 2020–2023: the trend falls back to all reports (and the page says so)
    assert M.panel_size(con, Filters())["n_panel"] == 0
    trend = M.aggregate(con, Filters(), ["rate.disclosure"], by=("year",))
    assert trend["left_not_in_panel"].sum() == 0 and trend["n_reports"].sum() == 4


def test_guard_marks_small_denominators(con):
    table = M.metric_table(con, Filters(min_n=6, panel="all"), "rate.disclosure", ("agency",))
    guarded = dict(zip(table["agency"].to_list(), table["guarded"].to_list(), strict=True))
    assert guarded["乙县人民政府"] and not guarded["甲市司法局"]  # 5 < 6 ≤ 27
    top = M.top_agencies(con, Filters(min_n=6, panel="all"), "rate.disclosure", 10)
    assert "乙县人民政府" not in top["agency"].to_list() and "甲市司法局" in top["agency"].to_list()
    regions = M.by_region(con, Filters(min_n=60, panel="all"), ["rate.disclosure"])
    assert regions.filter(pl.col("region") == "辽宁省")["guarded"].item() is False  # 27 + 5 + 55 = 87
    regions = M.by_region(con, Filters(min_n=100, panel="all"), ["rate.disclosure"])
    assert regions.filter(pl.col("region") == "辽宁省")["guarded"].item() is True


def test_outcome_bars_add_up_to_the_total(con):
    outcomes = M.outcomes_by_year(con, ALL)
    for year, total in ((2021, 11 + 5), (2022, 16), (2023, 55)):
        rows = outcomes.filter(pl.col("year") == year)
        assert rows.filter(pl.col("metric") != "count.t3.result_total.total")["value"].sum() == total
        assert value(rows, "count.t3.result_total.total")["value"] == total


def test_shares_and_applicants(con):
    shares = M.outcome_shares_by_year(con, ALL)
    assert value(shares, "share.granted", year=2021)["value"] == pytest.approx((6 + 2) / 16)
    assert value(shares, "share.partially_granted", year=2021)["value"] == pytest.approx((2 + 3) / 16)
    assert value(shares, "share.unable", year=2021)["value"] == pytest.approx(2 / 16)
    assert value(shares, "share.not_processed", year=2022)["value"] == pytest.approx(6 / 16)
    applicants = M.aggregate(con, Filters(years=(2021,)), ["share.applicant.natural_person"], by=())
    assert value(applicants, "share.applicant.natural_person")["value"] == pytest.approx(15 / 17)
    per_type = M.applicants_by_year(con, ALL)
    assert value(per_type, "count.t3.new_received.commercial_enterprise", year=2021)["value"] == 2


def test_outcome_groups_come_from_the_registry():
    reg = registry()
    labels = [label for label, _ in M.outcome_groups()]
    assert labels[0] == reg["t3.granted.total"].row_label
    assert reg["t3.denied_state_secret.total"].block in labels
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
    y2019 = M.publication_by_year(con, ALL, "2019")
    assert value(y2019, "count.t2.regulations.public_total", year=2020)["value"] == 7
    assert not y2019.filter(pl.col("metric").str.contains("in_force")).height
    y2021 = M.publication_by_year(con, ALL, "2021")
    assert not y2021.filter(pl.col("metric").str.contains("public_total")).height
    assert value(y2021, "count.t2.regulations.in_force", year=2022)["value"] == 11 + 0  # 甲 11, evil report 0
    assert value(y2021, "count.t2.admin_fees.amount_wan_yuan", year=2021)["value"] == pytest.approx(1.5)


def test_filters_select_the_right_reports(con, db):
    def ids(f: Filters) -> set[int]:
        return set(M.selected_reports(con, f)["report_id"].to_list())

    jia21, jia22, yi, bing, evil, ding = (report_id(db, "甲市司法局", 2021), report_id(db, "甲市司法局", 2022),
                                          report_id(db, "乙县人民政府", 2021), report_id(db, "丙市自然资源局", 2020),
                                          report_id(db, EVIL_AGENCY, 2022), report_id(db, SPARSE_AGENCY, 2023))  # fmt: skip
    assert ids(Filters()) == {jia21, jia22, yi, bing, evil, ding}
    assert ids(Filters(province="江苏省")) == {bing, evil}
    assert ids(Filters(province="辽宁省", city="阜新市", county="彰武县")) == {yi}
    assert ids(Filters(years=(2021, 2022), levels=("市级",))) == {jia21, jia22, evil}
    assert ids(Filters(quality="fail")) == {yi}
    assert ids(Filters(editions=("2019",))) == {bing}
    assert ids(Filters(agencies=(EVIL_AGENCY,))) == {evil}  # SQL text in a filter value is data, never SQL
    assert ids(Filters(agencies=("x'; DROP TABLE reports; --",))) == set()
    assert len(ids(Filters())) == 6


def test_unknown_link_values_are_named():
    options = {"year": [2021, 2022], "province": ["辽宁省"], "level": ["市级"], "agency_type": [], "edition": ["2021"],
               "agency": ["甲市司法局"], "regions": [("辽宁省", "阜新市", "彰武县")]}  # fmt: skip
    query = {"province": "火星省", "year": ["1999", "2021"], "city": "阜新市", "min_n": "inf", "quality": "x",
             "edition": "legacy", "panel": "all"}  # fmt: skip
    assert unrecognised(query, options) == [("年度", "1999"), ("省份", "火星省"), ("市（地区）", "阜新市"),
                                            ("报告格式版本", "legacy"), ("数据质量", "x"),
                                            ("最少分母（小数字保护）", "inf")]  # fmt: skip
    assert unrecognised({"province": "辽宁省", "city": "阜新市", "county": "彰武县"}, options) == []
    assert Filters.from_query({"min_n": "inf", "year": "99999999999999999999"}) == Filters()


def test_peer_ranking_small_number_guard(con):
    ranks = M.peer_ranking(con, Filters(min_n=6), "rate.disclosure", 2021)
    by_agency = {r["agency"]: r for r in ranks.iter_rows(named=True)}
    assert by_agency["甲市司法局"]["rank"] == 1 and by_agency["甲市司法局"]["eligible"]
    assert by_agency["乙县人民政府"]["rank"] is None and not by_agency["乙县人民政府"]["eligible"]  # 5 < 6
    assert set(M.peer_ranking(con, Filters(min_n=0), "rate.disclosure", 2021)["rank"].to_list()) == {1}
    counts = M.peer_ranking(con, Filters(min_n=1000), "count.t3.new_received.total", 2022)
    assert counts["eligible"].all()  # counts are always eligible
    groups = M.peer_groups(con, Filters(min_n=6), "rate.disclosure", 2021)
    assert groups.row(0, named=True)["n_ranked"] == 1  # the group that can be ranked comes first


def test_coverage_matrix_and_overview(con):
    matrix = M.coverage_matrix(con, Filters(years=(2020, 2021, 2022)))
    assert matrix.height == 4 * 3  # 甲 乙 丙 and the evil agency (丁 reported 2023 only) × 3 years
    status = {(r["agency"], r["year"]): r["status"] for r in matrix.iter_rows(named=True)}
    assert status[("乙县人民政府", 2021)] == "有错误" and status[("甲市司法局", 2021)] == "通过"
    assert status[("甲市司法局", 2020)] == "缺报"
    counts = M.overview_counts(con, Filters())
    assert (counts["n_agencies"], counts["n_reports"], counts["n_synthetic"], counts["n_failing"]) == (5, 6, 1, 1)
    assert M.synthetic_share(con, Filters(province="辽宁省")) == (0, 4)


def test_explorer_keeps_blank_marker_zero_and_derived_apart(con):
    keys = ["t3.granted.total", "t3.unable_need_creation.total", "t3.partially_granted.total"]
    long = M.explorer_long(con, Filters(agencies=("乙县人民政府",)), keys)
    by_key = {r["key"]: r for r in long.iter_rows(named=True)}
    granted = by_key["t3.granted.total"]
    assert granted["value"] is None and granted["status"] == "blank" and granted["derived_value"] == 2
    assert granted["derived_from"].startswith("t3.granted.natural_person + ")
    assert by_key["t3.unable_need_creation.total"]["raw"] == "/"
    assert (
        by_key["t3.partially_granted.total"]["value"] == 3
        and by_key["t3.partially_granted.total"]["derived_value"] is None
    )
    wide = M.explorer_wide(con, Filters(years=(2021,)), keys)
    row = wide.filter(pl.col("agency") == "乙县人民政府").row(0, named=True)
    assert row["t3.granted.total"] is None and row["t3.granted.total__derived"] == 2
    assert row["synthetic"] is False and row["n_errors"] == 2
    row = wide.filter(pl.col("agency") == "甲市司法局").row(0, named=True)
    assert row["t3.unable_need_creation.total"] == 0 and row["t3.unable_need_creation.total__derived"] is None


def test_quality_queries(con):
    rules = M.findings_by_rule(con, Filters())
    assert set(rules["rule"].to_list()) == {"T3-2", "T4-1", "XY-1", "DERIVED"}
    assert set(M.findings_list(con, Filters(), "cross_year")["rule"].to_list()) == {"XY-1"}
    assert [p.rsplit("/", 1)[-1] for p in M.failed_files(con)["source_path"].to_list()] == ["broken.pdf"]


def test_report_detail_and_versions(con, db):
    current, old = report_id(db, "甲市司法局", 2022), report_id(db, "甲市司法局", 2022, current=False)
    detail = M.report_detail(con, current)
    assert detail["report"]["agency"] == "甲市司法局"
    assert detail["versions"]["report_id"].to_list() == sorted([current, old])
    assert M.report_detail(con, 12345) is None
    assert old in M.report_choices(con, Filters(agencies=("甲市司法局",)))["report_id"].to_list()
    sparse = M.report_detail(con, report_id(db, SPARSE_AGENCY, 2023))
    assert sparse["derived"].filter(pl.col("key") == "t3.granted.total")["value"].item() == 16


@pytest.mark.parametrize(
    "query",
    [M.headline_by_year, M.headline_series, M.applicants_by_year, M.outcomes_by_year, M.outcome_shares_by_year,
     M.backlog_by_year, M.litigation_by_year, M.correction_rates_by_year, M.coverage_matrix, M.findings_by_rule,
     M.selected_reports],
)  # fmt: skip
def test_every_query_runs_on_an_empty_database(empty, query):
    df = query(empty, Filters())
    assert isinstance(df, pl.DataFrame)
    assert df.filter(pl.col("value").is_not_null()).is_empty() if "value" in df.columns else df.is_empty()


def test_empty_database_counts(empty):
    counts = M.overview_counts(empty, Filters())
    assert counts["n_reports"] == 0 and counts["n_missing"] == 0
    assert M.peer_ranking(empty, Filters(), "rate.disclosure", 2021).is_empty()
    assert M.report_detail(empty, 1) is None
