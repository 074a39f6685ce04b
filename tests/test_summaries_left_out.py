"""Summary reports out of every sum: a region's summary report repeats its members' numbers, so sums, rates, trends,
headline figures, outcome bars, rankings and ``xxgk metric`` leave it out — with the reason and its count — while
the lists of reports (报告浏览, 数据质量, 报告详情) keep showing it.  On a real DuckDB store built by the real ingest
from generated reports, every region publishing a summary (tests/regional_fixtures.py)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.filters import Filters
from pipeline.labels import LEFT_OUT_LABELS
from pipeline.metrics.explorer import explorer_wide
from pipeline.metrics.queries import (
    headline_by_year,
    headline_series,
    metric_table,
    outcomes_by_year,
    peer_ranking,
    selected_reports,
    top_agencies,
)
from pipeline.metrics.records import findings_list, report_choices
from pipeline.store import Database
from tests.regional_fixtures import YEARS, RegionalCorpus, build_regional

KEY = "t3.new_received.total"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> RegionalCorpus:
    built = build_regional(tmp_path_factory.mktemp("summaries"))
    yield built
    Database.close_all()


def _stored(corpus: RegionalCorpus) -> tuple[dict[int, int], dict[int, int], dict[int, set[int]]]:
    """Per year: Σ members' printed values, Σ summaries' values, the summary reports' ids (as stored)."""
    db = Database(corpus.db)
    rows = db.execute(
        "SELECT r.report_id, r.year, r.is_summary, CAST(f.value AS BIGINT) FROM reports r JOIN facts f USING (report_id)"
        " WHERE r.is_current AND f.key = ? AND f.status = 'ok'", [KEY]
    )  # fmt: skip
    members: dict[int, int] = {}
    summaries: dict[int, int] = {}
    ids: dict[int, set[int]] = {}
    for rid, year, is_summary, value in rows:
        target = summaries if is_summary else members
        target[year] = target.get(year, 0) + value
        if is_summary:
            ids.setdefault(year, set()).add(rid)
    return members, summaries, ids


def test_sums_leave_summary_reports_out_and_say_how_many(corpus: RegionalCorpus) -> None:
    members, summaries, ids = _stored(corpus)
    assert set(ids) == set(YEARS) and all(summaries.values())  # the corpus has summaries every year
    df = Database(corpus.db).query(metric_table, Filters(panel="all"), f"count.{KEY}", ("year",))
    for row in df.iter_rows(named=True):
        year = row["year"]
        assert row["value"] == members[year]  # the members' sum, never the members plus their summaries
        assert row["left_summary"] == len(ids[year]) > 0
        assert row["n_left_out"] >= row["left_summary"]
    # the truth agrees: the generator's member reports of each year add up to the same number
    for year in YEARS:
        assert members[year] == sum(t.clean[KEY] for t in corpus.members if t.year == year and KEY in t.clean)
    # asked for explicitly, the summaries are added (and nothing is left out for being one)
    both = Database(corpus.db).query(
        metric_table, Filters(panel="all", include_summaries=True), f"count.{KEY}", ("year",)
    )
    for row in both.iter_rows(named=True):
        assert row["value"] == members[row["year"]] + summaries[row["year"]] and row["left_summary"] == 0


def test_rates_trends_headlines_outcome_bars_and_rankings_leave_them_out(corpus: RegionalCorpus) -> None:
    db = Database(corpus.db)
    _, _, ids = _stored(corpus)
    n_summaries = {y: len(v) for y, v in ids.items()}
    for query in (headline_by_year, headline_series, outcomes_by_year):
        df = db.query(query, Filters())
        assert not df.is_empty()
        per_year = df.group_by("year", "metric").agg(pl.col("left_summary").first())
        assert all(row["left_summary"] == n_summaries[row["year"]] for row in per_year.iter_rows(named=True)), query
    rate = db.query(metric_table, Filters(panel="all"), "rate.disclosure", ())
    assert rate["left_summary"][0] == sum(n_summaries.values())
    summary_names = {t.agency.name for t in corpus.summaries}
    ranked = db.query(top_agencies, Filters(), f"count.{KEY}", 100)
    assert not ranked.is_empty() and not set(ranked["agency"]) & summary_names
    peers = db.query(peer_ranking, Filters(), f"count.{KEY}", YEARS[-1])
    assert not peers.is_empty() and not set(peers["report_id"]) & ids[YEARS[-1]]


def test_lists_of_reports_keep_showing_summary_reports(corpus: RegionalCorpus) -> None:
    db = Database(corpus.db)
    _, _, ids = _stored(corpus)
    every = set().union(*ids.values())
    assert every <= set(db.query(selected_reports, Filters())["report_id"])  # 报告浏览 / the explorer
    assert every <= set(db.query(explorer_wide, Filters(), [KEY])["report_id"])
    assert every <= set(db.query(report_choices, Filters())["report_id"])  # 报告详情
    sum_1 = db.query(findings_list, Filters())  # 数据质量: SUM-1 findings sit on the summary reports
    assert set(sum_1.filter(pl.col("rule") == "SUM-1")["report_id"]) <= every and (sum_1["rule"] == "SUM-1").any()
    # include_summaries changes no list
    assert db.query(selected_reports, replace(Filters(), include_summaries=True)).height == db.query(
        selected_reports, Filters()).height  # fmt: skip


def test_xxgk_metric_states_the_summary_reports_it_left_out(corpus: RegionalCorpus, tmp_path: Path) -> None:
    _, _, ids = _stored(corpus)
    runner = CliRunner()
    year = YEARS[-1]
    out = runner.invoke(
        app, ["metric", f"count.{KEY}", "--year", str(year), "--db", str(corpus.db), "--format", "json"]
    )
    assert out.exit_code == 0, out.output
    row = json.loads(out.stdout)["rows"][0]
    assert row["left_out"]["summary"] == len(ids[year])
    table = runner.invoke(app, ["metric", f"count.{KEY}", "--year", str(year), "--db", str(corpus.db)])
    # the reasons are the table's last column: a narrow terminal shortens them to their first words
    assert table.exit_code == 0 and LEFT_OUT_LABELS["summary"][:6] in table.stdout
