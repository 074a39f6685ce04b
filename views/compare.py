"""机关对比: 2–10 agencies side by side over time, and rankings within a peer group (small-number guard)."""

import plotly.express as px
import plotly.graph_objects as go
import polars as pl
import streamlit as st

from pipeline.dashboard import charts, ui
from pipeline.dashboard.agency_picker import pick_agencies
from pipeline.dashboard.data import query
from pipeline.dashboard.pages import page
from pipeline.metrics import (
    agency_series,
    catalogue,
    chosen_reports,
    metric,
    peer_groups,
    peer_ranking,
    selection_years,
)

UNKNOWN = charts.UNKNOWN
RANKED, CHOSEN, NO_VALUE = "参与排名", "所选机关", "无数值"
CHART_BARS = 30  # bars of the ranking chart beyond the chosen agencies (one bar is 30 px; plotly draws each)


@charts.figure_cache
def series_figure(series: pl.DataFrame, title: str, is_rate: bool, min_n: int) -> go.Figure:
    """One line per chosen agency over the years (gaps where a year is missing, guarded rates grey)."""
    return charts.trend_lines(charts.inert_column(series, "agency"), "agency", title, percent=is_rate, min_n=min_n,
                              height=420)  # fmt: skip


@charts.figure_cache
def peer_figure(plot: pl.DataFrame, title: str, guarded: str, is_rate: bool) -> go.Figure:
    """The peer group's values as bars: the chosen agencies highlighted, rates under the guard in grey."""
    fig = px.bar(
        charts.inert_column(plot, "agency").sort("value"), x="value", y="agency", orientation="h", color="说明",
        title=title, text="标注",
        color_discrete_map={RANKED: "#9ecae1", CHOSEN: "#d62728", guarded: charts.GUARD_COLOR},
        category_orders={"说明": [CHOSEN, RANKED, guarded]}, labels={"agency": "", "value": "", "说明": ""},
    )  # fmt: skip
    fig.update_traces(textposition="outside", cliponaxis=False)
    fig.update_yaxes(categoryorder="total ascending")  # one order by value across the coloured groups
    if is_rate:
        fig.update_xaxes(tickformat=".0%")
    return charts.style(fig, height=130 + 30 * max(plot.height, 3))


def peer_label(agency_type: str | None, level: str | None) -> str:
    return f"{agency_type or UNKNOWN} · {level or UNKNOWN}"


filters = ui.page_start("compare")
if filters is None:
    st.stop()
cat = catalogue()
metric_key = ui.synced(
    st.selectbox, "指标", list(cat), key="cmp_metric", default="rate.disclosure", format_func=lambda k: cat[k].name
)
m = metric(metric_key)
ui.rate_caption(m)

st.subheader("选定机关对比")
chosen = pick_agencies("选择 2–10 个机关", "cmp_agencies", filters, max_selections=10, what="对比机关")
# the chosen agencies' reports in the selection (the sidebar's agency choice aside): a handful of rows
reports = query(chosen_reports, filters, tuple(chosen)) if chosen else None
if reports is not None:  # each chosen agency's report card, for its latest year in the selection
    latest = reports.filter(pl.col("agency").is_in(chosen)).group_by("agency").agg(pl.col("year").max())
    cols = st.columns(min(len(chosen), 5))
    for i, (name, last) in enumerate(latest.sort("agency").iter_rows()):
        if last is not None:
            cols[i % len(cols)].page_link(page("card").file, label=f"报告卡：{name} {last}",
                                          query_params={"card_agency": name, "card_year": str(last)})  # fmt: skip
if len(chosen) < 2:
    st.info("请至少选择 2 个机关进行对比（最多 10 个）。")
else:
    series = query(agency_series, filters, metric_key, list(chosen))
    if series.filter(pl.col("value").is_not_null()).is_empty():
        st.info("所选机关在所选范围内没有该指标的数值。")
    else:
        charts.chart(series_figure(series, m.name, m.is_rate, filters.min_n))
        ui.guard_note(series, filters)
        cols = {"agency": "机关", "year": "年度", "value": "数值", "numerator": "分子", "denominator": "分母"}
        ui.table(
            series.with_columns(pl.when(pl.col("guarded")).then(None).otherwise(pl.col("value")).alias("value"))
            .select(list(cols)).rename(cols),
            column_config={"数值": st.column_config.NumberColumn(format="percent")} if m.is_rate else None,
        )  # fmt: skip

