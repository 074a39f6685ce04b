"""复议诉讼 (表四): cases by group and result over years; 纠错率 = 结果纠正 ÷ (总计 − 尚未审结)."""

import plotly.express as px
import polars as pl
import streamlit as st

from pipeline.dashboard import ui
from pipeline.dashboard.data import query
from pipeline.metrics import metric
from pipeline.registry import T4_GROUPS_ORDER, registry

filters = ui.page_start("复议诉讼（表四）")
if filters is None:
    st.stop()

col = {f.col_key: f.col_label_short for f in registry().select(table="t4")}
cases = query("litigation_by_year", filters)
if cases.filter(pl.col("value").is_not_null()).is_empty():
    st.info("当前筛选条件下没有表四数据。")
    st.stop()
results = cases.filter(pl.col("col_key") != "total")
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
ui.chart(ui.style(fig, height=400))

st.subheader("纠错率")
rates = query("correction_rates_by_year", filters).with_columns(
    pl.col("metric")
    .replace_strict({f"rate.correction.{g}": metric(f"rate.correction.{g}").name for g in T4_GROUPS_ORDER})
    .alias("指标")
)
fig = px.line(rates.sort("year"), x="year", y="value", color="指标", markers=True, title="纠错率")
fig.update_xaxes(dtick=1)
ui.chart(ui.style(fig, height=360, percent_axis=True))
for g in T4_GROUPS_ORDER:
    ui.rate_caption(metric(f"rate.correction.{g}"))
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
with st.expander("逐年各项合计（表）"):
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
