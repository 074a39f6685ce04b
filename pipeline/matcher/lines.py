"""A reader's rows as *lines*: each row's label text and its value slots, the unit the matcher works on.

A :class:`Line` keeps the label (cells that are not values, NFKC, whitespace removed) and the value *slots*
(numbers, null markers, and — where the reader can see them — blank cells).  A line whose values ran into its label
with no separator ("…申请数量640020470", text saved by a crawler) is *glued*: its value tokens form one digit run
that :mod:`pipeline.matcher.digits` splits by the template's arithmetic.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import NamedTuple

from pipeline.matcher.labels import header_words
from pipeline.model import Cell, Document, Row
from pipeline.normalize import compact, is_value_token, nfkc

# Two columns whose centres are nearer to a value than this (in character columns or points) are equally near.
EQUAL_DISTANCE_MARGIN = 0.8


@dataclass(slots=True)
class Slot:
    raw: str  # "" for a blank cell the reader could see
    cell: Cell
    x: float | None  # centre position, where known

    @property
    def blank(self) -> bool:
        return self.raw == ""


@dataclass(slots=True)
class Line:
    idx: int
    row: Row
    label: str  # label text, NFKC + whitespace removed
    slots: list[Slot]
    positional: bool  # blank cells are visible (tab-separated, markdown or table grid rows)
    glued: bool = False  # the values ran together with no separator: one digit run (segments split by spaces)
    edges: tuple[bool, bool] = (False, False)  # a glued run had a space before / after it (maybe a blank cell)
    values: list[Slot] = field(default_factory=list)  # the non-blank slots

    def __post_init__(self) -> None:
        self.values = [s for s in self.slots if s.raw]

    @property
    def run(self) -> str:
        """A glued line's digit run, its space-separated segments kept ("230 000023"), with the spaces around it."""
        core = " ".join(s.raw for s in self.values)
        return (" " if self.edges[0] else "") + core + (" " if self.edges[1] else "")


_PAGE_NUMBER = re.compile(
    r"^\s*(?:[-—–－]+\s*\d{1,3}\s*[-—–－]+|第\s*\d{1,3}\s*页(?:\s*[,，/]?\s*共\s*\d{1,3}\s*页)?|\d{1,3}\s*/\s*\d{1,3})\s*$"
)
# a label and the digits glued to its end ("1.本机关不掌握相关政府信息12530000128"); a sign or decimals may follow
_GLUED_DIGITS = re.compile(r"^(?P<label>.*[\u4e00-\u9fff）)”])(?P<digits>\d+)$")
# in a row the reader knows lost its separators, the run may also hold signs, decimals and a unit ("2648-18538")
_GLUED_RUN = re.compile(
    r"^(?P<label>.*[\u4e00-\u9fff）)”」】])(?P<digits>(?:[+\-−]?\d|[/／—－–])[\d.+\-−/／—－–]*(?:万元|元)?)$"
)
MAX_GLUED_TOKEN = 4096  # longer tokens are not searched for a glued run (the regex backtracks over the token)
_PLAIN_RUN = re.compile(r"^(?:[+\-−]?\d|[/／—－–])[\d.+\-−/／—－–]*(?:万元|元)?$")


def _split_cell(cell: Cell, glued_row: bool) -> tuple[str, list[str], bool]:
    """A cell's label part, its trailing value tokens ("规章 1 0 11" → ("规章", ["1","0","11"])) and whether the
    values ran into the label without a separator (then the tokens are segments of one digit run)."""
    tokens = cell.text.split()
    n = len(tokens)
    k = n
    while k > 0 and is_value_token(tokens[k - 1]):
        k -= 1
    if k == 0 or not n:
        return "", tokens, glued_row and bool(tokens)
    pattern = _GLUED_RUN if glued_row else _GLUED_DIGITS
    glued = pattern.match(tokens[k - 1]) if (k == n or glued_row) and len(tokens[k - 1]) <= MAX_GLUED_TOKEN else None
    if glued and (k == n or all(_PLAIN_RUN.match(t) for t in tokens[k:])):
        # "1.本机关不掌握相关政府信息12530000128", "…申请数量230 000023": the separators were lost
        return " ".join([*tokens[: k - 1], glued["label"]]), [glued["digits"], *tokens[k:]], True
    return " ".join(tokens[:k]), tokens[k:], glued_row and k < n


_DIGIT_OR_MARKER = re.compile(r"[0-9０-９/／—－\-–无無×]")
_WORDISH = re.compile(r"[\u4e00-\u9fffA-Za-z0-9]")  # a label has at least one CJK character, letter or digit
# after NFKC, a token that is a null marker without any digit or dash ("一", "空", "x", "\\"): a value, not a label
_LONE_MARKER = re.compile(r"(?:^|\s)(?:一|空|x|\\)(?=\s|$)")


