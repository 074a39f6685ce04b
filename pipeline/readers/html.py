"""HTML reader (``.html``, ``.htm``, ``.shtml``): government web pages carrying an annual report.

Steps: decode the bytes (:mod:`pipeline.readers.encoding`, honouring ``<meta charset>``), parse with lexbor
(selectolax), drop scripts/styles/forms controls, find the report body (the smallest element holding both the report
title "…政府信息公开工作年度报告" and a data table), drop navigation chrome inside it (:mod:`html_page`), expand
every ``<table>`` into a rowspan/colspan grid (:mod:`pipeline.readers.grid`) and read the rest as lines of text.

Output rows, in reading order:

* a text line → ``Row(cells=[Cell(text)], table=None)``;
* a table row → one :class:`Cell` per grid column (``x0`` = column index, ``x1`` = ``x0 + 1``); the copies a
  rowspan/colspan creates carry the origin's text with ``spanned=True``; ``Row.table`` is the table's 1-based
  number in the document (the ``t`` of ``loc`` = "表格 t 第 r 行 第 c 列").

Speed matters (≥ 1,000 reports/s per core for reader + matcher): the page is parsed once, and per-node Python work
is limited to table cells and the body's text nodes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from selectolax.lexbor import LexborHTMLParser, LexborNode

from pipeline.model import Cell, Document, Row
from pipeline.normalize import is_traditional, simplified_converter, strip_pinyin_spam
from pipeline.readers import html_page as page
from pipeline.readers.dates import html_header
from pipeline.readers.encoding import decode
from pipeline.readers.errors import ReadError
from pipeline.readers.grid import CellBudget, GridCell, expand
from pipeline.readers.limits import MAX_ELEMENTS, MAX_GRID_CELLS, MAX_LINE_CHARS, MAX_TABLES, refuse

EXTENSIONS = (".html", ".htm", ".shtml", ".xhtml")
LAYOUT_CELL_CHARS = 300  # a table holding a longer cell is page layout, read as text
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f]")


def decode_html(data: bytes) -> tuple[str, str, list[str]]:
    """(text, encoding, notes) of a web page's bytes; raises :class:`ReadError` when they are not text."""
    decoded = decode(data, html=True)
    sample = decoded.text[:20000]
    if _CONTROL.search(sample) and len(_CONTROL.findall(sample)) > len(sample) // 100:
        raise ReadError(f"按 {decoded.encoding} 解码后含大量控制字符：不是 HTML 文本（可能是二进制文件）")
    return decoded.text, decoded.encoding, decoded.notes


@dataclass(slots=True)
class _Table:
    cells: list[list[GridCell]]
    width: int
    nested: list[int]  # placeholders of tables nested in its cells
    caption: str


@dataclass(slots=True)
class _Out:
    path: str
    rows: list[Row] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    n_tables: int = 0

    def text_line(self, text: str) -> None:
        for part in text.split(page.BR):
            line = page.collapse(part)
            if line:
                if len(line) > MAX_LINE_CHARS:
                    raise refuse(self.path, f"第 {len(self.rows) + 1} 行的长度", len(line), MAX_LINE_CHARS, " 字")
                n = len(self.rows) + 1
                self.rows.append(Row(cells=[Cell(line, f"第 {n} 行")], line=n))
                self.lines.append(line)

    def table(self, table: _Table) -> None:
        if table.caption:
            self.text_line(table.caption)
        self.n_tables += 1
        t = self.n_tables
        width = table.width
        xs = [float(c) for c in range(width + 1)]
        col_locs = [f"第 {c + 1} 列" for c in range(width)]
        rows = self.rows
        for r, grid_row in enumerate(table.cells, start=1):
            prefix = f"表格 {t} 第 {r} 行 "
            cells = []
            texts = []
            for c in range(width):
                text, spanned = grid_row[c]
                cells.append(Cell(text, prefix + col_locs[c], xs[c], xs[c + 1], spanned))
                texts.append("" if spanned else text)
            n = len(rows) + 1
            rows.append(Row(cells, n, t))
            self.lines.append("\t".join(texts).rstrip("\t"))


def _clean_texts(out: _Out, title: str, notes: list[str]) -> str:
    """The clean-up every reader applies (normalize.clean_document_text): traditional → simplified and spam
    pinyin removed, on every cell, line and the title.  Returns the cleaned title.

    Checked once on the whole text; only the rare pages that need it pay for the per-cell rewrite.  Conversion
    runs on one joined string (a cell holds no newline), forced for all cells once the page is traditional, so
    that a cell with a single traditional character is converted too.
    """
    full = "\n".join(out.lines)
    traditional = is_traditional(full + title)
    spam = strip_pinyin_spam(full) != full
    if not traditional and not spam:
        return title
    cells = [cell for row in out.rows for cell in row.cells]
    blob = "\n".join([*(c.text for c in cells), *out.lines, title])
    if traditional:
        blob = simplified_converter().convert(blob)
        notes.append("繁体字网页，已转换为简体")
    cleaned = strip_pinyin_spam(blob)
    if cleaned != blob:
        notes.append("网页正文夹有拼音（镜像站），已删除")
    parts = cleaned.split("\n")
    n_cells, n_lines = len(cells), len(out.lines)
    for cell, text in zip(cells, parts[:n_cells], strict=True):
        cell.text = text
    out.lines[:] = parts[n_cells : n_cells + n_lines]
    return parts[-1]


