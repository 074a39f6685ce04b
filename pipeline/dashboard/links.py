"""Widget values kept in the URL query string, and the notice naming a link's values that match nothing.

A link may carry values that match nothing (``/requests?province=火星省&year=1999``, ``/compare?min_n=inf``).
They are taken out of the query string before any widget reads it — a widget never sees a value it cannot
hold, so no page shows a traceback — and the page names them in a notice (:func:`ignored_values`), so a view
is never silently wider than the link asked for.
"""

from __future__ import annotations

from typing import Any, Final

import streamlit as st

BIND: Final = "query-params"
_IGNORED = "_xxgk_ignored"  # session key: [(label, value)] taken out of the link
_NOTICE = "_xxgk_notice"  # session key: this run's placeholder for the notice


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
        note_ignored([(label, v) for v in given if v not in by_text])
        if wanted:
            st.session_state[key] = list(dict.fromkeys(wanted)) if multi else wanted[-1]
    if key not in st.session_state:
        if widget is st.selectbox:
            kwargs["index"] = options.index(default) if default in options else (None if default is None else 0)
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
        note_ignored([(label, v) for v in bad])
        keep = [v for v in given if v in known]
        if keep:
            st.query_params[key] = keep
        else:
            del st.query_params[key]


def note_ignored(items: list[tuple[str, str]]) -> None:
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


def forget_notice() -> None:
    """At the start of a run: the placeholder of the previous run must not be written to."""
    st.session_state.pop(_NOTICE, None)


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
