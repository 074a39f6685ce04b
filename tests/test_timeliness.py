"""Publication dates and timeliness: dates read from a web page (meta / visible 发布时间), a PDF's and a DOCX's
properties and the manifest, implausible dates ignored; on time / late / unknown against 31 January; the not-yet-
published list; ``xxgk timeliness`` exports; the 发布时效 page (AppTest)."""

from __future__ import annotations

import io
import random
from dataclasses import replace
from datetime import date
from pathlib import Path

import polars as pl
import pytest
from streamlit.testing.v1 import AppTest
from typer.testing import CliRunner

from pipeline.cli import app as cli_app
from pipeline.filters import Filters
from pipeline.generator.corpus import CorpusConfig, iter_truths
from pipeline.generator.renderers import render
from pipeline.manifest import ManifestError, load_manifest
from pipeline.metrics.timeliness import not_published, timeliness_by_year, timeliness_reports
from pipeline.parse import parse_file
from pipeline.published import deadline, iso_date, plausible, timeliness
from pipeline.readers.html import read as read_html
from pipeline.store import Database
from tests import shown_tables
from tests.regional_fixtures import RegionalCorpus, build_regional

APP = str(Path(__file__).resolve().parents[1] / "app.py")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> RegionalCorpus:
    return build_regional(tmp_path_factory.mktemp("timeliness"))


def a_report(layout: str, published: str | None):
    truth = next(t for t in iter_truths(CorpusConfig(size="tiny", seed=4, layouts=(layout,), noise_levels=(0,)))
                 if t.kind == "report")  # fmt: skip
    truth = replace(truth, published=published, layout=layout)
    data, ext = render(truth, random.Random(1))
    return truth, data, ext


@pytest.mark.parametrize(("layout", "source"), [("html", "page"), ("pdf-text", "document"), ("docx", "document")])
def test_dates_the_source_states_about_itself(tmp_path: Path, layout: str, source: str) -> None:
    year = a_report(layout, None)[0].year
    when = f"{year + 1}-02-03"
    truth, data, ext = a_report(layout, when)
    path = tmp_path / f"r{ext if ext.startswith('.') else '.' + ext}"
    path.write_bytes(data)
    meta = parse_file(path).meta
    assert (meta.published, meta.published_source) == (when, source)
    assert timeliness(meta.published, meta.year) == "late"


def test_undated_documents_have_no_date(tmp_path: Path) -> None:
    for layout in ("html", "pdf-text", "docx"):  # the PDF says 2000-01-01 and python-docx's template 2013: ignored
        _truth, data, ext = a_report(layout, None)
        path = tmp_path / f"{layout}{ext if ext.startswith('.') else '.' + ext}"
        path.write_bytes(data)
        meta = parse_file(path).meta
        assert meta.published is None and meta.published_source is None, layout


def test_html_meta_and_visible_dates() -> None:
    page = """<html><head><meta name="PubDate" content="2024-01-20 10:00:00"><title>x</title></head><body>
      <div class="info">发布时间：2024-03-01</div><h1>某某市司法局2023年政府信息公开工作年度报告</h1></body></html>"""
    assert read_html("p.html", page.encode()).header == {"发布时间": "2024-01-20 10:00:00"}  # the meta wins
    visible = page.replace('<meta name="PubDate" content="2024-01-20 10:00:00">', "")
    visible = visible.replace("发布时间：2024-03-01", "发布日期：</span><span>2024年3月1日")
    assert iso_date(read_html("p.html", visible.encode()).header["发布时间"]) == "2024-03-01"


def test_deadline_and_plausibility() -> None:
    assert deadline(2023) == date(2024, 1, 31)
    assert timeliness("2024-01-31", 2023) == "on_time" and timeliness("2024-02-01", 2023) == "late"
    assert timeliness(None, 2023) == "unknown"
    assert not plausible("2013-12-23", 2023)  # a reused template's date is not the publication
    assert timeliness("2023-06-01", 2023) == "unknown"
    assert iso_date("2023-02-30") is None


def test_manifest_published_column(tmp_path: Path) -> None:
    truth, data, ext = a_report("pdftext-tabs", None)
    (tmp_path / "r.txt").write_bytes(data)
    (tmp_path / "m.csv").write_text("path,published,summary\nr.txt,2025-01-15,\n", encoding="utf-8")
    entry = next(iter(load_manifest(tmp_path / "m.csv").values()))
    meta = parse_file(tmp_path / "r.txt", overrides=entry.overrides()).meta
    assert (meta.published, meta.published_source) == ("2025-01-15", "manifest")
    (tmp_path / "bad.csv").write_text("path,published\nr.txt,15.1.2025\n", encoding="utf-8")
    with pytest.raises(ManifestError, match="published"):
        load_manifest(tmp_path / "bad.csv")


