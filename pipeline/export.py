"""Export exactly the table the explorer shows: CSV (UTF-8 with BOM, for Excel), XLSX and Parquet.

XLSX: sheet 「数据」 with the Chinese headers and a frozen header row; sheet 「数据字典与筛选条件」 with one row per
column (what it is, source key, unit) and the filters used.  NULL cells stay empty (never 0) in every format.
"""

from __future__ import annotations

import io
import re
from datetime import date

import polars as pl
import xlsxwriter

DATA_SHEET = "数据"
INFO_SHEET = "数据字典与筛选条件"
NULL_NOTE = "空单元格 = 来源单元格空白、写了“/”等空值标记或未能定位，均不等于 0；0 = 来源明确填写了 0。"


def to_csv_bytes(df: pl.DataFrame) -> bytes:
    """UTF-8 CSV with a byte-order mark, so Excel opens the Chinese headers correctly. NULL → empty field."""
    buf = io.BytesIO()
    df.write_csv(buf, include_bom=True, null_value="")
    return buf.getvalue()


def to_parquet_bytes(df: pl.DataFrame) -> bytes:
    buf = io.BytesIO()
    df.write_parquet(buf)
    return buf.getvalue()


def to_xlsx_bytes(
    df: pl.DataFrame,
    dictionary: pl.DataFrame,
    filters_used: list[tuple[str, str]],
) -> bytes:
    """The table on sheet 1 (frozen header), the data dictionary and the filters used on sheet 2."""
    buf = io.BytesIO()
    with xlsxwriter.Workbook(buf, {"in_memory": True}) as wb:
        df.write_excel(workbook=wb, worksheet=DATA_SHEET, autofit=True, freeze_panes=(1, 0), table_style=None)
        dictionary.write_excel(workbook=wb, worksheet=INFO_SHEET, autofit=True, table_style=None)
        ws = wb.get_worksheet_by_name(INFO_SHEET)
        row = dictionary.height + 2
        bold = wb.add_format({"bold": True})
        ws.write(row, 0, "筛选条件", bold)
        for i, (label, value) in enumerate(filters_used, start=1):
            ws.write(row + i, 0, label)
            ws.write(row + i, 1, value)
        ws.write(row + len(filters_used) + 2, 0, "说明", bold)
        ws.write(row + len(filters_used) + 3, 0, NULL_NOTE)
        ws.write(row + len(filters_used) + 4, 0, f"导出日期：{date.today().isoformat()}")
    return buf.getvalue()


def file_name(kind: str, years: tuple[int, ...], ext: str) -> str:
    """A Chinese file name such as ``政府信息公开年报数据_宽表_2021-2023.xlsx``."""
    span = f"{min(years)}-{max(years)}" if years else "全部年度"
    name = f"政府信息公开年报数据_{kind}_{span}.{ext}"
    return re.sub(r'[\\/:*?"<>|]', "_", name)
