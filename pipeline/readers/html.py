"""HTML reader (``.html``, ``.htm``, ``.shtml``): government web pages carrying an annual report.

Steps: decode the bytes (BOM → ``<meta charset>`` → strict UTF-8 → GB18030 → charset-normalizer), parse with
lexbor (selectolax), drop scripts/styles/forms controls, find the report body (the smallest element holding both the
report title "…政府信息公开工作年度报告" and a data table), drop navigation chrome inside it, expand every
``<table>`` into a rowspan/colspan grid and read the rest as lines of text.

Output rows, in reading order:

* a text line → ``Row(cells=[Cell(text)], table=None)``;
* a table row → one :class:`Cell` per grid column (``x0`` = column index, ``x1`` = ``x0 + 1``); the copies a
  rowspan/colspan creates carry the origin's text with ``spanned=True``; ``Row.table`` is the table's 1-based
  number in the document (the ``t`` of ``loc`` = "表格 t 第 r 行 第 c 列").

Speed matters (≥ 1,000 reports/s per core for reader + matcher): the page is parsed once, and per-node Python work
is limited to table cells and the body's text nodes.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass, field
from functools import cache

import opencc
from selectolax.lexbor import LexborHTMLParser, LexborNode

from pipeline.model import Cell, Document, Row
from pipeline.normalize import is_traditional, strip_pinyin_spam
from pipeline.readers import ReadError
from pipeline.readers.dates import html_header

EXTENSIONS = (".html", ".htm", ".shtml", ".xhtml")

# ---------------------------------------------------------------------------------------------------------------
# Decoding

_META_CHARSET = re.compile(rb"""<meta\b[^>]*?charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.I)
# Declarations that mean "some GB encoding": always decode with GB18030, their common superset.
_GB_FAMILY = {
    "gb2312",
    "gbk",
    "gb18030",
    "gb_2312-80",
    "gb_2312",
    "x-gbk",
    "cp936",
    "ms936",
    "windows-936",
    "euc-cn",
    "csgb2312",
    "chinese",
    "iso-ir-58",
    "x-euc-cn",
}
_BIG5_FAMILY = {"big5", "big5-hkscs", "big5hkscs", "x-x-big5", "cn-big5", "csbig5", "cp950"}
# A Chinese report is never in a Western single-byte encoding: such a declaration is a template mistake.
_WESTERN = re.compile(r"^(iso-?8859-\d+|latin-?\d|windows-125\d|cp125\d|us-ascii|ascii)$")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f]")


def _declared_charset(data: bytes) -> str | None:
    """Python codec name of the ``<meta charset>`` / ``http-equiv`` declaration, or None."""
    m = _META_CHARSET.search(data, 0, 16384)
    if not m:
        return None
    name = m.group(1).decode("ascii", "ignore").lower().strip("-_.")
    if name in _GB_FAMILY:
        return "gb18030"
    if name in _BIG5_FAMILY:
        return "big5hkscs"
    if name in ("utf8", "utf-8", "unicode-1-1-utf-8", "x-unicode20utf8"):
        return "utf-8"
    if _WESTERN.match(name):
        return None
    try:
        return codecs.lookup(name).name
    except LookupError:
        return None


