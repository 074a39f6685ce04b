"""数据浏览与导出: the filtered facts (long or wide), column choice, sort, and downloads of exactly that table."""

import polars as pl
import streamlit as st

from pipeline import export
from pipeline.dashboard import ui
from pipeline.dashboard.data import query
from pipeline.dashboard.tables import data_dictionary, explorer_table
from pipeline.registry import registry

filters = ui.page_start("数据浏览与导出")
if filters is None:
    st.stop()
reg = registry()
DEFAULT_FIELDS = [
    "t3.new_received.total", "t3.granted.total", "t3.partially_granted.total", "t3.result_total.total",
    "t4.review.corrected", "t4.review.total",
]  # fmt: skip
VIEWS = {"wide": "宽表（机关 × 年度 × 所选字段）", "long": "长表（每个单元格一行，含原文与状态）"}

c1, c2 = st.columns([1, 3])
with c1:
    view = ui.synced(
        st.segmented_control,
        "表格形式",
        list(VIEWS),
        key="view",
        default="wide",
        format_func=VIEWS.get,
        required=True,
    )
with c2:
    keys = ui.synced(
        st.multiselect,
        "字段（来自官方表格）",
        list(reg.by_key),
        key="fields",
        default=DEFAULT_FIELDS,
        multi=True,
        format_func=lambda k: f"{k} · {reg[k].label}",
        placeholder="选择字段",
    )
if not keys:
    st.info("请至少选择一个字段。")
    st.stop()
raw = query("explorer_long" if view == "long" else "explorer_wide", filters, list(keys))
shown = explorer_table(raw, view, list(keys))
c3, c4 = st.columns([3, 1])
sort_col = c3.selectbox(
    "排序", shown.columns, index=None, key="sort", bind=ui.BIND, placeholder="默认（机关、年度）"
)
descending = c4.toggle("降序", key="desc", bind=ui.BIND)
if sort_col:
    shown = shown.sort(sort_col, descending=descending, nulls_last=True)

st.caption(f"共 {shown.height:,} 行、{shown.width} 列。下载的文件与下表完全一致。")
ui.table(shown, height=480)
ui.null_legend()

dictionary = data_dictionary(shown, view, list(keys))
# Built only when a button is clicked (deferred), from the very table shown above.
kind = "长表" if view == "long" else "宽表"
d1, d2, d3 = st.columns(3)
d1.download_button(
    "下载 CSV（Excel 可直接打开）",
    lambda: export.to_csv_bytes(shown),
    export.file_name(kind, filters.years, "csv"),
    mime="text/csv",
    key="dl_csv",
    on_click="ignore",
)
d2.download_button(
    "下载 XLSX（含数据字典与筛选条件）",
    lambda: export.to_xlsx_bytes(shown, dictionary, filters.describe()),
    export.file_name(kind, filters.years, "xlsx"),
    mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    key="dl_xlsx",
    on_click="ignore",
)
d3.download_button(
    "下载 Parquet",
    lambda: export.to_parquet_bytes(shown),
    export.file_name(kind, filters.years, "parquet"),
    mime="application/octet-stream",
    key="dl_parquet",
    on_click="ignore",
)
with st.expander("数据字典"):
    ui.table(dictionary)
with st.expander("当前筛选条件"):
    ui.table(pl.DataFrame(filters.describe(), schema=["条件", "取值"], orient="row"))