def to_line(idx: int, row: Row) -> Line:
    glued_row = row.glued
    if row.table is None and not row.grid:
        # free text without any digit or null marker (after NFKC, as value tokens are read): prose or a label
        # split into cells, and no value can be in it — the common case, so it skips the per-cell work
        text = nfkc(" ".join([c.text for c in row.cells]))
        if not _DIGIT_OR_MARKER.search(text) and not _LONE_MARKER.search(text):
            return Line(idx, row, compact(text), [], False)
    cells = [c for c in row.cells if not c.spanned] if row.table is not None else row.cells
    positional = row.table is not None or row.grid
    label_parts: list[str] = []
    slots: list[Slot] = []
    glued = False
    edges = (False, False)
    for cell in cells:
        if _PAGE_NUMBER.match(cell.text):
            continue  # "- 2 -", "— 3 —", "第 2 页": page furniture, not a value
        if not cell.text:
            if positional:
                slots.append(Slot("", cell, cell.x0))
            continue
        label, tokens, cell_glued = _split_cell(cell, glued_row)
        if label and row.table is not None and label_parts and not _WORDISH.search(cell.text):
            # a grid cell among the value cells holding only punctuation ("。" where OCR misread a 0): an unreadable
            # value, not a label — kept as its own slot so the cell is reported, never taken for a blank row
            label, tokens, cell_glued = "", [cell.text], False
        if label:
            label_parts.append(label)
            slots = []  # only what follows the last label is a value slot
            glued = cell_glued
        elif tokens and cell_glued:
            glued = True
        if cell_glued and tokens:
            # spaces around the run (a web page's &nbsp; cells): a blank cell may stand there
            head = cell.text.rstrip()[: len(cell.text.rstrip()) - len(" ".join(tokens))]
            edges = (head[-1:].isspace() or (not label and cell.text[:1].isspace()), cell.text[-1:].isspace())
        if tokens:
            x0, x1 = cell.x0, cell.x1
            offset = len(cell.text) - len(" ".join(tokens))  # where the value tokens start inside the cell
            for i, tok in enumerate(tokens):
                x: float | None
                if x0 is None or x1 is None or cell_glued:  # no position, or none a glued run's part can have
                    x = None
                elif positional:  # grid cells: one slot per cell, several values share it in order
                    x = x0 + i / len(tokens)
                elif len(tokens) > 1 or label:  # character columns: each token at its own position
                    x = x0 + offset + len(tok) / 2
                else:
                    x = (x0 + x1) / 2
                offset += len(tok) + 1
                slots.append(Slot(tok, cell, x))
    if not positional or glued:
        slots = [s for s in slots if s.raw]
    return Line(idx, row, compact("".join(label_parts)), slots, positional and not glued, glued, edges)


_UNIT_NOTE = re.compile(r"^[(（][^()（）]{0,12}[)）]")


def split_header(line: Line) -> tuple[str, str] | None:
    """A glued line whose label runs a table header into the row label ("…信息内容本年制发件数…现行有效件数规章"
    + "000"): the header part and the row label after the last header word (None when it is no such line)."""
    if not line.glued or not line.values:
        return None
    label = line.label
    ends = []
    for word in header_words():
        start = label.find(word)
        while start >= 0:
            ends.append((start, start + len(word)))
            start = label.find(word, start + 1)
    if len({s for s, _e in ends}) < 2:
        return None
    cut = max(e for _s, e in ends)
    note = _UNIT_NOTE.match(label[cut:])  # "本年收费金额（单位：万元）"
    if note:
        cut += note.end()
    return label[:cut], label[cut:]


def _lone_value(line: Line) -> bool:
    """A line that is one cell holding one value at the start of the line (a table printed one cell per line)."""
    return (
        not line.label
        and not line.glued
        and len(line.slots) == 1
        and len(line.row.cells) == 1
        and bool(line.slots[0].raw)
        and line.row.cells[0].x0 in (None, 0.0)
    )


def lines_of(doc: Document) -> list[Line]:
    """Every row as a line, in order.  A glued line carrying a table header in its label becomes two lines; a
    label line followed by two or more lines of one value each (a table printed one cell per line, as HTML-to-text
    and converters leave it) becomes one line with those values."""
    out: list[Line] = []
    start: int | None = None  # a label line that lone values may follow

    def merge() -> None:
        if start is not None and len(out) - start > 2:
            head = out[start]
            slots = [Slot(x.slots[0].raw, x.slots[0].cell, None) for x in out[start + 1 :]]
            out[start:] = [Line(start, head.row, head.label, slots, False)]

    for row in doc.rows:
        line = to_line(len(out), row)
        if line.glued:
            parts = split_header(line)
            if parts is not None:
                merge()
                start = None
                out.append(Line(len(out), row, parts[0], [], False))
                line = Line(len(out), row, parts[1], line.slots, False, True, line.edges)
        if start is not None and _lone_value(line) and line.row is not out[start].row:
            out.append(line)
            continue
        merge()
        start = len(out) if line.label and not line.slots and row.table is None and not row.glued else None
        line.idx = len(out)
        out.append(line)
    merge()
    return out


