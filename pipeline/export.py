"""Export exactly the table the explorer shows: CSV (UTF-8 with BOM, for Excel), XLSX and Parquet.

The table arrives with machine column names (report columns, registry keys such as ``t3.granted.total``) and a
``labels`` mapping to the Chinese headers the page shows.  Every format carries both:

- CSV: first row the machine names, second row the Chinese labels (``pl.read_csv(f, skip_rows_after_header=1)``,
  ``pandas.read_csv(f, skiprows=[1])``);
- Parquet: machine names as column names; the labels, the filters used and the notes in the file's key-value
  metadata (``xxgk.labels``, ``xxgk.filters``, ``xxgk.note``);
- XLSX: sheet 「数据」 with the Chinese headers and a frozen header row; sheet 「数据字典与筛选条件」 with one row per
  column (what it is, machine name, unit), the filters used and the notes.

The synthetic flag and each report's quality (errors, warnings) are columns of every explorer table.  NULL cells
stay empty (never 0).  Spreadsheet formula injection (OWASP "CSV injection"): a text cell that begins with ``=``,
``+``, ``-``, ``@``, a tab or a carriage return is written as a string cell in XLSX (never a formula) and prefixed
with ``'`` in CSV — everywhere an export carries text, the filter rows included.
"""

from __future__ import annotations

import io
import json
import re
from datetime import date

import polars as pl

DATA_SHEET = "数据"
INFO_SHEET = "数据字典与筛选条件"
NULL_NOTE = "空单元格 = 来源单元格空白、写了“/”等空值标记或未能定位，均不等于 0；0 = 来源明确填写了 0。"
DERIVED_NOTE = "“（推算）”列 = 原表空白的总计按模板算术由分项推算的值，原表单元格仍为空白。"
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
WORKBOOK_OPTIONS = {"in_memory": True, "strings_to_formulas": False, "strings_to_urls": False,
                    "strings_to_numbers": False}  # fmt: skip


def neutralise(text: str | None) -> str | None:
    """A text cell as a spreadsheet must read it: prefixed with ``'`` when it would start a formula."""
    if text is not None and text.startswith(FORMULA_START):
        return "'" + text
    return text


def _neutralised(df: pl.DataFrame) -> pl.DataFrame:
    """Text columns neutralised (numbers are numbers: a negative 本年增/减 stays -3)."""
    text_cols = [c for c, t in df.schema.items() if t == pl.String]
    return df.with_columns(
        pl.when(pl.col(c).str.contains(r"^[=+\-@\t\r]")).then(pl.lit("'") + pl.col(c)).otherwise(pl.col(c)).alias(c)
        for c in text_cols
    )


def to_csv_bytes(df: pl.DataFrame, labels: dict[str, str]) -> bytes:
    """UTF-8 CSV with a byte-order mark (Excel reads the Chinese correctly): machine names, Chinese labels, data.

    NULL → empty field; text neutralised against formula injection.
    """
    header = pl.DataFrame([[neutralise(labels.get(c, c)) for c in df.columns]], schema=df.columns, orient="row")
    body = _neutralised(df).with_columns(pl.all().cast(pl.String))
    buf = io.BytesIO()
    pl.concat([header, body]).write_csv(buf, include_bom=True, null_value="")
    return buf.getvalue()


def to_parquet_bytes(
    df: pl.DataFrame, labels: dict[str, str], filters_used: list[tuple[str, str]] | None = None
) -> bytes:
    """Parquet with machine column names; labels, filters and notes as key-value metadata."""
    meta = {
        "xxgk.labels": json.dumps({c: labels.get(c, c) for c in df.columns}, ensure_ascii=False),
        "xxgk.filters": json.dumps(dict(filters_used or []), ensure_ascii=False),
        "xxgk.note": f"{NULL_NOTE} {DERIVED_NOTE}",
        "xxgk.exported": date.today().isoformat(),
    }
    buf = io.BytesIO()
    df.write_parquet(buf, metadata=meta)
    return buf.getvalue()


def to_xlsx_bytes(
    df: pl.DataFrame,
    labels: dict[str, str],
    dictionary: pl.DataFrame,
    filters_used: list[tuple[str, str]],
) -> bytes:
    """The table on sheet 1 (Chinese headers, frozen), the data dictionary and the filters used on sheet 2.

    Every text cell is a string cell (``strings_to_formulas`` off), whatever it starts with.
    """
    shown = df.rename({c: labels.get(c, c) for c in df.columns})
    buf = io.BytesIO()
    import xlsxwriter  # loaded when a workbook is written, not by every command that imports this module

    with xlsxwriter.Workbook(buf, WORKBOOK_OPTIONS) as wb:
        shown.write_excel(workbook=wb, worksheet=DATA_SHEET, autofit=True, freeze_panes=(1, 0), table_style=None)
        dictionary.write_excel(workbook=wb, worksheet=INFO_SHEET, autofit=True, table_style=None)
        ws = wb.get_worksheet_by_name(INFO_SHEET)
        row = dictionary.height + 2
        bold = wb.add_format({"bold": True})
        ws.write_string(row, 0, "筛选条件", bold)
        for i, (label, value) in enumerate(filters_used, start=1):
            ws.write_string(row + i, 0, label)
            ws.write_string(row + i, 1, value)
        end = row + len(filters_used) + 2
        ws.write_string(end, 0, "说明", bold)
        for i, note in enumerate((NULL_NOTE, DERIVED_NOTE, f"导出日期：{date.today().isoformat()}"), start=1):
            ws.write_string(end + i, 0, note)
    return buf.getvalue()


def file_name(kind: str, years: tuple[int, ...], ext: str) -> str:
    """A Chinese file name such as ``政府信息公开年报数据_宽表_2021-2023.xlsx``."""
    span = f"{min(years)}-{max(years)}" if years else "全部年度"
    name = f"政府信息公开年报数据_{kind}_{span}.{ext}"
    return re.sub(r'[\\/:*?"<>|]', "_", name)
