"""Rows whose cell separators were lost: turning the splits of :mod:`pipeline.matcher.digits` into facts.

A split is taken only when it is the only one left after every identity that applies: the row's own (表三 six
applicants = 总计, 表四 four results = 总计) and, for 表三, the columns' (T3-1 一 + 二 = （七） + 四, T3-2 the outcome rows
sum to （七）), solved jointly over all rows.  Cells on which every remaining split agrees are decided; every other
cell of the row stays null and an error finding names it and lists the candidate splits.  A report whose printed
totals are wrong has no consistent split: its cells stay null with an error — never "repaired" into consistency.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from pipeline.matcher.digits import MAX_CANDIDATES, split_fewest_blanks, split_run
from pipeline.matcher.labels import TemplateRow
from pipeline.matcher.lines import Line
from pipeline.matcher.result import MatchResult, fact_from_text
from pipeline.matcher.run_cells import AMOUNT, INT, SIGNED, CellKind
from pipeline.matcher.splits import Identity, Splits, agree, describe
from pipeline.model import Fact, Finding
from pipeline.registry import T3_COLUMNS_ORDER, Field

# Joint choices over 表三's undecided rows tried at most (the product of their candidate counts).
MAX_COMBINATIONS = 20_000
T3_COLUMNS = len(T3_COLUMNS_ORDER)  # six applicant columns and 总计


class FlowRows(NamedTuple):
    """Template row indices of 表三's flow rows, whose columns satisfy T3-1 一 + 二 = （七） + 四."""

    new_received: int  # 一 本年新收
    carried_over: int  # 二 上年结转
    result_total: int  # （七）总计
    carry_forward: int  # 四 结转下年度


def kinds_of(fields: Sequence[Field]) -> tuple[CellKind, ...]:
    return tuple(AMOUNT if f.is_amount else SIGNED if f.signed else INT for f in fields)


@dataclass(frozen=True, slots=True)
class Separators:
    """How a document kept its cell separators: ``lost`` — values run together (text saved from a web page)."""

    lost: bool = False


INTACT = Separators()


def separators_of(lines: list[Line], min_lines: int) -> Separators:
    glued = [ln for ln in lines if ln.glued and ln.values]
    if len(glued) < min_lines:
        return Separators()
    return Separators(lost=True)


def is_run(ln: Line, n: int, seps: Separators) -> bool:
    """A value line to be read as one digit run: its values ran into the label, or the document lost its
    separators and the line has fewer plain number tokens than the row has cells."""
    if ln.glued:
        return True
    if not seps.lost or ln.positional or not ln.values or len(ln.values) >= n:
        return False
    return all(s.x is None and s.raw.replace(".", "", 1).lstrip("+-−").isdigit() for s in ln.values)


@dataclass(slots=True)
class RunRow:
    """One row read as a digit run: its fields, the line, and the splits still possible."""

    label: str
    fields: tuple[Field, ...]
    line: Line
    splits: Splits
    kept: list[tuple[str, ...]] = field(default_factory=list)  # splits left after the column identities
    by_columns: bool = False  # the column identities narrowed the row's own splits
    certain: list[bool] | None = None  # per cell: may be decided by agreement (None: every cell may)
    needs_columns: bool = False  # read only with 总计 blank: to be taken, the column identities must confirm it


def read_run(label: str, fields: tuple[Field, ...], ln: Line, identities: tuple[Identity, ...] = ()) -> RunRow:
    """The splits of a line's digit run.  A run with digits enough for every cell is read without blank cells
    other than at its spaces (blanks are never invented to make a row add up); a shorter run must hide blank cells,
    and a space is no proof of where (pages pad values with ``&nbsp;`` too): it is read with the fewest blank cells
    that admit a split, anywhere.  A cell of an ambiguous row is decided only if it holds however many blank cells
    the row had."""
    kinds = kinds_of(fields)
    splits = split_fewest_blanks(ln.run, kinds, identities)
    kept = list(splits.candidates) if splits.limit is None and splits.count <= MAX_CANDIDATES else []
    row = RunRow(label, fields, ln, splits, kept)
    if splits.count > 1:
        # certain only if it holds whatever cells were blank — 总计 included
        loose = tuple(Identity(i.parts, i.total, skip_blank_total=True) for i in identities)
        # more than MAX_CANDIDATES wide splits settle no cell: the search may stop counting there
        wide = split_run(ln.run, kinds, loose, free_blanks=len(kinds), enough=MAX_CANDIDATES)
        row.certain = [a is not None for a in wide.agreed()] if wide.candidates else [False] * len(kinds)
    return row


def blank_total_readings(row: RunRow) -> list[tuple[str, ...]]:
    """The row read with its 总计 cell blank (no identity then): the six applicant cells from the run."""
    splits = split_fewest_blanks(row.line.run, kinds_of(row.fields)[:-1])
    if splits.limit is not None or splits.count > MAX_CANDIDATES:
        return []
    return [(*cand, "") for cand in splits.candidates]


