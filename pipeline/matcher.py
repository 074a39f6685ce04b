"""Template matcher: a reader's rows → facts keyed by the field registry.

How it finds the numbers, for every layout a reader produces (text lines, table grids, OCR lines):

1. Each :class:`~pipeline.model.Row` becomes a :class:`Line`: its label text (cells that are not values) and its
   value *slots* (numbers, null markers such as "/", and — where the reader can see them — blank cells).
2. The document is cut into the regions of 表二, 表三 and 表四 by their headings and anchor rows.
3. 表三: the rows that carry values are aligned with the template's rows (25 for the 2021 layout, 23 for 2019) by a
   monotone dynamic-programming alignment that scores each pair by how much the row's label text (its own, or the
   label fragments around it when a long label wrapped) resembles the official row label (character bigrams, so
   spaced, split, typo'd and OCR'd labels still match).  Order fills in rows without a readable label.
4. Each matched row's slots are aligned with the template's columns: by count; else by the blank cells the reader
   kept; else by the x position of the columns in complete rows nearby.  When none of these is certain the cells
   stay null and a LAYOUT finding says why — numbers are never shifted to fit.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cache, lru_cache
from itertools import combinations

from pipeline.model import Cell, Document, Fact, Finding, Row
from pipeline.normalize import cjk_only, compact, is_value_token, parse_value
from pipeline.registry import T3_COLUMNS_ORDER, T4_COLUMNS_ORDER, T4_GROUPS_ORDER, Field, registry

# ---------------------------------------------------------------------------------------------------------------
# Lines


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
    values: list[Slot] = field(default_factory=list)  # the non-blank slots

    def __post_init__(self) -> None:
        self.values = [s for s in self.slots if s.raw]


_ENUM = re.compile(r"[(（][一二三四五六七八九十\d]+[)）]|[一二三四五六七八九十]+[、.．]|\d+[.、．]")


@lru_cache(maxsize=16384)
def label_key(text: str) -> str:
    """The comparable core of a label: enumerators, punctuation and digits removed, CJK only."""
    return cjk_only(_ENUM.sub("", unicodedata.normalize("NFKC", text)))


_PAGE_NUMBER = re.compile(r"^\s*(?:[-—–－]+\s*\d{1,3}\s*[-—–－]+|第\s*\d{1,3}\s*页(?:\s*[,，/]?\s*共\s*\d{1,3}\s*页)?|\d{1,3}\s*/\s*\d{1,3})\s*$")
_GLUED_DIGITS = re.compile(r"^(?P<label>.*[\u4e00-\u9fff）)”])(?P<digits>\d+)$")


def _split_cell(cell: Cell) -> tuple[str, list[str]]:
    """A cell's label part and its trailing value tokens ("规章 1 0 11" → ("规章", ["1","0","11"]))."""
    tokens = cell.text.split()
    n = len(tokens)
    k = n
    while k > 0 and is_value_token(tokens[k - 1]):
        k -= 1
    if k == n and n:
        glued = _GLUED_DIGITS.match(tokens[-1])
        if glued:  # "1.本机关不掌握相关政府信息12530000128": the separators between label and numbers were lost
            return " ".join([*tokens[:-1], glued["label"]]), [glued["digits"]]
    return " ".join(tokens[:k]), tokens[k:]


_DIGIT_OR_MARKER = re.compile(r"[0-9０-９/／—－\-–无無×]")


_WORDISH = re.compile(r"[\u4e00-\u9fffA-Za-z0-9]")  # a label has at least one CJK character, letter or digit

# after NFKC, a token that is a null marker without any digit or dash ("一", "空", "x", "\\"): a value, not a label
_LONE_MARKER = re.compile(r"(?:^|\s)(?:一|空|x|\\)(?=\s|$)")


def to_line(idx: int, row: Row) -> Line:
    if row.table is None and not row.grid:
        # free text without any digit or null marker (after NFKC, as value tokens are read): prose or a label
        # split into cells, and no value can be in it — the common case, so it skips the per-cell work
        text = unicodedata.normalize("NFKC", " ".join(c.text for c in row.cells))
        if not _DIGIT_OR_MARKER.search(text) and not _LONE_MARKER.search(text):
            return Line(idx, row, compact(text), [], False)
    cells = [c for c in row.cells if not c.spanned] if row.table is not None else row.cells
    positional = row.table is not None or row.grid
    label_parts: list[str] = []
    slots: list[Slot] = []
    for cell in cells:
        if _PAGE_NUMBER.match(cell.text):
            continue  # "- 2 -", "— 3 —", "第 2 页": page furniture, not a value
        if not cell.text:
            if positional:
                slots.append(Slot("", cell, cell.x0))
            continue
        label, tokens = _split_cell(cell)
        if label and row.table is not None and label_parts and not _WORDISH.search(cell.text):
            # a grid cell among the value cells holding only punctuation ("。" where OCR misread a 0): an unreadable
            # value, not a label — kept as its own slot so the cell is reported, never taken for a blank row
            label, tokens = "", [cell.text]
        if label:
            label_parts.append(label)
            slots = []  # only what follows the last label is a value slot
        if tokens:
            known = cell.x0 is not None and cell.x1 is not None
            offset = len(cell.text) - len(" ".join(tokens))  # where the value tokens start inside the cell
            for i, tok in enumerate(tokens):
                if not known:
                    x = None
                elif positional:  # grid cells: one slot per cell, several values share it in order
                    x = cell.x0 + i / len(tokens)
                elif len(tokens) > 1 or label:  # character columns: each token at its own position
                    x = cell.x0 + offset + len(tok) / 2
                else:
                    x = (cell.x0 + cell.x1) / 2
                offset += len(tok) + 1
                slots.append(Slot(tok, cell, x))
    if not positional:
        slots = [s for s in slots if s.raw]
    return Line(idx, row, compact("".join(label_parts)), slots, positional)


