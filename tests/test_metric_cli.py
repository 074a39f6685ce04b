"""``xxgk metric``: the pages' numbers for scripts, through the same query code (values worked out by hand)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pipeline import cli
from tests.dashboard_fixtures import SPARSE_AGENCY, shared_db

runner = CliRunner()


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return shared_db(tmp_path_factory)


def metric(db: Path, *args: str):
    return runner.invoke(cli.app, ["metric", *args, "--db", str(db)])


def test_json_for_the_report_with_totals_only_on_rows_one_two_seven_four(db):
    res = metric(db, "rate.disclosure", "--agency", SPARSE_AGENCY, "--year", "2023", "--format", "json")
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    (row,) = out["rows"]
    # (12+3+0+0+1+0) + (5+1) = 22 of （七）总计 55, from the applicant columns: the 总计 column is blank
    assert (row["numerator"], row["denominator"], row["n_reports"], row["n_derived"]) == (22, 55, 1, 1)
    assert row["value"] == pytest.approx(0.4) and row["left_out"] == {} and row["guarded"] is False
    assert out["filters"]["机关"] == SPARSE_AGENCY


def test_t4_group_with_a_blank_total(db):
    res = metric(db, "rate.correction.review", "--agency", SPARSE_AGENCY, "--format", "json", "--min-n", "0")
    (row,) = json.loads(res.stdout)["rows"]
    assert (row["numerator"], row["denominator"]) == (1, 3)  # 1 ÷ (2+1+0+1 − 1)


def test_by_year_csv_says_who_was_left_out_and_why(db):
    res = metric(db, "rate.disclosure", "--by", "year", "--panel", "all", "--format", "csv")
    assert res.exit_code == 0, res.output
    rows = {r["year"]: r for r in csv.DictReader(io.StringIO(res.stdout))}
    assert (rows["2021"]["numerator"], rows["2021"]["denominator"]) == ("13.0", "16.0")  # 甲 6+2, 乙 2+3
    assert rows["2020"]["value"] == "" and rows["2020"]["left_zero_denominator"] == "1"
    assert rows["2022"]["left_zero_denominator"] == "1"  # the evil report: （七）总计 0


def test_same_numbers_as_the_page_query(db):
    """The CLI prints metric_table — what the pages draw — for the same filters."""
    from pipeline.filters import Filters
    from pipeline.metrics import metric_table
    from pipeline.store import Database

    page = Database(db).query(metric_table, Filters(panel="all", years=(2021,)), "share.granted", ("agency",))
    res = metric(db, "share.granted", "--year", "2021", "--panel", "all", "--by", "agency", "--format", "json")
    cli_rows = {r["agency"]: (r["value"], r["numerator"], r["denominator"]) for r in json.loads(res.stdout)["rows"]}
    assert cli_rows == {r["agency"]: (r["value"], r["numerator"], r["denominator"]) for r in page.iter_rows(named=True)}


def test_unknown_filter_values_are_an_error_not_a_national_total(db):
    res = metric(db, "rate.disclosure", "--province", "火星省", "--year", "1999")
    assert res.exit_code == 2
    assert "火星省" in res.output and "1999" in res.output
    assert metric(db, "rate.nope").exit_code == 2
    assert metric(db, "rate.disclosure", "--by", "planet").exit_code == 2
    assert metric(db, "rate.disclosure", "--min-n", "inf").exit_code == 2


def test_list_and_table(db):
    res = runner.invoke(cli.app, ["metric", "--list"])
    keys = [line.split("\t")[0] for line in res.stdout.splitlines()]
    assert {"rate.disclosure", "share.granted", "rate.correction.review", "count.t3.granted.total"} <= set(keys)
    res = metric(db, "rate.disclosure", "--by", "province", "--panel", "all")
    assert res.exit_code == 0 and "公开率" in res.stdout and "辽宁省" in res.stdout


def test_missing_database(tmp_path):
    res = runner.invoke(cli.app, ["metric", "rate.disclosure", "--db", str(tmp_path / "nope.duckdb")])
    assert res.exit_code == 2 and "数据库文件不存在" in res.output
