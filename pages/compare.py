"""机关对比: 2–10 agencies side by side over time, and rankings within a peer group (small-number guard)."""

import plotly.express as px
import plotly.graph_objects as go
import polars as pl
import streamlit as st

from pipeline.dashboard import ui
from pipeline.dashboard.data import query
from pipeline.metrics import catalogue, metric


@ui.figure_cache
def series_figure(series: pl.DataFrame, title: str, is_rate: bool) -> go.Figure:
    """One line per chosen agency over the years."""
    fig = px.line(
        ui.inert_column(series, "agency").sort("year"),
        x="year",
        y="value",
        color="agency",
        markers=True,
        title=title,
        labels={"agency": "机关", "value": ""},
    )
    fig.update_xaxes(dtick=1)
    return ui.style(fig, height=420, percent_axis=is_rate)


@ui.figure_cache
def peer_figure(plot: pl.DataFrame, title: str, guarded: str, is_rate: bool) -> go.Figure:
    """The peer group's values as bars; rates under the small-number guard in grey."""
    fig = px.bar(
        ui.inert_column(plot, "agency").sort("value"),
        x="value",
        y="agency",
        orientation="h",
        color="说明",
        title=title,
        color_discrete_map={"参与排名": "#1f77b4", guarded: "#c8c8c8"},
        labels={"agency": "", "value": ""},
    )
    if is_rate:
        fig.update_xaxes(tickformat=".0%")
    return ui.style(fig, height=max(300, 26 * plot.height + 120))


filters = ui.page_start("机关对比")
if filters is None:
    st.stop()
cat = catalogue()
metric_key = ui.synced(
    st.selectbox,
    "指标",
    list(cat),
    key="cmp_metric",
    default="rate.disclosure",
    format_func=lambda k: cat[k].name,
)
m = metric(metric_key)
ui.rate_caption(m)

reports = query("selected_reports", filters)
agencies = sorted({a for a in reports["agency"].to_list() if a is not None})

st.subheader("选定机关对比")
chosen = st.multiselect(
    "选择 2–10 个机关",
    agencies,
    key="cmp_agencies",
    bind=ui.BIND,
    max_selections=10,
    placeholder="输入机关名称搜索",
)
if len(chosen) < 2:
    st.info("请至少选择 2 个机关进行对比（最多 10 个）。")
else:
    series = query("agency_series", filters, metric_key, list(chosen))
    if series.filter(pl.col("value").is_not_null()).is_empty():
        st.info("所选机关在所选范围内没有该指标的数值。")
    else:
        ui.chart(series_figure(series, m.name, m.is_rate))
        cols = {"agency": "机关", "year": "年度", "value": "数值", "numerator": "分子", "denominator": "分母"}
        ui.table(
            series.select(list(cols)).rename(cols),
            column_config={"数值": st.column_config.NumberColumn(format="percent")} if m.is_rate else None,
        )

st.subheader("同类机关排名")
st.caption("同类机关 = 机关类型和行政层级都相同（不限地区）。排名第 1 为数值最高。")
years = sorted({y for y in reports["year"].to_list() if y is not None}, reverse=True)
c1, c2, c3 = st.columns(3)
rank_year = c1.selectbox("年度", years, key="rank_year", bind=ui.BIND)
min_n = c2.number_input(
    "最少分母（小数字保护）",
    min_value=0,
    value=10,
    step=1,
    key="min_n",
    bind=ui.BIND,
    help="比率的分母小于该值时不参与排名，在表中标灰显示。",
    disabled=not m.is_rate,
)
ranking = query("peer_ranking", filters, metric_key, int(rank_year), float(min_n))
if ranking.is_empty():
    st.info("该年度没有报告。")
    st.stop()
groups = (
    ranking.select(
        (
            pl.col("agency_type").fill_null("（未识别）") + " · " + pl.col("level").fill_null("（未识别）")
        ).alias("peer")
    )["peer"]
    .unique()
    .sort()
    .to_list()
)
peer = c3.selectbox("同类机关组", groups, key="peer", bind=ui.BIND)
a_type, level = peer.split(" · ", 1)
group = ranking.filter(
    (pl.col("agency_type").fill_null("（未识别）") == a_type)
    & (pl.col("level").fill_null("（未识别）") == level)
)
group = group.with_columns(
    pl.when(pl.col("eligible"))
    .then(pl.lit("参与排名"))
    .when(pl.col("value").is_null())
    .then(pl.lit("无数值"))
    .otherwise(pl.lit(f"分母不足 {min_n}，不排名"))
    .alias("说明")
)
plot = group.filter(pl.col("value").is_not_null())
if not plot.is_empty():
    ui.chart(peer_figure(plot, f"{peer} · {rank_year} 年 · {m.name}", f"分母不足 {min_n}，不排名", m.is_rate))
cols = {
    "rank": "排名",
    "agency": "机关",
    "province": "省份",
    "value": "数值",
    "numerator": "分子",
    "denominator": "分母",
    "说明": "说明",
    "group_size": "参与排名机关数",
}
ui.table(
    group.select(list(cols)).rename(cols),
    column_config={"数值": st.column_config.NumberColumn(format="percent")} if m.is_rate else None,
)
