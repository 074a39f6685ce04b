"""数据浏览与导出: the filtered facts (long or wide), column choice, sort, and downloads of exactly that table."""

import polars as pl
import streamlit as st

from pipeline import export
from pipeline.dashboard import ui
from pipeline.dashboard.data import query
from pipeline.dashboard.tables import ShownTable, data_dictionary, explorer_table
from pipeline.metrics import explorer_long, explorer_wide
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
raw = query(explorer_long if view == "long" else explorer_wide, filters, list(keys))
table = explorer_table(raw, view, list(keys))
headers = {table.labels.get(c, c): c for c in table.frame.columns}
c3, c4 = st.columns([3, 1])
ui.checked_param("sort", "排序", list(headers))
sort_header = c3.selectbox(
    "排序", list(headers), index=None, key="sort", bind=ui.BIND, placeholder="默认（机关、年度）"
)
descending = c4.toggle("降序", key="desc", bind=ui.BIND)
if sort_header:
    table = ShownTable(table.frame.sort(headers[sort_header], descending=descending, nulls_last=True), table.labels)

st.caption(
    f"共 {table.frame.height:,} 行、{table.frame.width} 列（行多时分页显示）。下载的文件就是下表的全部行（按当前排序）；"
    "CSV 与 Parquet 另带机器列名（字段键），"
    "示例数据标记与每份报告的错误数、警告数在表中。"
)
ui.table(table.frame, table.labels, height=480)
ui.null_legend()

dictionary = data_dictionary(table, list(keys))
# Built only when a button is clicked (deferred), from the very table shown above.
kind = "长表" if view == "long" else "宽表"
used = filters.describe()
d1, d2, d3 = st.columns(3)
d1.download_button(
    "下载 CSV（Excel 可直接打开）", lambda: export.to_csv_bytes(table.frame, table.labels),
    export.file_name(kind, filters.years, "csv"), mime="text/csv", key="dl_csv", on_click="ignore",
)  # fmt: skip
d2.download_button(
    "下载 XLSX（含数据字典与筛选条件）", lambda: export.to_xlsx_bytes(table.frame, table.labels, dictionary, used),
    export.file_name(kind, filters.years, "xlsx"),
    mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", key="dl_xlsx", on_click="ignore",
)  # fmt: skip
d3.download_button(
    "下载 Parquet", lambda: export.to_parquet_bytes(table.frame, table.labels, used),
    export.file_name(kind, filters.years, "parquet"), mime="application/octet-stream", key="dl_parquet",
    on_click="ignore",
)  # fmt: skip
with st.expander("数据字典"):
    ui.table(dictionary)
with st.expander("当前筛选条件"):
    ui.table(pl.DataFrame(used, schema=["条件", "取值"], orient="row"))