def _strip_blank_edges(slots: list[Slot], n: int) -> list[Slot]:
    slots = list(slots)
    while len(slots) > n and slots[-1].blank:
        slots.pop()
    while len(slots) > n and slots[0].blank:
        slots.pop(0)
    return slots


def align_slots(line: Line, n: int, reference: list[float] | None = None) -> list[Slot | None] | None:
    """The line's slots as exactly ``n`` template columns (None = blank), or None when it cannot be certain."""
    slots = _strip_blank_edges(line.slots, n)
    if len(slots) == n:
        return list(slots)
    values = [s for s in slots if not s.blank]
    if len(slots) < n and line.positional and len(line.slots) >= n:
        return None
    if len(values) < n and reference and len(reference) == n and all(s.x is not None for s in values):
        # nearest column centre, strictly left to right, each column once
        out: list[Slot | None] = [None] * n
        last = -1
        for s in values:
            col = min(range(n), key=lambda c: abs(reference[c] - s.x))
            if col <= last:
                return None
            gaps = sorted(abs(reference[c] - s.x) for c in range(n))
            if len(gaps) > 1 and gaps[1] - gaps[0] < 0.8:  # equally near two columns: not certain
                return None
            out[col] = s
            last = col
        return out
    return None


# ---------------------------------------------------------------------------------------------------------------
# Label similarity


@lru_cache(maxsize=16384)
def _bigrams(s: str) -> frozenset[str]:
    if len(s) < 2:
        return frozenset({s}) if s else frozenset()
    return frozenset(s[i : i + 2] for i in range(len(s) - 1))


@lru_cache(maxsize=32768)
def similarity(text_key: str, official_key: str) -> float:
    """Dice coefficient of character bigrams (robust to spaced, split, typo'd and partly missing labels)."""
    a, b = _bigrams(text_key), _bigrams(official_key)
    if not a or not b:
        return 0.0
    return 2 * len(a & b) / (len(a) + len(b))


@dataclass(frozen=True, slots=True)
class TemplateRow:
    row_key: str
    label: str
    key: str  # label_key(label)
    fields: tuple[Field, ...]  # in printed column order


@cache
def t3_template(layout: str) -> tuple[TemplateRow, ...]:
    reg = registry()
    rows = []
    for row_key, row_label, _block in reg.rows("t3", layout):
        fields = tuple(reg[reg.key_for("t3", row_key, c)] for c in T3_COLUMNS_ORDER)
        rows.append(TemplateRow(row_key, row_label, label_key(row_label), fields))
    return tuple(rows)


@cache
def t2_template(edition: str) -> tuple[TemplateRow, ...]:
    """表二 rows with their columns in printed order.

    fields.csv lists the shared ``decisions`` column first; in the 2019 layout it is printed after
    上一年项目数量 and 本年增/减, so within a row the shared column goes last.
    """
    reg = registry()
    rows = []
    for row_key, row_label, _block in reg.rows("t2", edition):
        fields = [f for f in reg.select(edition, "t2") if f.row_key == row_key]
        fields.sort(key=lambda f: len(f.editions) > 1)  # shared (2019 2021) columns last: stable sort
        rows.append(TemplateRow(row_key, row_label, label_key(row_label), tuple(fields)))
    return tuple(rows)


# ---------------------------------------------------------------------------------------------------------------
# Result of matching


@dataclass(slots=True)
class MatchResult:
    facts: dict[str, Fact] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)
    extra_rows: list[str] = field(default_factory=list)
    edition: str | None = None
    t3_layout: str | None = None
    evidence: list[str] = field(default_factory=list)
    found_tables: set[str] = field(default_factory=set)


def _fact(f: Field, slot: Slot | None, *, missing: bool = False) -> Fact:
    if missing:
        return Fact(f.key, None, None, blank=False, status="missing")
    if slot is None:
        return Fact(f.key, None, "", blank=True, status="blank")
    cell = slot.cell
    where = {"loc": cell.loc, "page": cell.page, "bbox": cell.bbox, "confidence": cell.confidence}
    if slot.blank:
        return Fact(f.key, None, "", blank=True, status="blank", **where)
    value, status = parse_value(slot.raw, amount=f.is_amount, signed=f.signed)
    if status == "invalid":
        return Fact(f.key, None, slot.raw, blank=False, status="ambiguous", **where)
    return Fact(f.key, value, slot.raw, blank=False, status=status, **where)


# ---------------------------------------------------------------------------------------------------------------
# Regions


def _find(lines: list[Line], start: int, end: int, *needles: str) -> int | None:
    for ln in lines[start:end]:
        text = ln.label
        if any(n in text for n in needles):
            return ln.idx
    return None


