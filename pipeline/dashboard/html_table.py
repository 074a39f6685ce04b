"""Tables drawn as static HTML: what every page shows on its first render instead of an interactive grid.

An ``st.dataframe`` grid (glide data grid on a canvas) costs a new browser tab 0.5–1 s of renderer CPU before the
page is drawn — its code is loaded, evaluated and laid out per grid, however few cells the grid holds.  The tables
the dashboard shows are small (official blocks, per-region summaries) or shown a page at a time, so a plain HTML
``<table>`` reads the same and costs the browser a few milliseconds (docs/benchmarks.md).

Every cell is escaped here (agency names, report text and file names are untrusted input; ``st.html`` sanitises
again with DOMPurify).  A cell keeps what it is: NULL reads as :data:`NULL_TEXT` (the page legend explains it, never
0), an empty string stays empty, "/" stays "/", 0 stays 0.  Numbers are right-aligned.  Column formats come from
the same ``st.column_config`` objects the pages give a grid (percent, link, date, progress), so a page can show a
table either way.
"""

from __future__ import annotations

import datetime as dt
import html
import re
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

import polars as pl

NULL_TEXT = "（空）"  # the legend's placeholder for a NULL cell (ui.null_legend)
TABLE_TESTID = "xxgkTable"

# One style block per table (st.html keeps <style>); colours follow Streamlit's light theme like st.table.
STYLE = """<style>
.xxgk-table{overflow:auto;border:1px solid rgba(49,51,63,.12);border-radius:.5rem;margin-bottom:.5rem;
content-visibility:auto;contain-intrinsic-size:auto 300px}
.xxgk-table table{border-collapse:collapse;width:max-content;min-width:100%;font-size:.875rem;line-height:1.4}
.xxgk-table th,.xxgk-table td{padding:.25rem .6rem;border-bottom:1px solid rgba(49,51,63,.08);text-align:left;
vertical-align:top;white-space:nowrap;max-width:32rem;overflow:hidden;text-overflow:ellipsis}
.xxgk-table th{position:sticky;top:0;background:#f6f6f8;font-weight:600;color:rgba(49,51,63,.8);z-index:1}
.xxgk-table.fit table{width:100%}
.xxgk-table.fit th{white-space:normal;vertical-align:bottom}
.xxgk-table.fit th.n{min-width:3.6em}
.xxgk-table td.n,.xxgk-table th.n{text-align:right;font-variant-numeric:tabular-nums}
.xxgk-table td.w{white-space:normal;min-width:16rem;max-width:40rem}
.xxgk-table td.null{color:rgba(49,51,63,.45)}
.xxgk-table tr:hover td{background:rgba(28,131,225,.06)}
.xxgk-table td[data-key]{cursor:pointer}
.xxgk-table td[data-key]:hover{outline:1px solid #1c83e1;outline-offset:-1px}
.xxgk-table td.picked{background:rgba(28,131,225,.18)!important;outline:2px solid #1c83e1;outline-offset:-2px}
</style>"""

Formatter = Callable[[Any], str]
_NUMERIC = (pl.Int8, pl.Int16, pl.Int32, pl.Int64, pl.UInt8, pl.UInt16, pl.UInt32, pl.UInt64, pl.Float32,
            pl.Float64, pl.Decimal)  # fmt: skip
_WRAP_CHARS = 40  # a text column whose cells run longer than this wraps (a message, a sentence) instead of cutting


def number_text(value: float | int) -> str:
    """A number as the grid showed it: integers whole, other values to at most 4 decimals (no thousands commas:
    years and report numbers are numbers too)."""
    if isinstance(value, int) or float(value).is_integer():
        return str(int(value))
    return f"{value:.4f}".rstrip("0").rstrip(".")


def percent_text(value: float) -> str:
    return f"{value:.1%}"


def safe_href(url: str) -> str | None:
    """``url`` when it is a relative link or http(s); None for anything else (``javascript:`` and the like)."""
    try:
        scheme = urlsplit(url).scheme.lower()
    except ValueError:
        return None
    return url if scheme in ("", "http", "https") else None


