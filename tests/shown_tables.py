"""Read the tables a page shows in AppTest: the static HTML tables of :mod:`pipeline.dashboard.html_table` (as
text, exactly as a reader sees each cell — NULL as ``None`` only where the cell is marked as the NULL placeholder)
and the cell keys of 报告详情's clickable tables."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from typing import Any

import polars as pl

from pipeline.dashboard.html_table import NULL_TEXT, TABLE_TESTID

TABLE_MARK = f'data-testid="{TABLE_TESTID}"'  # in the body of every static table


class _TableParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tables: list[dict[str, Any]] = []
        self._cell: dict[str, Any] | None = None
        self._row: list[dict[str, Any]] | None = None
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "style":
            self._in_style = True
        elif tag == "div" and a.get("data-testid") == TABLE_TESTID:
            self.tables.append({"rows": [], "classes": a.get("class", "")})
        elif tag == "tr" and self.tables:
            self._row = []
            self.tables[-1]["rows"].append(self._row)
        elif tag in ("td", "th") and self._row is not None:
            self._cell = {"tag": tag, "text": "", "class": a.get("class") or "", "key": a.get("data-key"),
                          "href": None}  # fmt: skip
            self._row.append(self._cell)
        elif tag == "a" and self._cell is not None:
            self._cell["href"] = a.get("href")

    def handle_endtag(self, tag: str) -> None:
        if tag == "style":
            self._in_style = False
        elif tag in ("td", "th"):
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None and not self._in_style:
            self._cell["text"] += data


def parse(body: str) -> list[dict[str, Any]]:
    """Every table in an HTML body: ``{"rows": [[{"tag", "text", "class", "key", "href"}, …], …]}``."""
    parser = _TableParser()
    parser.feed(body)
    return parser.tables


def frame(table: dict[str, Any]) -> pl.DataFrame:
    """A parsed table as text columns named by its headers; a NULL cell (class ``null``) is None."""
    header, *rows = table["rows"]
    names = [c["text"] for c in header]
    data = [[None if "null" in c["class"].split() else c["text"] for c in row] for row in rows]
    for row in rows:
        for c in row:
            if "null" in c["class"].split():
                assert c["text"] == NULL_TEXT, c  # a NULL cell reads as the legend's placeholder
    return pl.DataFrame(data, schema={n: pl.String for n in names}, orient="row")


def html_bodies(at: Any) -> list[str]:
    """The bodies of the page's ``st.html`` elements and of its clickable table components, in page order."""
    return [body for node in _walk(at.main) if (body := _body(node)) is not None]


def _body(node: Any) -> str | None:
    kind = getattr(node, "type", None)
    if kind == "html":
        return node.proto.body
    if kind == "bidi_component" and node.proto.WhichOneof("data") == "json":
        return json.loads(node.proto.json).get("html")
    return None


def tables(at: Any) -> list[pl.DataFrame]:
    """Every static table the page shows (main area), in page order, as text frames."""
    return [frame(t) for body in html_bodies(at) for t in parse(body)]


def table_with(at: Any, *headers: str) -> pl.DataFrame:
    """The first table shown that has all of ``headers``."""
    return next(t for t in tables(at) if all(h in t.columns for h in headers))


def links(at: Any, header: str, *others: str) -> list[str | None]:
    """The link targets (``href``) of the column ``header`` in the first table that has it (and ``others``)."""
    for body in html_bodies(at):
        for t in parse(body):
            names = [c["text"] for c in t["rows"][0]]
            if header in names and all(o in names for o in others):
                i = names.index(header)
                return [row[i]["href"] for row in t["rows"][1:]]
    raise LookupError(header)


def same_cells(shown: pl.DataFrame, data: pl.DataFrame) -> bool:
    """True when the text table ``shown`` reads as ``data`` cell by cell, in order: NULL as NULL, a number as the
    same number, text as the same text (so blank "", "/" and 0 are each themselves)."""
    assert shown.shape == data.shape, (shown.shape, data.shape)
    for text_row, row in zip(shown.rows(), data.rows(), strict=True):
        for text, value in zip(text_row, row, strict=True):
            if value is None or text is None:
                if not (value is None and text is None):
                    return False
            elif isinstance(value, bool):
                if text != str(value).lower():
                    return False
            elif isinstance(value, int | float):
                if float(text) != float(value) and abs(float(text) - float(value)) > 1e-4 * max(1, abs(value)):
                    return False
            elif text != str(value):
                return False
    return True


def cell_keys(at: Any) -> list[dict[str, Any]]:
    """Every clickable cell of 报告详情's tables: its text and registry key, with the block's row label."""
    out = []
    for body in html_bodies(at):
        for t in parse(body):
            header, *rows = t["rows"]
            for row in rows:
                for i, c in enumerate(row):
                    if c["key"]:
                        out.append({"key": c["key"], "text": c["text"], "row": row[0]["text"],
                                    "column": header[i]["text"], "picked": "picked" in c["class"].split()})  # fmt: skip
    return out


def click_cell(at: Any, grid_key: str, key: str) -> Any:
    """Run ``at`` as the browser does when the cell ``key`` of the clickable table under ``grid_key`` is clicked:
    the component's trigger (``setTriggerValue("cell", key)`` in cell_table.js) sent with the other widgets' state.
    """
    from streamlit.proto.WidgetStates_pb2 import WidgetState
    from streamlit.runtime.state.session_state import STREAMLIT_INTERNAL_KEY_PREFIX

    ids = [n.proto.id for n in _walk(at.main) if getattr(n, "type", None) == "bidi_component"]
    base = next(i for i in ids if i.endswith(f"-{grid_key}"))
    states = at._tree.get_widget_states()
    states.widgets.append(WidgetState(id=f"{STREAMLIT_INTERNAL_KEY_PREFIX}_{base}__events",
                                      json_trigger_value=json.dumps([{"event": "cell", "value": key}])))  # fmt: skip
    return at._run(states)


def _walk(node: Any) -> list[Any]:
    out = [node]
    for child in getattr(node, "children", {}).values():
        out += _walk(child)
    return out
