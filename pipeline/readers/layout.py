"""Positioned glyphs (and ruling lines) → :class:`~pipeline.model.Row` s.  Shared by the PDF and OCR readers.

The design, in one paragraph: ruling segments are merged and grouped into connected components; a component that
encloses at least two cells is a *table grid*.  Its distinct x/y rules cut it into atomic cells, atomic cells not
separated by a rule are unioned into merged cells (rowspan/colspan), and every glyph whose centre lies in a cell
belongs to it.  A table is emitted as one :class:`Row` per atomic band (like an HTML table after span expansion):
a merged cell's text at its first band, ``spanned=True`` copies below, empty cells as ``""``.  Everything outside
grids is free text: glyphs are clustered into visual lines by their vertical centre and split into cells where the
horizontal gap is wide (like ``pdftotext -layout``), never between the digits of one number.

Coordinates are top-down points (origin at the page's top-left), as in pdfplumber.
"""

from __future__ import annotations

import bisect
import statistics
from dataclasses import dataclass, field

from pipeline.model import Cell, Row

TOL = 2.0  # points: rules closer than this are the same rule
MIN_RULE = 3.0  # shorter segments are ticks of thin rectangles, not rules


@dataclass(slots=True)
class Glyph:
    """One character (PDF) or one recognised text box (OCR) with its box."""

    text: str
    x0: float
    top: float
    x1: float
    bottom: float
    size: float = 10.0
    confidence: float | None = None

    @property
    def cx(self) -> float:
        return (self.x0 + self.x1) / 2

    @property
    def cy(self) -> float:
        return (self.top + self.bottom) / 2


@dataclass(slots=True)
class Segment:
    """A ruling line: horizontal (pos = y, span = x0..x1) or vertical (pos = x, span = top..bottom)."""

    horizontal: bool
    pos: float
    start: float
    end: float


@dataclass(slots=True)
class MergedCell:
    band0: int
    band1: int  # inclusive
    col0: int
    col1: int  # inclusive
    x0: float
    top: float
    x1: float
    bottom: float
    glyphs: list[Glyph] = field(default_factory=list)
    text: str = ""


@dataclass(slots=True)
class Grid:
    xs: list[float]
    ys: list[float]
    cells: list[MergedCell]
    atom: list[list[int]]  # atom[band][col] → index into cells

    @property
    def bbox(self) -> tuple[float, float, float, float]:
        return (self.xs[0], self.ys[0], self.xs[-1], self.ys[-1])

    def cell_at(self, x: float, y: float) -> MergedCell | None:
        if not (self.xs[0] <= x <= self.xs[-1] and self.ys[0] <= y <= self.ys[-1]):
            return None
        j = min(max(bisect.bisect_right(self.xs, x) - 1, 0), len(self.xs) - 2)
        i = min(max(bisect.bisect_right(self.ys, y) - 1, 0), len(self.ys) - 2)
        return self.cells[self.atom[i][j]]


def loc_text(page: int, x0: float, top: float, x1: float, bottom: float) -> str:
    return f"第 {page} 页 ({x0:.0f},{top:.0f})–({x1:.0f},{bottom:.0f})"


# ---------------------------------------------------------------------------------------------------------------
# Rules → grids


def _cluster(values: list[float], tol: float) -> list[float]:
    """Representative positions of values closer than ``tol`` (mean of each run)."""
    out: list[list[float]] = []
    for v in sorted(values):
        if out and v - out[-1][-1] <= tol:
            out[-1].append(v)
        else:
            out.append([v])
    return [sum(run) / len(run) for run in out]


def merge_segments(segments: list[Segment]) -> list[Segment]:
    """Collinear, overlapping or touching segments merged; short ticks dropped."""
    merged: list[Segment] = []
    for horizontal in (True, False):
        segs = sorted((s for s in segments if s.horizontal == horizontal), key=lambda s: s.pos)
        groups: list[list[Segment]] = []
        for s in segs:
            if groups and s.pos - groups[-1][-1].pos <= TOL:
                groups[-1].append(s)
            else:
                groups.append([s])
        for group in groups:
            pos = sum(s.pos for s in group) / len(group)
            spans = sorted((s.start, s.end) for s in group)
            cur0, cur1 = spans[0]
            for a, b in spans[1:]:
                if a <= cur1 + TOL:
                    cur1 = max(cur1, b)
                else:
                    merged.append(Segment(horizontal, pos, cur0, cur1))
                    cur0, cur1 = a, b
            merged.append(Segment(horizontal, pos, cur0, cur1))
    return [s for s in merged if s.end - s.start >= MIN_RULE]


def _find(parent: list[int], i: int) -> int:
    """Union-find root with path halving."""
    while parent[i] != i:
        parent[i] = parent[parent[i]]
        i = parent[i]
    return i


