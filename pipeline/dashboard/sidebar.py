"""The shared sidebar filter, bound to the URL query string, and the check of a link's values.

A link may carry values that match nothing (``/requests?province=火星省&year=1999``, ``/compare?min_n=inf``).
They are taken out of the query string before any widget reads it — a widget never sees a value it cannot
hold, so no page shows a traceback — and the page names them in a notice (:func:`ignored_values`), so a view
is never silently wider than the link asked for.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final, cast

import streamlit as st

from pipeline.dashboard.data import DatabaseUnavailable, query
from pipeline.filters import (
    DEFAULT_MIN_N,
    LABELS,
    MAX_MIN_N,
    PANEL_LABELS,
    PARAMS,
    QUALITY_LABELS,
    Filters,
    parse_min_n,
    unrecognised,
)
from pipeline.labels import edition_label
from pipeline.metrics import filter_options

BIND: Final = "query-params"
_IGNORED = "_xxgk_ignored"  # session key: [(label, value)] taken out of the link
_NOTICE = "_xxgk_notice"  # session key: this run's placeholder for the notice
EMPTY_OPTIONS: dict[str, list[Any]] = {
    "year": [], "province": [], "level": [], "agency_type": [], "edition": [], "agency": [], "regions": [],
}  # fmt: skip


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
    the link even when it is the first one offered).  A value in the link that is not an option is reported
    by :func:`ignored_values`.
    """
    by_text = {str(o): o for o in options}
    if key not in st.session_state and key in st.query_params:
        given = st.query_params.get_all(key)
        wanted = [by_text[v] for v in given if v in by_text]
        _note_ignored([(label, v) for v in given if v not in by_text])
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


def checked_param(key: str, label: str, options: list[Any]) -> None:
    """Before a ``bind``-ed widget reads ``key`` from the link: drop (and report) a value it does not offer."""
    if key in st.session_state or key not in st.query_params:
        return
    given = st.query_params.get_all(key)
    known = {str(o) for o in options}
    bad = [v for v in given if v not in known]
    if bad:
        _note_ignored([(label, v) for v in bad])
        keep = [v for v in given if v in known]
        if keep:
            st.query_params[key] = keep
        else:
            del st.query_params[key]


def _note_ignored(items: list[tuple[str, str]]) -> None:
    if not items:
        return
    ignored = st.session_state.setdefault(_IGNORED, [])
    for item in items:
        if item not in ignored:
            ignored.append(item)
    show_ignored()


def ignored_notice() -> None:
    """Reserve the place at the top of a page where the ignored link values are named (filled as they are
    found: page selections are checked further down the page than the sidebar's)."""
    st.session_state[_NOTICE] = st.empty()
    show_ignored()


def show_ignored() -> None:
    slot = st.session_state.get(_NOTICE)
    ignored = ignored_values()
    if slot is None or not ignored:
        return
    named = "、".join(f"{what}「{value}」" for what, value in ignored)
    slot.warning(f"网址中的以下条件无法识别，已忽略：{named}。下面显示的是其余条件下的数据。")


def ignored_values() -> list[tuple[str, str]]:
    """(what, value) pairs taken out of this session's link because they matched nothing."""
    return list(st.session_state.get(_IGNORED, []))


def _clean_link(options: dict[str, Any]) -> None:
    """On a session's first run: take every unknown filter value out of the query string, remembering it."""
    if "_xxgk_link_checked" in st.session_state:
        return
    st.session_state["_xxgk_link_checked"] = True
    link = {param: st.query_params.get_all(param) for param in PARAMS.values() if param in st.query_params}
    bad = unrecognised(link, options)
    _note_ignored(bad)
    bad_values = {value for _, value in bad}
    for param, values in link.items():
        keep = [v for v in values if v not in bad_values]
        if param == "min_n":
            keep = [v for v in keep if parse_min_n(v) is not None][-1:]
        if keep != values:
            if keep:
                st.query_params[param] = keep
            else:
                del st.query_params[param]


