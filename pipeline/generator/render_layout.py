"""The ``pdftext-layout`` layout: what ``pdftotext -layout`` gives from a published PDF.

Cells separated by runs of spaces at fixed character columns, merged group labels printed one character per line,
labels wrapped above and below their number line, page numbers "-3-", 表三 split across pages in the middle of a row
group.  Noise 0 is a clean table; noise 1 the common artefacts; noise 2 all of them, more often.
"""

from __future__ import annotations

import random

from pipeline.generator import prose
from pipeline.generator.numbers import ReportTruth
from pipeline.generator.render_text import narrative_sections
from pipeline.generator.renderers import register
from pipeline.generator.tables import (
    T2_CONTENT,
    T3_APPLICANTS,
    T3_LEGAL_PERSONS,
    T3_NOTE,
    LabelStyle,
    t2_blocks,
    t3_columns,
    t3_rows,
    t4_column_labels,
    t4_groups,
)

_LABEL_WIDTH = 44  # character column where 表三's first value column starts
_COL_WIDTH = 9


class _Page:
    """Accumulates lines and inserts page numbers ("-3-") every ``height`` lines."""

    def __init__(self, rng: random.Random, height: int) -> None:
        self.lines: list[str] = []
        self.page = 1
        self.height = height
        self.rng = rng
        self._since = 0

    def add(self, line: str) -> None:
        self.lines.append(line.rstrip())
        self._since += 1
        if self._since >= self.height:
            self.page_break()

    def page_break(self) -> None:
        indent = self.rng.choice([0, 42, 46, 86])
        self.lines += ["", "", " " * indent + f"-{self.page}-"]
        self.page += 1
        self._since = 0


def _wrap(text: str, width: int) -> list[str]:
    return [text[i : i + width] for i in range(0, len(text), width)] or [""]


def _place(line: str, col: int, text: str) -> str:
    """Write ``text`` starting at character column ``col`` (padding with spaces, keeping ≥ 2 spaces before)."""
    if len(line) > col - 2 and line.strip():
        col = len(line.rstrip()) + 2
    return line.ljust(col) + text


