"""UI helpers shared by every page: the sidebar filter, notices, rate captions, tables and chart styling.

Untrusted text (agency names, report text, file names) is only ever shown through ``st.text`` / ``st.code`` /
dataframe cells / widget options, never through markdown or HTML; in plotly figures it goes through
:func:`inert` first, because plotly interprets a subset of HTML tags in labels.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ParamSpec

import plotly.graph_objects as go
import polars as pl
import streamlit as st

from pipeline.dashboard.data import DatabaseUnavailable, db_path, db_version, query
from pipeline.filters import LABELS, PARAMS, QUALITY_LABELS, Filters
from pipeline.metrics import Metric

P = ParamSpec("P")
BIND = "query-params"
NULL_PLACEHOLDER = "（空）"
FONT_FAMILY = "WenQuanYi Micro Hei, Noto Sans CJK SC, Microsoft YaHei, PingFang SC, sans-serif"
SYNTHETIC_NOTICE = "示例数据，非真实机关统计"
EDITION_LABELS = {
    "2019": "2019 年版格式（国办公开办函〔2019〕60号）",
    "2021": "2021 年版格式（国办公开办函〔2021〕30号）",
    "legacy": "2018 年及以前的旧格式",
}


def edition_label(edition: str | None) -> str:
    return EDITION_LABELS.get(str(edition), str(edition))


def synced(
    widget: Any,
    label: str,
    options: list[Any],
    *,
    key: str,
    default: Any = None,
    multi: bool = False,
    keep_default: bool = False,
    **kwargs: Any,
) -> Any:
    """A widget whose *option value* (not its display text) lives in the URL query string under ``key``.

    ``bind="query-params"`` writes a widget's formatted label into the URL, which for widgets with a
    ``format_func`` (report ids shown as "#5 · 机关 · 年度", metric keys shown by name) makes links long and
    fragile.  These widgets are synced by hand instead: seeded from the URL when the page opens, written back
    after every run (removed while the value is the default, unless ``keep_default``: a report id must stay in
    the link even when it is the first one offered).
    """
    by_text = {str(o): o for o in options}
    if key not in st.session_state and key in st.query_params:
        wanted = [by_text[v] for v in st.query_params.get_all(key) if v in by_text]
        if wanted:
            st.session_state[key] = list(dict.fromkeys(wanted)) if multi else wanted[-1]
    if key not in st.session_state:
        if widget is st.selectbox:
            kwargs["index"] = (
                options.index(default) if default in options else (None if default is None else 0)
            )
        elif default is not None:
            kwargs["default"] = [d for d in default if d in by_text.values()] if multi else default
    elif not multi and st.session_state[key] not in options and st.session_state[key] is not None:
        del st.session_state[key]  # a value from another database / filter that is no longer offered
    value = widget(label, options, key=key, **kwargs)
    is_default = (list(value or []) == list(default or [])) if multi else value == default
    if value is None or (is_default and not keep_default) or (multi and not value):
        if key in st.query_params:
            del st.query_params[key]
    else:
        st.query_params[key] = [str(v) for v in value] if multi else str(value)
    return value


def _reset(*keys: str) -> None:
    for key in keys:
        st.session_state[key] = None


def sidebar_filters() -> Filters:
    """Draw the global filter in the sidebar (widgets bound to the query string) and return it."""
    try:
        options = query("filter_options")
    except DatabaseUnavailable as exc:
        st.sidebar.error(str(exc))
        options = {
            "year": [],
            "province": [],
            "level": [],
            "agency_type": [],
            "edition": [],
            "agency": [],
            "regions": [],
        }
    regions: list[tuple[str, str | None, str | None]] = options["regions"]
    p = PARAMS
    with st.sidebar:
        st.subheader("筛选条件")
        st.multiselect(LABELS["years"], options["year"], key=p["years"], bind=BIND, placeholder="全部年度")
        province = st.selectbox(
            LABELS["province"],
            options["province"],
            index=None,
            key=p["province"],
            bind=BIND,
            placeholder="全部",
            on_change=_reset,
            args=(p["city"], p["county"]),
        )
        cities = sorted({c for pr, c, _ in regions if pr == province and c}) if province else []
        city = st.selectbox(
            LABELS["city"],
            cities,
            index=None,
            key=p["city"],
            bind=BIND,
            placeholder="全部" if province else "请先选择省份",
            disabled=not province,
            on_change=_reset,
            args=(p["county"],),
        )
        counties = (
            sorted({co for pr, c, co in regions if pr == province and c == city and co}) if city else []
        )
        st.selectbox(
            LABELS["county"],
            counties,
            index=None,
            key=p["county"],
            bind=BIND,
            placeholder="全部" if city else "请先选择市（地区）",
            disabled=not city,
        )
        st.multiselect(LABELS["levels"], options["level"], key=p["levels"], bind=BIND, placeholder="全部")
        st.multiselect(
            LABELS["agency_types"],
            options["agency_type"],
            key=p["agency_types"],
            bind=BIND,
            placeholder="全部",
        )
        st.multiselect(
            LABELS["agencies"],
            options["agency"],
            key=p["agencies"],
            bind=BIND,
            placeholder="输入机关名称搜索",
        )
        synced(
            st.multiselect,
            LABELS["editions"],
            options["edition"],
            key=p["editions"],
            multi=True,
            format_func=edition_label,
            placeholder="全部",
        )
        synced(
            st.selectbox,
            LABELS["quality"],
            list(QUALITY_LABELS),
            key=p["quality"],
            default="all",
            format_func=QUALITY_LABELS.get,
        )
        st.caption("筛选条件保存在网址中：复制浏览器地址栏的链接即可重现当前视图。")
    return current_filters()


def current_filters() -> Filters:
    return Filters.from_state(st.session_state)


def ensure_navigation() -> None:
    """Make sure the page runs inside app.py's ``st.navigation`` (with the sidebar filter).

    A ``pages/`` folder next to the entrypoint puts a fresh Streamlit server in its legacy multipage mode until
    ``st.navigation`` has run once; a shared link that opens ``/requests`` first would then run the page alone,
    without the sidebar.  Switch the legacy mode off (what ``st.navigation`` itself does) and rerun: the rerun
    executes app.py, which routes to the same page.
    """
    from streamlit.runtime.pages_manager import PagesManager

    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        st.rerun()


def page_start(title: str) -> Filters | None:
    """Title, database check and synthetic-data notice. Returns the filters, or None when nothing can be shown."""
    ensure_navigation()
    st.title(title)
    filters = current_filters()
    path = db_path()
    if not db_version(path):
        st.error(f"数据库文件不存在：{path}。请先运行 make db（或 xxgk ingest 报告目录 --db 路径）建库。")
        return None
    try:
        n_syn, n = query("synthetic_share", filters)
    except DatabaseUnavailable as exc:
        st.warning(str(exc))
        return None
    if n_syn:
        st.warning(f"⚠ {SYNTHETIC_NOTICE}：当前视图的 {n} 份报告中有 {n_syn} 份是生成的示例数据。", icon=None)
    if n == 0:
        st.info("当前筛选条件下没有报告。请放宽左侧的筛选条件。")
        return None
    return filters


def rate_caption(m: Metric) -> None:
    """The formula and the denominator of a rate, in words built from the registry's official labels."""
    if m.is_rate:
        st.caption(
            f"公式：{m.formula}。分母：{m.denominator_text}（只计分母大于 0 的报告；分子中的空白单元格按 0 计）。"
        )
    else:
        st.caption(f"口径：{m.formula}（空白或“/”单元格不计入，全部为空时显示为空而不是 0）。")


