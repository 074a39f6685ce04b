"""UI helpers shared by every page: the page frame, notices, captions that say what a number counts, tables.

Untrusted text (agency names, report text, file names) is only ever shown through ``st.text`` / ``st.code`` /
table cells (escaped by :mod:`pipeline.dashboard.html_table`) / widget options, never through markdown or
hand-made HTML (charts: :mod:`pipeline.dashboard.charts`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any, Literal

import polars as pl
import streamlit as st

from pipeline.dashboard import html_table
from pipeline.dashboard.data import DatabaseUnavailable, db_path, db_version, query
from pipeline.dashboard.links import BIND, checked_param, ignored_notice, synced
from pipeline.dashboard.pages import page
from pipeline.dashboard.sidebar import current_filters
from pipeline.filters import PANEL_LABELS, Filters
from pipeline.labels import LEFT_OUT_LABELS, edition_label
from pipeline.metrics import Metric, panel_size, synthetic_share
from pipeline.metrics.listing import PAGE_ROWS, Listing, Window

__all__ = ["BIND", "checked_param", "current_filters", "edition_label", "ignored_notice", "synced"]

NULL_PLACEHOLDER = html_table.NULL_TEXT
SYNTHETIC_NOTICE = "示例数据，非真实机关统计"


def page_start(key: str) -> Filters | None:
    """Title, database check, ignored link values and the synthetic-data notice for the page ``key``.

    Returns the filters, or None when nothing can be shown.
    """
    st.title(page(key).heading)
    filters = current_filters()
    ignored_notice()
    path = db_path()
    if not db_version(path):
        st.error(f"数据库文件不存在：{path}。请先运行 make db（或 xxgk ingest 报告目录 --db 路径）建库。")
        return None
    try:
        n_syn, n = query(synthetic_share, filters)
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
    """The formula and the denominator of a metric, in words built from the registry's official labels."""
    if m.is_rate:
        st.caption(
            f"公式：{m.formula}。分母：{m.denominator_text}。只计能算出该比率的报告：原表空白的总计按分项推算"
            "（推算值单独标记，原值仍为空白）；无法推算或分母为 0 的报告不计入分子和分母。"
        )
    else:
        st.caption(f"口径：{m.formula}（空白或“/”单元格不计入，全部为空时显示为空而不是 0；空白的总计按分项推算）。")


def counted_caption(df: pl.DataFrame, what: str = "") -> str:
    """``计入 120 份报告（其中 12 份的总计为推算值）；未计入 8 份：5 份分母为 0，3 份总计空白且无法由分项推算``.

    ``df`` is an aggregate result (one metric, any grouping): its counts are summed over the rows.
    """
    if df.is_empty():
        return ""
    n = int(df["n_reports"].sum())
    text = f"{what}计入 {n:,} 份报告"
    derived = int(df["n_derived"].sum()) if "n_derived" in df.columns else 0
    if derived:
        text += f"（其中 {derived:,} 份的总计为推算值）"
    reasons = [(LEFT_OUT_LABELS[r], int(df[f"left_{r}"].sum())) for r in LEFT_OUT_LABELS if f"left_{r}" in df.columns]
    reasons = [(label, k) for label, k in reasons if k]
    if reasons:
        text += f"；未计入 {sum(k for _, k in reasons):,} 份：" + "，".join(f"{k:,} 份{label}" for label, k in reasons)
    return text + "。"


def left_out_note(df: pl.DataFrame, metric_key: str | None = None, what: str = "") -> None:
    """Under a chart: how many reports it counted and which it left out, and why."""
    rows = df.filter(pl.col("metric") == metric_key) if metric_key else df
    text = counted_caption(rows, what)
    if text:
        st.caption(text)


def grid_note(coverage: Any) -> None:
    """Under an agency × year grid (:class:`pipeline.metrics.CoverageGrid`): how many agencies it lists of how many."""
    shown = coverage.grid.height
    if coverage.n_agencies > shown:
        st.caption(f"共 {coverage.n_agencies:,} 个机关，表中列出按名称排序的前 {shown:,} 个；"
                   "用左侧筛选条件（地区、层级、机关类型、机关）缩小范围。")  # fmt: skip


def panel_note(filters: Filters) -> None:
    """Which agencies a trend compares (same agencies every year, or all reports)."""
    if filters.panel == "all":
        st.caption(
            f"比较口径：{PANEL_LABELS['all']}——每年用当年全部报告，各年的机关构成可能不同；"
            "左侧切换为「同一批机关」可逐年同口径比较。"
        )
        return
    size = query(panel_size, filters)
    if not size["n_years"]:
        return
    span = f"{size['year_min']}–{size['year_max']} 年" if size["n_years"] > 1 else f"{size['year_min']} 年"
    text = (
        f"比较口径：{PANEL_LABELS['matched']}——趋势只用 {span}每年都有报告的 {size['n_panel']:,} 个机关"
        f"（所选范围共 {size['n_agencies']:,} 个机关）；左侧可切换为「全部报告」。"
    )
    if size["n_panel"] == 0 and size["n_years"] > 1:
        st.warning(
            f"比较口径：所选范围内没有机关在 {span}每年都有报告，趋势改为用每年的全部报告（各年机关构成不同）；"
            "缩小年度范围可按同一批机关比较。"
        )
    else:
        st.caption(text)