def _values_line(prefix: str, values: list[str], start: int, width: int) -> str:
    line = prefix
    for i, value in enumerate(values):
        if value == "":
            continue
        col = start + i * width + max(0, (width - len(value)) // 2)
        line = _place(line, col, value)
    return line


def _layout_t3_header(page: _Page, noise: int, rng: random.Random) -> None:
    cols = t3_columns()
    centre = [_LABEL_WIDTH + i * _COL_WIDTH for i in range(7)]
    page.add(" " * (_LABEL_WIDTH + 20) + T3_APPLICANTS)
    page.add("")
    note_lines = _wrap(T3_NOTE, 22) if noise >= 1 else [T3_NOTE]
    page.add(_place(note_lines[0], _LABEL_WIDTH + 2 * _COL_WIDTH, T3_LEGAL_PERSONS))
    for extra in note_lines[1:]:
        page.add(extra)
    line = _place("", centre[0] + 2, cols[0])
    line = _place(line, centre[6] + 2, cols[6])
    page.add(line)
    if noise == 0:
        line = ""
        for i in range(1, 6):
            line = _place(line, centre[i], cols[i])
        page.add(line)
        page.add("")
        return
    heads, tails = "", ""
    for i in range(1, 6):
        head, tail = cols[i][:3], cols[i][3:]
        if len(cols[i]) <= 4:
            head, tail = cols[i][:2], cols[i][2:]
        heads = _place(heads, centre[i], head)
        if tail:
            tails = _place(tails, centre[i], tail)
    page.add(heads)
    page.add(tails)
    page.add("")


def _layout_t3(truth: ReportTruth, rng: random.Random, noise: int, style: LabelStyle, page: _Page) -> None:
    _layout_t3_header(page, noise, rng)
    rows = t3_rows(truth)
    top_chars: list[str] = []
    seen_top = seen_block = ""
    split_at = rng.randrange(4, len(rows) - 3) if noise >= 1 and rng.random() < 0.6 else None
    block_label_pending: list[str] = []
    for i, row in enumerate(rows):
        if row.top and row.top != seen_top:
            top = style.brackets(row.top)
            top_chars = [top[:2], *top[2:]] if noise >= 1 else []
        seen_top = row.top or seen_top
        if i == split_at:
            carried = ""
            if block_label_pending and noise >= 2:
                carried = block_label_pending.pop(0)
            page.page_break()
            if noise >= 2 and rng.random() < 0.3:
                _layout_t3_header(page, noise, rng)
            if carried:
                block_label_pending.insert(0, carried)
        values = [truth.cell_text(k) for k in row.keys]
        indent = 0 if not row.top else (6 if not row.block else 16)
        label = style.row(row.label)
        prefix = ""
        if row.block and row.block != seen_block:
            group = style.brackets(row.block)
            if noise == 0:
                block_label_pending = []
                prefix = _place("", 2, group)
                indent = max(indent, len(prefix) + 2)
            else:
                block_label_pending = [group[:4], group[4:]] if len(group) > 5 else [group]
        seen_block = row.block or seen_block
        if not row.block:
            block_label_pending = []
        # a vertical top label: one character on each blank line between rows, sometimes glued to the row
        glue = ""
        if top_chars and row.top:
            if rng.random() < 0.4:
                glue = top_chars.pop(0)
            else:
                page.add(top_chars.pop(0))
        if row.block and block_label_pending and rng.random() < 0.5:
            page.add(_place(glue and "" or "", 6, block_label_pending.pop(0)))
        room = _LABEL_WIDTH - indent - 3
        chunks = _wrap(label, room) if noise >= 1 else [label]
        start = _place(glue, indent, "") if glue else " " * indent
        if prefix:
            start = prefix
        if len(chunks) == 1:
            page.add(
                _values_line(
                    _place(start, indent, chunks[0]) if start.strip() else start + chunks[0],
                    values,
                    _LABEL_WIDTH,
                    _COL_WIDTH,
                )
            )
        elif len(chunks) == 2 and rng.random() < 0.5:
            page.add(_place(start, indent, chunks[0]) if start.strip() else start + chunks[0])
            page.add(_values_line("", values, _LABEL_WIDTH, _COL_WIDTH))
            page.add(" " * indent + chunks[1])
        else:
            page.add(
                _values_line(
                    _place(start, indent, chunks[0]) if start.strip() else start + chunks[0],
                    values,
                    _LABEL_WIDTH,
                    _COL_WIDTH,
                )
            )
            for chunk in chunks[1:]:
                page.add(" " * indent + chunk)
        if noise >= 1 and rng.random() < 0.5:
            page.add(top_chars.pop(0) if top_chars and rng.random() < 0.7 else "")
        if row.block and block_label_pending and (i + 1 == len(rows) or rows[i + 1].block != row.block):
            while block_label_pending:
                page.add(" " * 6 + block_label_pending.pop(0))
    while top_chars:
        page.add(top_chars.pop(0))


def _layout_t2(truth: ReportTruth, rng: random.Random, noise: int, page: _Page) -> None:
    for block in t2_blocks(truth):
        page.add(" " * rng.choice([0, 14, 38]) + block.heading.replace("第（", " 第（" if noise >= 1 else "第（"))
        page.add("")
        width = 18 if len(block.columns) > 1 else 34
        header = T2_CONTENT
        for i, col in enumerate(block.columns):
            header = _place(header, 18 + i * width, col)
        page.add(header)
        page.add("")
        for label, keys in block.rows:
            line = label
            for i, key in enumerate(keys):
                text = truth.cell_text(key)
                if text:
                    line = _place(line, 18 + i * width + 4, text)
            page.add(line)
            if noise >= 1:
                page.add("")


def _layout_t4(truth: ReportTruth, rng: random.Random, noise: int, page: _Page) -> None:
    groups = t4_groups()
    labels = t4_column_labels()
    w = 7
    page.add(_place(groups[0].top, 30, groups[1].top))
    page.add("")
    page.add(_place(_place("", 5 * w, groups[1].sub), 10 * w, groups[2].sub))
    page.add("")
    heads = tails = ""
    for i in range(15):
        lab = labels[i % 5]
        if noise >= 1 and len(lab) == 4:
            heads = _place(heads, i * w, lab[:2])
            tails = _place(tails, i * w, lab[2:])
        else:
            heads = _place(heads, i * w, lab)
    page.add(heads)
    if tails:
        page.add(tails)
    page.add("")
    values = [truth.cell_text(k) for g in groups for k in g.keys]
    page.add(_values_line("", values, 0, w))


def _paragraphs(page: _Page, paras: list[str], width: int) -> None:
    for para in paras:
        for j, chunk in enumerate(_wrap(para, width)):
            page.add(("   " if j == 0 else "") + chunk)


@register("pdftext-layout")
def render_layout(truth: ReportTruth, rng: random.Random, noise: int) -> tuple[bytes, str]:
    """Text like ``pdftotext -layout``: space-aligned columns, page numbers, wrapped and vertical labels."""
    page = _Page(rng, height=rng.randint(38, 48) if noise >= 1 else 10_000)
    if truth.kind != "report":
        lines = prose.legacy_lines(truth, rng) if truth.kind == "legacy" else prose.non_report_lines(truth, rng)
        _paragraphs(page, [line.replace("\t", "      ") for line in lines], 30)
        return ("\n".join(page.lines) + "\n").encode("utf-8"), "txt"
    style = LabelStyle(rng, noise)
    narrative = narrative_sections(truth, rng, short=truth.compact or rng.random() < 0.5)
    width = rng.choice([28, 30, 32])
    page.add(" " * 12 + truth.agency.name)
    page.add(" " * 5 + f"{truth.year} 年政府信息公开工作年度报告")
    page.add("")
    _paragraphs(page, [prose.preamble(truth)], width)
    page.add("   " + prose.section_heading("一", rng))
    _paragraphs(page, narrative["一"], width)
    page.add("")
    page.add("     " + prose.section_heading("二", rng))
    _layout_t2(truth, rng, noise, page)
    page.add("")
    page.add("      " + prose.section_heading("三", rng))
    _layout_t3(truth, rng, noise, style, page)
    page.add("")
    page.add("     " + prose.section_heading("四", rng))
    _layout_t4(truth, rng, noise, page)
    page.add("")
    page.add("       " + prose.section_heading("五", rng))
    _paragraphs(page, narrative["五"], width)
    page.add("      " + prose.section_heading("六", rng))
    _paragraphs(page, narrative["六"], width)
    return ("\n".join(page.lines) + "\n").encode("utf-8"), "txt"