st.subheader("同类机关排名")
st.caption("同类机关 = 机关类型和行政层级都相同（不限地区）。排名第 1 为数值最高。所选机关以红色标出。")
years = query(selection_years, filters)
c1, c2 = st.columns([1, 3])
ui.checked_param("rank_year", "排名年度", years)
rank_year = c1.selectbox("年度", years, key="rank_year", bind=ui.BIND)
if rank_year is None:
    st.info("没有可排名的年度。")
    st.stop()
groups = query(peer_groups, filters, metric_key, int(rank_year))
if groups.is_empty():
    st.info("该年度没有报告。")
    st.stop()
labels = {peer_label(t, lv): (t, lv, n, total) for t, lv, n, total in groups.iter_rows()}
# the default group is the one with the most rankable agencies; one holding a chosen agency comes first
chosen_groups = [] if reports is None else [
    peer_label(t, lv)
    for t, lv in reports.filter(pl.col("agency").is_in(chosen) & (pl.col("year") == rank_year))
    .select("agency_type", "level").unique().iter_rows()
]  # fmt: skip
default = next((g for g in chosen_groups if labels.get(g, (0, 0, 0))[2]), next(iter(labels)))
ui.checked_param("peer", "同类机关组", list(labels))
peer = c2.selectbox(
    "同类机关组（括号内为可排名的机关数 / 机关数）", list(labels), index=list(labels).index(default), key="peer",
    bind=ui.BIND, format_func=lambda g: f"{g}（{labels[g][2]} / {labels[g][3]}）",
)  # fmt: skip
a_type, level, _, _ = labels[peer]
ranking = query(peer_ranking, filters, metric_key, int(rank_year))
group = ranking.filter(
    (pl.col("agency_type").fill_null(UNKNOWN) == (a_type or UNKNOWN))
    & (pl.col("level").fill_null(UNKNOWN) == (level or UNKNOWN))
)
guarded = f"分母不足 {filters.min_n}，不排名"
group = group.with_columns(
    pl.when(pl.col("eligible") & pl.col("agency").is_in(chosen)).then(pl.lit(CHOSEN))
    .when(pl.col("eligible")).then(pl.lit(RANKED))
    .when(pl.col("value").is_null()).then(pl.lit(NO_VALUE))
    .otherwise(pl.lit(guarded)).alias("说明"),
    pl.col("agency").is_in(chosen).alias("chosen"),
)  # fmt: skip
plot = group.filter(pl.col("value").is_not_null()).with_columns(
    pl.when(pl.col("说明") == guarded).then(pl.format("n={}", pl.col("denominator").cast(pl.Int64)))
    .when(pl.lit(m.is_rate)).then(pl.format("{}%", (pl.col("value") * 100).round(1)))
    .otherwise(pl.col("value").cast(pl.Int64).cast(pl.String)).alias("标注"),
    # a guarded rate is drawn as a stub at 0: its bar length would show the number the guard hides
    pl.when(pl.col("说明") == guarded).then(0.0).otherwise(pl.col("value")).alias("value"),
)  # fmt: skip
if plot.height > CHART_BARS:  # a national peer group holds thousands: the chart shows the top and the chosen
    st.caption(
        f"该组有数值的机关共 {plot.height:,} 个：图中只画排名最前的 {CHART_BARS} 个机关与所选机关，完整排名见下表。"
    )
    plot = charts.top_ranked(plot, CHART_BARS)
if plot.is_empty():
    st.info("该组在该年度没有这一指标的数值。")
else:
    charts.chart(peer_figure(plot, f"{peer} · {rank_year} 年 · {m.name}", guarded, m.is_rate))
cols = {"rank": "排名", "agency": "机关", "province": "省份", "value": "数值", "numerator": "分子",
        "denominator": "分母", "说明": "说明", "group_size": "参与排名机关数"}  # fmt: skip
ui.table(
    group.with_columns(pl.when(pl.col("说明") == guarded).then(None).otherwise(pl.col("value")).alias("value"))
    .sort(["chosen", "rank"], descending=[True, False], nulls_last=True).select(list(cols)).rename(cols),
    column_config={"数值": st.column_config.NumberColumn(format="percent")} if m.is_rate else None,
)  # fmt: skip