def _few_errors(data: bytes, encoding: str) -> str | None:
    """Text decoded with replacement when only a handful of bytes are bad (a truncated or patched page)."""
    text = data.decode(encoding, errors="replace")
    bad = text.count("\ufffd")
    return text if bad <= max(2, len(text) // 2000) else None


def decode_html(data: bytes) -> tuple[str, str, list[str]]:
    """(text, encoding, notes) for the bytes of a web page.

    Order: BOM; UTF-16 without BOM (zero bytes); the page's own declaration — except that bytes which are valid,
    non-ASCII UTF-8 are UTF-8 whatever a GB/Big5 meta says (a copied template header is common, valid UTF-8 by
    chance is not); strict UTF-8; GB18030; UTF-8/GB18030 with a few bad bytes replaced; charset-normalizer.
    Raises :class:`ReadError` when nothing gives readable text.
    """
    notes: list[str] = []
    for bom, enc in (
        (codecs.BOM_UTF32_LE, "utf-32"),
        (codecs.BOM_UTF32_BE, "utf-32"),
        (codecs.BOM_UTF8, "utf-8-sig"),
        (codecs.BOM_UTF16_LE, "utf-16"),
        (codecs.BOM_UTF16_BE, "utf-16"),
    ):
        if data.startswith(bom):
            return _checked(data.decode(enc, errors="replace"), enc, notes)
    head = data[:4000]
    if len(head) >= 8 and head.count(0) > len(head) // 4:
        enc = "utf-16-le" if head[1::2].count(0) > head[0::2].count(0) else "utf-16-be"
        notes.append(f"无 BOM 的 {enc.upper()} 编码")
        return _checked(data.decode(enc, errors="replace"), enc, notes)

    declared = _declared_charset(data)
    utf8: str | None
    try:
        utf8 = data.decode("utf-8")
    except UnicodeDecodeError:
        utf8 = None
    if declared and declared != "utf-8":
        if utf8 is not None and not utf8.isascii():
            notes.append(f"网页声明编码为 {declared}，但内容是合法的 UTF-8，按 UTF-8 解码")
            return _checked(utf8, "utf-8", notes)
        try:
            return _checked(data.decode(declared), declared, notes)
        except (UnicodeDecodeError, LookupError):
            notes.append(f"网页声明编码 {declared} 无法解码，改为自动识别")
    if utf8 is not None:
        return _checked(utf8, "utf-8", notes)
    if declared == "utf-8":
        notes.append("网页声明编码为 UTF-8，但内容不是合法的 UTF-8，改为自动识别")
    try:
        return _checked(data.decode("gb18030"), "gb18030", notes)
    except UnicodeDecodeError:
        pass
    for enc in ("utf-8", "gb18030"):
        text = _few_errors(data, enc)
        if text is not None:
            notes.append(f"按 {enc} 解码，少量无效字节已替换为 \ufffd")
            return _checked(text, enc, notes)
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    if best is None:
        raise ReadError("无法识别网页编码（不是 UTF-8、GB18030 或其他可识别的文本编码）")
    notes.append(f"编码由 charset-normalizer 推测为 {best.encoding}")
    return _checked(str(best), best.encoding, notes)


def _checked(text: str, encoding: str, notes: list[str]) -> tuple[str, str, list[str]]:
    sample = text[:20000]
    if _CONTROL.search(sample) and len(_CONTROL.findall(sample)) > len(sample) // 100:
        raise ReadError(f"按 {encoding} 解码后含大量控制字符：不是 HTML 文本（可能是二进制文件）")
    return text, encoding, notes


# ---------------------------------------------------------------------------------------------------------------
# Page structure

_JUNK_TAGS = [
    "script",
    "style",
    "noscript",
    "iframe",
    "template",
    "svg",
    "object",
    "embed",
    "select",
    "button",
    "textarea",
    "input",
    "canvas",
    "video",
    "audio",
    "map",
]
_JUNK_SELECTOR = ", ".join(_JUNK_TAGS)
# Block-level elements: text inside different blocks goes on different lines.
_BLOCK_TAGS = frozenset(
    [
        "p",
        "div",
        "li",
        "ul",
        "ol",
        "dl",
        "dt",
        "dd",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "blockquote",
        "section",
        "article",
        "main",
        "header",
        "footer",
        "nav",
        "aside",
        "pre",
        "center",
        "address",
        "figure",
        "figcaption",
        "table",
        "caption",
        "thead",
        "tbody",
        "tfoot",
        "tr",
        "td",
        "th",
        "form",
        "fieldset",
        "legend",
        "body",
        "html",
        "hr",
        "details",
        "summary",
    ]
)
# Navigation chrome: these tags, containers whose class/id names navigation parts, and hidden elements.  An element
# is only dropped when it holds neither the report title nor a data table (ASP.NET pages wrap the whole page in
# <form>, some sites put the title in a "header" div).
_CHROME_TAGS = frozenset(["nav", "header", "footer", "aside", "form"])
_CHROME_CONTAINERS = frozenset(
    ["nav", "header", "footer", "aside", "form", "div", "ul", "ol", "dl", "section", "table"]
)
_CHROME_NAME = re.compile(
    r"nav|menu|header|footer|crumb|sidebar|share|related|copyright|friendlink|toolbar|location|position|search"
    r"|login|dqwz|xgxx|xglj|yqlj"  # 当前位置, 相关信息, 相关链接, 友情链接
)
_HIDDEN_STYLE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.I)
_TITLE_MARKS = ("年度报告", "年度報告")
_PINYIN = re.compile(r"[(（][a-zA-Z]{1,8}[)）]")
_YEAR = re.compile(r"(?:19|20)\d\d")
_DIGIT = re.compile(r"\d")
_TABLE_MARK = re.compile("\ue001(\\d+)\ue002")
_BR = "\ue000"  # stands for <br> in text nodes
_CELL_TRANS = str.maketrans({_BR: " ", "\u200b": "", "\ufeff": "", "\u200e": "", "\u200f": ""})


