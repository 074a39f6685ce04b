"""总览: agencies, reports, years, missing reports and headline totals and rates with a like-for-like change."""

import plotly.express as px
import plotly.graph_objects as go
import polars as pl
import streamlit as st

from pipeline.dashboard import charts, ui
from pipeline.dashboard.data import query
from pipeline.metrics import (
    HEADLINE_KEYS,
    coverage_by_year,
    coverage_grid,
    drop_leading_empty_years,
    headline_by_year,
    headline_series,
    metric,
    overview_counts,
)

COVERAGE_COLORS = {"通过": "#2e7d32", "有警告": "#f9a825", "有错误": "#c62828", "缺报": "#9e9e9e"}


@charts.figure_cache
def headline_figure(series: pl.DataFrame, prefix: str, min_n: int) -> go.Figure:
    """The headline counts (``count.``) or rates (``rate.``) by year, one line per metric (named in 指标)."""
    df = series.filter(pl.col("metric").str.starts_with(prefix))
    title = "申请与复议数量（件）" if prefix == "count." else "公开率与纠错率"
    fig = charts.trend_lines(df, "指标", title, percent=prefix == "rate.", min_n=min_n)
    if prefix == "count.":
        fig.update_yaxes(rangemode="tozero")
    return fig


@charts.figure_cache
def coverage_figure(by_year: pl.DataFrame) -> go.Figure:
    fig = px.bar(
        by_year, x="year", y="len", color="status", title="各年度报告状态（份）",
        category_orders={"status": list(COVERAGE_COLORS)}, color_discrete_map=COVERAGE_COLORS,
        labels={"len": "份数", "status": "状态"},
    )  # fmt: skip
    charts.year_axis(fig, by_year["year"].to_list())
    return charts.style(fig, height=320)


def short_name(key: str) -> str:
    """A count's cell label without the table prefix (新收 …), a rate's own name."""
    return metric(key).name.split("「", 1)[-1].rstrip("」")


filters = ui.page_start("overview")
if filters is None:
    st.stop()

counts = query(overview_counts, filters)
cols = st.columns(5)
cols[0].metric("机关数", counts["n_agencies"])
cols[1].metric("报告数", counts["n_reports"])
cols[2].metric("覆盖年度", f"{counts['year_min']}–{counts['year_max']}", help=f"共 {counts['n_years']} 个年度")
cols[3].metric("缺报（机关×年度）", counts["n_missing"], help="所选年度内该机关没有当前版本的报告")
cols[4].metric("未通过硬性校验的报告", counts["n_failing"])

headline = drop_leading_empty_years(query(headline_by_year, filters))
names = {k: metric(k).name for k in HEADLINE_KEYS}
headline = headline.with_columns(pl.col("metric").replace_strict(names).alias("指标"))
years = sorted(y for y in headline["year"].unique().to_list() if y is not None)
matched = filters.panel == "matched"
if years:
    latest = years[-1]
    st.subheader(f"{latest} 年主要指标（与上一年比较）")
    cols = [*st.columns(3), *st.columns(3)]
    for col, key in zip(cols[:5], HEADLINE_KEYS, strict=True):
        m = metric(key)
        row = headline.filter((pl.col("metric") == key) & (pl.col("year") == latest)).row(0, named=True)
        basis = (
            f"同口径：{latest - 1}、{latest} 两年都有数值的 {row['n_matched']:,} 个机关"
            f"（{latest} 年 {row['n_agencies']:,} 个，{latest - 1} 年 {row['n_agencies_prev']:,} 个）"
            if matched
            else f"全部报告：{latest} 年 {row['n_agencies']:,} 个机关，{latest - 1} 年 {row['n_agencies_prev']:,} 个"
        )
        if m.is_rate:
            value = "—" if row["guarded"] else ui.fmt_pct(row["value"])
            delta = None if row["change"] is None else f"{row['change'] * 100:+.1f} 个百分点"
            help_text = f"{m.formula}\n\n分母合计：{ui.fmt_num(row['denominator'])}\n\n变化：{basis}"
        else:
            value = ui.fmt_num(row["value"])
            delta = None if row["change"] is None else f"{row['change']:+,.0f}"
            help_text = f"{m.formula}\n\n变化：{basis}"
        col.metric(short_name(key), value, delta, help=help_text)
        col.caption(basis)
    ui.rate_caption(metric("rate.disclosure"))
    ui.left_out_note(headline.filter(pl.col("year") == latest), "rate.disclosure", f"{latest} 年公开率")

    table_tab, counts_tab, rates_tab = ui.lazy_tabs(
        ["逐年数值与同比（表，含分母与覆盖）", "申请与复议数量（图）", "公开率与纠错率（图）"], key="ov_trend"
    )
    if table_tab.open:
        with table_tab:
            ui.table(
                headline.select(
                    "year", "指标", "value", "numerator", "denominator", "n_reports", "n_left_out", "n_agencies",
                    "n_agencies_prev", "n_matched", "matched_prev", "matched_value", "change", "change_pct",
                ),
                {
                    "year": "年度", "value": "数值（全部报告）", "numerator": "分子", "denominator": "分母",
                    "n_reports": "计入报告数", "n_left_out": "未计入报告数", "n_agencies": "本年机关数",
                    "n_agencies_prev": "上年机关数", "n_matched": "两年都有的机关数", "matched_prev": "同口径上年",
                    "matched_value": "同口径本年", "change": "同比变化", "change_pct": "同比变化率",
                },
                column_config={"同比变化率": st.column_config.NumberColumn(format="percent")},
            )  # fmt: skip
            st.caption(
                "同比变化：" + ("只比较两年都有数值的机关（同口径上年 → 同口径本年）。" if matched
                               else "当年全部报告与上年全部报告之差（机关构成可能不同）。")
            )  # fmt: skip
    if counts_tab.open or rates_tab.open:
        series = query(headline_series, filters).with_columns(pl.col("metric").replace_strict(names).alias("指标"))
        for tab, prefix in ((counts_tab, "count."), (rates_tab, "rate.")):
            if tab.open:
                charts.chart(headline_figure(series, prefix, filters.min_n), where=tab)
                with tab:
                    ui.panel_note(filters)

st.subheader("报告覆盖：机关 × 年度")
grid_tab, chart_tab = ui.lazy_tabs(["机关 × 年度矩阵（表）", "各年度状态汇总（图）"], key="ov_coverage")
if grid_tab.open:
    with grid_tab:
        only_missing = st.toggle("只看有缺报的机关", key="ov_missing", bind=ui.BIND)
        coverage = query(coverage_grid, filters, only_missing)
        ui.table(coverage.grid.rename({"agency": "机关"}), height=360)
        ui.grid_note(coverage)
if chart_tab.open:
    charts.chart(coverage_figure(query(coverage_by_year, filters)), where=chart_tab)
st.caption(
    "缺报 = 所选年度内该机关没有当前版本的报告（年度范围为左侧所选年度，未选择时为数据中有 2019 或 2021 年版报告的年度）。"
)
