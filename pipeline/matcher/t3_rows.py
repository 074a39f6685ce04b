"""表三 rows: which lines carry a row's values, and which template row each of them is.

Each value line is scored against every template row by label similarity — its own label, or the label fragments
around it when a long label wrapped — and a monotone dynamic-programming alignment pairs lines with rows maximising
the summed score, so order fills in rows without a readable label.  Where order alone placed a row and the lines
around it do not pin it down, the row is flagged rather than guessed (moving a count between outcome rows keeps
every sum, so arithmetic could not catch a wrong placement).
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import NamedTuple

from pipeline.matcher.labels import (
    LABEL_CONFIDENT,
    LABEL_MATCH,
    LABEL_UNRELATED,
    LABEL_WEAK,
    ORDER_BONUS,
    ROW_START,
    WRAPPED_DISCOUNT,
    TemplateRow,
    label_key,
    row_part,
    similarity,
    starts_row,
    t3_template,
)
from pipeline.matcher.lines import Line, header_words_at
from pipeline.matcher.result import MatchResult, ambiguous_row
from pipeline.model import Finding
from pipeline.normalize import nfkc
from pipeline.registry import T3_COLUMNS_ORDER, registry

GLUED_ROW_MIN_DIGITS = 7  # a lone digit run this long in 表三 is a row whose separators were lost
CONTEXT_LINES = 3  # label lines read above and below a value line for its wrapped label


def is_value_line(ln: Line) -> bool:
    if not ln.values:
        return False
    if ln.glued or len(ln.slots) >= 3:
        return True
    if (
        len(ln.values) == 1
        and len(ln.slots) == 1
        and len(ln.values[0].raw) >= GLUED_ROW_MIN_DIGITS
        and ln.values[0].raw.isdigit()
    ):
        return True  # a row whose separators were lost
    # a labelled row with only a few numbers: the other cells are blank and the text kept no trace of them
    return bool(ln.label) and best_score(ln.label) >= LABEL_MATCH


@lru_cache(maxsize=4096)
def best_score(label: str) -> float:
    key = label_key(label)
    return max(similarity(key, t.key) for layout in ("2019", "2021") for t in t3_template(layout))


def orphan_numbers(lines: list[Line], ln: Line, lo: int) -> bool:
    """A line of a few numbers without a label, right under a label line naming a 表三 row (wrapped label)."""
    if not ln.values or ln.label or len(ln.slots) >= 3:
        return False
    if not ln.positional and all(s.cell.x0 in (None, 0.0) for s in ln.values):
        return False  # a number at the start of a line of its own: no column under a wrapped label, a stray
    above: list[str] = []
    for j in range(ln.idx - 1, max(lo, ln.idx - CONTEXT_LINES) - 1, -1):
        if lines[j].values:
            break
        above.insert(0, lines[j].label)
    return bool(above) and best_score("".join(above)) >= LABEL_MATCH


class LabelContext(NamedTuple):
    """A value line's own label and the fragments of a wrapped label around it."""

    above: str  # label lines above, back to where the row label starts
    own: str  # the line's own label, group labels in front of it dropped
    below: str  # continuation lines below, up to the next row's start


def context(lines: list[Line], i: int, lo: int, hi: int) -> LabelContext:
    """The wrapped label around a value line: the label lines above back to where a row label starts (an
    enumerator such as "1." or "（二）"), and the continuation lines below up to the next row's start."""
    hi = min(hi, len(lines))
    own = row_part(lines[i].label)
    above: list[str] = []
    if not ROW_START.match(own):
        j = i - 1
        while j >= lo and len(above) < CONTEXT_LINES and not is_value_line(lines[j]):
            if lines[j].label:
                above.append(row_part(lines[j].label))
                if starts_row(lines[j].label):
                    break
            j -= 1
    below: list[str] = []
    j = i + 1
    while j < hi and len(below) < CONTEXT_LINES and not is_value_line(lines[j]):
        if lines[j].label:
            if starts_row(lines[j].label):
                break
            below.append(lines[j].label)
        j += 1
    return LabelContext("".join(reversed(above)), own, "".join(below))


@lru_cache(maxsize=4096)
def label_scores(key: str, layout: str) -> tuple[float, ...]:
    """Similarity of one label key to every 表三 row of ``layout``, in template order."""
    return tuple(similarity(key, t.key) for t in t3_template(layout))