def _collapse(text: str) -> str:
    """Whitespace (incl. &nbsp; and the ideographic space) collapsed to single spaces, ends stripped."""
    if _BR in text or "\u200b" in text or "\ufeff" in text or "\u200e" in text or "\u200f" in text:
        text = text.translate(_CELL_TRANS)
    return " ".join(text.split())


def _ancestor_ids(node: LexborNode | None, stop: LexborNode | None = None) -> set[int]:
    """mem_ids of ``node`` and its ancestors (up to ``stop`` included)."""
    out: set[int] = set()
    stop_id = stop.mem_id if stop is not None else None
    while node is not None:
        out.add(node.mem_id)
        if node.mem_id == stop_id:
            break
        node = node.parent
    return out


def _inside(node: LexborNode, tags: tuple[str, ...], depth: int = 6) -> bool:
    parent = node.parent
    while parent is not None and depth > 0:
        if parent.tag in tags:
            return True
        parent = parent.parent
        depth -= 1
    return False


def _title_score(node: LexborNode, text: str) -> int | None:
    """How much ``node`` looks like this page's report title; None when it cannot be (a link, a long sentence)."""
    tag = node.tag or ""
    if tag in ("body", "html", "title", "a") or _inside(node, ("a",)):
        return None  # a link to a report (related links, other years) is not this page's title
    squeezed = _PINYIN.sub("", "".join(text.split()))
    if len(squeezed) > 100 or not any(mark in squeezed for mark in _TITLE_MARKS):
        return None
    score = 0
    if "公开" in squeezed or "公開" in squeezed:
        score += 3
    if "工作年度" in squeezed:
        score += 1
    if _YEAR.search(squeezed):
        score += 2
    if tag in ("h1", "h2", "h3") or "title" in (node.attributes.get("class") or "").lower():
        score += 2
    if tag == "li" or _inside(node, ("li",)):
        score -= 3  # list items: menus and link lists
    if len(squeezed) > 60:
        score -= 3  # a sentence mentioning the report rather than a heading
    return score


def _find_title(root: LexborNode) -> LexborNode | None:
    """The element holding this page's report title, or None.

    First the elements whose own text contains "年度报告" (one fast query); if none qualifies (title split over
    inline tags, spam pinyin), headings and title-like elements whose whole text does once whitespace and
    "(pinyin)" are removed.
    """
    for query in (
        ":lexbor-contains('年度报告'), :lexbor-contains('年度報告')",
        "h1, h2, h3, h4, [class*=title i], [id*=title i], strong, b, center, font, p",
    ):
        best: tuple[int, LexborNode] | None = None
        for node in root.css(query):
            score = _title_score(node, node.text(deep=True))
            if score is not None and score > 0 and (best is None or score > best[0]):
                best = (score, node)
        if best is not None:
            return best[1]
    return None


def _is_data_table(table: LexborNode) -> bool:
    """A leaf table with at least 2 rows: candidate statistics table (not a layout wrapper)."""
    return len(table.css("table")) == 1 and len(table.css("tr")) >= 2


def _choose_body(root: LexborNode, title: LexborNode | None, data_tables: list[LexborNode]) -> LexborNode:
    """The smallest ancestor of the title that contains a data table; the whole page when unsure."""
    if title is None:
        return root
    if not data_tables:
        node: LexborNode | None = title
        while node is not None and node.mem_id != root.mem_id:
            if len(node.text(deep=True)) > 400:
                return node
            node = node.parent
        return root
    table_ancestors: set[int] = set()
    for table in data_tables:
        table_ancestors |= _ancestor_ids(table, root)
    node = title
    while node is not None:
        if node.mem_id in table_ancestors:
            # a title printed inside the statistics table: the body is what holds that table
            while node.tag in ("table", "tbody", "thead", "tfoot", "tr") and node.parent is not None:
                node = node.parent
            return node
        node = node.parent
    return root


def _is_chrome(node: LexborNode) -> bool:
    tag = node.tag
    if tag not in _CHROME_CONTAINERS:
        return False
    if tag in _CHROME_TAGS:
        return True
    attrs = node.attributes
    names = f"{attrs.get('class') or ''} {attrs.get('id') or ''}".lower()
    return _CHROME_NAME.search(names) is not None


