"""Export bytes: CSV with BOM, XLSX (frozen header, data dictionary + filters sheet), Parquet — each equal to the
table the explorer page shows."""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

import polars as pl
import pytest
from streamlit.testing.v1 import AppTest

from pipeline import export
from pipeline import metrics as M
from pipeline.dashboard.tables import data_dictionary, explorer_table, field_header
from pipeline.filters import Filters
from pipeline.store import Database
from tests.dashboard_fixtures import build_db

APP = str(Path(__file__).resolve().parents[1] / "app.py")
KEYS = ["t3.new_received.total", "t3.granted.total", "t3.unable_need_creation.total", "t4.review.total"]


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_db(tmp_path_factory.mktemp("export") / "hand.duckdb")


def shown_table(db: Path, filters: Filters, view: str) -> pl.DataFrame:
    cur = Database(db).connection().cursor()
    try:
        raw = (M.explorer_long if view == "long" else M.explorer_wide)(cur, filters, KEYS)
    finally:
        cur.close()
    return explorer_table(raw, view, KEYS)


@pytest.fixture(scope="module", params=["wide", "long"])
def table(request, db) -> tuple[str, pl.DataFrame]:
    return request.param, shown_table(db, Filters(years=(2021, 2022)), request.param)


def test_page_shows_the_exported_table(monkeypatch, db):
    """The explorer page's dataframe is exactly the table the export functions receive."""
    monkeypatch.setenv("XXGK_DB", str(db))
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params["year"] = ["2021", "2022"]
    at.query_params["fields"] = KEYS
    at.run()
    at.switch_page("pages/explore.py").run()
    assert not at.exception
    on_page = pl.from_pandas(at.dataframe[0].value)
    expected = shown_table(db, Filters(years=(2021, 2022)), "wide")
    assert on_page.columns == expected.columns
    assert on_page.rows() == expected.rows()
    assert at.get("download_button")  # CSV, XLSX and Parquet buttons are there


def test_csv_has_bom_and_round_trips(table):
    _, df = table
    data = export.to_csv_bytes(df)
    assert data.startswith(b"\xef\xbb\xbf")
    back = pl.read_csv(io.BytesIO(data[3:]), infer_schema=False)
    assert back.columns == df.columns
    assert back.height == df.height
    as_text = df.select(pl.all().cast(pl.String))
    assert back.fill_null("").rows() == as_text.fill_null("").rows()


def test_csv_keeps_blank_apart_from_zero(db):
    df = shown_table(db, Filters(agencies=("乙县人民政府", "甲市司法局"), years=(2021,)), "wide")
    lines = export.to_csv_bytes(df).decode("utf-8-sig").splitlines()
    header = lines[0].split(",")
    granted = header.index(field_header("t3.granted.total"))
    rows = {line.split(",")[1]: line.split(",") for line in lines[1:]}
    assert rows["乙县人民政府"][granted] == ""  # blank in the source → empty, not 0
    assert rows["甲市司法局"][header.index(field_header("t3.unable_need_creation.total"))] == "0"


def test_xlsx_opens_with_polars_and_matches(table):
    view, df = table
    dictionary = data_dictionary(df, view, KEYS)
    filters = Filters(years=(2021, 2022))
    data = export.to_xlsx_bytes(df, dictionary, filters.describe())
    back = pl.read_excel(io.BytesIO(data), sheet_name=export.DATA_SHEET)
    assert back.columns == df.columns
    assert back.height == df.height
    for col in df.columns:
        ours, theirs = df[col].to_list(), back[col].to_list()
        if df[col].dtype.is_numeric():
            assert [None if v is None else float(v) for v in ours] == [
                None if v is None else float(v) for v in theirs
            ]
        else:
            assert [None if v in (None, "") else str(v) for v in ours] == [
                None if v in (None, "") else str(v) for v in theirs
            ]
    info = pl.read_excel(io.BytesIO(data), sheet_name=export.INFO_SHEET, has_header=False)
    cells = {str(v) for row in info.rows() for v in row if v is not None}
    assert "筛选条件" in cells and "2021、2022" in cells
    assert {c for c in df.columns} <= cells  # every column is explained
    sheet1 = zipfile.ZipFile(io.BytesIO(data)).read("xl/worksheets/sheet1.xml").decode()
    assert re.search(r'<pane[^>]*ySplit="1"[^>]*state="frozen"', sheet1)


def test_parquet_round_trip(table):
    _, df = table
    back = pl.read_parquet(io.BytesIO(export.to_parquet_bytes(df)))
    assert back.equals(df)


def test_dictionary_uses_registry_labels(table):
    view, df = table
    dictionary = data_dictionary(df, view, KEYS)
    assert dictionary["列名"].to_list() == df.columns
    if view == "wide":
        row = dictionary.filter(pl.col("字段键") == "t3.granted.total").row(0, named=True)
        assert "（一）予以公开" in row["含义"]


def test_chinese_file_names():
    assert export.file_name("宽表", (2021, 2023), "xlsx") == "政府信息公开年报数据_宽表_2021-2023.xlsx"
    assert export.file_name("长表", (), "csv") == "政府信息公开年报数据_长表_全部年度.csv"