def test_status_per_report_matches_the_generators_dates(corpus: RegionalCorpus) -> None:
    db = Database(corpus.db)
    df = db.query(timeliness_reports, Filters())
    by_name = {(t.agency.name, t.year): t for t in corpus.reports}
    assert df.height == len(by_name)
    for row in df.iter_rows(named=True):
        truth = by_name[(row["agency"], row["year"])]
        assert row["status"] == timeliness(truth.published, truth.year)  # the SQL/polars status = the function
        assert (row["published"].isoformat() if row["published"] else None) == truth.published
    assert set(df["status"].to_list()) == {"on_time", "late", "unknown"}
    assert set(df["published_source"].drop_nulls().to_list()) == {"page", "manifest"}
    late = df.filter(pl.col("status") == "late")
    assert (late["days_late"] > 0).all()
    by_year = db.query(timeliness_by_year, Filters())
    assert by_year["n_reports"].sum() == df.height
    row = by_year.row(0, named=True)
    assert row["on_time_share"] == pytest.approx(row["on_time"] / (row["on_time"] + row["late"]))


def test_timeliness_by_year_counts_what_the_per_report_table_shows(corpus: RegionalCorpus) -> None:
    """The per-year counts (grouped by date in SQL, weighted in polars) equal those of the per-report table."""
    db = Database(corpus.db)
    for filters in (Filters(), Filters(years=(2022, 2023)), Filters(min_n=1), Filters(years=(1999,))):
        df = db.query(timeliness_reports, filters).filter(pl.col("year").is_not_null())
        expected = (
            df.group_by("year")
            .agg(
                pl.len().alias("n_reports"),
                *[(pl.col("status") == s).sum().alias(s) for s in ("on_time", "late", "unknown")],
                *[(pl.col("published_source") == s).sum().alias(f"from_{s}") for s in ("manifest", "page", "document")],
                pl.col("days_late").median().alias("median_days_late"),
            )
            .sort("year")
        )
        got = db.query(timeliness_by_year, filters)
        if df.is_empty():
            assert got.is_empty()
            continue
        assert got.drop("on_time_share", "guarded").equals(expected), filters
        assert got["late"].sum() > 0 and got["median_days_late"].drop_nulls().len() > 0


def test_not_published_lists_agencies_missing_a_year(corpus: RegionalCorpus) -> None:
    db = Database(corpus.db)
    have = {(t.agency.name, t.year) for t in corpus.reports}
    expected = {t.agency.name for t in corpus.reports if t.year < 2024 and (t.agency.name, 2024) not in have}
    assert expected  # coverage 0.85 leaves gaps
    got = db.query(not_published, Filters(years=(2022,)), 2024)  # the year filter does not narrow who is expected
    assert set(got["agency"].to_list()) == expected
    everyone = db.query(not_published, Filters(), 2025)  # nobody has published 2025 yet
    assert set(everyone["agency"].to_list()) == {t.agency.name for t in corpus.reports}


def test_timeliness_cli_exports(corpus: RegionalCorpus, tmp_path: Path) -> None:
    runner = CliRunner()
    out = runner.invoke(cli_app, ["timeliness", "--missing", "2024", "--format", "csv", "--db", str(corpus.db)])
    assert out.exit_code == 0, out.output
    lines = out.stdout.splitlines()
    assert lines[0].startswith("\ufeffyear,agency") and lines[1].startswith("年度,机关")
    xlsx = tmp_path / "t.xlsx"
    out = runner.invoke(cli_app, ["timeliness", "--status", "late", "--format", "xlsx", "-o", str(xlsx),
                                  "--db", str(corpus.db)])  # fmt: skip
    assert out.exit_code == 0, out.output
    sheet = pl.read_excel(io.BytesIO(xlsx.read_bytes()), sheet_name="数据")
    assert set(sheet["是否按时"].to_list()) == {"逾期"} and "日期来源" in sheet.columns
    table = runner.invoke(cli_app, ["timeliness", "--year", "2023", "--db", str(corpus.db)])
    assert table.exit_code == 0 and "发布时效" in table.stdout
    assert runner.invoke(cli_app, ["timeliness", "--format", "xlsx", "--db", str(corpus.db)]).exit_code == 2


def test_timeliness_page(monkeypatch: pytest.MonkeyPatch, corpus: RegionalCorpus) -> None:
    monkeypatch.setenv("XXGK_DB", str(corpus.db))
    at = AppTest.from_file(APP, default_timeout=90)
    at.query_params["tl_status"] = "late"
    at.query_params["tl_year"] = "2024"
    at.switch_page("views/timeliness.py").run()
    assert not at.exception, [e.message for e in at.exception]
    frames = shown_tables.tables(at)
    shown = next(f for f in frames if "是否按时" in f.columns)
    assert set(shown["是否按时"].to_list()) == {"逾期"}
    missing = next(f for f in frames if "最近一次报告年度" in f.columns)
    assert len(missing) > 0
    assert {b.label for b in at.get("download_button")} >= {"下载 CSV（Excel 可直接打开）"}


@pytest.mark.parametrize(
    ("folder", "published", "status"),
    [("05_pingtan_2019", "2020-01-20", "on_time"), ("06_pingtan_2021", "2022-02-08", "late")],
)
def test_real_crawler_pages_state_their_date(folder: str, published: str, status: str) -> None:
    """Two real reports as a site crawler saved them: the header's 发布时间 is the page's own date."""
    from tests.conftest import CRAWLER

    source = CRAWLER / folder / "source.txt"
    if not source.is_file():
        pytest.skip(f"共享夹具不存在：{source}")
    meta = parse_file(source).meta
    assert (meta.published, meta.published_source) == (published, "page")
    assert timeliness(meta.published, meta.year) == status