def _remove_chrome(body: LexborNode, keep: set[int], may_hide: bool) -> None:
    """Drop navigation chrome and hidden elements under ``body``, except ancestors of the title and data tables.

    ``may_hide``: the page source mentions display/visibility at all (the style-substring query is the slowest
    part of this, and Word-exported pages style every cell).
    """
    doomed = [n for n in body.css("[class], [id], nav, header, footer, aside, form") if _is_chrome(n)]
    if may_hide:
        doomed += [
            n
            for n in body.css('[style*="none" i], [style*="hidden" i]')
            if _HIDDEN_STYLE.search(n.attributes.get("style") or "")
        ]
        doomed += body.css("[hidden]")
    for node in doomed:
        if node.mem_id in keep:
            continue
        if _inside(node, ("table",), depth=12):  # a cell's class="header" is table structure, not chrome
            continue
        node.decompose()


# ---------------------------------------------------------------------------------------------------------------
# Tables


def _span(value: str | None, default: int = 1) -> int:
    if not value:
        return default
    digits = re.match(r"\s*(\d+)", value)
    if not digits:
        return default
    return int(digits.group(1))


@dataclass(slots=True)
class _Grid:
    cells: list[list[tuple[str, bool] | None]]  # [row][col] → (text, spanned) or None (no cell there)
    width: int
    nested: list[int] = field(default_factory=list)  # placeholders of tables nested in cells
    caption: str = ""
    max_cell_len: int = 0


def _table_rows(table: LexborNode) -> tuple[list[LexborNode], str]:
    rows: list[LexborNode] = []
    caption = ""
    for child in table.iter():
        tag = child.tag
        if tag == "tr":
            rows.append(child)
        elif tag in ("tbody", "thead", "tfoot"):
            rows.extend(tr for tr in child.iter() if tr.tag == "tr")
        elif tag == "caption":
            caption = _collapse(child.text(deep=True))
    return rows, caption


def _expand(table: LexborNode) -> _Grid:
    """The table's grid after rowspan/colspan expansion.

    Malformed spans are tolerated: rowspan past the last row is cut at the table's end (rowspan=0 means "to the
    end"), colspan past the widest row start is cut at the table's width (by the caller), overlapping spans keep
    the first cell, and missing cells stay None (blank).
    """
    trs, caption = _table_rows(table)
    n_rows = len(trs)
    grid: list[list[tuple[str, bool] | None]] = [[] for _ in range(n_rows)]
    nested: list[int] = []
    width = 0
    max_len = 0
    for r, tr in enumerate(trs):
        row = grid[r]
        c = 0
        for cell in tr.iter():
            tag = cell.tag
            if tag != "td" and tag != "th":
                continue
            n = len(row)
            while c < n and row[c] is not None:
                c += 1
            raw = cell.text(deep=True)
            if "\ue001" in raw:
                nested.extend(int(k) for k in _TABLE_MARK.findall(raw))
                raw = _TABLE_MARK.sub(" ", raw)
            text = raw if raw.isdigit() else _collapse(raw)
            if len(text) > max_len:
                max_len = len(text)
            if c >= width:
                width = c + 1
            attrs = cell.attributes
            if "rowspan" not in attrs and "colspan" not in attrs:
                if c >= n:
                    row.extend([None] * (c + 1 - n))
                row[c] = (text, False)
                c += 1
                continue
            rowspan = _span(attrs.get("rowspan"))
            colspan = min(max(_span(attrs.get("colspan")), 1), 1000)
            if rowspan == 0 or r + rowspan > n_rows:
                rowspan = n_rows - r
            end = c + colspan
            origin = (text, False)
            copy = (text, True)
            for dr in range(rowspan):
                target = grid[r + dr]
                if len(target) < end:
                    target.extend([None] * (end - len(target)))
                for col in range(c, end):
                    if target[col] is None:
                        target[col] = origin if (dr == 0 and col == c) else copy
            c = end
    return _Grid(grid, width, nested, caption, max_len)


# ---------------------------------------------------------------------------------------------------------------
# Reading order


