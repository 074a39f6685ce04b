"""依申请公开 (表三): new requests by applicant type, outcome composition, 公开率 and shares, backlog."""

import plotly.express as px
import plotly.graph_objects as go
import polars as pl
import streamlit as st

from pipeline.dashboard import ui
from pipeline.dashboard.data import query
from pipeline.metrics import catalogue, metric, outcome_groups
from pipeline.registry import registry


@ui.figure_cache
def applicants_figure(applicants: pl.DataFrame) -> go.Figure:
    reg = registry()
    fig = px.bar(
        applicants.sort("year"),
        x="year",
        y="value",
        color="申请人类型",
        category_orders={"申请人类型": [label for c, label in reg.columns("t3") if c != "total"]},
        title=reg["t3.new_received.total"].row_label + "（件）",
        labels={"value": "件"},
    )
    fig.update_xaxes(dtick=1)
    return ui.style(fig)


@ui.figure_cache
def outcome_bars_figure(outcomes: pl.DataFrame) -> go.Figure:
    """Outcome groups stacked per year."""
    groups = outcomes.group_by("year", "group", maintain_order=True).agg(pl.col("value").sum())
    fig = px.bar(
        groups.sort("year"),
        x="year",
        y="value",
        color="group",
        title="各年度办理结果（件）",
        category_orders={"group": [label for label, _ in outcome_groups()]},
        labels={"value": "件", "group": "办理结果"},
    )
    fig.update_xaxes(dtick=1)
    return ui.style(fig, height=420)


@ui.figure_cache
def outcome_tree_figure(tree: pl.DataFrame) -> go.Figure:
    """The outcome hierarchy (total → group → row) over the selected years."""
    fig = px.treemap(
        tree,
        path=[px.Constant(registry()["t3.result_total.total"].row_label), "group", "row"],
        values="value",
        title="办理结果层级（所选年度合计）",
    )
    fig.update_traces(root_color="#eeeeee")
    return ui.style(fig, height=520)


@ui.figure_cache
def shares_figure(shares: pl.DataFrame) -> go.Figure:
    order = [m.name for m in catalogue().values()]
    fig = px.line(
        shares.sort("year"),
        x="year",
        y="value",
        color="指标",
        markers=True,
        title="公开率与各类结果占比",
        hover_data={"numerator": ":,.0f", "denominator": ":,.0f", "n_reports": True},
        labels={"numerator": "分子", "denominator": "分母", "n_reports": "计入报告数"},
        category_orders={"指标": [n for n in order if n in set(shares["指标"].to_list())]},
    )
    fig.update_xaxes(dtick=1)
    return ui.style(fig, height=420, percent_axis=True)


@ui.figure_cache
def backlog_figure(backlog: pl.DataFrame) -> go.Figure:
    fig = px.bar(
        backlog.sort("year"),
        x="year",
        y="value",
        color="项目",
        barmode="group",
        title="上年结转与结转下年度（件）",
        labels={"value": "件"},
    )
    fig.update_xaxes(dtick=1)
    return ui.style(fig, height=340)


filters = ui.page_start("依申请公开（表三）")
if filters is None:
    st.stop()
reg = registry()
names = {k: m.name for k, m in catalogue().items()}

st.subheader("本年新收申请：按申请人类型")
applicants = query("applicants_by_year", filters)
if applicants.filter(pl.col("value").is_not_null()).is_empty():
    st.info("当前筛选条件下没有表三数据。")
    st.stop()
applicants = applicants.with_columns(
    pl.col("metric")
    .replace_strict({f"count.{f.key}": f.col_label_short for f in reg.select(table="t3")}, default=None)
    .alias("申请人类型")
)
ui.chart(applicants_figure(applicants))

st.subheader("办理结果构成")
outcomes = query("outcomes_by_year", filters)
bars_tab, tree_tab = ui.lazy_tabs(["各年度（堆叠柱状图）", "结果层级（矩形树图）"], key="rq_outcomes")
if bars_tab.open:
    ui.chart(outcome_bars_figure(outcomes), where=bars_tab)
if tree_tab.open:
    tree = (
        outcomes.group_by("group", "row", maintain_order=True)
        .agg(pl.col("value").sum())
        .filter(pl.col("value") > 0)
    )
    if tree.is_empty():
        tree_tab.info("所选范围内办理结果均为 0 或空白。")
    else:
        ui.chart(outcome_tree_figure(tree), where=tree_tab)

st.subheader("公开率与各类结果占比")
shares = query("outcome_shares_by_year", filters).with_columns(
    pl.col("metric").replace_strict(names).alias("指标")
)
order = list(names.values())
ui.rate_caption(metric("rate.disclosure"))
st.caption(
    f"各类结果占比的分母同为：{metric('share.granted').denominator_text}；分子为该类各行的「总计」之和。"
)
chart_tab, table_tab = ui.lazy_tabs(["折线图", "逐年比率（含分子、分母）"], key="rq_shares")
if chart_tab.open:
    ui.chart(shares_figure(shares), where=chart_tab)
if table_tab.open:
    with table_tab:
        ui.table(
            shares.select(
                pl.col("year").alias("年度"),
                "指标",
                pl.col("value").alias("比率"),
                pl.col("numerator").alias("分子"),
                pl.col("denominator").alias("分母"),
                pl.col("n_reports").alias("计入报告数"),
            ).sort(
                pl.col("年度"),
                pl.col("指标").replace_strict({n: i for i, n in enumerate(order)}, default=None),
            ),
            column_config={"比率": st.column_config.NumberColumn(format="percent")},
        )

st.subheader("结转（积压）")
backlog = query("backlog_by_year", filters).with_columns(
    pl.col("metric")
    .replace_strict(
        {k: reg[k.removeprefix("count.")].row_label for k in names if k.startswith("count.t3")}, default=None
    )
    .alias("项目")
)
ui.chart(backlog_figure(backlog))
