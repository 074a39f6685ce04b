"""主动公开 (表二): volumes by year, top agencies and agency types; 2019 and 2021 columns kept apart."""

from dataclasses import replace

import plotly.express as px
import plotly.graph_objects as go
import polars as pl
import streamlit as st

from pipeline.dashboard import charts, ui
from pipeline.dashboard.data import query
from pipeline.metrics import (
    by_agency_type,
    drop_leading_empty_years,
    metric,
    publication_by_year,
    top_agencies,
)
from pipeline.registry import EDITIONS, registry

TOP_N = 15


@charts.figure_cache
def volumes_figure(counts: pl.DataFrame, edition: str) -> go.Figure:
    """表二 counts of one edition by year: one small panel per 事项 that has numbers, one labelled bar per 栏目."""
    fields = registry().select(edition, "t2")
    present = set(counts["事项"].to_list())
    items = [r for r in dict.fromkeys(f.row_label for f in fields) if r in present]
    fig = px.bar(
        counts.sort("year"), x="year", y="value", color="栏目", facet_col="事项", facet_col_wrap=3, barmode="group",
        title=f"表二各项数量（{edition} 年版，件）", labels={"value": "件"}, text="value",
        category_orders={"事项": items,
                         "栏目": [c for c in dict.fromkeys(f.col_label_for(edition) for f in fields)
                                if c in set(counts["栏目"].to_list())]},
    )  # fmt: skip
    fig.update_traces(texttemplate="%{text:,.0f}", textposition="outside", cliponaxis=False)
    fig.for_each_annotation(lambda a: a.update(text=a.text.split("=")[-1]))
    fig.update_yaxes(matches=None, showticklabels=True, rangemode="tozero")
    charts.year_axis(fig, counts["year"].to_list())
    n_rows = (len(items) + 2) // 3
    return charts.style(fig, height=280 * max(n_rows, 1) + 80)


@charts.figure_cache
def amounts_figure(amounts: pl.DataFrame) -> go.Figure:
    fig = px.bar(
        amounts.sort("year"), x="year", y="value", color="事项", barmode="group", title="金额（万元）",
        labels={"value": "万元"}, text="value",
    )  # fmt: skip
    fig.update_traces(texttemplate="%{text:,.2f}", textposition="outside", cliponaxis=False)
    charts.year_axis(fig, amounts["year"].to_list())
    return charts.style(fig, height=320)


@charts.figure_cache
def ranking_figure(df: pl.DataFrame, label: str, title: str, unit: str) -> go.Figure:
    """Horizontal labelled bars of ``value`` per ``label`` (agency or agency type; names made inert)."""
    fig = px.bar(
        charts.inert_column(df, label).sort("value"), x="value", y=label, orientation="h", title=title,
        labels={"value": unit, label: ""}, text="value",
    )  # fmt: skip
    fig.update_traces(texttemplate="%{text:,.4~f}" if unit == "万元" else "%{text:,.0f}", textposition="outside",
                      cliponaxis=False)  # fmt: skip
    return charts.style(fig, height=130 + 34 * max(df.height, 3))


filters = ui.page_start("publication")
if filters is None:
    st.stop()
reg = registry()

edition = ui.synced(
    st.segmented_control, "报告格式版本", list(EDITIONS), key="t2_edition", default=EDITIONS[-1],
    format_func=ui.edition_label, required=True,
)  # fmt: skip
shared = [f for f in reg.select(table="t2") if set(EDITIONS) <= set(f.editions)]
only = [f for f in reg.select(edition, "t2") if f not in shared]
others = [f for f in reg.select(table="t2") if f not in shared and f not in only]
st.caption(
    "两版表二的列含义不同，分开统计、从不合并（例如「" + "」「".join(sorted({f.col_label_short for f in only}))
    + f"」只见于 {edition} 年版；另一版有「" + "」「".join(sorted({f.col_label_short for f in others}))
    + "」）。两版含义相同的只有：「" + "」「".join(f.label for f in shared) + "」。"
)  # fmt: skip
if filters.editions and edition not in filters.editions:
    st.info(f"左侧的“报告格式版本”筛选不包含 {edition} 年版，本版没有可显示的报告。")
    st.stop()
ed_filters = replace(filters, editions=(edition,))

by_year = drop_leading_empty_years(query(publication_by_year, ed_filters, edition))
if by_year.is_empty():
    st.info(f"当前筛选条件下没有 {edition} 年版表二的数据。")
    st.stop()
fields = {f"count.{f.key}": f for f in reg.select(edition, "t2")}
by_year = by_year.with_columns(
    pl.col("metric").replace_strict({k: f.row_label for k, f in fields.items()}).alias("事项"),
    pl.col("metric").replace_strict({k: f.col_label_for(edition) for k, f in fields.items()}).alias("栏目"),
    pl.col("metric").replace_strict({k: f.unit or "件" for k, f in fields.items()}).alias("单位"),
)
# a panel only for items that have numbers in this selection (no empty facet)
with_values = by_year.group_by("metric").agg(pl.col("value").is_not_null().any().alias("any"))
has_value = set(with_values.filter(pl.col("any"))["metric"].to_list())
counts = by_year.filter((pl.col("单位") == "件") & pl.col("metric").is_in(has_value))
amounts = by_year.filter((pl.col("单位") != "件") & pl.col("metric").is_in(has_value))

labels = ["各项数量（件）", *(["金额（万元）"] if not amounts.is_empty() else []), "逐年合计（表）"]
tabs = dict(zip(labels, ui.lazy_tabs(labels, key="t2_view"), strict=True))
if tabs["各项数量（件）"].open:
    charts.chart(volumes_figure(counts, edition), where=tabs["各项数量（件）"])
if "金额（万元）" in tabs and tabs["金额（万元）"].open:
    charts.chart(amounts_figure(amounts), where=tabs["金额（万元）"])
if tabs["逐年合计（表）"].open:
    with tabs["逐年合计（表）"]:
        ui.table(
            by_year.select(
                pl.col("year").alias("年度"), "事项", "栏目", pl.col("value").alias("合计"),
                pl.col("n_reports").alias("有数值的报告数"), pl.col("n_left_out").alias("无数值的报告数"), "单位",
            ).sort("年度", "事项")
        )  # fmt: skip
        ui.null_legend()
ui.panel_note(ed_filters)

st.subheader("机关排名与机关类型")
field_key = ui.synced(
    st.selectbox, "指标", list(fields), key="t2_field", default=next(iter(fields)),
    format_func=lambda k: f"{fields[k].row_label} / {fields[k].col_label_for(edition)}",
)  # fmt: skip
m = metric(field_key)
unit = fields[field_key].unit or "件"
top_tab, types_tab = ui.lazy_tabs([f"前 {TOP_N} 个机关", "按机关类型"], key="t2_rank")
if top_tab.open:
    top = query(top_agencies, ed_filters, field_key, TOP_N)
    if top.is_empty():
        top_tab.info("所选指标在所选范围内没有大于 0 的数值。")
    else:
        charts.chart(ranking_figure(top, "agency", f"前 {TOP_N} 个机关（所选年度合计，只列数值大于 0 的机关）", unit),
                     where=top_tab)  # fmt: skip
if types_tab.open:
    types = query(by_agency_type, ed_filters, [field_key]).filter(pl.col("value").is_not_null())
    if types.is_empty():
        types_tab.info("所选指标没有数值。")
    else:
        charts.chart(ranking_figure(types, "agency_type", "按机关类型合计", unit), where=types_tab)
ui.rate_caption(m)