@dataclass(slots=True)
class Regions:
    t2: tuple[int, int] | None
    t3: tuple[int, int] | None
    t4: tuple[int, int] | None


def find_regions(lines: list[Line]) -> Regions:
    n = len(lines)
    t3_anchor = _find(lines, 0, n, "本年新收", "新收政府信息公开申请")
    if t3_anchor is None:
        t3_anchor = _find(lines, 0, n, "上年结转政府信息公开申请", "本年度办理结果")
    t3_head = None
    if t3_anchor is not None:
        # the 表三 heading or header above the anchor (within 40 lines)
        for ln in reversed(lines[max(0, t3_anchor - 40) : t3_anchor]):
            if "收到和处理" in ln.label or "申请人情况" in ln.label:
                t3_head = ln.idx
                if "收到和处理" in ln.label:
                    break
    t3_start = t3_head if t3_head is not None else (t3_anchor - 8 if t3_anchor is not None else None)
    if t3_start is not None:
        t3_start = max(0, t3_start)
    # 表四 heading: after the last 表三 row
    t4_head = None
    search_from = t3_anchor if t3_anchor is not None else 0
    cf = _find(lines, search_from, n, "结转下年度", "结转下一年度")
    after = cf if cf is not None else search_from
    for ln in lines[after:]:
        if ("行政复议" in ln.label or "复议" in ln.label and "诉讼" in ln.label) and not ln.values:
            t4_head = ln.idx
            break
    t4_end = n
    if t4_head is not None:
        for ln in lines[t4_head + 1 :]:
            if re.match(r"^[五六][、.．]", ln.label) or "存在的主要问题" in ln.label or "其他需要报告" in ln.label:
                t4_end = ln.idx
                break
    t3_end = t4_head if t4_head is not None else (cf + 3 if cf is not None else n)
    t2_start = _find(lines, 0, t3_start if t3_start is not None else n, "第二十条")
    if t2_start is None:
        t2_start = _find(lines, 0, t3_start if t3_start is not None else n, "主动公开政府信息情况", "主动公开政府信息")
    if t2_start is not None:
        # the heading before 第二十条 belongs to the region too
        t2 = (max(0, t2_start - 2), t3_start if t3_start is not None else min(n, t2_start + 80))
    else:
        t2 = None
    return Regions(t2, (t3_start, t3_end) if t3_start is not None else None, (t4_head, t4_end) if t4_head is not None else None)


# ---------------------------------------------------------------------------------------------------------------
# Edition

_MARK_2019 = ("本年新制作数量", "对外公开总数量", "上一年项目数量", "本年增/减", "其他对外管理服务事项", "政府集中采购", "采购总金额")
_MARK_2021 = ("本年制发件数", "本年废止件数", "现行有效件数", "本年处理决定数量", "本年收费金额", "逾期不补正", "缴纳费用")


def detect_edition(table_text: str, year: int | None) -> tuple[str | None, list[str]]:
    """Edition from the template's own wording; the report year decides only when the tables give no answer."""
    hits19 = [m for m in _MARK_2019 if m in table_text]
    hits21 = [m for m in _MARK_2021 if m in table_text]
    if re.search(r"(?<!本年)处理决定数量", table_text):
        hits19.append("处理决定数量(无“本年”)")
    if len(hits21) > len(hits19):
        return "2021", [f"2021 标志: {'、'.join(hits21)}"] + ([f"2019 标志: {'、'.join(hits19)}"] if hits19 else [])
    if len(hits19) > len(hits21):
        return "2019", [f"2019 标志: {'、'.join(hits19)}"] + ([f"2021 标志: {'、'.join(hits21)}"] if hits21 else [])
    if year is not None:
        ed = "2019" if year <= 2020 else "2021"
        return ed, [f"表格无版本标志，按报告年度 {year} 判定为 {ed} 版"]
    return None, ["表格无版本标志，年度未知"]


# ---------------------------------------------------------------------------------------------------------------
# 表三


def _is_t3_value_line(ln: Line) -> bool:
    if not ln.values:
        return False
    if len(ln.slots) >= 3:
        return True
    if len(ln.values) == 1 and len(ln.slots) == 1 and len(ln.values[0].raw) >= 7 and ln.values[0].raw.isdigit():
        return True  # a row whose separators were lost
    # a labelled row with only a few numbers: the other cells are blank and the text kept no trace of them
    return bool(ln.label) and _best_t3_score(ln.label) >= 0.6


@lru_cache(maxsize=4096)
def _best_t3_score(label: str) -> float:
    key = label_key(label)
    return max(similarity(key, t.key) for layout in ("2019", "2021") for t in t3_template(layout))


def _orphan_numbers(lines: list[Line], ln: Line, lo: int) -> bool:
    """A line of a few numbers without a label, right under a label line naming a 表三 row (wrapped label)."""
    if not ln.values or ln.label or len(ln.slots) >= 3:
        return False
    above = []
    for j in range(ln.idx - 1, max(lo, ln.idx - 3) - 1, -1):
        if lines[j].values:
            break
        above.insert(0, lines[j].label)
    return bool(above) and _best_t3_score("".join(above)) >= 0.6


