"""数据浏览与导出: the filtered facts (long or wide), column choice, sort, and downloads of exactly that table."""

import polars as pl
import streamlit as st

from pipeline import export
from pipeline.dashboard import ui
from pipeline.dashboard.data import db_path, run_query
from pipeline.dashboard.tables import ShownTable, data_dictionary, explorer_sort_columns, explorer_table
from pipeline.metrics import explorer_long, explorer_long_page, explorer_wide, explorer_wide_page
from pipeline.metrics.explorer import sort_whole
from pipeline.metrics.listing import PAGE_ROWS, Window
from pipeline.registry import registry

filters = ui.page_start("explore")
if filters is None:
    st.stop()
reg = registry()
DEFAULT_FIELDS = [
    "t3.new_received.total", "t3.granted.total", "t3.partially_granted.total", "t3.result_total.total",
    "t4.review.corrected", "t4.review.total",
]  # fmt: skip
VIEWS = {"wide": "宽表（机关 × 年度 × 所选字段）", "long": "长表（每个单元格一行，含原文与状态）"}

view = ui.synced(
    st.segmented_control, "表格形式", list(VIEWS), key="view", default="wide", format_func=VIEWS.get, required=True
)
keys = ui.synced(
    st.multiselect, "字段（官方表格的行 / 列，可输入名称搜索）", list(reg.by_key), key="fields",
    default=DEFAULT_FIELDS, multi=True, format_func=lambda k: f"{reg[k].label}（{k}）", placeholder="选择字段",
)  # fmt: skip
if not keys:
    st.info("请至少选择一个字段。")
    st.stop()
sort_columns = explorer_sort_columns(view, list(keys))
c3, c4 = st.columns([3, 1])
ui.checked_param("sort", "排序", list(sort_columns))
sort_header = c3.selectbox(
    "排序", list(sort_columns), index=None, key="sort", bind=ui.BIND, placeholder="默认（机关、年度）"
)
descending = c4.toggle("降序", key="desc", bind=ui.BIND)
sort = sort_columns[sort_header] if sort_header else None
# the page shown is read as a page (a national store's table runs to millions of rows); downloads read the whole
page_query = explorer_long_page if view == "long" else explorer_wide_page
found = ui.listing(page_query, filters, list(keys), key=f"explore_{view}", sort=sort, descending=descending)
table = explorer_table(found.rows, view, list(keys))
window = Window(sort=sort, descending=descending)
whole_query = explorer_long if view == "long" else explorer_wide


def whole() -> ShownTable:
    """The whole table in the order shown: what every download holds."""
    rows = run_query(db_path(), whole_query, filters, (list(keys),))
    return explorer_table(sort_whole(rows, window), view, list(keys))


def csv_bytes() -> bytes:
    shown = whole()
    return export.to_csv_bytes(shown.frame, shown.labels)


def xlsx_bytes() -> bytes:
    shown = whole()
    return export.to_xlsx_bytes(shown.frame, shown.labels, dictionary, used)


def parquet_bytes() -> bytes:
    shown = whole()
    return export.to_parquet_bytes(shown.frame, shown.labels, used)


st.caption(
    f"共 {found.total:,} 行、{table.frame.width} 列（每页 {PAGE_ROWS} 行）。下载的文件就是下表的全部行（按当前排序）；"
    "CSV 与 Parquet 另带机器列名（字段键），"
    "示例数据标记与每份报告的错误数、警告数在表中。"
    + ("长表可按原文、状态与推算依据以外的列排序。" if view == "long" else "")
)
ui.table(table.frame, table.labels, height=480)
ui.null_legend()

dictionary = data_dictionary(table, list(keys))
# Built only when a button is clicked (deferred): the whole table whose page is shown above.
kind = "长表" if view == "long" else "宽表"
used = filters.describe()
d1, d2, d3 = st.columns(3)
d1.download_button(
    "下载 CSV（Excel 可直接打开）", csv_bytes,
    export.file_name(kind, filters.years, "csv"), mime="text/csv", key="dl_csv", on_click="ignore",
)  # fmt: skip
d2.download_button(
    "下载 XLSX（含数据字典与筛选条件）", xlsx_bytes,
    export.file_name(kind, filters.years, "xlsx"),
    mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", key="dl_xlsx", on_click="ignore",
)  # fmt: skip
d3.download_button(
    "下载 Parquet", parquet_bytes,
    export.file_name(kind, filters.years, "parquet"), mime="application/octet-stream", key="dl_parquet",
    on_click="ignore",
)  # fmt: skip
with st.expander("数据字典"):
    ui.table(dictionary)
with st.expander("当前筛选条件"):
    ui.table(pl.DataFrame(used, schema=["条件", "取值"], orient="row"))