def _components(segs: list[Segment]) -> list[list[Segment]]:
    parent = list(range(len(segs)))

    def find(i: int) -> int:
        return _find(parent, i)

    hs = [i for i, s in enumerate(segs) if s.horizontal]
    vs = [i for i, s in enumerate(segs) if not s.horizontal]
    for i in hs:
        h = segs[i]
        for j in vs:
            v = segs[j]
            if h.start - TOL <= v.pos <= h.end + TOL and v.start - TOL <= h.pos <= v.end + TOL:
                parent[find(i)] = find(j)
    groups: dict[int, list[Segment]] = {}
    for i in range(len(segs)):
        groups.setdefault(find(i), []).append(segs[i])
    return list(groups.values())


def _covers(segs: list[Segment], pos: float, at: float) -> bool:
    return any(abs(s.pos - pos) <= TOL and s.start - TOL <= at <= s.end + TOL for s in segs)


def build_grids(segments: list[Segment]) -> list[Grid]:
    """Table grids (with merged cells) found in a page's ruling segments."""
    grids = []
    for comp in _components(merge_segments(segments)):
        hs = [s for s in comp if s.horizontal]
        vs = [s for s in comp if not s.horizontal]
        if len(hs) < 2 or len(vs) < 2:
            continue
        ys = _cluster([s.pos for s in hs], TOL)
        xs = _cluster([s.pos for s in vs], TOL)
        # a table cut by the page end often lacks its closing rule: the verticals' ends close it
        v_top, v_bottom = min(s.start for s in vs), max(s.end for s in vs)
        if v_bottom > ys[-1] + 3 * TOL:
            ys.append(v_bottom)
            hs.append(Segment(True, v_bottom, xs[0], xs[-1]))
        if v_top < ys[0] - 3 * TOL:
            ys.insert(0, v_top)
            hs.append(Segment(True, v_top, xs[0], xs[-1]))
        if len(xs) < 3 or len(ys) < 2:
            continue  # one column: boxes around text lines, not a table
        nb, nc = len(ys) - 1, len(xs) - 1
        parent = list(range(nb * nc))

        def find(i: int, parent: list[int] = parent) -> int:
            return _find(parent, i)

        for i in range(nb):
            ymid = (ys[i] + ys[i + 1]) / 2
            for j in range(nc):
                xmid = (xs[j] + xs[j + 1]) / 2
                if j + 1 < nc and not _covers(vs, xs[j + 1], ymid):
                    parent[find(i * nc + j)] = find(i * nc + j + 1)
                if i + 1 < nb and not _covers(hs, ys[i + 1], xmid):
                    parent[find(i * nc + j)] = find((i + 1) * nc + j)
        roots: dict[int, int] = {}
        cells: list[MergedCell] = []
        atom = [[0] * nc for _ in range(nb)]
        for i in range(nb):
            for j in range(nc):
                r = find(i * nc + j)
                if r not in roots:
                    roots[r] = len(cells)
                    cells.append(MergedCell(i, i, j, j, xs[j], ys[i], xs[j + 1], ys[i + 1]))
                c = cells[roots[r]]
                c.band1, c.col1 = max(c.band1, i), max(c.col1, j)
                c.x1, c.bottom = max(c.x1, xs[j + 1]), max(c.bottom, ys[i + 1])
                atom[i][j] = roots[r]
        if len(cells) < 2:
            continue  # a frame around text, not a table
        grids.append(Grid(xs, ys, cells, atom))
    grids.sort(key=lambda g: g.ys[0])
    return grids


# ---------------------------------------------------------------------------------------------------------------
# Glyphs → lines → text


def _is_cjk(ch: str) -> bool:
    return ord(ch[:1] or " ") >= 0x2E80


def cluster_lines(glyphs: list[Glyph]) -> list[list[Glyph]]:
    """Glyphs grouped into visual lines (by vertical centre), each sorted left to right, lines top to bottom."""
    if not glyphs:
        return []
    ordered = sorted(glyphs, key=lambda g: g.cy)
    lines: list[list[Glyph]] = []
    centre = 0.0
    for g in ordered:
        height = max(g.bottom - g.top, 1.0)
        if lines and abs(g.cy - centre) <= 0.45 * min(height, _line_height(lines[-1])):
            lines[-1].append(g)
            centre = sum(x.cy for x in lines[-1]) / len(lines[-1])
        else:
            lines.append([g])
            centre = g.cy
    for line in lines:
        line.sort(key=lambda g: g.x0)
    return lines


def _line_height(line: list[Glyph]) -> float:
    return max(statistics.median(g.bottom - g.top for g in line), 1.0)