def admit_blank_totals(runs: dict[int, RunRow], outcomes: list[int]) -> bool:
    """Some agencies fill 总计 only on 一, 二, （七） and 四; where their blank cells left no trace, an outcome row that
    looks complete may be one cell short ("24120110" = 24·12·0·1·1·0 and a blank 总计, or 2·4·1·2·0·1·10).  The
    document shows the habit when an outcome row with digits for every cell has no reading but with 总计 blank;
    then every outcome row keeps its blank-总计 readings as candidates too.  Returns whether it did."""

    def digits(row: RunRow) -> int:
        return sum(ch.isdigit() for ch in row.line.run)

    evidence = any(
        runs[r].splits.count == 0
        and runs[r].splits.limit is None
        and digits(runs[r]) >= len(runs[r].fields)
        and blank_total_readings(runs[r])
        for r in outcomes
        if r in runs
    )
    if not evidence:
        return False
    for r in outcomes:
        row = runs.get(r)
        if row is None or row.splits.limit is not None:
            continue
        extra = [c for c in blank_total_readings(row) if c not in row.kept]
        if extra and not row.kept:
            row.needs_columns = True  # its own sum fails unless 总计 is blank: a wrong printed total reads the same
        if extra:
            row.kept = [*row.kept, *extra][:MAX_CANDIDATES]
            row.splits = Splits(list(row.kept), len(row.kept), None)
            row.certain = [False] * len(row.fields)  # blank or a number: no cell is settled by agreement alone
    return True


def settle(res: MatchResult, row: RunRow, table: str, why: str, edition: str | None = None) -> None:
    """Facts of a run row from the splits it has left: decided cells filled, the others null and named."""
    splits, ln = row.splits, row.line
    loc = ln.values[0].cell.loc if ln.values else None
    candidates = row.kept
    run = ln.run
    if splits.limit is not None:
        _undecided(
            res,
            row,
            list(row.fields),
            f"{table}“{row.label}”的数字连在一起（{run[:40]}），{splits.limit}，无法拆分，数值留空",
        )
        return
    if splits.count == 0 or not candidates:
        reason = (
            "没有一种拆分满足" + why if splits.count == 0 else f"有 {splits.count} 种拆分，超过上限 {MAX_CANDIDATES}"
        )
        if splits.count and not candidates and splits.count <= MAX_CANDIDATES:
            reason = f"{splits.count} 种拆分均不满足各列算术关系（表内合计与各行不符）"
        _undecided(res, row, list(row.fields), f"{table}“{row.label}”的数字连在一起（{run}），{reason}，数值留空")
        return
    agreed = agree(candidates)
    if row.certain is not None and len(candidates) > 1:
        agreed = [a if sure else None for a, sure in zip(agreed, row.certain, strict=True)]
    open_fields = [f for f, a in zip(row.fields, agreed, strict=True) if a is None]
    for f, text in zip(row.fields, agreed, strict=True):
        if text is not None:
            res.facts[f.key] = fact_from_text(f, text, loc)
    if not open_fields:
        if splits.count > 1 or len(row.fields) > 1:
            how = (
                f"本行有 {splits.count} 种拆分，按各列算术关系唯一确定"
                if row.by_columns and splits.count > 1
                else f"按{why}唯一拆分"
                if why
                else "唯一拆分"
            )
            res.findings.append(
                Finding(
                    "SPLIT",
                    "info",
                    f"{table}“{row.label}”的数字连在一起（{run}），{how}为 {'|'.join(c or '空' for c in candidates[0])}",
                    [f.key for f in row.fields],
                )
            )
        return
    names = "、".join(f.col_label_for(edition) if edition else f.col_label_short for f in open_fields)
    _undecided(
        res,
        row,
        open_fields,
        f"{table}“{row.label}”的数字连在一起（{run}），{len(candidates)} 种拆分都{('满足' + why) if why else '可能'}："
        f"{describe(candidates, len(candidates))}；无法确定“{names}”，数值留空",
    )


def _undecided(res: MatchResult, row: RunRow, fields: list[Field], message: str) -> None:
    loc = row.line.values[0].cell.loc if row.line.values else None
    for f in fields:
        res.facts[f.key] = Fact(f.key, None, None, blank=False, loc=loc, status="ambiguous")
    res.findings.append(Finding("LAYOUT", "error", message, [f.key for f in fields]))


def _number(text: str | None) -> int:
    """A run cell's count for the column identities: a blank cell or a null marker ("－", "/") counts as none."""
    return int(text) if text and text.isdecimal() else 0


