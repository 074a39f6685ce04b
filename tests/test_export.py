"""Export bytes: CSV with BOM, XLSX (frozen header, data dictionary + filters sheet), Parquet — each equal to the
table the explorer page shows, each carrying machine names and Chinese labels, the synthetic flag and quality, and
none of them a vehicle for spreadsheet formula injection."""

from __future__ import annotations

import html
import io
import json
import re
import zipfile
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq
import pytest
from streamlit.testing.v1 import AppTest

from pipeline import export
from pipeline import metrics as M
from pipeline.dashboard.tables import ShownTable, data_dictionary, explorer_table, field_header
from pipeline.filters import Filters
from pipeline.store import Database
from tests import shown_tables
from tests.dashboard_fixtures import FORMULA_AGENCY, HandReport, build_db, shared_db

APP = str(Path(__file__).resolve().parents[1] / "app.py")
KEYS = ["t3.new_received.total", "t3.granted.total", "t3.unable_need_creation.total", "t4.review.total"]


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return shared_db(tmp_path_factory)


@pytest.fixture(scope="module")
def formula_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One report whose agency name is a spreadsheet formula (and one whose name starts with "-" and "@")."""
    reports = [HandReport("formula", FORMULA_AGENCY, 2023, "辽宁省阜新市",
                          t3={"natural_person": {"new_received": 1, "granted": 1}}),
               HandReport("minus", "-1+2@局", 2023, "辽宁省阜新市")]  # fmt: skip
    return build_db(tmp_path_factory.mktemp("formula") / "formula.duckdb", reports)


def shown_table(db: Path, filters: Filters, view: str, keys: list[str] = KEYS) -> ShownTable:
    raw = Database(db).query(M.explorer_long if view == "long" else M.explorer_wide, filters, keys)
    return explorer_table(raw, view, keys)


@pytest.fixture(scope="module", params=["wide", "long"])
def table(request, db) -> tuple[str, ShownTable]:
    return request.param, shown_table(db, Filters(years=(2021, 2022)), request.param)


def test_page_shows_the_exported_table(monkeypatch, db):
    """The explorer page's dataframe is exactly the table the export functions receive."""
    monkeypatch.setenv("XXGK_DB", str(db))
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params["year"] = ["2021", "2022"]
    at.query_params["fields"] = KEYS
    at.switch_page("views/explore.py")
    at.run()
    assert not at.exception
    on_page = shown_tables.tables(at)[0]
    expected = shown_table(db, Filters(years=(2021, 2022)), "wide")
    assert on_page.columns == expected.for_display().columns
    assert shown_tables.same_cells(on_page, expected.frame)  # every row, in order, NULL / "" / 0 kept apart
    assert at.get("download_button")  # CSV, XLSX and Parquet buttons are there


def test_csv_has_bom_machine_names_then_labels(table):
    _, t = table
    data = export.to_csv_bytes(t.frame, t.labels)
    assert data.startswith(b"\xef\xbb\xbf")
    back = pl.read_csv(io.BytesIO(data[3:]), infer_schema=False)
    assert back.columns == t.frame.columns  # machine names: registry keys and report columns
    assert back.row(0) == tuple(t.labels[c] for c in t.frame.columns)  # then the Chinese labels
    body = pl.read_csv(io.BytesIO(data[3:]), infer_schema=False, skip_rows_after_header=1)
    assert body.height == t.frame.height
    assert body.fill_null("").rows() == t.frame.select(pl.all().cast(pl.String)).fill_null("").rows()
    assert {"synthetic", "n_errors", "n_warnings"} <= set(back.columns)


def test_csv_keeps_blank_apart_from_zero_and_shows_the_derived_value(db):
    t = shown_table(db, Filters(agencies=("乙县人民政府", "甲市司法局"), years=(2021,)), "wide")
    body = pl.read_csv(io.BytesIO(export.to_csv_bytes(t.frame, t.labels)[3:]), infer_schema=False,
                       skip_rows_after_header=1)  # fmt: skip
    rows = {r["agency"]: r for r in body.iter_rows(named=True)}
    assert rows["乙县人民政府"]["t3.granted.total"] is None  # blank in the source → empty, not 0
    assert rows["乙县人民政府"]["t3.granted.total__derived"] == "2"  # and the derived value beside it
    assert rows["甲市司法局"]["t3.unable_need_creation.total"] == "0"


def test_formula_injection_is_neutralised_in_csv(formula_db):
    t = shown_table(formula_db, Filters(), "wide")
    text = export.to_csv_bytes(t.frame, t.labels).decode("utf-8-sig")
    body = pl.read_csv(io.StringIO(text), infer_schema=False, skip_rows_after_header=1)
    agencies = set(body["agency"].to_list())
    assert "'" + FORMULA_AGENCY in agencies and "'-1+2@局" in agencies
    assert not any(a.startswith(("=", "+", "-", "@")) for a in agencies)
    assert export.neutralise("\tx") == "'\tx" and export.neutralise("\rx") == "'\rx"
    assert export.neutralise("普通文字") == "普通文字"
    long = shown_table(formula_db, Filters(), "long")
    body = pl.read_csv(io.BytesIO(export.to_csv_bytes(long.frame, long.labels)[3:]), infer_schema=False,
                       skip_rows_after_header=1)  # fmt: skip
    assert set(body["agency"].to_list()) == {"'" + FORMULA_AGENCY, "'-1+2@局"}


