"""Plain text reader (``.txt``, ``.md``): text extracted from PDFs, copied from web pages, or converted to markdown.

Each line becomes a :class:`Row`.  Cells are split on tabs (PDF copy-paste), on ``|`` (markdown tables), or on runs
of two or more spaces (``pdftotext -layout``); x0/x1 keep each cell's character column so the matcher can align
cells of rows that have blanks.

Web pages saved by a site crawler look different: a block of page metadata (标题: / 发布时间: / 发布机构: / 栏目: /
原文链接: …, often closed by a "==== 正文 ====" line) and then the whole page as one long line, every table cell run
into the next with no separator ("一、本年新收政府信息公开申请数量640020470二、上年结转…").  The metadata goes to
:attr:`Document.header`, not into the report text; the long line is cut where its structure still shows — before
each enumerator (一、 （二） 3.) and after each run of numbers that is not followed by a unit (件, 条, 年 …) — into
rows marked ``glued``, whose digit runs the matcher splits by the template's arithmetic.
"""

from __future__ import annotations

import re

from pipeline.model import Cell, Document, Row
from pipeline.normalize import clean_document_text
from pipeline.readers.encoding import decode, looks_binary
from pipeline.readers.errors import ReadError
from pipeline.readers.limits import MAX_LINE_CHARS, MAX_LINES, MAX_TEXT_CHARS, refuse

_SPACE_SPLIT = re.compile(r"\S+(?: \S+)*")  # cells separated by 2+ spaces; single spaces stay inside a cell
_MD_RULE = re.compile(r"^\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?\s*$")


# --- a crawler's page header ------------------------------------------------------------------------------------
_PAGE_KEYS = (
    "标题", "发布时间", "发布日期", "成文日期", "文号", "发文字号", "发布机构", "发文机关", "来源", "信息来源", "栏目",
    "原文链接", "原文地址", "链接", "网址", "URL", "url", "本地目录", "索引号", "主题分类", "作者", "时效",
)  # fmt: skip
_HEADER_LINE = re.compile(r"^\s*(?P<key>" + "|".join(_PAGE_KEYS) + r")\s*[:：]\s*(?P<value>.*?)\s*$")
_BODY_MARK = re.compile(r"^\s*[=＝\-—]{3,}\s*正文\s*[=＝\-—]{3,}\s*$")
HEADER_LINES_MAX = 20  # a page header is a short block at the very top


def page_header(lines: list[str]) -> tuple[dict[str, str], int]:
    """A saved page's metadata block at the top ("标题: …", "发布时间: …", …) and the index of the first body line;
    ({}, 0) when the text has none.  With a "==== 正文 ====" line everything above it is header; without one, the
    header is the run of "key: value" lines the text starts with (at least two of them)."""
    top = lines[:HEADER_LINES_MAX]
    mark = next((i for i, ln in enumerate(top) if _BODY_MARK.match(ln)), None)
    found: dict[str, str] = {}
    end = 0
    for i, ln in enumerate(top if mark is None else top[:mark]):
        m = _HEADER_LINE.match(ln)
        if m:
            found.setdefault(m["key"], m["value"])
            end = i + 1
        elif mark is None and ln.strip():
            break
    if len(found) < 2:
        return {}, 0
    return found, (mark + 1 if mark is not None else end)


# --- a page flattened to one line ----------------------------------------------------------------------------
FLAT_LINE_MIN = 200  # a shorter line is an ordinary line, never cut
FLAT_LINE_MAX = 200_000  # a saved report page is far shorter; a longer line is not cut (it is no report page)
FLAT_RUNS_MIN = 3  # number runs glued between labels a line needs before it is read as a flattened page
_RUN = re.compile(
    r"(?<![\d.])(?:[+\-−]?\d+(?:\.\d+)?|[/／]|——?|[－–])(?:(?: +|[+\-−])?(?:[+\-−]?\d+(?:\.\d+)?|[/／]|——?|[－–]))*(?:万元|元)?"
)  # numbers and null markers (/ — －) run together
# what a number in prose is followed by: a unit or punctuation (a table's number is followed by the next label)
_UNIT_AFTER = re.compile(
    r"\s*[年月日时分秒号件条个项次人名家户万亿%％余多天期届批场篇份位倍台套辆所处部类栏点里米岁周度版层楼室路栋座户元，。；：、,;:）)》”’\]\-~～—/]"
)
_LABEL_END = re.compile(r"[\u4e00-\u9fff）)”」】]")  # what the label a table's number follows ends with
_ENUM_AFTER = re.compile(
    r"[.．、] ?(?=[\u4e00-\u9fff])"
)  # "…00000002.其他": the run's last digit is the next enumerator
_ENUMERATOR = re.compile(
    r"(?<!第)(?:[一二三四五六七八九十]{1,4}、|[（(][一二三四五六七八九十]{1,3}[)）]|[（(]\d{1,2}[)）])"
    r"|(?<=[\u4e00-\u9fff）)” ])[1-9][.．、] ?(?=[\u4e00-\u9fff])"
)