def _reset(*keys: str) -> None:
    for key in keys:
        st.session_state[key] = None


def sidebar_filters() -> Filters:
    """Draw the global filter in the sidebar (widgets bound to the query string) and return it."""
    st.session_state.pop(_NOTICE, None)  # a placeholder of the previous run must not be written to
    try:
        options = query(filter_options)
    except DatabaseUnavailable as exc:
        st.sidebar.error(str(exc))
        options = EMPTY_OPTIONS
    _clean_link(options)
    regions: list[tuple[str, str | None, str | None]] = options["regions"]
    p = PARAMS
    with st.sidebar:
        st.subheader("筛选条件")
        st.multiselect(LABELS["years"], options["year"], key=p["years"], bind=BIND, placeholder="全部年度")
        province = st.selectbox(
            LABELS["province"], options["province"], index=None, key=p["province"], bind=BIND, placeholder="全部",
            on_change=_reset, args=(p["city"], p["county"]),
        )  # fmt: skip
        cities = sorted({c for pr, c, _ in regions if pr == province and c}) if province else []
        city = st.selectbox(
            LABELS["city"], cities, index=None, key=p["city"], bind=BIND,
            placeholder="全部" if province else "请先选择省份", disabled=not province, on_change=_reset,
            args=(p["county"],),
        )  # fmt: skip
        counties = sorted({co for pr, c, co in regions if pr == province and c == city and co}) if city else []
        st.selectbox(
            LABELS["county"], counties, index=None, key=p["county"], bind=BIND,
            placeholder="全部" if city else "请先选择市（地区）", disabled=not city,
        )  # fmt: skip
        st.multiselect(LABELS["levels"], options["level"], key=p["levels"], bind=BIND, placeholder="全部")
        st.multiselect(
            LABELS["agency_types"], options["agency_type"], key=p["agency_types"], bind=BIND, placeholder="全部"
        )
        st.multiselect(
            LABELS["agencies"], options["agency"], key=p["agencies"], bind=BIND, placeholder="输入机关名称搜索"
        )
        synced(
            st.multiselect, LABELS["editions"], options["edition"], key=p["editions"], multi=True,
            format_func=edition_label, placeholder="全部",
        )  # fmt: skip
        synced(
            st.selectbox, LABELS["quality"], list(QUALITY_LABELS), key=p["quality"], default="all",
            format_func=QUALITY_LABELS.get,
        )  # fmt: skip
        st.subheader("比较与保护")
        synced(
            st.segmented_control, LABELS["panel"], list(PANEL_LABELS), key=p["panel"], default="matched",
            format_func=PANEL_LABELS.get, required=True,
            help="同一批机关：趋势线只用所选年度每年都有报告的机关，同比变化只比较两年都有数值的机关；"
            "全部报告：每年用当年全部报告（机关构成可能逐年不同）。",
        )  # fmt: skip
        _min_n_input()
        st.caption("筛选条件保存在网址中：复制浏览器地址栏的链接即可重现当前视图。")
    return current_filters()


def _min_n_input() -> int:
    """The small-number guard, synced with the link by hand: Streamlit's own binding of a number input fails on
    a link value such as ``inf`` (an uncaught OverflowError), so the value is checked before the widget sees it."""
    key = PARAMS["min_n"]
    kwargs: dict[str, Any] = {}
    if key not in st.session_state:
        given = parse_min_n(st.query_params.get_all(key)) if key in st.query_params else None
        kwargs["value"] = DEFAULT_MIN_N if given is None else given
    value = int(st.number_input(
        LABELS["min_n"], min_value=0, max_value=MAX_MIN_N, step=1, key=key,
        help="比率的分母小于该值时不显示比率，只以灰色标出并给出分母（小数字保护）。", **kwargs,
    ))  # fmt: skip
    if value == DEFAULT_MIN_N:
        if key in st.query_params:
            del st.query_params[key]
    else:
        st.query_params[key] = str(value)
    return value


def current_filters() -> Filters:
    return Filters.from_state(cast(Mapping[str, Any], st.session_state))