def _link_formatter(display_text: str | None) -> Formatter:
    pattern = re.compile(display_text) if display_text and any(ch in display_text for ch in "()\\^$") else None

    def fmt(url: Any) -> str:
        text = str(url)
        href = safe_href(text)
        if pattern is not None:
            match = pattern.search(text)
            label = match.group(1) if match and match.groups() else text
        else:
            label = display_text or text
        if href is None:
            return html.escape(text)
        return f'<a href="{html.escape(href)}" target="_blank" rel="noopener">{html.escape(label)}</a>'

    return fmt


def _escaped(fmt: Callable[[Any], str]) -> Formatter:
    return lambda value: html.escape(fmt(value))


def column_formatter(dtype: pl.DataType, config: Mapping[str, Any] | None) -> tuple[Formatter, bool]:
    """How a column's non-null cells are written (escaped HTML) and whether the column is right-aligned."""
    type_config = (config or {}).get("type_config") or {}
    kind, fmt = type_config.get("type"), type_config.get("format")
    if kind == "link":
        return _link_formatter(type_config.get("display_text")), False
    if kind in ("number", "progress") and fmt == "percent":
        return _escaped(percent_text), True
    if isinstance(dtype, pl.Boolean):
        return lambda v: "true" if v else "false", False
    if isinstance(dtype, _NUMERIC):
        return _escaped(number_text), True
    if isinstance(dtype, pl.Datetime):
        return _escaped(lambda v: v.strftime("%Y-%m-%d %H:%M:%S")), False
    if isinstance(dtype, pl.Date):
        return _escaped(lambda v: v.isoformat() if isinstance(v, dt.date) else str(v)), False
    if isinstance(dtype, pl.List | pl.Array):
        return _escaped(lambda v: "、".join("" if x is None else str(x) for x in v)), False
    return _escaped(str), False


def render(
    df: pl.DataFrame,
    column_config: Mapping[str, Any] | None = None,
    max_height: int | None = None,
    right: set[str] | None = None,
    wrap: set[str] | None = None,
    cell_keys: Mapping[tuple[int, str], str] | None = None,
    picked: str | None = None,
    fit_width: bool = False,
) -> str:
    """``df`` (its column names are the headers shown) as an escaped HTML table.

    ``column_config``: header → ``st.column_config`` object (percent, link, date, progress are honoured).
    ``max_height`` (px): taller tables scroll inside their box under a sticky header.  ``right``: text columns to
    right-align as well (the official tables' cell texts); ``wrap``: text columns that wrap (else a column wraps
    when its texts are long).  ``cell_keys``: (row, header) → a key written on the cell
    as ``data-key`` (the clickable tables of 报告详情); the cell whose key is ``picked`` is marked.
    """
    config = column_config or {}
    right, wrapped = right or set(), wrap or set()
    columns = []
    for name, dtype in df.schema.items():
        fmt, numeric = column_formatter(dtype, config.get(name))
        wraps = name in wrapped or (
            isinstance(dtype, pl.String) and not numeric and name not in right and _long_text(df[name])
        )
        cls = "n" if numeric or name in right else ("w" if wraps else "")
        columns.append((name, fmt, cls))
    head = "".join(f'<th{_cls(cls)} title="{html.escape(name)}">{html.escape(name)}</th>' for name, _, cls in columns)
    rows = []
    for i, row in enumerate(df.iter_rows()):
        cells = []
        for (name, fmt, cls), value in zip(columns, row, strict=True):
            key = cell_keys.get((i, name)) if cell_keys else None
            attrs = f' data-key="{html.escape(key)}"' if key else ""
            classes = [c for c in (cls, "picked" if key and key == picked else "") if c]
            if value is None:
                cells.append(f"<td{_cls(' '.join([*classes, 'null']))}{attrs}>{NULL_TEXT}</td>")
            else:
                text = fmt(value)
                cells.append(f"<td{_cls(' '.join(classes))}{attrs}>{text}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    style = f' style="max-height:{int(max_height)}px"' if max_height else ""
    return (
        f'{STYLE}<div class="xxgk-table{" fit" if fit_width else ""}" data-testid="{TABLE_TESTID}"{style}><table><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )


def _cls(names: str) -> str:
    return f' class="{names}"' if names else ""


def _long_text(column: pl.Series) -> bool:
    lengths = column.drop_nulls().str.len_chars()
    return bool(lengths.len()) and int(lengths.max() or 0) > _WRAP_CHARS  # type: ignore[arg-type]