def solve_t3_columns(
    runs: dict[int, RunRow], fixed: dict[int, list[int | None]], flow: FlowRows, outcomes: list[int]
) -> bool:
    """Narrow the run rows' splits by the column identities, jointly over all rows.

    ``fixed``: rows read with separators (values per column, None when unusable); ``flow``: the rows of T3-1;
    ``outcomes``: the outcome rows summing to （七）.  A row keeps the splits
    that take part in at least one joint choice satisfying every column identity whose cells are all known.
    Returns False when no joint choice satisfies them: the table does not add up, whatever the splits.
    """
    open_rows = [r for r, run in runs.items() if len(run.kept) > 1 or run.needs_columns and run.kept]
    if not open_rows:
        return True
    combos = 1
    for r in open_rows:
        combos *= len(runs[r].kept)
    if combos > MAX_COMBINATIONS:
        for run in runs.values():
            if run.needs_columns:
                run.kept = []  # the columns could not be checked: a reading with 总计 blank is not confirmed
        return True
    n_cols = T3_COLUMNS
    known: dict[int, list[int | None]] = dict(fixed)
    for r, run in runs.items():
        if len(run.kept) == 1:
            known[r] = [_number(t) for t in run.kept[0]]
        elif not run.kept:
            known[r] = [None] * n_cols  # unusable: identities through it are not applied
    rows_in = set(flow) | set(outcomes)
    if not rows_in & set(open_rows):
        return True
    # sums over the outcome rows that are not open (None: a cell unknown, the column's T3-2 is not applied)
    base: list[int | None] = [0] * n_cols
    for r in outcomes:
        if r in open_rows:
            continue
        vec = known.get(r, [None] * n_cols)
        base = [None if b is None or v is None else b + v for b, v in zip(base, vec, strict=True)]
    open_outcomes = [r for r in open_rows if r in outcomes]
    values = {r: [[_number(t) for t in cand] for cand in runs[r].kept] for r in open_rows}

    def holds(choice: dict[int, int]) -> bool:
        def vec(r: int) -> Sequence[int | None]:
            return values[r][choice[r]] if r in choice else known.get(r, [None] * n_cols)

        new, carried, total, forward = (vec(r) for r in flow)
        for c in range(n_cols):
            a, b, t, f = new[c], carried[c], total[c], forward[c]
            if a is not None and b is not None and t is not None and f is not None and a + b != t + f:
                return False  # T3-1
            s = base[c]
            if s is not None:
                s += sum(values[r][choice[r]][c] for r in open_outcomes)
            if t is not None and s is not None and s != t:
                return False  # T3-2
            if t is None and a is not None and b is not None and f is not None and s is not None and a + b != s + f:
                return False  # both together when （七） itself is unreadable: 一 + 二 = the outcomes + 四
        return True

    used: dict[int, set[int]] = {r: set() for r in open_rows}

    def choose(k: int, choice: dict[int, int]) -> None:
        if k == len(open_rows):
            if holds(choice):
                for r in open_rows:
                    used[r].add(choice[r])
            return
        r = open_rows[k]
        for j in range(len(runs[r].kept)):
            choice[r] = j
            choose(k + 1, choice)
        del choice[r]

    choose(0, {})
    for r in open_rows:
        kept = [c for j, c in enumerate(runs[r].kept) if j in used[r]]
        if len(kept) < len(runs[r].kept):
            runs[r].kept = kept
            runs[r].by_columns = True
    return any(used[r] for r in open_rows)


def recheck_t3_columns(
    runs: dict[int, RunRow],
    res: MatchResult,
    template: tuple[TemplateRow, ...],
    flow: FlowRows,
    outcomes: list[int],
    consistent: bool = True,
) -> None:
    """The split rows must also satisfy the column identities.  A failure the validator sees (every cell of the
    column read) is reported by it, the numbers kept as printed.  What the validator cannot see is settled here:
    （七） unreadable while 一 + 二 ≠ the outcomes + 四; or a table that adds up under no choice of splits while
    some rows stayed undecided — a row that split "uniquely" may then only have been made to add up (a wrong
    printed total can be matched by a wrong split), so no split of the table is confirmed: null, and named."""

    def value(r: int, c: int) -> int | None:
        fact = res.facts.get(template[r].fields[c].key)
        if fact is None or fact.status in ("missing", "ambiguous", "not_in_layout"):
            return None
        return fact.value if isinstance(fact.value, int) else 0

    failing: list[int] = []
    for c in range(T3_COLUMNS):
        new, carried, total, forward = (value(r, c) for r in flow)
        column = [v for r in outcomes if (v := value(r, c)) is not None]
        if total is not None or new is None or carried is None or forward is None or len(column) < len(outcomes):
            continue  # （七） read (the validator checks the column), or a cell unknown: nothing to check here
        if new + carried != sum(column) + forward:
            failing.append(c)
    undecided = any(any(res.facts[f.key].status == "ambiguous" for f in run.fields) for run in runs.values())
    if not failing and (consistent or not undecided):
        return
    failing = failing or list(range(T3_COLUMNS))
    names = "、".join(template[0].fields[c].col_label_short for c in failing)
    for run in runs.values():
        keys = [f.key for f in run.fields]
        if not any(res.facts.get(k) is not None and res.facts[k].status in ("ok", "blank") for k in keys):
            continue
        for f in run.fields:
            res.facts[f.key] = Fact(f.key, None, None, blank=False, loc=res.facts[f.key].loc, status="ambiguous")
        res.findings.append(
            Finding(
                "LAYOUT",
                "error",
                f"表三“{run.label}”的数字连在一起（{run.line.run.strip()}），表内“{names}”列的算术关系在任何拆分下都不成立"
                f"（报告本身有误，或某格空白未留痕迹），该行拆分不能确认，数值留空",
                keys,
            )
        )
