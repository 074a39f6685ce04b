"""Choosing agencies by typing part of a name: the database is asked for the first matches, never the whole list.

A national store names hundreds of thousands of agencies; a widget holding all of them would send megabytes to the
browser on every page.  Each agency choice is therefore two widgets: a search box (live: it asks after a short pause
in typing) and a select widget whose options are the agencies already chosen plus at most
:data:`~pipeline.metrics.SEARCH_LIMIT` matches of :func:`~pipeline.metrics.search_agencies` (exact name first, then
names starting with the text, then the agencies with the most reports).  A link that names an agency still works
without any list: the name is checked against the database (:func:`~pipeline.metrics.known_agencies`); a name that
matches nothing is named in the page's notice and dropped.

The two widgets run in a fragment: typing reruns only the search, and a change of the choice reruns the page.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import polars as pl
import streamlit as st

from pipeline.dashboard.data import DatabaseUnavailable, query
from pipeline.dashboard.links import BIND, note_ignored, synced
from pipeline.filters import Filters
from pipeline.metrics import SEARCH_LIMIT, known_agencies, search_agencies

SEARCH_SUFFIX = "_q"  # session key of a picker's search text: f"{key}_q"
PLACEHOLDER = "输入机关名称的一部分，如：沈阳 司法"


def search_key(key: str) -> str:
    return key + SEARCH_SUFFIX


@dataclass(frozen=True, slots=True)
class Picker:
    """One agency choice: its label, session key, the selection it searches, and how it keeps its value."""

    label: str
    key: str
    filters: Filters | None  # the search is narrowed to this selection, its own agency choice aside
    multi: bool
    max_selections: int | None = None
    in_url: bool = True  # the value lives in the URL under ``key``
    first_by_default: bool = False  # one agency: the best match when nothing is chosen yet
    extra: tuple[str, ...] = ()  # options offered after the matches (e.g. 报告详情's "agency not recognised")


def pick_agencies(
    label: str,
    key: str,
    filters: Filters | None,
    *,
    max_selections: int | None = None,
    what: str | None = None,
    check_link: bool = True,
) -> list[str]:
    """Several agencies, kept in the URL under ``key``.  ``what`` names the choice in the notice about link values
    that match nothing (``check_link=False``: the caller has checked them)."""
    if check_link:
        _check_link(key, what or label, filters, multi=True)
    _draw(Picker(label, key, filters, multi=True, max_selections=max_selections))
    return list(st.session_state.get(key) or [])


def pick_agency(
    label: str, key: str, filters: Filters | None, *, what: str | None = None, in_url: bool = True,
    extra: tuple[str, ...] = (),
) -> str | None:  # fmt: skip
    """One agency (in the URL under ``key`` unless ``in_url`` is false): the best match until one is chosen."""
    if in_url:
        _check_link(key, what or label, filters, multi=False)
    _draw(Picker(label, key, filters, multi=False, in_url=in_url, first_by_default=True, extra=extra))
    value = st.session_state.get(key)
    return str(value) if value else None


def _check_link(key: str, what: str, filters: Filters | None, *, multi: bool) -> None:
    """On the first run: take the link's agencies that match no report out of the URL, naming them."""
    if key in st.session_state or key not in st.query_params:
        return
    given = st.query_params.get_all(key)
    try:
        known = query(known_agencies, None, tuple(given), filters)
    except DatabaseUnavailable:
        return
    note_ignored([(what, v) for v in given if v not in known])
    keep = [v for v in given if v in known] if multi else [v for v in given if v in known][-1:]
    if not keep:
        del st.query_params[key]
    elif keep != given:
        st.query_params[key] = keep


def _draw(picker: Picker) -> None:
    # what the page is drawn with: a change made inside the fragment (a fragment-only rerun) reruns the page
    st.session_state[f"_{picker.key}_drawn"] = _chosen(picker)
    st.session_state["_xxgk_full_run"] = True
    _search_fragment(picker)
    st.session_state["_xxgk_full_run"] = False


def _chosen(picker: Picker) -> tuple[str, ...]:
    key = picker.key
    if key in st.session_state:
        value = st.session_state[key]
    elif picker.in_url:
        value = st.query_params.get_all(key) if picker.multi else st.query_params.get(key)
    else:
        value = None
    if not value:
        return ()
    return tuple(str(v) for v in value) if picker.multi else (str(value),)


@st.fragment
def _search_fragment(picker: Picker) -> None:
    text = st.text_input(
        picker.label, key=search_key(picker.key), type="search", live=True, placeholder=PLACEHOLDER, max_chars=80,
        help="输入机关名称中的任意部分（可用空格分隔多个词，如「沈阳 司法」），下方列出最匹配的机关供选择："
        "名称完全相同的在前，其次是以所输文字开头的，再按报告数从多到少。",
    )  # fmt: skip
    try:
        hits = query(search_agencies, picker.filters, text or "", SEARCH_LIMIT)
    except DatabaseUnavailable:  # the page says so; the picker offers nothing
        hits = pl.DataFrame(schema={"agency": pl.String, "n_matches": pl.Int64})
    chosen = list(_chosen(picker))
    if picker.first_by_default and not chosen and picker.filters is not None and picker.filters.agencies:
        chosen = list(picker.filters.agencies[:1])  # one agency: the sidebar's choice comes first
    options = chosen + [a for a in [*hits["agency"].to_list(), *picker.extra] if a not in chosen]
    n_matches = int(hits["n_matches"][0]) if hits.height else 0
    if text and not n_matches:
        st.caption("没有名称包含所输文字的机关。")
    elif n_matches > hits.height:
        st.caption(f"共 {n_matches:,} 个机关{'匹配' if text else ''}，列出{'最匹配' if text else '报告最多'}的 "
                   f"{hits.height} 个；{'输入更多文字可缩小范围' if text else '输入名称的一部分可找到其余机关'}。")  # fmt: skip
    label = f"{picker.label}（从搜索结果中选择）"
    common: dict[str, Any] = {"key": picker.key, "filter_mode": "contains", "label_visibility": "collapsed"}
    if picker.multi:
        value = tuple(st.multiselect(
            label, options, bind=BIND if picker.in_url else None, max_selections=picker.max_selections,
            placeholder="从搜索结果中选择（可多选）", select_all=False, **common,
        ))  # fmt: skip
    else:
        default = options[0] if options else None
        if picker.in_url:
            picked = synced(st.selectbox, label, options, default=default, keep_default=True,
                            placeholder="从搜索结果中选择", **common)  # fmt: skip
        else:
            if picker.key in st.session_state and st.session_state[picker.key] not in options:
                del st.session_state[picker.key]
            index = None if picker.key in st.session_state else (0 if options else None)
            kwargs: dict[str, Any] = {} if index is None else {"index": index}
            picked = st.selectbox(label, options, placeholder="从搜索结果中选择", **kwargs, **common)
        value = (str(picked),) if picked else ()
    if not st.session_state.get("_xxgk_full_run") and value != st.session_state.get(f"_{picker.key}_drawn"):
        st.rerun()  # the choice changed inside the fragment: redraw the page with it