@lru_cache(maxsize=4096)
def row_scores(ctx: LabelContext, layout: str) -> tuple[float, ...]:
    """Score of a value line against every 表三 row: its own label, or with the fragments around it.

    Cached: the same labels recur in report after report, so scoring is a dictionary look-up once warm.
    """
    template = t3_template(layout)
    above, own, below = ctx
    own_key = label_key(own)
    combos = (
        [label_key(c) for c in (above + own, own + below, above + own + below)]
        if own_key != label_key(above + own + below)
        else []
    )
    out = [similarity(own_key, t.key) for t in template]
    if combos and max(out) < LABEL_MATCH:  # the line's own label does not settle it: read the wrapped label
        for r, t in enumerate(template):
            if out[r] < LABEL_WEAK:
                out[r] = max(out[r], *(similarity(c, t.key) * WRAPPED_DISCOUNT for c in combos))
    return tuple(out)


def align_rows(scores: list[list[float]]) -> list[int | None]:
    """Monotone alignment of value lines (i) to template rows (r) maximising the summed label score (each pair
    scores :data:`ORDER_BONUS` + its label score; a local row scores negative, so order cannot force it in)."""
    n, m = len(scores), len(scores[0]) if scores else 0
    neg = float("-inf")
    dp = [[0.0] * (m + 1) for _ in range(n + 1)]
    back = [[0] * (m + 1) for _ in range(n + 1)]  # 0 diag, 1 skip line, 2 skip row
    for i in range(n + 1):
        cur, cur_back = dp[i], back[i]
        up = dp[i - 1] if i > 0 else None  # the row above and this line's scores, looked up once per row
        line_scores = scores[i - 1] if i > 0 else []
        for r in range(m + 1):
            if i == 0 and r == 0:
                continue
            best, how = neg, 0
            if up is not None:
                if r > 0:
                    v = up[r - 1] + line_scores[r - 1]
                    if v > best:
                        best, how = v, 0
                if up[r] > best:
                    best, how = up[r], 1
            if r > 0 and cur[r - 1] > best:
                best, how = cur[r - 1], 2
            cur[r], cur_back[r] = best, how
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


def blank_row_line(region: list[Line], t: TemplateRow, template: tuple[TemplateRow, ...]) -> Line | None:
    """A label line (its label possibly wrapped onto continuation lines) naming ``t`` that carries no number."""
    for n, ln in enumerate(region):
        if ln.values or not ln.label or not starts_row(ln.label):
            continue
        text = row_part(ln.label)
        for nxt in region[n + 1 : n + 1 + CONTEXT_LINES]:
            if nxt.values or starts_row(nxt.label):
                break
            if len(nxt.label) > 2:  # one or two characters: a vertical group label, not this label's tail
                text += nxt.label
        for candidate in {label_key(row_part(ln.label)), label_key(text)}:
            s = similarity(candidate, t.key)
            if s >= LABEL_MATCH and all(similarity(candidate, o.key) < s for o in template if o is not t):
                return ln
    return None