@dataclass(slots=True)
class _Out:
    rows: list[Row] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    n_tables: int = 0

    def text_line(self, text: str) -> None:
        for part in text.split(_BR):
            line = _collapse(part)
            if line:
                n = len(self.rows) + 1
                self.rows.append(Row(cells=[Cell(line, f"第 {n} 行")], line=n))
                self.lines.append(line)

    def table(self, grid: _Grid) -> None:
        if grid.caption:
            self.text_line(grid.caption)
        self.n_tables += 1
        t = self.n_tables
        width = grid.width
        xs = [float(c) for c in range(width + 1)]
        col_locs = [f"第 {c + 1} 列" for c in range(width)]
        blank = ("", False)
        rows = self.rows
        for r, grid_row in enumerate(grid.cells, start=1):
            if len(grid_row) < width:
                grid_row = grid_row + [None] * (width - len(grid_row))
            prefix = f"表格 {t} 第 {r} 行 "
            cells = []
            texts = []
            for c in range(width):
                text, spanned = grid_row[c] or blank
                cells.append(Cell(text, prefix + col_locs[c], xs[c], xs[c + 1], spanned))
                texts.append("" if spanned else text)
            n = len(rows) + 1
            rows.append(Row(cells, n, t))
            self.lines.append("\t".join(texts).rstrip("\t"))


@cache
def _t2s() -> opencc.OpenCC:
    return opencc.OpenCC("t2s")


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
        blob = _t2s().convert(blob)
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


def _walk(body: LexborNode, grids: dict[int, _Grid], out: _Out) -> None:
    """Text nodes of ``body`` in document order, grouped into lines by their nearest block ancestor."""
    current: list[str] = []
    current_block = -1
    block_of: dict[int, int] = {}

    def flush() -> None:
        if current:
            out.text_line("".join(current))
            current.clear()

    def emit_table(k: int) -> None:
        grid = grids.get(k)
        if grid is None:
            return
        out.table(grid)
        for inner in grid.nested:
            emit_table(inner)

    for node in body.traverse(include_text=True, skip_empty=True):
        text = node.text_content
        if text is None:
            tag = node.tag
            if tag in _BLOCK_TAGS:
                flush()
                current_block = -1
            continue
        parent = node.parent
        pid = parent.mem_id
        block = block_of.get(pid)
        if block is None:
            p = parent
            while p is not None and p.tag not in _BLOCK_TAGS:
                p = p.parent
            block = p.mem_id if p is not None else 0
            block_of[pid] = block
        if block != current_block:
            flush()
            current_block = block
        if "\ue001" in text:
            pos = 0
            for m in _TABLE_MARK.finditer(text):
                current.append(text[pos : m.start()])
                flush()
                emit_table(int(m.group(1)))
                pos = m.end()
            current.append(text[pos:])
            continue
        current.append(text)
    flush()


# ---------------------------------------------------------------------------------------------------------------


def read(path: str, data: bytes) -> Document:
    """Read one web page.  Raises :class:`ReadError` only when the bytes cannot be decoded as text."""
    html, encoding, notes = decode_html(data)
    tree = LexborHTMLParser(html)
    title_node = tree.css_first("title")
    page_title = _collapse(title_node.text(deep=True)) if title_node is not None else ""
    header = html_header(html, tree)  # before the chrome (where the info bar with 发布时间 sits) is dropped
    root = tree.body
    if root is None:
        return Document(path, "html", [], "", page_title or None, encoding, notes + ["网页没有 <body>"], header)
    for junk in root.css(_JUNK_SELECTOR):  # one query: faster than strip_tags() (one query per tag)
        junk.decompose()
    for br in root.css("br"):
        br.replace_with(_BR)

    tables = root.css("table")
    data_tables = [t for t in tables if _is_data_table(t)]
    title = _find_title(root)
    body = _choose_body(root, title, data_tables)

    keep = _ancestor_ids(title, root) if title is not None else set()
    for table in data_tables:
        keep |= _ancestor_ids(table, root)
    body_source = html[html.find("<body") :].lower() if "<body" in html else html.lower()
    _remove_chrome(
        body,
        keep,
        may_hide="display" in body_source or "visibility" in body_source or " hidden" in body_source,
    )

    # Tables inside the body, innermost first, so a nested table becomes a placeholder in its outer cell.
    body_tables = body.css("table")  # css() includes the node itself; _choose_body never returns a table
    grids: dict[int, _Grid] = {}
    for k in range(len(body_tables) - 1, -1, -1):
        table = body_tables[k]
        grid = _expand(table)
        # Layout tables (one column, or holding long text) are read as text: their cells become lines.
        if grid.width <= 1 or grid.max_cell_len > 300:
            continue
        grids[k] = grid
        table.replace_with(f"\ue001{k}\ue002")

    out = _Out()
    _walk(body, grids, out)
    if not page_title and title is not None:
        page_title = _collapse(title.text(deep=True))
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
