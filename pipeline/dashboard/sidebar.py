"""The shared sidebar filter, bound to the URL query string (link values that match nothing: :mod:`.links`).

Agencies are chosen by typing part of a name (:mod:`.agency_picker`): no list of every agency reaches the page.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

import streamlit as st

from pipeline.dashboard.agency_picker import pick_agencies
from pipeline.dashboard.data import DatabaseUnavailable, query
from pipeline.dashboard.links import BIND, forget_notice, note_ignored, synced
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
from pipeline.metrics import filter_options, known_agencies

EMPTY_OPTIONS: dict[str, list[Any]] = {
    "year": [], "province": [], "level": [], "agency_type": [], "edition": [], "agency": [], "regions": [],
}  # fmt: skip


def _clean_link(options: dict[str, Any]) -> None:
    """On a session's first run: take every unknown filter value out of the query string, remembering it."""
    if "_xxgk_link_checked" in st.session_state:
        return
    st.session_state["_xxgk_link_checked"] = True
    link = {param: st.query_params.get_all(param) for param in PARAMS.values() if param in st.query_params}
    bad = unrecognised(link, options)
    note_ignored(bad)
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
    forget_notice()
    try:
        # cached once per database version; of the agencies only those the link names (the picker below searches
        # the database for the rest)
        options = {
            **query(filter_options),
            "agency": query(known_agencies, None, tuple(st.query_params.get_all(PARAMS["agencies"]))),
        }
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
        # the link's agencies were checked above (_clean_link): the search is narrowed by the filters drawn so far
        pick_agencies(LABELS["agencies"], p["agencies"], current_filters(), check_link=False)
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