def check_order_fill(
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

    confident = {r for r in by_row if score(r)[0] >= LABEL_CONFIDENT and score(r)[0] >= score(r)[1] - 1e-9}
    for r in sorted(set(by_row) - confident):
        lo_r = max((c for c in confident if c < r), default=-1)
        hi_r = min((c for c in confident if c > r), default=len(template))
        lo_line = by_row[lo_r].idx if lo_r >= 0 else -1
        hi_line = by_row[hi_r].idx if hi_r < len(template) else 10**9
        gap_lines = [ln for k, ln in enumerate(value_lines) if lo_line < ln.idx < hi_line and k not in extras]
        gap_region = [ln for ln in region if lo_line < ln.idx < hi_line]
        gap_rows = [t for t in range(lo_r + 1, hi_r) if blank_row_line(gap_region, template[t], template) is None]
        if len(gap_lines) != len(gap_rows):
            ln = by_row.pop(r)
            ambiguous_row(
                res,
                template[r].fields,
                f"表三第 {ln.row.line} 行数字没有可辨认的标签，且前后行数与模板不符，无法确定其属于“{template[r].label}”",
            )


DECISIVE_SCORE = 0.8  # a line's own label this close to a row's label decides the row, order or not …
DECISIVE_MARGIN = 0.15  # … when it is this much closer to that row than to any other
PINNED = 10.0  # alignment score of a line whose row is already certain


def _monotone(pairs: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The longest chain of (line, row) pairs increasing in both: the anchors that agree with the printed order."""
    pairs = sorted(pairs)
    if all(a[1] < b[1] for a, b in zip(pairs, pairs[1:], strict=False)):
        return pairs  # the common case: every decided row in print order
    # per row, the longest chain ending there (the earliest such): rows are template rows, a few dozen at most, so
    # this is linear in the lines however many repeat a label; ties go to the chain found first
    ending: dict[int, tuple[int, int, list[tuple[int, int]]]] = {}  # row → (length, -order, chain)
    for order, p in enumerate(pairs):
        length, _, chain = max((e for row, e in ending.items() if row < p[1]), key=lambda e: e[:2], default=(0, 0, []))
        if p[1] not in ending or length + 1 > ending[p[1]][0]:
            ending[p[1]] = (length + 1, -order, [*chain, p])
    return max(ending.values(), key=lambda e: e[:2], default=(0, 0, []))[2]


def _fill_gaps_by_order(
    value_lines: list[Line],
    contexts: list[LabelContext],
    decisive: dict[int, int],
    extras: set[int],
    region: list[Line],
    template: tuple[TemplateRow, ...],
) -> dict[int, int]:
    """Value lines without any label of their own, placed by order between the rows whose labels decide them — only
    where the gap holds exactly as many such lines as template rows (a converter left the labels elsewhere as text;
    the wrapped label fragments around a line would then point at the wrong row)."""
    anchors = _monotone([(k, r) for k, r in decisive.items()])
    bounds = [(-1, -1), *anchors, (len(value_lines), len(template))]
    claimed = set(decisive.values())
    out: dict[int, int] = {}
    for (k0, r0), (k1, r1) in zip(bounds, bounds[1:], strict=False):
        gap_lines = [k for k in range(k0 + 1, k1) if k not in extras and k not in decisive]
        gap_rows = [r for r in range(r0 + 1, r1) if r not in claimed]
        if not gap_lines or any(label_key(contexts[k].own) for k in gap_lines):
            continue  # nothing to place, or a line with a label of its own (wrapped): the alignment reads it
        if len(gap_lines) != len(gap_rows):
            lo_line = value_lines[k0].idx if k0 >= 0 else -1
            hi_line = value_lines[k1].idx if k1 < len(value_lines) else 10**9
            between = [ln for ln in region if lo_line < ln.idx < hi_line]
            gap_rows = [r for r in gap_rows if blank_row_line(between, template[r], template) is None]
            if len(gap_lines) != len(gap_rows):
                continue
        out.update(zip(gap_lines, gap_rows, strict=True))
    return out


_NUMBER_ENUM = re.compile(r"^\s*(\d+)\s*[.、．]")


@lru_cache(maxsize=4096)
def decisive_row(own: str, layout: str) -> int | None:
    """The template row a line's own label decides — it reads almost as that row's label (≥ DECISIVE_SCORE), clear of
    every other row, and its enumerator ("2.") does not name another row — or None."""
    own_key = label_key(own)
    if len(own_key) < 2:
        return None
    sims = label_scores(own_key, layout)
    best = max(range(len(sims)), key=sims.__getitem__)
    second = max((v for r, v in enumerate(sims) if r != best), default=0.0)
    if len(own_key) < 3 and sims[best] < 1.0:
        return None  # a two-character label decides only when it is a row's whole label ("3.其他")
    mine, theirs = _NUMBER_ENUM.match(own), _NUMBER_ENUM.match(t3_template(layout)[best].label)
    if mine and theirs and mine.group(1) != theirs.group(1):
        return None  # "2. 其他法…" (a wrapped label) is not "3.其他"
    return best if sims[best] >= DECISIVE_SCORE and sims[best] - second >= DECISIVE_MARGIN else None


def _decisive_labels(contexts: list[LabelContext], layout: str, extras: set[int]) -> dict[int, int]:
    """Value line index → the template row its own label decides."""
    out: dict[int, int] = {}
    for k, ctx in enumerate(contexts):
        if k not in extras:
            row = decisive_row(nfkc(ctx.own), layout)
            if row is not None:
                out[k] = row
    return out


def place_rows(
    lines: list[Line], lo: int, hi: int, layout: str, res: MatchResult
) -> tuple[dict[int, Line], list[Line]]:
    """Template row index → the value line that carries it; and every value line of the region."""
    template = t3_template(layout)
    region = lines[lo:hi]
    value_lines = [ln for ln in region if is_value_line(ln) or orphan_numbers(lines, ln, lo)]
    contexts = [context(lines, ln.idx, lo, hi) for ln in value_lines]
    scores: list[list[float]] = []
    extras: set[int] = set()
    for k, ctx in enumerate(contexts):
        scored = row_scores(ctx, layout)
        own = label_key(ctx.own)
        if len(own) >= 4 and max(scored) < LABEL_UNRELATED:
            # a labelled row that is no template row: an agency's local addition (reported, not guessed into a key)
            extras.add(k)
        scores.append([(-1.0 if k in extras else ORDER_BONUS + s) for s in scored])
    for k in sorted(extras):
        ln = value_lines[k]
        res.extra_rows.append(f"表三 {ln.row.cells[0].loc if ln.row.cells else ''}: {ln.label}")
        res.findings.append(
            Finding("EXTRA_ROW", "info", f"表三有模板外的行“{ln.label}”（{ln.slots[0].cell.loc}），已忽略", [])
        )
    decisive = _decisive_labels(contexts, layout, extras)
    for k, pinned in _fill_gaps_by_order(value_lines, contexts, decisive, extras, region, template).items():
        scores[k] = [-1.0] * len(template)
        scores[k][pinned] = PINNED  # placed by order between rows whose labels decide them: the alignment must keep it
    assignment = align_rows(scores) if scores else []
    # contradictions: a line whose own label clearly names another row than the one order gave it
    by_row: dict[int, Line] = {}
    for k, r in enumerate(assignment):
        if r is None or k in extras or decisive.get(k, r) != r:
            continue  # a line whose own label decides its row is placed by that label below, not by order
        own = label_key(contexts[k].own)
        if len(own) >= 3:
            sims = label_scores(own, layout)
            best_r = max(range(len(template)), key=sims.__getitem__)
            if best_r != r and sims[best_r] >= LABEL_MATCH and sims[r] < LABEL_UNRELATED:
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
    # rows out of order (a converter swapped them): a line whose own label decides its row goes there, whatever
    # the order — two similar labels ("1.申请人无正当理由逾期不补正…" / "2.申请人逾期未按收费通知…") would otherwise
    # let order swap their numbers silently
    claimed: dict[int, list[int]] = {}
    for k, b in decisive.items():
        claimed.setdefault(b, []).append(k)
    for b, ks in claimed.items():
        if len(ks) > 1:
            lines_ = ", ".join(str(value_lines[k].row.line) for k in ks)
            by_row.pop(b, None)
            ambiguous_row(
                res,
                template[b].fields,
                f"表三第 {lines_} 行都标为“{template[b].label}”，无法确定取哪一行，该行数值留空",
            )
            continue
        k = ks[0]
        if by_row.get(b) is not value_lines[k]:
            by_row[b] = value_lines[k]
    check_order_fill(by_row, value_lines, scores, extras, region, template, res)
    # rows out of order (OCR, converters): a line whose own label plainly names a row order left empty
    used = {ln.idx for ln in by_row.values()}
    for k, ln in enumerate(value_lines):
        if k in extras or ln.idx in used or not ln.label:
            continue
        sims = label_scores(label_key(ln.label), layout)
        ranked = sorted(range(len(template)), key=lambda t: -sims[t])
        best_r = ranked[0]
        if best_r not in by_row and sims[best_r] >= LABEL_MATCH and (len(ranked) < 2 or sims[ranked[1]] < sims[best_r]):
            by_row[best_r] = ln
            used.add(ln.idx)
    return by_row, value_lines


def header_columns(region: list[Line], before: int) -> list[float] | None:
    """Column centres of 表三 from its header words (自然人 … 总计), for rows in text without complete rows."""
    labels = [registry()[registry().key_for("t3", "new_received", c)].col_label_short for c in T3_COLUMNS_ORDER]
    found: dict[int, float] = {}
    for ln in region:
        if ln.idx >= before:
            break
        for word, x in header_words_at(ln):
            for c, lab in enumerate(labels):
                if c not in found and lab.startswith(word):
                    found[c] = x
                    break
    if len(found) != len(labels):
        return None
    xs = [found[c] for c in range(len(labels))]
    return xs if all(a < b for a, b in zip(xs, xs[1:], strict=False)) else None
