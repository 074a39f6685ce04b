"""Digit runs whose cell separators were lost ("15130000154" = 151·3·0·0·0·0·154): every split into the row's cells
that the template's arithmetic allows.

A *run* is what a page saved without cell separators leaves of a table row: the cells' texts one after the other,
with a space where the page had a space (``&nbsp;`` in a cell, or a blank cell).  A split cuts the run into exactly
``n`` cells; a cell is a number as printed (no leading zeros, a sign only where the column is signed, decimals and a
unit 元/万元 only in an amount column) or blank — and a blank cell needs a space of its own ("0 00000": seven cells,
the second blank).  *Identities* say which cells must sum to which (表三: six applicants = 总计; 表四: 维持 + 纠正 +
其他 + 尚未审结 = 总计), so the total cell is not guessed but read off: its text must be exactly the sum.

The search walks the run from the right with what is left of each total as state and memoises on (position, cell,
remainders); every part must fit under its total and the digits still unread must fit in the cells still to fill,
so it stays polynomial in the run length for the sums a report has, and it stops at a clear limit (run length, cell
digits, search steps), which the caller reports as an error finding.  Which split is right is never chosen here:
the caller takes a split only when it is the only one, after every identity (rows and columns) has had its say.

What one cell may read as is :mod:`pipeline.matcher.run_cells`; the identities and the :class:`Splits` returned
are :mod:`pipeline.matcher.splits`.
"""

from __future__ import annotations

import re
from functools import lru_cache

from pipeline.matcher.run_cells import (
    AMOUNT,
    MARKERS,
    MAX_CELL_DIGITS,
    SIGNED,
    CellKind,
    cell_value,
    texts_ending,
    texts_starting,
)
from pipeline.matcher.splits import Identity, Splits

# --- limits ----------------------------------------------------------------------------------------------------
MAX_RUN_CHARS = 200  # a longer run is not searched at all
MAX_CANDIDATES = 64  # splits kept per run (counting goes on)
SEARCH_BUDGET = 100_000  # memoised search states per run
SPLIT_CACHE_SIZE = 4096  # runs whose splits are remembered (the same rows recur across reports: "0000000")


class _OverBudget(Exception):
    pass


def _left_half(
    run: str, kinds: tuple[CellKind, ...], cells: int, free_blanks: int
) -> dict[tuple[int, int, int], list[tuple[str, ...]]]:
    """The first ``cells`` cells read from the left, all parts of one identity: (end position, their sum, blank
    cells taken without a space) → the cell texts.  A cell's region ends after its text, or after the space that
    follows it as a separator; a space not taken as a separator is a blank cell of its own."""
    table: dict[tuple[int, int, int], list[tuple[str, ...]]] = {}
    # The table is only looked up with what is left of the identity's total, and the total is a cell to the right
    # of the left half: a sum of at least 10 ** (characters after its end, spaces not counted) is never asked for.
    # Without signed cells sums only grow as the walk goes right, so such a reading is dropped as soon as it
    # reaches that size (with them, only once complete).
    after = [0] * (len(run) + 1)
    for pos in range(len(run) - 1, -1, -1):
        after[pos] = after[pos + 1] + (run[pos] != " ")
    too_big = [10**k for k in after]
    growing = SIGNED not in kinds[:cells]

    def walk(pos: int, j: int, total: int, used: int, acc: tuple[str, ...]) -> None:
        if total >= too_big[pos] and (growing or j == cells):
            return
        if j == cells:
            table.setdefault((pos, total, used), []).append(acc)
            return
        if used < free_blanks:
            walk(pos, j + 1, total, used + 1, (*acc, ""))
        if pos >= len(run):
            return
        if run[pos] == " ":
            walk(pos + 1, j + 1, total, used, (*acc, ""))
            return
        for text, value in texts_starting(run, pos, kinds[j]):
            end = pos + len(text)
            if growing and total + value >= too_big[end]:
                break  # the longer texts after it are larger still, and end further right
            walk(end, j + 1, total + value, used, (*acc, text))
            if end < len(run) and run[end] == " ":
                walk(end + 1, j + 1, total + value, used, (*acc, text))

    walk(0, 0, 0, 0, ())
    if run.startswith(" "):
        walk(1, 0, 0, 0, ())  # the leading space only spaced the first cell away from its label
    return table


Rems = tuple[int | None, ...]


def split_run(
    run: str,
    kinds: tuple[CellKind, ...],
    identities: tuple[Identity, ...] = (),
    free_blanks: int = 0,
    enough: int | None = None,
) -> Splits:
    """Every split of ``run`` into ``len(kinds)`` cells satisfying ``identities`` (see :func:`_split_run`).

    ``enough``: the caller only needs to know whether there are more than this many splits; as soon as there are,
    the search stops with no candidates, ``count`` ``enough + 1`` and ``limit`` set (a run that loose has
    millions of splits: counting them all is the slow part).

    The search is a pure function of its arguments and the same runs recur from report to report (all-zero rows
    above all), so the last :data:`SPLIT_CACHE_SIZE` answers are kept; each caller gets its own copy."""
    found = _split_run_cached(run, kinds, identities, free_blanks, enough)
    return Splits(list(found.candidates), found.count, found.limit)