def _label_cells(line: Line) -> int:
    """How many of the row's cells precede its value slots (label cells and the blanks among them)."""
    first = line.slots[0].cell if line.slots else None
    for i, cell in enumerate(line.row.cells):
        if cell is first:
            return i
    return 0


def _strip_left_first(slots: list[Slot], n: int) -> list[Slot]:
    lo, hi = 0, len(slots)
    while hi - lo > n and slots[lo].blank:
        lo += 1
    while hi - lo > n and slots[hi - 1].blank:
        hi -= 1
    return slots[lo:hi]


def strip_blank_edges(slots: list[Slot], n: int) -> list[Slot]:
    """Blank slots at the ends dropped (tab artefacts) while more than ``n`` slots remain."""
    lo, hi = 0, len(slots)
    while hi - lo > n and slots[hi - 1].blank:
        hi -= 1
    while hi - lo > n and slots[lo].blank:
        lo += 1
    return slots[lo:hi]


class GridColumns(NamedTuple):
    """Where a grid table's columns are, from its header row."""

    width: int  # cells per row
    columns: list[int]  # the cell index of each template column


def grid_columns(region: list[Line], before: int, labels: list[str]) -> GridColumns | None:
    """The columns of the last grid header row above ``before`` whose cells name every column (a markdown or tab
    table's header: 自然人 … 总计)."""
    found = None
    for ln in region:
        if ln.idx >= before:
            break
        if not ln.positional:
            continue
        texts = [compact(c.text) for c in ln.row.cells]
        if all(lab in texts for lab in labels):
            found = GridColumns(len(ln.row.cells), [texts.index(lab) for lab in labels])
    return found


def align_slots(
    line: Line, n: int, reference: list[float] | None = None, grid: GridColumns | None = None
) -> list[Slot | None] | None:
    """The line's slots as exactly ``n`` template columns (None = blank), or None when it cannot be certain.

    Blank slots at the edges beyond ``n`` are table artefacts; when there are blanks at both edges, which ones are
    artefacts is only certain from the header's cell positions (``grid``, a table row as wide as the header)."""
    if line.positional and len(line.slots) > n and line.slots[0].blank and line.slots[-1].blank:
        cells = list(line.slots)
        if (
            grid is not None
            and grid.width == len(line.row.cells)
            and len(cells) == len(line.row.cells) - _label_cells(line)
        ):
            offset = _label_cells(line)
            picked = [cells[i - offset] for i in grid.columns if 0 <= i - offset < len(cells)]
            if len(picked) == len(grid.columns):  # every header column has its cell in this row
                return [None if p.blank else p for p in picked]
        if [s.raw for s in strip_blank_edges(line.slots, n)] != [s.raw for s in _strip_left_first(line.slots, n)]:
            return None  # a blank at either edge could be the real blank cell
    slots = strip_blank_edges(line.slots, n)
    if len(slots) == n:
        return list(slots)
    values = [s for s in slots if not s.blank]
    if len(slots) < n and line.positional and len(line.slots) >= n:
        return None
    placed = [(s, s.x) for s in values if s.x is not None]
    if len(values) < n and reference and len(reference) == n and len(placed) == len(values):
        # nearest column centre, strictly left to right, each column once
        out: list[Slot | None] = [None] * n
        last = -1
        for s, x in placed:
            col = min(range(n), key=lambda c: abs(reference[c] - x))
            if col <= last:
                return None
            gaps = sorted(abs(reference[c] - x) for c in range(n))
            if len(gaps) > 1 and gaps[1] - gaps[0] < EQUAL_DISTANCE_MARGIN:  # equally near two columns
                return None
            out[col] = s
            last = col
        return out
    return None


def positions(line: Line) -> list[float] | None:
    """The centres of every slot of the line, or None when any of them has no position."""
    xs = [s.x for s in line.slots if s.x is not None]
    return xs if len(xs) == len(line.slots) else None


def complete_lines(lines: list[Line], n: int) -> list[Line]:
    """Lines with a value in each of the ``n`` columns, every one with a position: references for the others."""
    return [ln for ln in lines if len(ln.values) == n and len(ln.slots) == n and positions(ln) is not None]


def reference_positions(complete: list[Line], near: Line) -> list[float] | None:
    """Column centres taken from the complete value line nearest to ``near`` on the same page."""
    same_page = [ln for ln in complete if ln.row.page == near.row.page]
    best = min(same_page, key=lambda ln: abs(ln.idx - near.idx), default=None)
    return positions(best) if best else None


def header_words_at(ln: Line) -> list[tuple[str, float]]:
    """Words (≥ 2 characters, NFKC) of a header line with their centre positions; a label printed with its
    characters spaced apart ("总 计") counts as one word."""
    out = []
    for cell in ln.row.cells:
        if not cell.text or cell.x0 is None:
            continue
        words = cell.text.split(" ")
        if all(len(w) <= 1 for w in words):
            words = ["".join(words)]
        offset = 0
        for w in words:
            if len(w) >= 2:
                out.append((nfkc(w), cell.x0 + offset + len(w) / 2))
            offset += len(w) + 1
    return out