def _sheet_cells(data: bytes, sheet: int) -> list[str]:
    return re.findall(r"<c [^>]*?(?:/>|>.*?</c>)", zipfile.ZipFile(io.BytesIO(data)).read(
        f"xl/worksheets/sheet{sheet}.xml").decode())  # fmt: skip


def _shared_strings(data: bytes) -> list[str]:
    xml = zipfile.ZipFile(io.BytesIO(data)).read("xl/sharedStrings.xml").decode()
    return [html.unescape(re.sub(r"<[^>]+>", "", s)) for s in re.findall(r"<si>(.*?)</si>", xml)]


def test_formula_injection_in_xlsx_is_a_string_cell(formula_db):
    t = shown_table(formula_db, Filters(), "wide")
    filters = Filters(agencies=(FORMULA_AGENCY,))
    data = export.to_xlsx_bytes(t.frame, t.labels, data_dictionary(t, KEYS), filters.describe())
    for sheet in (1, 2):  # the data and the filter sheet
        cells = _sheet_cells(data, sheet)
        assert cells and not [c for c in cells if "<f>" in c], f"sheet {sheet} holds a formula"
    strings = _shared_strings(data)
    index = strings.index(FORMULA_AGENCY)
    holders = [c for sheet in (1, 2) for c in _sheet_cells(data, sheet) if f"<v>{index}</v>" in c]
    assert len(holders) == 2 and all('t="s"' in c for c in holders)  # a string cell in the data and filter sheets
    back = pl.read_excel(io.BytesIO(data), sheet_name=export.DATA_SHEET)
    assert FORMULA_AGENCY in back["机关"].to_list()  # kept exactly, as text


def test_xlsx_opens_with_polars_and_matches(table):
    _, t = table
    dictionary = data_dictionary(t, KEYS)
    data = export.to_xlsx_bytes(t.frame, t.labels, dictionary, Filters(years=(2021, 2022)).describe())
    back = pl.read_excel(io.BytesIO(data), sheet_name=export.DATA_SHEET)
    shown = t.for_display()
    assert back.columns == shown.columns and back.height == shown.height
    for col in shown.columns:
        ours, theirs = shown[col].to_list(), back[col].to_list()
        if shown[col].dtype.is_numeric():
            assert [None if v is None else float(v) for v in ours] == [None if v is None else float(v) for v in theirs]
        elif shown[col].dtype == pl.Boolean:
            assert ours == theirs
        else:
            assert [None if v in (None, "") else str(v) for v in ours] == [None if v in (None, "") else str(v)
                                                                         for v in theirs]  # fmt: skip
    info = pl.read_excel(io.BytesIO(data), sheet_name=export.INFO_SHEET, has_header=False)
    cells = {str(v) for row in info.rows() for v in row if v is not None}
    assert "筛选条件" in cells and "2021、2022" in cells and "示例数据" in cells
    assert set(t.frame.columns) <= cells  # every machine name is explained
    assert re.search(r'<pane[^>]*ySplit="1"[^>]*state="frozen"',
                     zipfile.ZipFile(io.BytesIO(data)).read("xl/worksheets/sheet1.xml").decode())  # fmt: skip


def test_parquet_carries_keys_labels_and_filters(table):
    _, t = table
    data = export.to_parquet_bytes(t.frame, t.labels, Filters(years=(2021, 2022)).describe())
    back = pl.read_parquet(io.BytesIO(data))
    assert back.equals(t.frame)  # machine column names, values untouched
    meta = pq.read_metadata(io.BytesIO(data)).metadata
    labels = json.loads(meta[b"xxgk.labels"])
    assert labels["synthetic"] == "示例数据" and labels["n_errors"] == "错误数"
    if "t3.granted.total" in labels:
        assert labels["t3.granted.total"] == field_header("t3.granted.total")
    assert json.loads(meta[b"xxgk.filters"])["年度"] == "2021、2022"


def test_dictionary_uses_registry_labels(table):
    view, t = table
    dictionary = data_dictionary(t, KEYS)
    assert dictionary["机器列名（字段键）"].to_list() == t.frame.columns
    if view == "wide":
        row = dictionary.filter(pl.col("机器列名（字段键）") == "t3.granted.total").row(0, named=True)
        assert "（一）予以公开" in row["含义"]
        derived = dictionary.filter(pl.col("机器列名（字段键）") == "t3.granted.total__derived").row(0, named=True)
        assert "推算" in derived["含义"]


def test_chinese_file_names():
    assert export.file_name("宽表", (2021, 2023), "xlsx") == "政府信息公开年报数据_宽表_2021-2023.xlsx"
    assert export.file_name("长表", (), "csv") == "政府信息公开年报数据_长表_全部年度.csv"