def _header_words(ln: Line) -> list[tuple[str, float]]:
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
                out.append((unicodedata.normalize("NFKC", w), cell.x0 + offset + len(w) / 2))
            offset += len(w) + 1
    return out


def _header_columns(region: list[Line], before: int) -> list[float] | None:
    """Column centres of 表三 from its header words (自然人 … 总计), for rows in text without complete rows."""
    labels = [registry()[registry().key_for("t3", "new_received", c)].col_label_short for c in T3_COLUMNS_ORDER]
    found: dict[int, float] = {}
    for ln in region:
        if ln.idx >= before:
            break
        for word, x in _header_words(ln):
            for c, lab in enumerate(labels):
                if c not in found and lab.startswith(word):
                    found[c] = x
                    break
    if len(found) != len(labels):
        return None
    xs = [found[c] for c in range(len(labels))]
    return xs if all(a < b for a, b in zip(xs, xs[1:], strict=False)) else None


_ROW_START = re.compile(r"^(?:\d+[.、．]|[(（][一二三四五六七八九十]+[)）]|[一二三四五六七八九十]+、)")
_GROUP_PREFIX = re.compile(
    r"^(?:[(（][三四五六][)）][\u4e00-\u9fff]{0,4}(?=\d+[.、．])"  # "(六)其1.申请人…": a split group label
    r"|[\u4e00-\u9fff]{1,2}(?=[(（][一二三四五六七八九十]+[)）]|\d+[.、．]))"  # "年(二)…": a vertical label's character
)


@cache
def _group_labels() -> tuple[str, ...]:
    """Compact 表三 group labels (三、本年度办理结果, （三）不予公开 …) from the registry, longest first."""
    blocks = {compact(b) for _k, _l, b in registry().rows("t3") if b}
    return tuple(sorted(blocks, key=len, reverse=True))


def row_part(label: str) -> str:
    """A line's label without the group labels printed in front of it ("(五)不予处理1.信访…" → "1.信访…")."""
    changed = True
    while changed and label:
        changed = False
        for g in _group_labels():
            if label.startswith(g) and len(label) > len(g):
                label, changed = label[len(g) :], True
        m = _GROUP_PREFIX.match(label)
        if m:
            label, changed = label[m.end() :], True
    return label


def _starts_row(label: str) -> bool:
    return bool(_ROW_START.match(row_part(label)))


def _context(lines: list[Line], i: int, lo: int, hi: int) -> tuple[str, str, str]:
    """The wrapped label around a value line: the label lines above back to where a row label starts (an
    enumerator such as "1." or "（二）"), and the continuation lines below up to the next row's start."""
    own = row_part(lines[i].label)
    above: list[str] = []
    if not _ROW_START.match(own):
        j = i - 1
        while j >= lo and len(above) < 3 and not _is_t3_value_line(lines[j]):
            if lines[j].label:
                above.append(row_part(lines[j].label))
                if _starts_row(lines[j].label):
                    break
            j -= 1
    below: list[str] = []
    j = i + 1
    while j < hi and len(below) < 3 and not _is_t3_value_line(lines[j]):
        if lines[j].label:
            if _starts_row(lines[j].label):
                break
            below.append(lines[j].label)
        j += 1
    return "".join(reversed(above)), own, "".join(below)


@lru_cache(maxsize=4096)
def _label_scores(key: str, layout: str) -> tuple[float, ...]:
    """Similarity of one label key to every 表三 row of ``layout``, in template order."""
    return tuple(similarity(key, t.key) for t in t3_template(layout))


@lru_cache(maxsize=4096)
def _row_scores(ctx: tuple[str, str, str], layout: str) -> tuple[float, ...]:
    """Score of a value line against every 表三 row: its own label, or with the fragments around it.

    Cached: the same labels recur in report after report, so scoring is a dictionary look-up once warm.
    """
    template = t3_template(layout)
    above, own, below = ctx
    own_key = label_key(own)
    combos = [label_key(c) for c in (above + own, own + below, above + own + below)] if own_key != label_key(above + own + below) else []
    out = [similarity(own_key, t.key) for t in template]
    if combos and max(out) < 0.6:  # the line's own label does not settle it: read the wrapped label around it
        for r, t in enumerate(template):
            if out[r] < 0.5:
                out[r] = max(out[r], *(similarity(c, t.key) * 0.9 for c in combos))
    return tuple(out)


def align_rows(scores: list[list[float]], base: float = 0.05) -> list[int | None]:
    """Monotone alignment of value lines (i) to template rows (r) maximising the summed label score.

    A pair scores ``base + score``; a pair whose label plainly contradicts the row (score < 0.15 while the line
    has a confident label elsewhere) scores negative, so order alone cannot force a wrong label onto a row.
    """
    n, m = len(scores), len(scores[0]) if scores else 0
    neg = float("-inf")
    dp = [[0.0] * (m + 1) for _ in range(n + 1)]
    back = [[0] * (m + 1) for _ in range(n + 1)]  # 0 diag, 1 skip line, 2 skip row
    for i in range(n + 1):
        for r in range(m + 1):
            if i == 0 and r == 0:
                continue
            best, how = neg, 0
            if i > 0 and r > 0:
                v = dp[i - 1][r - 1] + scores[i - 1][r - 1]
                if v > best:
                    best, how = v, 0
            if i > 0 and dp[i - 1][r] > best:
                best, how = dp[i - 1][r], 1
            if r > 0 and dp[i][r - 1] > best:
                best, how = dp[i][r - 1], 2
            dp[i][r], back[i][r] = best, how
    out: list[int | None] = [None] * n
    i, r = n, m
    while i > 0 or r > 0:
        how = back[i][r]
        if i > 0 and r > 0 and how == 0:
            out[i - 1] = r - 1
            i, r = i - 1, r - 1
        elif i > 0 and (how == 1 or r == 0):
            i -= 1
        else:
            r -= 1
    return out


