"""Plain text reader (``.txt``, ``.md``): text extracted from PDFs, copied from web pages, or converted to markdown.

Each line becomes a :class:`Row`.  Cells are split on tabs (PDF copy-paste), on ``|`` (markdown tables), or on runs
of two or more spaces (``pdftotext -layout``); x0/x1 keep each cell's character column so the matcher can align
cells of rows that have blanks.
"""

from __future__ import annotations

import codecs
import re
import unicodedata

from pipeline.model import Cell, Document, Row
from pipeline.normalize import clean_document_text
from pipeline.readers import ReadError

_SPACE_SPLIT = re.compile(r"\S+(?: \S+)*")  # cells separated by 2+ spaces; single spaces stay inside a cell
_MD_RULE = re.compile(r"^\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?\s*$")


def decode(data: bytes) -> tuple[str, str]:
    """Decode Chinese text in whatever encoding it came: BOMs, UTF-16 without BOM, UTF-8, GB18030, then a guess."""
    for bom, enc in ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16")):
        if data.startswith(bom):
            return data.decode(enc, errors="replace"), enc
    head = data[:4000]
    if len(head) >= 4 and head.count(b"\x00") > len(head) // 4:
        # UTF-16 without BOM: ASCII and CJK text in UTF-16 has many zero bytes
        enc = "utf-16-le" if head[1::2].count(0) > head[0::2].count(0) else "utf-16-be"
        text = data.decode(enc, errors="replace")
        if not _plausible_text(text):
            raise ReadError("不是文本文件（含二进制内容）")
        return text, enc
    if b"\x00" in head:
        raise ReadError("不是文本文件（含二进制内容）")
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030"), "gb18030"
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    if best is None:
        raise ReadError("无法识别文本编码")
    return str(best), best.encoding


_TEXTISH = re.compile(r"[\u4e00-\u9fff\u3000-\u303f\uff01-\uff5e\x20-\x7e\s]+")  # runs: one regex step per run


def _plausible_text(text: str) -> bool:
    """Mostly Chinese, ASCII, CJK punctuation and white space, as a report's text is."""
    sample = text[:5000]
    return bool(sample) and sum(map(len, _TEXTISH.findall(sample))) >= 0.8 * len(sample)


def _looks_binary(text: str) -> bool:
    """Decoded bytes that are not text: control characters, replacement characters or unassigned code points
    (binary junk guessed as UTF-16 decodes to those)."""
    sample = text[:5000]
    if not sample:
        return False
    rest = _TEXTISH.sub("", sample)  # Chinese, ASCII and punctuation are fine; look only at what remains
    bad = sum(
        1
        for ch in rest
        if (ord(ch) < 32 and ch not in "\t\n\r\f") or ch == "\ufffd" or unicodedata.category(ch) in ("Cn", "Co", "Cs")
    )
    return bad > len(sample) * 0.05


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
        return [Cell(p.strip(), f"第 {lineno} 行 第 {i + 1} 格", x0=float(i), x1=float(i + 1)) for i, p in enumerate(parts)]
    return [
        Cell(m.group(0), f"第 {lineno} 行 第 {m.start() + 1} 字", x0=float(m.start()), x1=float(m.end()))
        for m in _SPACE_SPLIT.finditer(line)
    ]


def rows_from_text(text: str) -> list[Row]:
    """Rows of a text; a form feed (pdftotext's page break) starts a new page, so column positions are compared
    only within a page."""
    rows = []
    page = 1 if "\f" in text else None
    for lineno, line in enumerate(text.split("\n"), start=1):
        if "\f" in line and page is not None:
            page += line.count("\f")
            line = line.replace("\f", "")
        if _MD_RULE.match(line) and "-" in line:
            continue
        cells = split_line(line, lineno)
        if any(c.text for c in cells):
            grid = "\t" in line or line.strip().startswith("|")
            rows.append(Row(cells=cells, line=lineno, grid=grid, page=page))
        else:
            rows.append(Row(cells=[], line=lineno, page=page))  # blank lines matter: page breaks, paragraph ends
    return rows


def read(path: str, data: bytes) -> Document:
    text, encoding = decode(data)
    if _looks_binary(text):
        raise ReadError("不是文本文件（含二进制内容）")
    text = clean_document_text(text)
    kind = "md" if path.lower().endswith(".md") else "txt"
    return Document(path=path, format=kind if kind == "txt" else "md", rows=rows_from_text(text), text=text, encoding=encoding)
