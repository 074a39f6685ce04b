"""表三: each template row's cells, from the value line :mod:`pipeline.matcher.t3_rows` placed on it.

A row's slots become the seven columns by count, by the blank cells the reader kept, or by the x position of the
columns in complete rows nearby (:func:`pipeline.matcher.lines.align_slots`); a row read as one digit run is split
by the arithmetic (:mod:`pipeline.matcher.glued`), jointly with the column identities.  When none of these is
certain the cells stay null and a LAYOUT finding says why — numbers are never shifted to fit.
"""

from __future__ import annotations

from pipeline.matcher.glued import (
    INTACT,
    FlowRows,
    RunRow,
    Separators,
    admit_blank_totals,
    is_run,
    read_run,
    recheck_t3_columns,
    settle,
    solve_t3_columns,
)
from pipeline.matcher.labels import TemplateRow, t3_template
from pipeline.matcher.lines import Line, align_slots, complete_lines, grid_columns, reference_positions
from pipeline.matcher.result import (
    MatchResult,
    ambiguous_row,
    doubt_blanks_near_strays,
    make_fact,
    missing_row,
)
from pipeline.matcher.splits import t3_row_identities
from pipeline.matcher.t3_rows import blank_row_line, header_columns, place_rows
from pipeline.model import Fact, Finding
from pipeline.registry import T3_COLUMNS_ORDER

FLOW_ROWS = FlowRows._fields  # row keys of 一, 二, （七） and 四 (the fields are named as the registry's rows)
ROW_IDENTITY = "“六类申请人之和等于总计”"


def match_t3(lines: list[Line], lo: int, hi: int, layout: str, res: MatchResult, seps: Separators = INTACT) -> None:
    template = t3_template(layout)
    region = lines[lo:hi]
    by_row, value_lines = place_rows(lines, lo, hi, layout, res)
    n_cols = len(T3_COLUMNS_ORDER)
    complete = complete_lines(region, n_cols)
    header = header_columns(region, value_lines[0].idx) if value_lines else None
    labels = [f.col_label_short for f in template[0].fields]
    two_edged = any(
        ln.positional and len(ln.slots) > n_cols and ln.slots[0].blank and ln.slots[-1].blank for ln in value_lines
    )
    grid = grid_columns(region, value_lines[0].idx, labels) if two_edged else None
    header_page = value_lines[0].row.page if value_lines else None
    runs: dict[int, RunRow] = {}
    placed = {ln.idx for ln in by_row.values()}
    extra = {e.split(": ", 1)[0] for e in res.extra_rows}
    leftovers = [
        ln
        for ln in value_lines
        if ln.idx not in placed and f"表三 {ln.row.cells[0].loc if ln.row.cells else ''}" not in extra
    ]
    for r, t in enumerate(template):
        ln = by_row.get(r)
        if ln is None and t.fields[0].key in res.facts:
            continue  # already settled (ambiguous)
        if ln is None:
            # a labelled line without any number = a row left wholly blank
            blank_line = blank_row_line(region, t, template)
            if blank_line is not None and leftovers:
                # a row that looks wholly blank while numbers nearby were placed nowhere: they may be its numbers
                where = "、".join(str(x.row.line) for x in leftovers[:5])
                ambiguous_row(
                    res,
                    t.fields,
                    f"表三“{t.label}”（第 {blank_line.row.line} 行）没有数字，而第 {where} 行的数字未能对应到任何行，"
                    "可能属于该行，数值留空",
                )
                continue
            if blank_line is not None:
                for f in t.fields:
                    res.facts[f.key] = Fact(
                        f.key, None, "", blank=True, loc=f"第 {blank_line.row.line} 行", status="blank"
                    )
                res.findings.append(
                    Finding(
                        "BLANK_ROW",
                        "info",
                        f"表三“{t.label}”整行空白（第 {blank_line.row.line} 行）",
                        [f.key for f in t.fields],
                    )
                )
                continue
            missing_row(res, t.fields, f"表三未能定位“{t.label}”行，该行数值留空")
            continue
        if (is_run(ln, n_cols, seps) and len(ln.values) != n_cols) or _lone_run(ln, n_cols):
            runs[r] = read_run(t.label, t.fields, ln, t3_row_identities(t.row_key in FLOW_ROWS))
            continue
        reference = None
        if len(ln.slots) < n_cols:
            reference = reference_positions(complete, ln) or (header if ln.row.page == header_page else None)
        aligned = align_slots(ln, n_cols, reference, grid)
        if aligned is None:
            ambiguous_row(
                res,
                t.fields,
                f"表三“{t.label}”（第 {ln.row.line} 行）有 {len(ln.values)} 个数值、无法确定各自所在列，该行数值留空",
            )
            continue
        for f, slot in zip(t.fields, aligned, strict=True):
            res.facts[f.key] = make_fact(f, slot)
    if runs:
        _decide_runs(runs, template, res)
    rows = {ln.idx for ln in value_lines}
    stray = [
        ln
        for ln in region
        if ln.idx not in rows and ln.values and not ln.label and len(ln.values) <= 2 and not ln.glued
    ]
    doubt_blanks_near_strays(res, "表三", stray, [f for t in template for f in t.fields])


def _lone_run(ln: Line, n_cols: int) -> bool:
    """A single long digit token where a row of seven cells should be (the separators were lost)."""
    vals = ln.values
    return len(vals) == 1 and len(ln.slots) == 1 and vals[0].raw.isdigit() and len(vals[0].raw) >= n_cols


def _count(fact: Fact | None) -> int | None:
    """A cell read with separators, as the column identities count it: None when it is not known (missing or
    ambiguous), 0 when it is blank or a null marker.  表三 cells are counts, never amounts (Decimal)."""
    if fact is None or fact.status in ("missing", "ambiguous"):
        return None
    return fact.value if isinstance(fact.value, int) else 0


def _decide_runs(runs: dict[int, RunRow], template: tuple[TemplateRow, ...], res: MatchResult) -> None:
    """Split the digit-run rows: each by its own identity, then all of them by the column identities."""
    index = {t.row_key: r for r, t in enumerate(template)}
    flow = FlowRows._make(index[k] for k in FLOW_ROWS)
    outcomes = [r for r, t in enumerate(template) if t.row_key not in FLOW_ROWS]
    fixed: dict[int, list[int | None]] = {}
    for r, t in enumerate(template):
        if r in runs:
            continue
        fixed[r] = [_count(res.facts.get(f.key)) for f in t.fields]
    admit_blank_totals(runs, outcomes)
    consistent = solve_t3_columns(runs, fixed, flow, outcomes)
    for run in runs.values():
        settle(res, run, "表三", ROW_IDENTITY)
    recheck_t3_columns(runs, res, template, flow, outcomes, consistent)