def _table_runs(line: str) -> list[tuple[int, int]]:
    """(start, end) of the number runs in ``line`` that stand where table cells were: glued between labels."""
    out = []
    for m in _RUN.finditer(line):
        start, end = m.start(), m.end()
        before = start - 1
        while before >= 0 and line[before] == " " and start - before < 8:
            before -= 1
        if before < 0 or not _LABEL_END.match(line[before]):
            continue
        if (
            end - start == 1
            and line[start] in "/／"
            and end < len(line)
            and _LABEL_END.match(line[end])
            and before == start - 1
        ):
            continue  # "本年增/减", "电话/传真": a slash between words, not a null marker
        if _ENUM_AFTER.match(line, end) and line[end - 1].isdigit():
            end -= 1  # the last digit is the next row's enumerator ("…00000002.其他法律…", "…62000083、补正后…")
            while end > start and line[end - 1] == " ":
                end -= 1
            if end <= start:
                continue
        elif _UNIT_AFTER.match(line, end):
            continue
        out.append((start, end))
    return out


def split_flattened(line: str) -> list[tuple[int, str]] | None:
    """A page flattened to one line, cut into (start column, piece) at its enumerators and after its number runs;
    None when the line does not look like one."""
    if not FLAT_LINE_MIN <= len(line) <= FLAT_LINE_MAX or "\t" in line or line.lstrip().startswith("|"):
        return None
    line = line.replace("\u3000", " ")  # ideographic spaces some pages keep between cells: separators like spaces
    runs = _table_runs(line)
    if len(runs) < FLAT_RUNS_MIN:
        return None
    cuts = {0, len(line)}
    cuts.update(end for _start, end in runs)
    cuts.update(m.start() for m in _ENUMERATOR.finditer(line))
    out = []
    bounds = sorted(cuts)
    for a, b in zip(bounds, bounds[1:], strict=False):
        piece = line[a:b]
        if piece.strip():
            text = piece.strip()
            if b < len(line) and line[b] == " " and text[-1:].isdigit():
                text += " "  # a space after the run: maybe a blank cell (&nbsp;) the matcher must consider
            out.append((a + len(piece) - len(piece.lstrip()), text))
    return out


def split_line(line: str, lineno: int) -> list[Cell]:
    """Cells of one text line with their character columns."""
    if "\t" in line:
        return [
            Cell(part.strip(), f"第 {lineno} 行 第 {i + 1} 格", x0=float(i), x1=float(i + 1))
            for i, part in enumerate(line.split("\t"))
        ]
    stripped = line.strip()
    if stripped.startswith("|") and stripped.count("|") >= 2:
        parts = stripped.strip("|").split("|")
        return [
            Cell(p.strip(), f"第 {lineno} 行 第 {i + 1} 格", x0=float(i), x1=float(i + 1)) for i, p in enumerate(parts)
        ]
    cells = []
    for m in _SPACE_SPLIT.finditer(line):
        start, end = m.span()
        cells.append(Cell(m.group(), f"第 {lineno} 行 第 {start + 1} 字", float(start), float(end)))
    return cells


def check_lines(path: str, text: str) -> None:
    """Refuse a text with more characters or lines, or a longer line, than a reader works through."""
    if len(text) > MAX_TEXT_CHARS:
        raise refuse(path, "文本字数", len(text), MAX_TEXT_CHARS, " 字")
    n_lines = text.count("\n") + 1
    if n_lines > MAX_LINES:
        raise refuse(path, "行数", n_lines, MAX_LINES)
    if len(text) > MAX_LINE_CHARS:
        longest = max(map(len, text.split("\n")))
        if longest > MAX_LINE_CHARS:
            raise refuse(path, "最长一行的长度", longest, MAX_LINE_CHARS, " 字")


def rows_from_text(text: str, first_line: int = 1) -> list[Row]:
    """Rows of a text; a form feed (pdftotext's page break) starts a new page, so column positions are compared
    only within a page."""
    rows = []
    page = 1 if "\f" in text else None
    for lineno, line in enumerate(text.split("\n"), start=first_line):
        if "\f" in line and page is not None:
            page += line.count("\f")
            line = line.replace("\f", "")
        if "-" in line and _MD_RULE.match(line):
            continue
        pieces = split_flattened(line)
        if pieces is not None:
            for start, piece in pieces:
                cell = Cell(piece, f"第 {lineno} 行 第 {start + 1} 字")
                rows.append(Row(cells=[cell], line=lineno, page=page, glued=True))
            continue
        cells = split_line(line, lineno)
        if any(c.text for c in cells):
            grid = "\t" in line or line.strip().startswith("|")
            rows.append(Row(cells=cells, line=lineno, grid=grid, page=page))
        else:
            rows.append(Row(cells=[], line=lineno, page=page))  # blank lines matter: page breaks, paragraph ends
    return rows


def read(path: str, data: bytes) -> Document:
    """Read a text file (``.txt``, ``.md``, …): format ``"txt"`` whatever the extension (the reader used)."""
    decoded = decode(data)
    if looks_binary(decoded.text):
        raise ReadError("不是文本文件（含二进制内容）")
    check_lines(path, decoded.text)
    text = clean_document_text(decoded.text)
    lines = text.split("\n")
    header, body_start = page_header(lines)
    if body_start:
        text = "\n".join(lines[body_start:])
    return Document(
        path=path,
        format="txt",
        rows=rows_from_text(text, first_line=body_start + 1),
        text=text,
        encoding=decoded.encoding,
        notes=decoded.notes,
        title=header.get("标题") or None,
        header=header,
    )