def _walk(body: LexborNode, tables: dict[int, _Table], out: _Out) -> None:
    """Text nodes of ``body`` in document order, grouped into lines by their nearest block ancestor."""
    current: list[str] = []
    current_block = -1
    block_of: dict[int, int] = {}

    def flush() -> None:
        if current:
            out.text_line("".join(current))
            current.clear()

    def emit_table(k: int) -> None:
        table = tables.get(k)
        if table is None:
            return
        out.table(table)
        for inner in table.nested:
            emit_table(inner)

    for node in body.traverse(include_text=True, skip_empty=True):
        text = node.text_content
        if text is None:
            if node.tag in page.BLOCK_TAGS:
                flush()
                current_block = -1
            continue
        parent = node.parent
        if parent is None:
            continue
        pid = parent.mem_id
        block = block_of.get(pid)
        if block is None:
            block = block_of[pid] = page.block_of(parent, out.path)
        if block != current_block:
            flush()
            current_block = block
        if "\ue001" in text:
            pos = 0
            for m in page.TABLE_MARK.finditer(text):
                current.append(text[pos : m.start()])
                flush()
                emit_table(int(m.group(1)))
                pos = m.end()
            current.append(text[pos:])
            continue
        current.append(text)
    flush()


def _expand_tables(body: LexborNode, path: str, notes: list[str]) -> dict[int, _Table]:
    """Tables inside the body, innermost first, each replaced by a placeholder in the tree (a nested table becomes a
    placeholder in its outer cell); layout tables (one column, or holding long text) are left to be read as text."""
    body_tables = body.css("table")  # css() includes the node itself; choose_body never returns a table
    budget = CellBudget(path)
    tables: dict[int, _Table] = {}
    for k in range(len(body_tables) - 1, -1, -1):
        table = body_tables[k]
        rows, caption, nested, max_len = page.table_cells(table)
        cells = expand(rows, budget, width_from_starts=True)
        width = len(cells[0]) if cells else 0
        if width <= 1 or max_len > LAYOUT_CELL_CHARS:
            continue
        tables[k] = _Table(cells, width, nested, caption)
        table.replace_with(f"\ue001{k}\ue002")
    notes.extend(budget.notes)
    return tables


_ELEMENT_TAG = re.compile(r"<[a-zA-Z]")  # a start tag
_TABLE_TAG = re.compile(r"<table[\s>]", re.I)
_CELL_TAG = re.compile(r"<t[dh][\s>/]", re.I)


def _check_size(html: str, path: str) -> None:
    """Refuse a page with more elements, tables or cells than the readers take, counted in the source before it is
    parsed (the parser's memory grows with the number of elements)."""
    n_tags = html.count("<")
    if n_tags > MAX_ELEMENTS:
        n_elements = len(_ELEMENT_TAG.findall(html))
        if n_elements > MAX_ELEMENTS:
            raise refuse(path, "网页元素数", n_elements, MAX_ELEMENTS)
    n_tables = len(_TABLE_TAG.findall(html))
    if n_tables > MAX_TABLES:
        raise refuse(path, "表格数", n_tables, MAX_TABLES)
    n_cells = len(_CELL_TAG.findall(html))
    if n_cells > MAX_GRID_CELLS:
        raise refuse(path, "表格单元格数", n_cells, MAX_GRID_CELLS)


def check_limits(html: str, path: str) -> None:
    """Refuse a page beyond the readers' limits before anything parses it: elements, tables and cells counted in
    the source, then the nesting depth (raises :class:`~pipeline.readers.limits.LimitError`)."""
    _check_size(html, path)
    page.check_depth(html, path)


def read(path: str, data: bytes) -> Document:
    """Read one web page.  Raises :class:`ReadError` when the bytes are not text or the page is beyond a limit."""
    html, encoding, notes = decode_html(data)
    check_limits(html, path)
    tree = LexborHTMLParser(html)
    title_node = tree.css_first("title")
    page_title = page.collapse(title_node.text(deep=True)) if title_node is not None else ""
    header = html_header(html, tree)  # before the chrome (where the info bar with 发布时间 sits) is dropped
    root = tree.body
    if root is None:
        return Document(path, "html", [], "", page_title or None, encoding, notes + ["网页没有 <body>"], header)
    for junk in root.css(page.JUNK_SELECTOR):  # one query: faster than strip_tags() (one query per tag)
        junk.decompose()
    for br in root.css("br"):
        br.replace_with(page.BR)

    data_tables = [t for t in root.css("table") if page.is_data_table(t)]
    title = page.find_title(root, path)
    body = page.choose_body(root, title, data_tables, path)

    keep = page.ancestor_ids(title, path, root) if title is not None else set()
    for table in data_tables:
        keep |= page.ancestor_ids(table, path, root)
    body_source = html[html.find("<body") :].lower() if "<body" in html else html.lower()
    page.remove_chrome(
        body,
        keep,
        may_hide="display" in body_source or "visibility" in body_source or " hidden" in body_source,
    )

    out = _Out(path)
    _walk(body, _expand_tables(body, path, notes), out)
    if not page_title and title is not None:
        page_title = page.collapse(title.text(deep=True))
    page_title = _clean_texts(out, page_title, notes)
    if not out.rows:
        notes.append("网页正文为空")
    return Document(
        path=path,
        format="html",
        rows=out.rows,
        text="\n".join(out.lines),
        title=page_title or None,
        encoding=encoding,
        notes=notes,
        header=header,
    )