def null_legend() -> None:
    st.caption(
        f"图例：表中「{NULL_PLACEHOLDER}」表示来源单元格空白、写了“/”“—”“无”等空值标记或未能定位，均不等于 0；"
        "0 表示来源明确填写了 0。长表的「状态」列区分 空白 / 空值标记 / 未找到。"
    )


def inert(text: Any) -> str:
    """Text safe for plotly labels: plotly renders <b>, <a href>, <br> … in strings, so neutralise tags."""
    if text is None:
        return "（未识别）"
    return str(text).replace("&", "＆").replace("<", "＜").replace(">", "＞")


def inert_column(df: pl.DataFrame, *columns: str) -> pl.DataFrame:
    return df.with_columns(
        pl.col(c)
        .cast(pl.String)
        .fill_null("（未识别）")
        .str.replace_all("&", "＆", literal=True)
        .str.replace_all("<", "＜", literal=True)
        .str.replace_all(">", "＞", literal=True)
        for c in columns
    )


def style(fig: go.Figure, height: int = 380, percent_axis: bool = False) -> go.Figure:
    fig.update_layout(
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
        },
        hoverlabel={"font_family": FONT_FAMILY},
    )
    fig.update_xaxes(title=None)
    fig.update_yaxes(title=None)
    if percent_axis:
        fig.update_yaxes(tickformat=".0%")
    return fig


def figure_cache(build: Callable[P, go.Figure]) -> Callable[P, go.Figure]:
    """Cache a page's figure builder on its arguments (``st.cache_resource``: kept in memory, never pickled).

    Builders take the query results they draw (polars frames are hashed by value) and return the styled figure,
    so a figure is rebuilt exactly when its data changes (other filters, a new database version) and a rerun
    with the same data only serialises it.  Building a plotly express figure costs 50–200 ms of server time;
    the cached figure is shared by every session and must not be modified after it is returned.
    """
    return st.cache_resource(max_entries=256, show_spinner=False)(build)


def lazy_tabs(labels: list[str], key: str) -> list[Any]:
    """Tabs of which only the open one is computed and drawn; the open tab is in the URL (``?key=label``).

    A plotly chart costs the browser 0.1–0.3 s to draw (and again after every filter change), so alternative views
    of the same numbers (chart / table, bars / treemap) sit in tabs: every view stays one click away and linkable,
    and a page draws only the charts that are shown.  Callers draw a panel only ``if tab.open``.
    """
    return list(st.tabs(labels, key=key, bind=BIND, on_change="rerun"))


def chart(fig: go.Figure, key: str | None = None, where: Any = st) -> None:
    """A plotly figure at full width, drawn in ``where`` (the page, or a tab / column)."""
    where.plotly_chart(fig, width="stretch", key=key, config={"displaylogo": False})


def table(
    df: pl.DataFrame,
    labels: dict[str, str] | None = None,
    height: int | str = "auto",
    fit: bool = False,
    **kwargs: Any,
) -> None:
    """A dataframe with Chinese headers; NULL shown as the legend's placeholder (never 0).

    ``fit``: tall enough to show every row without an inner scrollbar (official tables on 报告详情).
    """
    shown = df.rename({k: v for k, v in (labels or {}).items() if k in df.columns})
    if fit:
        height = 35 * (df.height + 1) + 3
    elif df.height <= 12:
        height = "auto"  # no empty filler rows under a short table
    st.dataframe(shown, hide_index=True, placeholder=NULL_PLACEHOLDER, height=height, **kwargs)


def fmt_pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.1%}"


def fmt_num(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"