def _split_concatenated(digits: str, n: int) -> list[list[str]]:
    """Every way to cut a digit run into n numbers whose first n-1 sum to the last (variant 7)."""
    out = []
    length = len(digits)
    for cuts in combinations(range(1, length), n - 1):
        parts = [digits[a:b] for a, b in zip((0, *cuts), (*cuts, length), strict=True)]
        if any(len(p) > 1 and p[0] == "0" for p in parts):
            continue
        nums = [int(p) for p in parts]
        if sum(nums[:-1]) == nums[-1]:
            out.append(parts)
    return out


def _complete_lines(lines: list[Line], n: int) -> list[Line]:
    return [ln for ln in lines if len(ln.values) == n and len(ln.slots) == n and all(s.x is not None for s in ln.slots)]


def _reference_positions(complete: list[Line], near: Line) -> list[float] | None:
    """Column centres taken from the complete value line nearest to ``near`` on the same page."""
    same_page = [ln for ln in complete if ln.row.page == near.row.page]
    best = min(same_page, key=lambda ln: abs(ln.idx - near.idx), default=None)
    return [s.x for s in best.slots] if best else None


def match_t3(lines: list[Line], lo: int, hi: int, layout: str, res: MatchResult) -> None:
    template = t3_template(layout)
    region = lines[lo:hi]
    value_lines = [ln for ln in region if _is_t3_value_line(ln) or _orphan_numbers(lines, ln, lo)]
    contexts = [_context(lines, ln.idx, lo, hi) for ln in value_lines]
    scores: list[list[float]] = []
    extras: set[int] = set()
    for k, ctx in enumerate(contexts):
        row_scores = _row_scores(ctx, layout)
        own = label_key(ctx[1])
        if len(own) >= 4 and max(row_scores) < 0.3:
            # a labelled row that is no template row: an agency's local addition (reported, not guessed into a key)
            extras.add(k)
        scores.append([(-1.0 if k in extras else 0.05 + s) for s in row_scores])
    for k in sorted(extras):
        ln = value_lines[k]
        res.extra_rows.append(f"表三 {ln.row.cells[0].loc if ln.row.cells else ''}: {ln.label}")
        res.findings.append(
            Finding("EXTRA_ROW", "info", f"表三有模板外的行“{ln.label}”（{value_lines[k].slots[0].cell.loc}），已忽略", [])
        )
    assignment = align_rows(scores) if scores else []
    # contradictions: a line whose own label clearly names another row than the one order gave it
    by_row: dict[int, Line] = {}
    for k, r in enumerate(assignment):
        if r is None or k in extras:
            continue
        own = label_key(contexts[k][1])
        if len(own) >= 3:
            sims = _label_scores(own, layout)
            best_r = max(range(len(template)), key=sims.__getitem__)
            if best_r != r and sims[best_r] >= 0.6 and sims[r] < 0.3:
                res.findings.append(
                    Finding(
                        "LAYOUT",
                        "error",
                        f"表三第 {value_lines[k].row.line} 行的标签“{value_lines[k].label}”与按顺序对应的"
                        f"“{template[r].label}”不符，该行数值未采用",
                        [f.key for f in template[r].fields],
                    )
                )
                continue
        by_row[r] = value_lines[k]
    _check_order_fill(by_row, value_lines, scores, extras, region, template, res)
    # rows out of order (OCR, converters): a line whose own label plainly names a row order left empty
    used = {ln.idx for ln in by_row.values()}
    for k, ln in enumerate(value_lines):
        if k in extras or ln.idx in used or not ln.label:
            continue
        sims = _label_scores(label_key(ln.label), layout)
        ranked = sorted(range(len(template)), key=lambda t: -sims[t])
        best_r = ranked[0]
        if best_r not in by_row and sims[best_r] >= 0.6 and (len(ranked) < 2 or sims[ranked[1]] < sims[best_r]):
            by_row[best_r] = ln
            used.add(ln.idx)
    n_cols = len(T3_COLUMNS_ORDER)
    complete = _complete_lines(region, n_cols)
    header_columns = _header_columns(region, value_lines[0].idx) if value_lines else None
    header_page = value_lines[0].row.page if value_lines else None
    for r, t in enumerate(template):
        ln = by_row.get(r)
        if ln is None and t.fields[0].key in res.facts:
            continue  # already settled (ambiguous)
        if ln is None:
            # a labelled line without any number = a row left wholly blank
            blank_line = _blank_row_line(region, t, template)
            if blank_line is not None:
                for f in t.fields:
                    res.facts[f.key] = Fact(f.key, None, "", blank=True, loc=f"第 {blank_line.row.line} 行", status="blank")
                res.findings.append(
                    Finding("BLANK_ROW", "info", f"表三“{t.label}”整行空白（第 {blank_line.row.line} 行）", [f.key for f in t.fields])
                )
                continue
            for f in t.fields:
                res.facts[f.key] = _fact(f, None, missing=True)
            res.findings.append(
                Finding("LAYOUT", "error", f"表三未能定位“{t.label}”行，该行数值留空", [f.key for f in t.fields])
            )
            continue
        vals = ln.values
        if len(vals) == 1 and len(ln.slots) == 1 and vals[0].raw.isdigit() and len(vals[0].raw) >= n_cols:
            splits = _split_concatenated(vals[0].raw, n_cols)
            if len(splits) == 1:
                parts = splits[0]
                for f, p in zip(t.fields, parts, strict=True):
                    res.facts[f.key] = Fact(f.key, int(p), p, blank=False, loc=vals[0].cell.loc, status="ok")
                res.findings.append(
                    Finding(
                        "SPLIT",
                        "info",
                        f"表三“{t.label}”的数字连在一起（{vals[0].raw}），按“六列之和等于总计”唯一拆分为 {'|'.join(parts)}",
                        [f.key for f in t.fields],
                    )
                )
                continue
            _ambiguous_row(res, t.fields, f"表三“{t.label}”的数字连在一起（{vals[0].raw}），有 {len(splits)} 种拆分满足算术关系，无法确定")
            continue
        reference = None
        if len(ln.slots) < n_cols:
            reference = _reference_positions(complete, ln) or (header_columns if ln.row.page == header_page else None)
        aligned = align_slots(ln, n_cols, reference)
        if aligned is None:
            _ambiguous_row(
                res,
                t.fields,
                f"表三“{t.label}”（第 {ln.row.line} 行）有 {len(vals)} 个数值、无法确定各自所在列，该行数值留空",
            )
            continue
        for f, slot in zip(t.fields, aligned, strict=True):
            res.facts[f.key] = _fact(f, slot)


