"""报告详情's official table blocks: static HTML tables whose cells are clickable (click-to-source).

A cell's click sends its registry key back to the page (a ``st.components.v2`` component in the page's own DOM,
no iframe).  It replaces nine interactive grids (one per block): 报告详情's first render costs the browser ≈ 0.35 s
less CPU (docs/benchmarks.md).  The table itself is :func:`pipeline.dashboard.html_table.render` (every cell escaped).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

import streamlit as st

from pipeline.dashboard import html_table
from pipeline.dashboard.tables import OfficialGrid

COMPONENT = "xxgk_cell_table"

_mount = st.components.v2.component(
    COMPONENT, js=Path(__file__).with_name("cell_table.js").read_text(encoding="utf-8"), isolate_styles=False
)


def block_html(block: OfficialGrid, picked: str | None = None) -> str:
    """The block as an HTML table: label column first, cell texts right-aligned, each cell keyed."""
    label, *cells = block.grid.columns
    return html_table.render(block.grid, right=set(cells), wrap={label}, cell_keys=block.keys, picked=picked,
                             fit_width=True)  # fmt: skip


def clicked_cell(key: str) -> str | None:
    """The registry key of the cell just clicked in the block drawn under ``key`` (in its change callback, before
    the page runs, or during the run that the click started); None when none was."""
    state = st.session_state.get(key)
    cell = state.get("cell") if isinstance(state, Mapping) else getattr(state, "cell", None)
    return cell if isinstance(cell, str) else None


def clickable_block(
    block: OfficialGrid, key: str, picked: str | None = None, on_click: Callable[[], None] | None = None
) -> str | None:
    """Draw ``block`` with the cell ``picked`` marked; returns the key of the cell clicked in it on this run.

    ``on_click`` runs before the page's script when a cell is clicked (read the cell with :func:`clicked_cell`):
    the whole run then sees the new choice (every block marks it, the source pane shows it).
    """
    result = _mount(key=key, data={"html": block_html(block, picked)}, on_cell_change=on_click or (lambda: None),
                    width="stretch", height="content")  # fmt: skip
    cell = getattr(result, "cell", None)
    return cell if isinstance(cell, str) else None
