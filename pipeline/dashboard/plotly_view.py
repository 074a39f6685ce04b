"""Plotly figures drawn in the browser by a partial plotly.js bundle instead of Streamlit's full one.

``st.plotly_chart`` makes a new browser tab load and evaluate Streamlit's PlotlyChart chunk (4.7 MB, every plotly.js
trace type, WebGL and maps included): ≈ 1 s of renderer CPU on a 2-core machine before the first chart is drawn.
The dashboard draws three trace types (scatter, bar, treemap); ``static/plotly/plotly-xxgk.min.js`` holds only
those (1.2 MB, ≈ 0.2 s to evaluate; how it is built: static/plotly/README.md).  A small Streamlit component
(st.components.v2, mounted in the page's own DOM, no iframe) loads that bundle once per tab from the app's static
folder and draws the same figure JSON plotly.py writes: hover, axis formats, colours and fonts are the figure's own.
A figure with a trace type outside the bundle is drawn by ``st.plotly_chart``.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
from pathlib import Path
from typing import Any

import plotly.graph_objects as go
import streamlit as st

REPO = Path(__file__).resolve().parents[2]
BUNDLE = REPO / "static" / "plotly" / "plotly-xxgk.min.js"
BUNDLE_TRACES = frozenset({"scatter", "bar", "treemap"})  # what static/plotly/build.js registers
CONFIG = {"displaylogo": False}
COMPONENT = "xxgk_plotly"

_draw_figure = st.components.v2.component(
    COMPONENT, js=Path(__file__).with_name("plotly_view.js").read_text(encoding="utf-8"), isolate_styles=False
)


@functools.cache
def bundle_url() -> str:
    """Where the browser fetches the bundle: the app's static route, versioned by content (cached safely)."""
    digest = hashlib.sha256(BUNDLE.read_bytes()).hexdigest()[:12]
    base = str(st.get_option("server.baseUrlPath") or "").strip("/")
    return f"{'/' + base if base else ''}/app/static/plotly/{BUNDLE.name}?v={digest}"


def in_bundle(fig: go.Figure) -> bool:
    """True when every trace of ``fig`` is of a type the partial bundle draws."""
    return all(trace.type in BUNDLE_TRACES for trace in fig.data)


def draw(fig: go.Figure, key: str | None = None, where: Any = st) -> None:
    """Draw ``fig`` at full width in ``where`` (the page, or a tab / column)."""
    if not in_bundle(fig):
        where.plotly_chart(fig, width="stretch", key=key, config=CONFIG, theme=None)
        return
    data = {"figure": fig.to_json(), "src": bundle_url(), "config": CONFIG}
    with contextlib.nullcontext() if where is st else where:
        _draw_figure(key=key, data=data, width="stretch", height="content")
