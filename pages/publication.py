"""主动公开 (表二): volumes by year, top agencies and agency types; 2019 and 2021 columns kept apart."""

from dataclasses import replace

import plotly.express as px
import polars as pl
import streamlit as st

from pipeline.dashboard import ui
from pipeline.dashboard.data import query
from pipeline.metrics import metric
from pipeline.registry import EDITIONS, registry

filters = ui.page_start("主动公开（表二）")
if filters is None:
    st.stop()
reg = registry()

edition = ui.synced(
    st.segmented_control,
    "报告格式版本",
    list(EDITIONS),
    key="t2_edition",
    default=EDITIONS[-1],
    format_func=ui.edition_label,
    required=True,
)
shared = [f for f in reg.select(table="t2") if set(EDITIONS) <= set(f.editions)]
only = [f for f in reg.select(edition, "t2") if f not in shared]
others = [f for f in reg.select(table="t2") if f not in shared and f not in only]
st.caption(
    "两版表二的列含义不同，分开统计、从不合并（例如「"
    + "」「".join(sorted({f.col_label_short for f in only}))
    + f"」只见于 {edition} 年版；另一版有「"
    + "」「".join(sorted({f.col_label_short for f in others}))
    + "」）。两版含义相同的只有：「"
    + "」「".join(f.label for f in shared)
    + "」。"
)
if filters.editions and edition not in filters.editions:
    st.info(f"左侧的“报告格式版本”筛选不包含 {edition} 年版，本版没有可显示的报告。")
    st.stop()
ed_filters = replace(filters, editions=(edition,))

by_year = query("publication_by_year", ed_filters, edition)
if by_year.filter(pl.col("value").is_not_null()).is_empty():
    st.info(f"当前筛选条件下没有 {edition} 年版表二的数据。")
    st.stop()
fields = {f"count.{f.key}": f for f in reg.select(edition, "t2")}
by_year = by_year.with_columns(
    pl.col("metric").replace_strict({k: f.row_label for k, f in fields.items()}).alias("事项"),
    pl.col("metric").replace_strict({k: f.col_label_for(edition) for k, f in fields.items()}).alias("栏目"),
    pl.col("metric").replace_strict({k: f.unit or "件" for k, f in fields.items()}).alias("单位"),
)
counts = by_year.filter(pl.col("单位") == "件")
amounts = by_year.filter(pl.col("单位") != "件")

fig = px.bar(
    counts.sort("year"),
    x="year",
    y="value",
    color="栏目",
    facet_col="事项",
    facet_col_wrap=3,
    barmode="group",
    title=f"表二各项数量（{edition} 年版，件）",
    labels={"value": "件"},
    category_orders={
        "事项": list(dict.fromkeys(f.row_label for f in fields.values())),
        "栏目": list(dict.fromkeys(f.col_label_for(edition) for f in fields.values())),
    },
)
fig.for_each_annotation(lambda a: a.update(text=a.text.split("=")[-1]))
fig.update_yaxes(matches=None, showticklabels=True)
fig.update_xaxes(dtick=1)
n_rows = (counts["事项"].n_unique() + 2) // 3
ui.chart(ui.style(fig, height=260 * max(n_rows, 1) + 60))
if not amounts.is_empty():
    fig = px.bar(
        amounts.sort("year"),
        x="year",
        y="value",
        color="事项",
        barmode="group",
        title="金额（万元）",
        labels={"value": "万元"},
    )
    fig.update_xaxes(dtick=1)
    ui.chart(ui.style(fig, height=300))

table = by_year.select(
    pl.col("year").alias("年度"),
    "事项",
    "栏目",
    pl.col("value").alias("合计"),
    pl.col("n_reports").alias("有数值的报告数"),
    "单位",
).sort("年度", "事项")
with st.expander("逐年合计（表）"):
    ui.table(table)
    ui.null_legend()

st.subheader("机关排名与机关类型")
field_key = ui.synced(
    st.selectbox,
    "指标",
    list(fields),
    key="t2_field",
    default=next(iter(fields)),
    format_func=lambda k: f"{fields[k].row_label} / {fields[k].col_label_for(edition)}",
)
m = metric(field_key)
left, right = st.columns(2)
top = query("top_agencies", ed_filters, field_key, 15)
if top.is_empty():
    left.info("所选指标没有数值。")
else:
    top = ui.inert_column(top, "agency")
    fig = px.bar(
        top.sort("value"),
        x="value",
        y="agency",
        orientation="h",
        title="前 15 个机关（所选年度合计）",
        labels={"value": fields[field_key].unit or "件", "agency": ""},
    )
    left.plotly_chart(ui.style(fig, height=480), width="stretch")
types = query("by_agency_type", ed_filters, [field_key]).filter(pl.col("value").is_not_null())
if types.is_empty():
    right.info("所选指标没有数值。")
else:
    types = ui.inert_column(types, "agency_type")
    fig = px.bar(
        types.sort("value"),
        x="value",
        y="agency_type",
        orientation="h",
        title="按机关类型合计",
        labels={"value": fields[field_key].unit or "件", "agency_type": ""},
    )
    right.plotly_chart(ui.style(fig, height=480), width="stretch")
ui.rate_caption(m)
