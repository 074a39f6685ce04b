"""依申请公开 (表三): new requests by applicant type, outcome composition, 公开率 and shares, regions, backlog."""

import plotly.express as px
import plotly.graph_objects as go
import polars as pl
import streamlit as st

from pipeline.dashboard import charts, ui
from pipeline.dashboard.data import query
from pipeline.metrics import (
    applicants_by_year,
    backlog_by_year,
    by_region,
    catalogue,
    drop_leading_empty_years,
    metric,
    outcome_groups,
    outcome_shares_by_year,
    outcomes_by_year,
)
from pipeline.registry import registry

RESULT_TOTAL = "count.t3.result_total.total"


@charts.figure_cache
def applicants_figure(applicants: pl.DataFrame) -> go.Figure:
    reg = registry()
    fig = px.bar(
        applicants.sort("year"), x="year", y="value", color="申请人类型",
        category_orders={"申请人类型": [label for c, label in reg.columns("t3") if c != "total"]},
        title=reg["t3.new_received.total"].row_label + "（件）", labels={"value": "件"},
    )  # fmt: skip
    charts.year_axis(fig, applicants["year"].to_list())
    return charts.style(fig)


@charts.figure_cache
def outcome_bars_figure(outcomes: pl.DataFrame) -> go.Figure:
    """Outcome groups stacked per year, the （七）总计 of the same reports written above each bar."""
    parts = outcomes.filter(pl.col("metric") != RESULT_TOTAL)
    groups = parts.group_by("year", "group", maintain_order=True).agg(pl.col("value").sum())
    fig = px.bar(
        groups.sort("year"), x="year", y="value", color="group", title="各年度办理结果（件）",
        category_orders={"group": [label for label, _ in outcome_groups()]}, labels={"value": "件", "group": "办理结果"},
    )  # fmt: skip
    totals = outcomes.filter(pl.col("metric") == RESULT_TOTAL).sort("year")
    fig.add_trace(
        go.Scatter(
            x=totals["year"].to_list(), y=totals["value"].to_list(), mode="markers+text", name="（七）总计",
            text=[charts_num(v) for v in totals["value"].to_list()], textposition="top center",
            marker={"symbol": "line-ew-open", "size": 28, "color": "#333333", "line": {"width": 2}},
        )
    )  # fmt: skip
    charts.year_axis(fig, groups["year"].to_list())
    return charts.style(fig, height=440)


def charts_num(value: float | None) -> str:
    return "" if value is None else f"{value:,.0f}"


@charts.figure_cache
def outcome_tree_figure(tree: pl.DataFrame) -> go.Figure:
    """The outcome hierarchy (total → group → row) over the selected years."""
    fig = px.treemap(
        tree, path=[px.Constant(registry()["t3.result_total.total"].row_label), "group", "row"], values="value",
        title="办理结果层级（所选年度合计）",
    )  # fmt: skip
    fig.update_traces(root_color="#eeeeee")
    return charts.style(fig, height=520)


@charts.figure_cache
def shares_figure(shares: pl.DataFrame, min_n: int) -> go.Figure:
    order = [m.name for m in catalogue().values() if m.name in set(shares["指标"].to_list())]
    return charts.trend_lines(shares, "指标", "公开率与各类结果占比", percent=True, min_n=min_n, height=420,
                              order=order)  # fmt: skip


@charts.figure_cache
def region_figure(regions: pl.DataFrame, title: str, min_n: int) -> go.Figure:
    """公开率 per region as bars; a region under the small-number guard is a grey bar labelled with its n."""
    df = (
        charts.inert_column(regions, "region")
        .with_columns(
            pl.when(pl.col("guarded")).then(pl.lit(f"分母不足 {min_n}")).otherwise(pl.lit("公开率")).alias("说明"),
            pl.when(pl.col("guarded"))
            .then(pl.format("n={}", pl.col("denominator").cast(pl.Int64)))
            .otherwise(pl.format("{}%", (pl.col("value") * 100).round(1)))
            .alias("标注"),
        )
        .sort("value")
    )
    fig = px.bar(
        df, x="value", y="region", orientation="h", color="说明", text="标注", title=title,
        color_discrete_map={"公开率": "#1f77b4", f"分母不足 {min_n}": charts.GUARD_COLOR},
        hover_data={"numerator": ":,.0f", "denominator": ":,.0f", "n_reports": True},
        labels={"value": "", "region": "", "numerator": "分子", "denominator": "分母", "n_reports": "计入报告数"},
    )  # fmt: skip
    fig.update_xaxes(tickformat=".0%")
    fig.update_yaxes(categoryorder="total ascending")
    return charts.style(fig, height=max(320, 24 * df.height + 120))