def _joiner(prev: Glyph, nxt: Glyph, gap: float, in_cell: bool) -> str:
    """What goes between two neighbouring glyphs of one cell: nothing or one space."""
    size = max(min(prev.size, nxt.size), 1.0)
    a, b = prev.text[-1:], nxt.text[:1]
    if gap <= 0.2 * size:
        return ""
    if a.isdigit() and b.isdigit():
        return " "  # two numbers, never one
    if in_cell and (_is_cjk(a) or _is_cjk(b)):
        return "" if gap <= 0.9 * size or (_is_cjk(a) and _is_cjk(b)) else " "
    return " " if gap > 0.25 * size else ""


def line_text(line: list[Glyph], in_cell: bool) -> str:
    parts = [line[0].text]
    for prev, nxt in zip(line, line[1:], strict=False):
        parts.append(_joiner(prev, nxt, nxt.x0 - prev.x1, in_cell))
        parts.append(nxt.text)
    return "".join(parts)


def cell_text(glyphs: list[Glyph]) -> str:
    """The text of one table cell: its lines joined (a wrapped label becomes one string)."""
    out = ""
    for line in cluster_lines(glyphs):
        t = line_text(line, in_cell=True)
        if out and (out[-1].isascii() and out[-1].isalnum()) and (t[:1].isascii() and t[:1].isalnum()):
            out += " "
        out += t
    return out


def split_line(line: list[Glyph]) -> list[list[Glyph]]:
    """A free-text line cut into cells where the gap is wide (≥ 1.5 character widths)."""
    chunks = [[line[0]]]
    for prev, nxt in zip(line, line[1:], strict=False):
        size = max(min(prev.size, nxt.size), 1.0)
        gap = nxt.x0 - prev.x1
        if gap >= 1.5 * size:
            chunks.append([nxt])
        else:
            chunks[-1].append(nxt)
    return chunks


def _confidence(glyphs: list[Glyph]) -> float | None:
    confs = [g.confidence for g in glyphs if g.confidence is not None]
    return min(confs) if confs else None


# ---------------------------------------------------------------------------------------------------------------
# Page → rows


@dataclass(slots=True)
class PageRows:
    rows: list[Row]
    text: str
    tables: list[Grid]


def page_rows(
    glyphs: list[Glyph],
    segments: list[Segment],
    page: int,
    first_line: int = 1,
    first_table: int = 0,
) -> PageRows:
    """Rows of one page in reading order (top to bottom; a table's rows at the table's top)."""
    grids = build_grids(segments) if segments else []
    free: list[Glyph] = []
    for g in glyphs:
        for grid in grids:
            cell = grid.cell_at(g.cx, g.cy)
            if cell is not None:
                cell.glyphs.append(g)
                break
        else:
            free.append(g)
    items: list[tuple[float, int, list[Row]]] = []
    for k, grid in enumerate(grids):
        has_text = False
        for cell in grid.cells:
            cell.text = cell_text(cell.glyphs) if cell.glyphs else ""
            has_text = has_text or bool(cell.text)
        if has_text:
            items.append((grid.ys[0], 0, _grid_rows(grid, page, first_table + k)))
    for line in cluster_lines(free):
        top = min(g.top for g in line)
        cells = []
        for chunk in split_line(line):
            x0, x1 = chunk[0].x0, max(g.x1 for g in chunk)
            t, b = min(g.top for g in chunk), max(g.bottom for g in chunk)
            cells.append(
                Cell(
                    line_text(chunk, in_cell=False),
                    loc_text(page, x0, t, x1, b),
                    x0=x0,
                    x1=x1,
                    confidence=_confidence(chunk),
                    page=page,
                    bbox=(x0, t, x1, b),
                )
            )
        items.append((top, 1, [Row(cells=cells, line=0, page=page)]))
    items.sort(key=lambda it: (it[0], it[1]))
    rows: list[Row] = []
    texts: list[str] = []
    for _, _, item_rows in items:
        for row in item_rows:
            row.line = first_line + len(rows)
            rows.append(row)
            texts.append("\t".join(c.text for c in row.cells if not c.spanned).strip("\t"))
    return PageRows(rows, "\n".join(texts), grids)


def _grid_rows(grid: Grid, page: int, table: int) -> list[Row]:
    rows = []
    for i in range(len(grid.ys) - 1):
        cells: list[Cell] = []
        seen: set[int] = set()
        for j in range(len(grid.xs) - 1):
            idx = grid.atom[i][j]
            if idx in seen:
                continue
            seen.add(idx)
            mc = grid.cells[idx]
            bbox = (mc.x0, mc.top, mc.x1, mc.bottom)
            cells.append(
                Cell(
                    mc.text,
                    loc_text(page, *bbox),
                    x0=mc.x0,
                    x1=mc.x1,
                    spanned=mc.band0 != i,
                    confidence=_confidence(mc.glyphs),
                    page=page,
                    bbox=bbox,
                )
            )
        rows.append(Row(cells=cells, line=0, table=table, page=page))
    return rows