def _check_order_fill(
    by_row: dict[int, Line],
    value_lines: list[Line],
    scores: list[list[float]],
    extras: set[int],
    region: list[Line],
    template: tuple[TemplateRow, ...],
    res: MatchResult,
) -> None:
    """Rows placed by order alone (no readable label) are trusted only where the gap between the labelled rows
    around them holds exactly as many value lines as template rows; otherwise which row is which would be a guess,
    and arithmetic cannot tell (moving a count between outcome rows keeps every sum)."""
    position = {ln.idx: k for k, ln in enumerate(value_lines)}

    def score(r: int) -> tuple[float, float]:
        k = position[by_row[r].idx]
        return scores[k][r], max(scores[k])

    confident = {r for r in by_row if score(r)[0] >= 0.55 and score(r)[0] >= score(r)[1] - 1e-9}
    for r in sorted(set(by_row) - confident):
        lo_r = max((c for c in confident if c < r), default=-1)
        hi_r = min((c for c in confident if c > r), default=len(template))
        lo_line = by_row[lo_r].idx if lo_r >= 0 else -1
        hi_line = by_row[hi_r].idx if hi_r < len(template) else 10**9
        gap_lines = [ln for k, ln in enumerate(value_lines) if lo_line < ln.idx < hi_line and k not in extras]
        gap_region = [ln for ln in region if lo_line < ln.idx < hi_line]
        gap_rows = [t for t in range(lo_r + 1, hi_r) if _blank_row_line(gap_region, template[t], template) is None]
        if len(gap_lines) != len(gap_rows):
            ln = by_row.pop(r)
            _ambiguous_row(
                res,
                template[r].fields,
                f"表三第 {ln.row.line} 行数字没有可辨认的标签，且前后行数与模板不符，无法确定其属于“{template[r].label}”",
            )


def _blank_row_line(region: list[Line], t: TemplateRow, template: tuple[TemplateRow, ...]) -> Line | None:
    """A label line (its label possibly wrapped onto continuation lines) naming ``t`` that carries no number."""
    for n, ln in enumerate(region):
        if ln.values or not ln.label or not _starts_row(ln.label):
            continue
        text = row_part(ln.label)
        for nxt in region[n + 1 : n + 4]:
            if nxt.values or _starts_row(nxt.label):
                break
            if len(nxt.label) > 2:  # one or two characters: a vertical group label, not this label's tail
                text += nxt.label
        for candidate in {label_key(row_part(ln.label)), label_key(text)}:
            s = similarity(candidate, t.key)
            if s >= 0.6 and all(similarity(candidate, o.key) < s for o in template if o is not t):
                return ln
    return None


def _ambiguous_row(res: MatchResult, fields: tuple[Field, ...], message: str) -> None:
    for f in fields:
        res.facts[f.key] = Fact(f.key, None, None, blank=False, status="ambiguous")
    res.findings.append(Finding("LAYOUT", "error", message, [f.key for f in fields]))