def guard_note(df: pl.DataFrame, filters: Filters) -> None:
    if "guarded" in df.columns and df["guarded"].fill_null(False).any():
        n = int(df["guarded"].fill_null(False).sum())
        st.caption(f"小数字保护：{n} 个比率的分母小于 {filters.min_n}，不显示为数值（图中灰色空心点，表中标出）。")


def null_legend() -> None:
    st.caption(
        f"图例：表中「{NULL_PLACEHOLDER}」表示来源单元格空白、写了“/”“—”“无”等空值标记或未能定位，均不等于 0；"
        "0 表示来源明确填写了 0。长表的「状态」列区分 空白 / 空值标记 / 未找到。"
    )


def lazy_tabs(labels: list[str], key: str) -> list[Any]:
    """Tabs of which only the open one is computed and drawn; the open tab is in the URL (``?key=label``).

    A plotly chart costs the browser 0.1–0.3 s to draw (and again after every filter change), so alternative views
    of the same numbers (chart / table, bars / treemap) sit in tabs: every view stays one click away and linkable,
    and a page draws only the charts that are shown.  Callers draw a panel only ``if tab.open``.
    """
    checked_param(key, "标签页", labels)
    return list(st.tabs(labels, key=key, bind=BIND, on_change="rerun"))


AUTO_HEIGHT = 420  # px: a table without a height shows about a dozen rows, then scrolls in its box (as a grid did)


def listing(
    fn: Callable[..., Listing],
    filters: Filters,
    *args: Any,
    key: str,
    sort: str | None = None,
    descending: bool = False,
    page_rows: int = PAGE_ROWS,
) -> Listing:
    """The page of a list query chosen in a page box drawn here (above the table the caller draws), fetched as a
    page: ``fn(con, filters, *args, window)`` (:mod:`pipeline.metrics.listing`) lists the page's rows and the
    list's length, not the whole list.

    The page box's key follows the list (``key``), the filters, the arguments and the sort, so another selection
    opens on page 1; a page past the end (the list got shorter) shows the last one.
    """
    what = hashlib.blake2b(repr((filters, args, sort, descending)).encode(), digest_size=8).hexdigest()
    box = f"_page_{key}_{what}"

    def page_number(number: int) -> Listing:
        return query(fn, filters, *args, Window((number - 1) * page_rows, page_rows, sort, descending))

    number = max(1, int(st.session_state.get(box) or 1))
    found = page_number(number)
    pages = max(1, -(-found.total // page_rows))
    if number > pages:
        st.session_state[box] = pages
        found = page_number(pages)
    if pages > 1:
        st.number_input(f"共 {found.total:,} 行，每页 {page_rows:,} 行；页码（共 {pages:,} 页）", min_value=1,
                        max_value=pages, step=1, key=box)  # fmt: skip
    return found


def table(
    df: pl.DataFrame,
    labels: dict[str, str] | None = None,
    height: int | Literal["auto"] = "auto",
    fit: bool = False,
    page_rows: int = PAGE_ROWS,
    interactive: bool = False,
    column_config: dict[str, Any] | None = None,
    **kwargs: Any,
) -> Any:
    """A table with Chinese headers; NULL shown as the legend's placeholder (never 0), numbers right-aligned.

    Drawn as static HTML (:mod:`pipeline.dashboard.html_table`): an interactive grid costs a new tab 0.5–1 s of
    browser CPU, a static table a few milliseconds.  ``interactive`` draws an ``st.dataframe`` grid instead (column
    sort and search in the browser; ``kwargs`` go to it) and returns its selection event when ``on_select`` is given.
    ``height`` (px) bounds the box (a longer table scrolls inside it under a fixed header); ``fit`` shows every row
    (official tables on 报告详情).  A table longer than ``page_rows`` is shown a page at a time (:func:`page_of`): a
    national store's lists run to a million rows, which would cost seconds to send and lay out.
    """
    df = page_of(df, page_rows, kwargs.get("key"))
    shown = df.rename({k: v for k, v in (labels or {}).items() if k in df.columns})
    if not interactive:
        max_height = None if fit else AUTO_HEIGHT if height == "auto" else int(height)
        return st.html(html_table.render(shown, column_config, max_height=max_height))
    if fit:
        height = 35 * (df.height + 1) + 3
    elif df.height <= 12:
        height = "auto"  # no empty filler rows under a short table
    return st.dataframe(shown, hide_index=True, placeholder=NULL_PLACEHOLDER, height=height,
                        column_config=column_config, **kwargs)  # fmt: skip


def page_of(df: pl.DataFrame, page_rows: int = PAGE_ROWS, key: str | None = None) -> pl.DataFrame:
    """The page of ``df`` chosen in a page box drawn above the table (``df`` itself when it fits on one page).

    The page box's key follows the table (``key``, else its columns) and its length, so a new selection (another
    filter, another length) opens on page 1.  Sorting by a column header sorts the page shown; pages that offer a
    sort choice sort the whole table before paging.
    """
    if df.height <= page_rows:
        return df
    pages = -(-df.height // page_rows)
    ident = key or "|".join(df.columns)
    number = st.number_input(
        f"共 {df.height:,} 行，每页 {page_rows:,} 行；页码（共 {pages:,} 页）", min_value=1, max_value=pages, value=1,
        step=1, key=f"_page_{ident}_{df.height}",
    )  # fmt: skip
    start = (int(number) - 1) * page_rows
    return df.slice(start, page_rows)


def fmt_pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.1%}"


def fmt_num(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"