@charts.figure_cache
def backlog_figure(backlog: pl.DataFrame) -> go.Figure:
    fig = px.bar(
        backlog.sort("year"), x="year", y="value", color="项目", barmode="group", title="上年结转与结转下年度（件）",
        labels={"value": "件"},
    )  # fmt: skip
    charts.year_axis(fig, backlog["year"].to_list())
    return charts.style(fig, height=340)


filters = ui.page_start("requests")
if filters is None:
    st.stop()
reg = registry()
names = {k: m.name for k, m in catalogue().items()}

st.subheader("本年新收申请：按申请人类型")
applicants = drop_leading_empty_years(query(applicants_by_year, filters))
if applicants.is_empty():
    st.info("当前筛选条件下没有表三数据。")
    st.stop()
applicants = applicants.with_columns(
    pl.col("metric")
    .replace_strict({f"count.{f.key}": f.col_label_short for f in reg.select(table="t3")}, default=None)
    .alias("申请人类型")
)
charts.chart(applicants_figure(applicants))
ui.panel_note(filters)

st.subheader("办理结果构成")
outcomes = drop_leading_empty_years(query(outcomes_by_year, filters))
bars_tab, tree_tab = ui.lazy_tabs(["各年度（堆叠柱状图）", "结果层级（矩形树图）"], key="rq_outcomes")
if bars_tab.open:
    charts.chart(outcome_bars_figure(outcomes), where=bars_tab)
if tree_tab.open:
    tree = (
        outcomes.filter(pl.col("metric") != RESULT_TOTAL)
        .group_by("group", "row", maintain_order=True)
        .agg(pl.col("value").sum())
        .filter(pl.col("value") > 0)
    )
    if tree.is_empty():
        tree_tab.info("所选范围内办理结果均为 0 或空白。")
    else:
        charts.chart(outcome_tree_figure(tree), where=tree_tab)
ui.left_out_note(outcomes, RESULT_TOTAL, "办理结果构成只用各项结果都能确定的报告：")
st.caption(
    "柱顶数字为同一批报告的（七）总计；各项之和与之不同时，差额来自办理结果与总计本身不符的报告（见「数据质量」T3-2）。"
)

st.subheader("公开率与各类结果占比")
shares = query(outcome_shares_by_year, filters).with_columns(pl.col("metric").replace_strict(names).alias("指标"))
order = list(names.values())
ui.rate_caption(metric("rate.disclosure"))
st.caption(f"各类结果占比的分母同为：{metric('share.granted').denominator_text}；分子为该类各行的「总计」之和。")
chart_tab, table_tab, region_tab = ui.lazy_tabs(
    ["折线图", "逐年比率（含分子、分母）", "公开率：按地区"], key="rq_shares"
)
if chart_tab.open:
    charts.chart(shares_figure(shares, filters.min_n), where=chart_tab)
if table_tab.open:
    with table_tab:
        ui.table(
            shares.select(
                pl.col("year").alias("年度"), "指标",
                pl.when(pl.col("guarded")).then(None).otherwise(pl.col("value")).alias("比率"),
                pl.col("numerator").alias("分子"), pl.col("denominator").alias("分母"),
                pl.col("n_reports").alias("计入报告数"), pl.col("n_derived").alias("其中总计为推算值"),
                pl.col("n_left_out").alias("未计入报告数"),
                pl.when(pl.col("guarded")).then(pl.lit(f"分母不足 {filters.min_n}")).otherwise(pl.lit(""))
                .alias("小数字保护"),
            ).sort(pl.col("年度"), pl.col("指标").replace_strict({n: i for i, n in enumerate(order)}, default=None)),
            column_config={"比率": st.column_config.NumberColumn(format="percent")},
        )  # fmt: skip
if region_tab.open:
    regions = query(by_region, filters, ["rate.disclosure"])
    level = "省份" if filters.province is None else "市（地区）"
    if regions.filter(pl.col("value").is_not_null()).is_empty():
        region_tab.info("所选范围内没有能计算公开率的报告。")
    else:
        charts.chart(
            region_figure(regions.filter(pl.col("value").is_not_null()), f"公开率：按{level}（所选年度合计）",
                          filters.min_n),
            where=region_tab,
        )  # fmt: skip
        with region_tab:
            ui.guard_note(regions, filters)
ui.left_out_note(shares, "rate.disclosure", "公开率：")
ui.guard_note(shares, filters)

st.subheader("结转（积压）")
backlog = drop_leading_empty_years(query(backlog_by_year, filters)).with_columns(
    pl.col("metric")
    .replace_strict(
        {k: reg[k.removeprefix("count.")].row_label for k in names if k.startswith("count.t3")}, default=None
    )
    .alias("项目")
)
charts.chart(backlog_figure(backlog))
