"""总览: agencies, reports, years, missing reports and headline totals and rates with year-over-year change."""

import plotly.express as px
import plotly.graph_objects as go
import polars as pl
import streamlit as st

from pipeline.dashboard import ui
from pipeline.dashboard.data import query
from pipeline.metrics import metric


@ui.figure_cache
def headline_figure(headline: pl.DataFrame, prefix: str) -> go.Figure:
    """The headline counts (``count.``) or rates (``rate.``) by year, one line per metric (named in 指标)."""
    df = headline.filter(pl.col("metric").str.starts_with(prefix))
    title = "申请与复议数量（件）" if prefix == "count." else "公开率与纠错率"
    fig = px.line(df.sort("year"), x="year", y="value", color="指标", markers=True, title=title)
    fig.update_xaxes(dtick=1)
    if prefix == "count.":
        fig.update_yaxes(rangemode="tozero")
    return ui.style(fig, percent_axis=prefix == "rate.")


@ui.figure_cache
def coverage_figure(matrix: pl.DataFrame) -> go.Figure:
    by_year = matrix.group_by("year", "status").len().sort("year")
    fig = px.bar(
        by_year,
        x="year",
        y="len",
        color="status",
        title="各年度报告状态（份）",
        category_orders={"status": ["通过", "有警告", "有错误", "缺报"]},
        color_discrete_map={"通过": "#2e7d32", "有警告": "#f9a825", "有错误": "#c62828", "缺报": "#9e9e9e"},
        labels={"len": "份数", "status": "状态"},
    )
    fig.update_xaxes(dtick=1)
    return ui.style(fig, height=320)


filters = ui.page_start("总览")
if filters is None:
    st.stop()

counts = query("overview_counts", filters)
cols = st.columns(5)
cols[0].metric("机关数", counts["n_agencies"])
cols[1].metric("报告数", counts["n_reports"])
cols[2].metric(
    "覆盖年度", f"{counts['year_min']}–{counts['year_max']}", help=f"共 {counts['n_years']} 个年度"
)
cols[3].metric("缺报（机关×年度）", counts["n_missing"], help="所选年度内该机关没有当前版本的报告")
cols[4].metric("未通过硬性校验的报告", counts["n_failing"])

headline = query("headline_by_year", filters)
headline = headline.with_columns(  # each metric's official name, once, for the charts and the table
    pl.col("metric").replace_strict({k: metric(k).name for k in headline["metric"].unique()}).alias("指标")
)
years = sorted(y for y in headline["year"].unique().to_list() if y is not None)
if years:
    latest = years[-1]
    st.subheader(f"{latest} 年主要指标（与上一年比较）")
    cols = [*st.columns(3), *st.columns(3)]
    for col, key in zip(
        cols[:5],
        [
            "count.t3.new_received.total",
            "count.t3.result_total.total",
            "rate.disclosure",
            "count.t4.review.total",
            "rate.correction.review",
        ],
        strict=True,
    ):
        m = metric(key)
        row = headline.filter((pl.col("metric") == key) & (pl.col("year") == latest)).row(0, named=True)
        label = m.name.split("「", 1)[-1].rstrip("」")  # counts: the cell's official label
        if m.is_rate:
            delta = None if row["change"] is None else f"{row['change'] * 100:+.1f} 个百分点"
            col.metric(
                label,
                ui.fmt_pct(row["value"]),
                delta,
                help=f"{m.formula}\n\n分母合计：{ui.fmt_num(row['denominator'])}",
            )
        else:
            delta = None if row["change"] is None else f"{row['change']:+,.0f}"
            col.metric(label, ui.fmt_num(row["value"]), delta, help=m.formula)
    ui.rate_caption(metric("rate.disclosure"))
    ui.rate_caption(metric("rate.correction.review"))

    table_tab, counts_tab, rates_tab = ui.lazy_tabs(
        ["逐年数值与同比（表，含分母）", "申请与复议数量（图）", "公开率与纠错率（图）"], key="ov_trend"
    )
    if table_tab.open:
        with table_tab:
            ui.table(
                headline.select("year", "指标", pl.exclude("year", "指标", "metric")),
                {
                    "year": "年度",
                    "value": "数值",
                    "numerator": "分子",
                    "denominator": "分母",
                    "n_reports": "计入报告数",
                    "prev_value": "上年数值",
                    "change": "同比变化",
                    "change_pct": "同比变化率",
                },
                column_config={"同比变化率": st.column_config.NumberColumn(format="percent")},
            )
    if counts_tab.open:
        ui.chart(headline_figure(headline, "count."), where=counts_tab)
    if rates_tab.open:
        ui.chart(headline_figure(headline, "rate."), where=rates_tab)

st.subheader("报告覆盖：机关 × 年度")
matrix = query("coverage_matrix", filters)
grid_tab, chart_tab = ui.lazy_tabs(["机关 × 年度矩阵（表）", "各年度状态汇总（图）"], key="ov_coverage")
if grid_tab.open:
    with grid_tab:
        only_missing = st.toggle("只看有缺报的机关", key="ov_missing", bind=ui.BIND)
        grid = matrix.pivot(on="year", index="agency", values="status", sort_columns=True)
        if only_missing:
            grid = grid.filter(pl.any_horizontal(pl.exclude("agency") == "缺报"))
        ui.table(grid.rename({"agency": "机关"}), height=360)
if chart_tab.open:
    ui.chart(coverage_figure(matrix), where=chart_tab)
st.caption(
    "缺报 = 所选年度内该机关没有当前版本的报告（年度范围为左侧所选年度，未选择时为数据中出现的全部年度）。"
)
