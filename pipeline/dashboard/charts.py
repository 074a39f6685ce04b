"""Chart helpers shared by the pages: styling, a figure cache, year axes, trend lines with gaps and the guard.

Untrusted text (agency names) reaches plotly only through :func:`inert` / :func:`inert_column`, because plotly
renders a subset of HTML tags in labels.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ParamSpec

import plotly.express as px
import plotly.graph_objects as go
import polars as pl
import streamlit as st

from pipeline.dashboard import plotly_view
from pipeline.metrics import with_missing_years

P = ParamSpec("P")
FONT_FAMILY = "WenQuanYi Micro Hei, Noto Sans CJK SC, Microsoft YaHei, PingFang SC, sans-serif"
GUARD_COLOR = "#b0b0b0"
UNKNOWN = "（未识别）"
# Streamlit's light chart theme, written out: the figures are drawn by plotly_view (not st.plotly_chart, which
# would fill in the placeholder colours of Streamlit's own "streamlit" template in the browser).
CATEGORY_COLORS = ["#0068c9", "#83c9ff", "#ff2b2b", "#ffabab", "#29b09d", "#7defa1", "#ff8700", "#ffd16a", "#6d3fc0",
                   "#d5dae5"]  # fmt: skip
TEXT_COLOR, FADED_TEXT, GRID_COLOR = "#31333f", "#808495", "#e6eaf1"
_AXIS = {"gridcolor": GRID_COLOR, "linecolor": GRID_COLOR, "zeroline": False, "automargin": True,
         "tickfont": {"color": FADED_TEXT}, "title": {"font": {"color": FADED_TEXT}}}  # fmt: skip
TEMPLATE = go.layout.Template(
    layout={
        "colorway": CATEGORY_COLORS,
        "font": {"color": TEXT_COLOR},
        "paper_bgcolor": "#ffffff",
        "plot_bgcolor": "#ffffff",
        "title": {"font": {"color": TEXT_COLOR, "weight": 600}},
        "xaxis": {**_AXIS, "showgrid": False},
        "yaxis": {**_AXIS, "showgrid": True},
        "hoverlabel": {"bgcolor": "#ffffff", "bordercolor": GRID_COLOR, "font": {"color": TEXT_COLOR}},
        "legend": {"font": {"color": TEXT_COLOR}},
    }
)
px.defaults.template = TEMPLATE  # plotly express writes the template's colours into the traces it builds


def inert(text: Any) -> str:
    """Text safe for plotly labels: plotly renders <b>, <a href>, <br> … in strings, so neutralise tags."""
    if text is None:
        return UNKNOWN
    return str(text).replace("&", "＆").replace("<", "＜").replace(">", "＞")


def inert_column(df: pl.DataFrame, *columns: str) -> pl.DataFrame:
    return df.with_columns(
        pl.col(c)
        .cast(pl.String)
        .fill_null(UNKNOWN)
        .str.replace_all("&", "＆", literal=True)
        .str.replace_all("<", "＜", literal=True)
        .str.replace_all(">", "＞", literal=True)
        for c in columns
    )


def style(fig: go.Figure, height: int = 380, percent_axis: bool = False) -> go.Figure:
    fig.update_layout(
        template=TEMPLATE,
        font={"family": FONT_FAMILY, "size": 13},
        height=height,
        margin={"l": 10, "r": 10, "t": 50, "b": 10},
        title={"x": 0, "xanchor": "left", "y": 0.98, "yanchor": "top", "font": {"size": 15}},
        # legend below the plot: long official labels wrap into rows there instead of covering the title
        legend={
            "orientation": "h",
            "yref": "container",
            "yanchor": "bottom",
            "y": 0,
            "xanchor": "left",
            "x": 0,
            "title": None,
        },  # fmt: skip
        hoverlabel={"font_family": FONT_FAMILY},
    )
    fig.update_xaxes(title=None)
    fig.update_yaxes(title=None)
    if percent_axis:
        fig.update_yaxes(tickformat=".0%")
    return fig


def year_axis(fig: go.Figure, years: list[int]) -> go.Figure:
    """Whole years on the x axis, half a year of room at each end — also for a series of a single year."""
    years = sorted({int(y) for y in years if y is not None})
    fig.update_xaxes(dtick=1, tickformat="d")
    if years:
        fig.update_xaxes(range=[years[0] - 0.5, years[-1] + 0.5])
    return fig


def figure_cache(build: Callable[P, go.Figure]) -> Callable[P, go.Figure]:
    """Cache a page's figure builder on its arguments (``st.cache_resource``: kept in memory, never pickled).

    Builders take the query results they draw (polars frames are hashed by value) and return the styled figure,
    so a figure is rebuilt exactly when its data changes (other filters, a new database version) and a rerun
    with the same data only serialises it.  The cached figure is shared by every session and must not be
    modified after it is returned.
    """
    return st.cache_resource(max_entries=256, show_spinner=False)(build)


def chart(fig: go.Figure, key: str | None = None, where: Any = st) -> None:
    """A plotly figure at full width, drawn in ``where`` (the page, or a tab / column) by :mod:`plotly_view`."""
    plotly_view.draw(fig, key=key, where=where)


def trend_lines(
    df: pl.DataFrame,
    series: str,
    title: str,
    *,
    percent: bool,
    min_n: int | None = None,
    height: int = 380,
    order: list[str] | None = None,
) -> go.Figure:
    """One line per ``series`` over the years, with a gap at every missing year (never bridged).

    A rate under the small-number guard (``guarded``) is not on the line: it is a grey hollow marker whose hover
    gives its numerator and denominator.  ``df`` has year, value and, for rates, numerator / denominator /
    n_reports / guarded.
    """
    has_guard = "guarded" in df.columns
    # the axis spans the years with a value: no empty slot before the first one or after the last
    years = sorted({y for y, v in df.select("year", "value").iter_rows() if y is not None and v is not None})
    full = with_missing_years(df, [series], years)
    shown = full.with_columns(
        pl.when(pl.col("guarded").fill_null(False)).then(None).otherwise(pl.col("value")).alias("value")
    ) if has_guard else full  # fmt: skip
    hover = {c: True for c in ("numerator", "denominator", "n_reports") if c in df.columns}
    fig = px.line(
        shown,
        x="year",
        y="value",
        color=series,
        markers=True,
        title=title,
        hover_data=hover,
        labels={"numerator": "分子", "denominator": "分母", "n_reports": "计入报告数", "value": "", series: ""},
        category_orders={series: order} if order else None,
    )
    fig.update_traces(connectgaps=False, marker={"size": 8})
    fig.update_yaxes(rangemode="tozero")
    if has_guard:
        guarded = df.filter(pl.col("guarded").fill_null(False))
        if not guarded.is_empty():
            fig.add_trace(
                go.Scatter(
                    x=guarded["year"].to_list(),
                    y=guarded["value"].to_list(),
                    mode="markers",
                    name=f"分母不足 {min_n}，不作比较" if min_n is not None else "分母过小",
                    marker={"color": GUARD_COLOR, "size": 10, "symbol": "circle-open", "line": {"width": 2}},
                    text=[f"{inert(s)}：分母 {d:,.0f}（分子 {n:,.0f}）"
                          for s, n, d in guarded.select(series, "numerator", "denominator").iter_rows()],
                    hovertemplate="%{text}<extra></extra>",
                )
            )  # fmt: skip
    year_axis(fig, years)
    return style(fig, height=height, percent_axis=percent)


def top_ranked(ranking: pl.DataFrame, n: int) -> pl.DataFrame:
    """The ``n`` best-ranked rows of a peer ranking (``rank`` 1 first, unranked last; among equal ranks the higher
    value), and every ``chosen`` row besides: what a ranking chart draws when the group is too large to draw whole."""
    top = ranking.sort(["rank", "value"], descending=[False, True], nulls_last=True).head(n)
    return pl.concat([top, ranking.filter(pl.col("chosen") & ~pl.col("agency").is_in(top["agency"].implode()))])
