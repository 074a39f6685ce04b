"""A web page's structure for the HTML reader: junk and navigation chrome, the report title, the report body, and
the cells of each table.

Every walk up the tree is bounded by :data:`~pipeline.readers.limits.MAX_DEPTH`: a page nested deeper is refused
(each walk would otherwise cost time in proportion to the depth, for every node it starts from).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from selectolax.lexbor import LexborNode

from pipeline.readers.grid import SpanCell
from pipeline.readers.limits import MAX_DEPTH, LimitError

JUNK_SELECTOR = ", ".join(
    [
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
)
# Block-level elements: text inside different blocks goes on different lines.
BLOCK_TAGS = frozenset(
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
_SPAN = re.compile(r"\s*(\d{1,9})")  # more digits than this is no span a table can have
TABLE_MARK = re.compile("\ue001(\\d+)\ue002")  # a nested table's placeholder in its outer cell's text
BR = "\ue000"  # stands for <br> in text nodes
_CELL_TRANS = str.maketrans({BR: " ", "\u200b": "", "\ufeff": "", "\u200e": "", "\u200f": ""})


# Start and end tags, except a table's own parts: those add at most a fixed few levels below their <table>, which
# counts for them (a page is mostly table cells, so skipping them keeps the scan cheap).
_TAG = re.compile(
    r"<(/?)(?!(?:td|th|tr|tbody|thead|tfoot|caption|colgroup|col)[\s/>])([a-zA-Z][a-zA-Z0-9]{0,15})", re.I
)
TABLE_LEVELS = 4  # table > tbody > tr > td
_VOID = frozenset(
    ["area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source", "track", "wbr"]
)
# Elements whose start tag closes an open one of the same name — unless one of the listed elements is open in
# between (a new <li> in a list nested inside an item does not close the outer item).
_IMPLIED_END = {"li": ("ul", "ol"), "dt": ("dl",), "dd": ("dl",), "p": ("table", "button"), "option": ("select",)}
SCAN_ABOVE_TAGS = 4096  # a page with fewer tags cannot nest deep enough to slow the parser down


class TooDeep(LimitError):
    """A page nested deeper than :data:`MAX_DEPTH` elements."""


def check_depth(html: str, path: str) -> None:
    """Refuse a page nested deeper than :data:`MAX_DEPTH`, before parsing it (lexbor's parse time grows with the
    square of the depth: 300,000 levels would take minutes).

    The tags are followed with a stack the way the parser closes elements: an end tag closes every element opened
    after its own start tag, and a new ``<p>``, ``<li>`` … closes the open one of the same name within its list.
    """
    if html.count("<") <= SCAN_ABOVE_TAGS:
        return
    stack: list[tuple[str, int]] = []  # (tag name, levels it adds)
    where: dict[str, list[int]] = {}  # tag name → stack positions where it is open
    depth = 0

    def close(name: str) -> int:
        removed = 0
        index = where[name][-1]
        while len(stack) > index:
            top, levels = stack.pop()
            where[top].pop()
            removed += levels
        return removed

    for m in _TAG.finditer(html):
        name = m.group(2).lower()
        if name in _VOID:
            continue
        end = bool(m.group(1))
        if end or name in _IMPLIED_END:
            open_at = where.get(name)
            if open_at:
                bounds = [where[b][-1] for b in _IMPLIED_END.get(name, ()) if where.get(b)]
                if not bounds or open_at[-1] > max(bounds):
                    depth -= close(name)
            if end:
                continue
        levels = TABLE_LEVELS if name == "table" else 1
        where.setdefault(name, []).append(len(stack))
        stack.append((name, levels))
        depth += levels
        if depth > MAX_DEPTH:
            raise TooDeep(f"{path}: 网页元素嵌套超过上限 {MAX_DEPTH} 层")


def collapse(text: str) -> str:
    """Whitespace (incl. &nbsp; and the ideographic space) collapsed to single spaces, ends stripped."""
    if BR in text or "\u200b" in text or "\ufeff" in text or "\u200e" in text or "\u200f" in text:
        text = text.translate(_CELL_TRANS)
    return " ".join(text.split())


def ancestors(node: LexborNode | None, path: str) -> Iterator[LexborNode]:
    """``node`` and its ancestors, root last; refuses the page past :data:`MAX_DEPTH` levels."""
    steps = 0
    while node is not None:
        yield node
        steps += 1
        if steps > MAX_DEPTH:
            raise TooDeep(f"{path}: 网页元素嵌套超过上限 {MAX_DEPTH} 层")
        node = node.parent


def ancestor_ids(node: LexborNode | None, path: str, stop: LexborNode | None = None) -> set[int]:
    """mem_ids of ``node`` and its ancestors (up to ``stop`` included)."""
    out: set[int] = set()
    stop_id = stop.mem_id if stop is not None else None
    for n in ancestors(node, path):
        out.add(n.mem_id)
        if n.mem_id == stop_id:
            break
    return out


def block_of(node: LexborNode, path: str) -> int:
    """mem_id of the nearest block-level ancestor of ``node`` (0 for none)."""
    for n in ancestors(node, path):
        if n.tag in BLOCK_TAGS:
            return n.mem_id
    return 0


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


def find_title(root: LexborNode, path: str) -> LexborNode | None:
    """The element holding this page's report title, or None.

    First the elements whose own text contains "年度报告" (one fast query); if none qualifies (title split over
    inline tags, spam pinyin), headings and title-like elements whose whole text does once whitespace and
    "(pinyin)" are removed.
    """
    for query in (
        ":lexbor-contains('年度报告'), :lexbor-contains('年度報告')",
        "h1, h2, h3, h4, [class*=title i], [id*=title i], strong, b, center, font, p",
    ):
        nodes = root.css(query)
        if len(nodes) > MAX_DEPTH:
            # every ancestor of a deeply nested mention matches: check the depth before reading each one's text
            for _ in ancestors(nodes[-1], path):
                pass
        best: tuple[int, LexborNode] | None = None
        for node in nodes:
            score = _title_score(node, node.text(deep=True))
            if score is not None and score > 0 and (best is None or score > best[0]):
                best = (score, node)
        if best is not None:
            return best[1]
    return None


def is_data_table(table: LexborNode) -> bool:
    """A leaf table with at least 2 rows: candidate statistics table (not a layout wrapper)."""
    return len(table.css("table")) == 1 and len(table.css("tr")) >= 2


def choose_body(root: LexborNode, title: LexborNode | None, data_tables: list[LexborNode], path: str) -> LexborNode:
    """The smallest ancestor of the title that contains a data table; the whole page when unsure."""
    if title is None:
        return root
    if not data_tables:
        for node in ancestors(title, path):
            if node.mem_id == root.mem_id:
                break
            if len(node.text(deep=True)) > 400:
                return node
        return root
    table_ancestors: set[int] = set()
    for table in data_tables:
        table_ancestors |= ancestor_ids(table, path, root)
    for node in ancestors(title, path):
        if node.mem_id in table_ancestors:
            # a title printed inside the statistics table: the body is what holds that table
            while node.tag in ("table", "tbody", "thead", "tfoot", "tr") and node.parent is not None:
                node = node.parent
            return node
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


def remove_chrome(body: LexborNode, keep: set[int], may_hide: bool) -> None:
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


def _span(value: str | None) -> int:
    m = _SPAN.match(value) if value else None
    return int(m.group(1)) if m else 1


def table_cells(table: LexborNode) -> tuple[list[list[SpanCell]], str, list[int], int]:
    """(rows of span cells, caption, placeholders of tables nested in cells, longest cell text) of one table."""
    trs: list[LexborNode] = []
    caption = ""
    for child in table.iter():
        tag = child.tag
        if tag == "tr":
            trs.append(child)
        elif tag in ("tbody", "thead", "tfoot"):
            trs.extend(tr for tr in child.iter() if tr.tag == "tr")
        elif tag == "caption":
            caption = collapse(child.text(deep=True))
    rows: list[list[SpanCell]] = []
    nested: list[int] = []
    max_len = 0
    for tr in trs:
        cells: list[SpanCell] = []
        for cell in tr.iter():
            if cell.tag != "td" and cell.tag != "th":
                continue
            raw = cell.text(deep=True)
            if "\ue001" in raw:
                nested.extend(int(k) for k in TABLE_MARK.findall(raw))
                raw = TABLE_MARK.sub(" ", raw)
            text = raw if raw.isdigit() else collapse(raw)
            if len(text) > max_len:
                max_len = len(text)
            attrs = cell.attributes
            if "rowspan" not in attrs and "colspan" not in attrs:
                cells.append((text, 1, 1, None))
            else:
                cells.append(
                    (
                        text,
                        _span(attrs.get("colspan")),
                        _span(attrs.get("rowspan")) if "rowspan" in attrs else 1,
                        None,
                    )
                )
        rows.append(cells)
    return rows, caption, nested, max_len
