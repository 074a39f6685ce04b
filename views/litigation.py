"""复议诉讼 (表四): cases by group and result over years; 纠错率 = 结果纠正 ÷ (总计 − 尚未审结)."""

import plotly.express as px
import plotly.graph_objects as go
import polars as pl
import streamlit as st

from pipeline.dashboard import charts, ui
from pipeline.dashboard.data import query
from pipeline.metrics import correction_rates_by_year, drop_leading_empty_years, litigation_by_year, metric
from pipeline.registry import T4_GROUPS_ORDER, registry


@charts.figure_cache
def cases_figure(results: pl.DataFrame) -> go.Figure:
    """Cases per result and year, one panel per group (复议 / 诉讼)."""
    fig = px.bar(
        results.sort("year"), x="year", y="value", color="result", facet_col="group", title="各年度案件数（件）",
        labels={"value": "件", "result": "结果"},
    )  # fmt: skip
    fig.for_each_annotation(lambda a: a.update(text=a.text.split("=")[-1]))
    charts.year_axis(fig, results["year"].to_list())
    return charts.style(fig, height=400)


@charts.figure_cache
def rates_figure(rates: pl.DataFrame, min_n: int) -> go.Figure:
    return charts.trend_lines(rates, "指标", "纠错率", percent=True, min_n=min_n, height=360)


filters = ui.page_start("litigation")
if filters is None:
    st.stop()

col = {f.col_key: f.col_label_short for f in registry().select(table="t4")}
cases = drop_leading_empty_years(query(litigation_by_year, filters))
if cases.is_empty():
    st.info("当前筛选条件下没有表四数据。")
    st.stop()
results = cases.filter(pl.col("col_key") != "total")
chart_tab, table_tab = ui.lazy_tabs(["各年度案件数（图）", "逐年各项合计（表）"], key="t4_view")
if chart_tab.open:
    charts.chart(cases_figure(results), where=chart_tab)
if table_tab.open:
    with table_tab:
        ui.table(
            cases.select(
                pl.col("year").alias("年度"), pl.col("group").alias("类别"), pl.col("result").alias("结果"),
                pl.col("value").alias("合计"), pl.col("n_reports").alias("有数值的报告数"),
                pl.col("n_derived").alias("其中总计为推算值"),
            ).sort("年度", "类别"),
        )  # fmt: skip
        ui.null_legend()
ui.panel_note(filters)

st.subheader("纠错率")
rate_names = {f"rate.correction.{g}": metric(f"rate.correction.{g}").name for g in T4_GROUPS_ORDER}
rates = query(correction_rates_by_year, filters).with_columns(pl.col("metric").replace_strict(rate_names).alias("指标"))
for g in T4_GROUPS_ORDER:
    ui.rate_caption(metric(f"rate.correction.{g}"))
chart_tab, table_tab = ui.lazy_tabs(["折线图", "逐年纠错率（含分子、分母）"], key="t4_rates")
if chart_tab.open:
    charts.chart(rates_figure(rates, filters.min_n), where=chart_tab)
if table_tab.open:
    with table_tab:
        ui.table(
            rates.select(
                pl.col("year").alias("年度"), "指标",
                pl.when(pl.col("guarded")).then(None).otherwise(pl.col("value")).alias("纠错率"),
                pl.col("numerator").alias(f"分子（{col['corrected']}）"),
                pl.col("denominator").alias(f"分母（{col['total']} − {col['pending']}）"),
                pl.col("n_reports").alias("计入报告数"), pl.col("n_left_out").alias("未计入报告数"),
                pl.when(pl.col("guarded")).then(pl.lit(f"分母不足 {filters.min_n}")).otherwise(pl.lit(""))
                .alias("小数字保护"),
            ).sort("年度", "指标"),
            column_config={"纠错率": st.column_config.NumberColumn(format="percent")},
        )  # fmt: skip
ui.left_out_note(rates, "rate.correction.review", "行政复议纠错率：")
ui.guard_note(rates, filters)