def detect_t3_layout(lines: list[Line], lo: int, hi: int, edition: str | None) -> tuple[str, str]:
    text = "".join(ln.label for ln in lines[lo:hi])
    if "逾期不补正" in text or "缴纳费用" in text or "收费通知" in text:
        return "2021", "表三（六）其他处理含“逾期不补正/缴纳费用”分项"
    for ln in lines[lo:hi]:
        if "其他处理" in ln.label and len(ln.values) >= 6:
            return "2019", "表三（六）其他处理为单行数字"
    if "其他处理" in text:
        return "2019", "表三（六）其他处理无“逾期不补正/缴纳费用”分项"
    return (edition or "2021"), "表三（六）其他处理形式不明，按版本判定"


# ---------------------------------------------------------------------------------------------------------------
# 表二


def match_t2(lines: list[Line], lo: int, hi: int, edition: str, res: MatchResult) -> None:
    template = t2_template(edition)
    region = lines[lo:hi]
    taken: set[int] = set()
    for t in template:
        best, best_s = None, 0.0
        for ln in region:
            if ln.idx in taken or not ln.label:
                continue
            s = similarity(label_key(ln.label), t.key)
            # the row label must be the line's own label, not a longer sentence mentioning it
            if s > best_s:
                best, best_s = ln, s
        if best is None or best_s < 0.6:
            for f in t.fields:
                res.facts[f.key] = _fact(f, None, missing=True)
            res.findings.append(Finding("LAYOUT", "error", f"表二未能定位“{t.label}”行，该行数值留空", [f.key for f in t.fields]))
            continue
        taken.add(best.idx)
        ln = best
        if not ln.slots:
            # label on its own line, numbers on the next line (wrapped label)
            nxt = next((x for x in region if x.idx > ln.idx and (x.slots or x.label)), None)
            if nxt is not None and not nxt.label and nxt.values:
                ln = nxt
        n = len(t.fields)
        nearby = _complete_lines([x for x in region if abs(x.idx - ln.idx) < 8], n) if len(ln.slots) < n else []
        aligned = align_slots(ln, n, _reference_positions(nearby, ln))
        if aligned is None and not ln.values and not ln.slots:
            aligned = [None] * n  # a row printed with every cell blank
        if aligned is None:
            _ambiguous_row(res, t.fields, f"表二“{t.label}”（第 {ln.row.line} 行）有 {len(ln.values)} 个数值，应为 {n} 个，无法确定各自所在列")
            continue
        for f, slot in zip(t.fields, aligned, strict=True):
            res.facts[f.key] = _fact(f, slot)
    # extra local rows: labelled value lines in 表二 that are no template row
    for ln in region:
        if ln.idx in taken or not ln.values or not ln.label:
            continue
        key = label_key(ln.label)
        if len(key) >= 3 and "第二十条" not in ln.label and all(similarity(key, t.key) < 0.5 for t in template):
            if any(w in ln.label for w in ("年", "月", "日")) and len(ln.label) > 20:
                continue  # prose
            res.extra_rows.append(f"表二 {ln.slots[0].cell.loc}: {ln.label}")
            res.findings.append(Finding("EXTRA_ROW", "info", f"表二有模板外的行“{ln.label}”（{ln.slots[0].cell.loc}），已忽略", []))


# ---------------------------------------------------------------------------------------------------------------
# 表四


def _t4_header_columns(region: list[Line], data_line: Line, n: int) -> list[float] | None:
    """Column centres of 表四 from the header line that names all 15 columns (结果维持 … 总计, or their first
    halves 结果/其他/尚未/总计 when the labels are split over two lines)."""
    labels = [f.col_label_short for f in registry().select(None, "t4")[: len(T4_COLUMNS_ORDER)]]
    best: list[float] = []
    for ln in region:
        if ln.idx >= data_line.idx:
            break
        xs = [x for word, x in _header_words(ln) if any(lab.startswith(word) for lab in labels)]
        if len(xs) > len(best):
            best = xs
    return best if len(best) == n and all(a < b for a, b in zip(best, best[1:], strict=False)) else None


def _t4_by_thirds(region: list[Line], data_line: Line, n: int) -> list[Slot | None] | None:
    """A 表四 row with whole groups left blank, in text that keeps positions but not blank cells (pdftotext
    -layout): each value's group is the third of the table's width it sits in.  Accepted only when every group
    then holds 0 or 5 values; anything else stays uncertain."""
    group_size = len(T4_COLUMNS_ORDER)
    values = data_line.values
    if len(values) % group_size or any(s.x is None for s in values):
        return None
    cells = [c for ln in region if ln.idx < data_line.idx for c in ln.row.cells if c.text and c.x0 is not None]
    if not cells:
        return None
    left = min(c.x0 for c in cells)
    right = max(c.x1 for c in cells)
    if right - left < 10:
        return None
    groups: list[list[Slot]] = [[] for _ in T4_GROUPS_ORDER]
    for s in values:
        g = min(len(groups) - 1, max(0, int(len(groups) * (s.x - left) / (right - left))))
        groups[g].append(s)
    if any(len(g) not in (0, group_size) for g in groups):
        return None
    out: list[Slot | None] = []
    for g in groups:
        out.extend(g if g else [None] * group_size)
    return out if len(out) == n else None


