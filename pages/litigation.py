"""复议诉讼 (表四): cases by group and result over years; 纠错率 = 结果纠正 ÷ (总计 − 尚未审结)."""

import plotly.express as px
import plotly.graph_objects as go
import polars as pl
import streamlit as st

from pipeline.dashboard import ui
from pipeline.dashboard.data import query
from pipeline.metrics import metric
from pipeline.registry import T4_GROUPS_ORDER, registry


@ui.figure_cache
def cases_figure(results: pl.DataFrame) -> go.Figure:
    """Cases per result and year, one panel per group (复议 / 诉讼)."""
    fig = px.bar(
        results.sort("year"),
        x="year",
        y="value",
        color="result",
        facet_col="group",
        title="各年度案件数（件）",
        labels={"value": "件", "result": "结果"},
    )
    fig.for_each_annotation(lambda a: a.update(text=a.text.split("=")[-1]))
    fig.update_xaxes(dtick=1)
    return ui.style(fig, height=400)


@ui.figure_cache
def rates_figure(rates: pl.DataFrame) -> go.Figure:
    fig = px.line(
        rates.sort("year"),
        x="year",
        y="value",
        color="指标",
        markers=True,
        title="纠错率",
        hover_data={"numerator": ":,.0f", "denominator": ":,.0f", "n_reports": True},
        labels={"numerator": "分子", "denominator": "分母", "n_reports": "计入报告数"},
    )
    fig.update_xaxes(dtick=1)
    return ui.style(fig, height=360, percent_axis=True)


filters = ui.page_start("复议诉讼（表四）")
if filters is None:
    st.stop()

col = {f.col_key: f.col_label_short for f in registry().select(table="t4")}
cases = query("litigation_by_year", filters)
if cases.filter(pl.col("value").is_not_null()).is_empty():
    st.info("当前筛选条件下没有表四数据。")
    st.stop()
results = cases.filter(pl.col("col_key") != "total")
chart_tab, table_tab = ui.lazy_tabs(["各年度案件数（图）", "逐年各项合计（表）"], key="t4_view")
if chart_tab.open:
    ui.chart(cases_figure(results), where=chart_tab)
if table_tab.open:
    with table_tab:
        ui.table(
            cases.select(
                pl.col("year").alias("年度"),
                pl.col("group").alias("类别"),
                pl.col("result").alias("结果"),
                pl.col("value").alias("合计"),
                pl.col("n_reports").alias("有数值的报告数"),
            ).sort("年度", "类别"),
        )
        ui.null_legend()

st.subheader("纠错率")
rates = query("correction_rates_by_year", filters).with_columns(
    pl.col("metric")
    .replace_strict({f"rate.correction.{g}": metric(f"rate.correction.{g}").name for g in T4_GROUPS_ORDER})
    .alias("指标")
)
for g in T4_GROUPS_ORDER:
    ui.rate_caption(metric(f"rate.correction.{g}"))
chart_tab, table_tab = ui.lazy_tabs(["折线图", "逐年纠错率（含分子、分母）"], key="t4_rates")
if chart_tab.open:
    ui.chart(rates_figure(rates), where=chart_tab)
if table_tab.open:
    with table_tab:
        ui.table(
            rates.select(
                pl.col("year").alias("年度"),
                "指标",
                pl.col("value").alias("纠错率"),
                pl.col("numerator").alias(f"分子（{col['corrected']}）"),
                pl.col("denominator").alias(f"分母（{col['total']} − {col['pending']}）"),
                pl.col("n_reports").alias("计入报告数"),
            ).sort("年度", "指标"),
            column_config={"纠错率": st.column_config.NumberColumn(format="percent")},
        )