@lru_cache(maxsize=SPLIT_CACHE_SIZE)
def _split_run_cached(
    run: str, kinds: tuple[CellKind, ...], identities: tuple[Identity, ...], free_blanks: int, enough: int | None
) -> Splits:
    return _split_run(run, kinds, identities, free_blanks, enough)


class _Enough(Exception):
    pass


def _split_run(
    run: str,
    kinds: tuple[CellKind, ...],
    identities: tuple[Identity, ...],
    free_blanks: int,
    enough: int | None,
    halves: bool = True,
) -> Splits:
    """Every split of ``run`` into ``len(kinds)`` cells satisfying ``identities`` (each total after its parts).

    A blank cell takes a space of its own; ``free_blanks`` more blank cells may stand anywhere (text whose blank
    cells left no trace at all).  The walk goes right to left, so a total is read before its parts: each part must
    then fit under what is left of the total, the first part is forced to be exactly the rest, and the digits still
    to the left must fit in the cells still to fill — which keeps the search small for any run a report can hold."""
    run = re.sub(r"\s+", " ", run)  # a space at either end may be a blank cell, or only space
    n = len(kinds)
    out = Splits()
    if len(run) > MAX_RUN_CHARS:
        out.limit = f"数字串过长（{len(run)} 个字符，上限 {MAX_RUN_CHARS}）"
        return out
    ident_of_total = {ident.total: k for k, ident in enumerate(identities)}
    ident_of_part = {p: k for k, ident in enumerate(identities) for p in ident.parts}
    first_part = {k: min(ident.parts) for k, ident in enumerate(identities)}
    gaps_before = [0] * (len(run) + 1)  # spaces before each position: how many blank cells may still come
    digits_before = [0] * (len(run) + 1)
    for pos, ch in enumerate(run):
        gaps_before[pos + 1] = gaps_before[pos] + (ch == " ")
        digits_before[pos + 1] = digits_before[pos] + (ch != " ")
    unbounded = 10**6  # an amount's decimals have no fixed width
    memo: dict[tuple[int, int, Rems, int], int] = {}
    steps = [0]
    # meet in the middle: when the first identity's parts are the run's first cells, its left half is read from
    # the left once and looked up, instead of being searched again for every remainder the right half leaves
    half_k, half = None, 0
    if halves and identities and ident_of_part.get(0) is not None:  # (halves=False: the plain search, for tests)
        k0 = ident_of_part[0]
        parts0 = sorted(identities[k0].parts)
        if parts0 == list(range(len(parts0))) and len(parts0) >= 4:
            half_k, half = k0, len(parts0) // 2
    left = _left_half(run, kinds, half, free_blanks) if half_k is not None else {}
    closed = tuple(-1 for _ in identities)  # -1: the identity's total not read yet; None: skipped (blank total)
    endings: dict[tuple[int, CellKind], tuple[str, ...]] = {}  # (end, kind) → texts_ending, asked for every remainder
    rooms: dict[tuple[int, Rems], int] = {}

    def cells_ending(end: int, kind: CellKind) -> tuple[str, ...]:
        found = endings.get((end, kind))
        if found is None:
            found = endings[(end, kind)] = texts_ending(run, end, kind)
        return found

    def from_left(pos: int, rems: Rems, free: int) -> list[tuple[str, ...]] | None:
        """The left half's readings ending at ``pos`` that fill what is left of the total (None: not at the half)."""
        rest = rems[half_k] if half_k is not None else None
        if rest is None or rest < 0:
            return None
        out_heads: list[tuple[str, ...]] = []
        for used in range(free + 1):
            out_heads.extend(left.get((pos, rest, used), ()))
        return out_heads

    def room(i: int, rems: Rems) -> int:
        """The most characters cells 0..i can hold."""
        found = rooms.get((i, rems))
        if found is None:
            found = rooms[(i, rems)] = _room(i, rems)
        return found

    def _room(i: int, rems: Rems) -> int:
        total = 0
        for c in range(i + 1):
            k = ident_of_part.get(c)
            rest = rems[k] if k is not None else None
            if rest is not None and rest >= 0:
                total += len(str(rest))
            elif kinds[c] == AMOUNT:
                return unbounded
            else:
                total += MAX_CELL_DIGITS + (kinds[c] == SIGNED)
        return total

    def blank_ok(i: int, rems: Rems) -> Rems | None:
        """What is left of the totals when cell ``i`` is blank (None: it cannot be)."""
        k_total, k_part = ident_of_total.get(i), ident_of_part.get(i)
        if k_total is not None:
            blank_rem = None if identities[k_total].skip_blank_total else 0
            return rems[:k_total] + (blank_rem,) + rems[k_total + 1 :]
        rest = rems[k_part] if k_part is not None else None
        if k_part is None or rest is None:
            return rems
        if i == first_part[k_part]:
            return rems if rest == 0 else None
        return rems if rest >= 0 else None

    def options(pos: int, i: int, rems: Rems, free: int) -> list[tuple[str, int, Rems, int]]:
        """(cell text, position before it, remainders after it, free blanks left) for cell ``i`` ending at ``pos``."""
        opts: list[tuple[str, int, Rems, int]] = []
        after_blank = blank_ok(i, rems)
        if free and after_blank is not None:
            opts.append(("", pos, after_blank, free - 1))  # a blank cell that left no trace
        k_total, k_part = ident_of_total.get(i), ident_of_part.get(i)
        if pos > 0 and run[pos - 1] == " ":
            # a space: a blank cell of its own, or only the separator after this cell's number
            if after_blank is not None:
                opts.append(("", pos - 1, after_blank, free))
            pos -= 1
        if pos <= 0:
            return opts
        if k_total is not None:
            for text in cells_ending(pos, kinds[i]):
                value = cell_value(text)
                if value is not None:
                    opts.append((text, pos - len(text), rems[:k_total] + (value,) + rems[k_total + 1 :], free))
            return opts
        rest = rems[k_part] if k_part is not None else None
        if k_part is not None and rest is not None and rest >= 0:
            if i == first_part[k_part]:  # the last part to read: exactly what is left of the total
                wanted = [str(rest)] + ([t for t in cells_ending(pos, kinds[i]) if t in MARKERS] if rest == 0 else [])
                for want in wanted:
                    if run.endswith(want, 0, pos):
                        opts.append((want, pos - len(want), rems[:k_part] + (0,) + rems[k_part + 1 :], free))
                return opts
            for text in cells_ending(pos, kinds[i]):
                value = cell_value(text)
                if value is not None and 0 <= value <= rest:
                    opts.append((text, pos - len(text), rems[:k_part] + (rest - value,) + rems[k_part + 1 :], free))
            return opts
        return [*opts, *((t, pos - len(t), rems, free) for t in cells_ending(pos, kinds[i]))]

    def done(pos: int) -> bool:
        return pos == 0 or (pos == 1 and run[0] == " ")

    def settled(pos: int, i: int, rems: Rems, free: int) -> int | None:
        """The count where it needs no search: every cell read, or the left half looked up."""
        if i < 0:
            return 1 if done(pos) else 0
        if i == half - 1:
            heads = from_left(pos, rems, free)
            if heads is not None:
                return len(heads)
        return None

    def count(pos: int, i: int, rems: Rems, free: int) -> int:
        # settled() inlined: this runs once per search state
        if i < 0:
            return 1 if done(pos) else 0
        if i == half - 1:
            heads = from_left(pos, rems, free)
            if heads is not None:
                return len(heads)
        if digits_before[pos] < (i + 1) - gaps_before[pos] - free or pos > room(i, rems) + gaps_before[pos]:
            return 0
        key = (pos, i, rems, free)
        hit = memo.get(key)
        if hit is not None:
            return hit
        steps[0] += 1
        if steps[0] > SEARCH_BUDGET:
            raise _OverBudget
        total = 0
        for _t, p, r, f in options(pos, i, rems, free):
            total += count(p, i - 1, r, f)
        if enough is not None and total > enough:
            raise _Enough  # every count found adds to the run's: it has more than enough splits
        memo[key] = total
        return total

    try:
        out.count = count(len(run), n - 1, closed, free_blanks)
    except _OverBudget:
        out.limit = f"拆分搜索超过上限（{SEARCH_BUDGET} 步）"
        return out
    except _Enough:
        out.count = (enough or 0) + 1
        out.limit = f"拆分多于 {enough} 种（不再计数）"
        return out

    def reachable(pos: int, i: int, rems: Rems, free: int) -> int:
        known = settled(pos, i, rems, free)
        return known if known is not None else memo.get((pos, i, rems, free), 0)

    def walk(pos: int, i: int, rems: Rems, free: int, acc: tuple[str, ...]) -> None:
        if len(out.candidates) >= MAX_CANDIDATES:
            return
        if i < 0:
            if done(pos):
                out.candidates.append(acc)
            return
        if i == half - 1:
            heads = from_left(pos, rems, free)
            if heads is not None:
                out.candidates.extend((*head, *acc) for head in heads[: MAX_CANDIDATES - len(out.candidates)])
                return
        for text, p, r, f in options(pos, i, rems, free):
            if reachable(p, i - 1, r, f):
                walk(p, i - 1, r, f, (text, *acc))

    if out.count:
        walk(len(run), n - 1, closed, free_blanks, ())
        out.candidates.sort(key=lambda cand: [len(c) for c in cand])
    return out


def split_fewest_blanks(run: str, kinds: tuple[CellKind, ...], identities: tuple[Identity, ...] = ()) -> Splits:
    """Splits of a run whose blank cells may have left no trace: a run with digits enough for every cell has no
    blank cell but at its spaces (blanks are never invented to make a row add up); a shorter one has the fewest
    blank cells, anywhere, that admit a split."""
    digits = sum(ch.isdigit() for ch in run)
    if digits >= len(kinds):
        return split_run(run, kinds, identities)
    splits = Splits()
    for blanks in range(len(kinds) - digits, len(kinds) + 1):
        splits = split_run(run, kinds, identities, free_blanks=blanks)
        if splits.count or splits.limit:
            return splits
    return splits