def match_t4(lines: list[Line], lo: int, hi: int, res: MatchResult) -> None:
    reg = registry()
    fields = [reg[reg.key_for("t4", g, c)] for g in T4_GROUPS_ORDER for c in T4_COLUMNS_ORDER]
    n = len(fields)
    region = lines[lo:hi]
    data = [ln for ln in region if ln.values and (len(ln.slots) >= 5 or len(ln.values) >= 5)]
    slots: list[Slot | None] | None = None
    if data:
        first = data[0]
        if len(_strip_blank_edges(first.slots, n)) == n:
            slots = list(_strip_blank_edges(first.slots, n))
        elif not first.positional and len(first.values) < n:
            header = _t4_header_columns(region, first, n)
            slots = align_slots(first, n, header) if header else None
            if slots is None:
                slots = _t4_by_thirds(region, first, n)
        if slots is None:
            # a table split in several parts (行政复议 | 行政诉讼): concatenate consecutive data lines
            acc: list[Slot] = []
            for ln in data:
                acc.extend(ln.slots if ln.positional else ln.values)
                if len(acc) >= n:
                    break
            if len(acc) == n and len(data) > 1:
                slots = list(acc)
    if slots is None:
        got = len(data[0].values) if data else 0
        for f in fields:
            res.facts[f.key] = Fact(f.key, None, None, blank=False, status="missing" if not data else "ambiguous")
        if data:
            message = f"表四数据行（第 {data[0].row.line} 行）只有 {got} 个数值（应为 15 个），无法确定空白格位置，数值留空"
        else:
            message = "未能定位表四数据行"
        res.findings.append(Finding("LAYOUT", "error", message, [f.key for f in fields]))
        return
    res.found_tables.add("t4")
    for f, slot in zip(fields, slots, strict=True):
        res.facts[f.key] = _fact(f, slot)


# ---------------------------------------------------------------------------------------------------------------


def lines_of(doc: Document) -> list[Line]:
    return [to_line(i, row) for i, row in enumerate(doc.rows)]


def match(doc: Document, year: int | None = None) -> MatchResult:
    """Facts for every key of the detected layout (missing ones null with a finding)."""
    lines = lines_of(doc)
    res = MatchResult()
    regions = find_regions(lines)
    table_text = "".join(ln.label for ln in lines[regions.t2[0] : regions.t2[1]]) if regions.t2 else ""
    if regions.t3:
        table_text += "".join(ln.label for ln in lines[regions.t3[0] : regions.t3[1]])
    has_t2 = regions.t2 is not None and any(
        "第二十条" in ln.label or any(m in ln.label for m in _MARK_2019 + _MARK_2021) for ln in lines[regions.t2[0] : regions.t2[1]]
    )
    if regions.t3 is None and not has_t2:
        res.findings.append(Finding("NOT_REPORT", "error", "未找到表二、表三（不是年度报告，或为 2018 年及以前的旧格式）", []))
        return res
    edition, evidence = detect_edition(table_text, year)
    res.edition, res.evidence = edition, evidence
    if edition is None:
        res.findings.append(Finding("EDITION", "error", "无法判断报告格式版本", []))
        return res
    if regions.t3 is not None:
        layout, why = detect_t3_layout(lines, *regions.t3, edition)
        res.t3_layout = layout
        res.evidence.append(why)
        match_t3(lines, *regions.t3, layout, res)
        res.found_tables.add("t3")
        t3_facts = [f for k, f in res.facts.items() if k.startswith("t3.")]
        if t3_facts and all(f.value is None for f in t3_facts) and not any(fd.rule == "LAYOUT" for fd in res.findings):
            res.findings.append(Finding("LAYOUT", "error", "表三没有读到任何数字（整表空白或数字未能识别）", []))
    else:
        res.t3_layout = edition
        for f in registry().select(edition, "t3"):
            res.facts[f.key] = _fact(f, None, missing=True)
        res.findings.append(Finding("LAYOUT", "error", "未找到表三（收到和处理政府信息公开申请情况）", []))
    if regions.t2 is not None:
        match_t2(lines, regions.t2[0], regions.t2[1], edition, res)
        res.found_tables.add("t2")
    else:
        for f in registry().select(edition, "t2"):
            res.facts[f.key] = _fact(f, None, missing=True)
        res.findings.append(Finding("LAYOUT", "error", "未找到表二（主动公开政府信息情况）", []))
    if regions.t4 is not None:
        match_t4(lines, *regions.t4, res)
    else:
        for f in registry().select(edition, "t4"):
            res.facts[f.key] = _fact(f, None, missing=True)
        res.findings.append(Finding("LAYOUT", "error", "未找到表四（行政复议、行政诉讼情况）", []))
    return res


def ordered_facts(res: MatchResult) -> dict[str, Fact]:
    """Every key of the detected layout in registry order; keys of the other （六） form marked not_in_layout."""
    reg = registry()
    wanted = set(reg.layout_keys(res.edition, res.t3_layout)) if res.edition else set()
    out: dict[str, Fact] = {}
    for f in reg.fields:
        if res.edition is None or res.edition not in f.editions and f.key not in wanted:
            continue
        if f.key in wanted:
            out[f.key] = res.facts.get(f.key) or _fact(f, None, missing=True)
        elif f.table == "t3":
            out[f.key] = Fact(f.key, None, None, blank=False, status="not_in_layout")
    return out


__all__ = ["MatchResult", "match", "ordered_facts", "lines_of", "label_key", "similarity", "Decimal"]
