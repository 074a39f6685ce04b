"""The template's own arithmetic (hard rules) and type rules, as findings.

Rules (spec/README.md): T3-1 new_received + carried_over = result_total + carry_forward (per column);
T3-2 result_total = the sum of every outcome row (per column); T3-3 total = the six applicant columns (per row,
skipping rows whose 总计 is blank); T4-1 total = upheld + corrected + other + pending (per group); TYPE: counts are
integers ≥ 0.  Blank and null-marker cells count as 0 here and only here; cells the matcher could not locate make
the rules that need them skip (the matcher already reported them).  Where a failing row and a failing column meet,
the finding names that cell as the suspect.
"""

from __future__ import annotations

from decimal import Decimal
from functools import cache

from pipeline.model import LOW_CONFIDENCE, Fact, Finding
from pipeline.registry import T3_COLUMNS_ORDER, T4_COLUMNS_ORDER, T4_GROUPS_ORDER, registry

# The rows the cross-footing rules name; every other 表三 row of a layout is an outcome row.
FLOW_ROWS = ("new_received", "carried_over", "result_total", "carry_forward")
APPLICANT_COLUMNS = T3_COLUMNS_ORDER[:-1]
UNUSABLE = ("missing", "ambiguous")


def _num(f: Fact | None) -> int | Decimal:
    return 0 if f is None or f.value is None else f.value


def _usable(facts: dict[str, Fact], keys: list[str]) -> bool:
    return all(k in facts and facts[k].status not in UNUSABLE and facts[k].status != "not_in_layout" for k in keys)


def _fmt(v: int | Decimal) -> str:
    return str(v)


@cache
def t3_outcome_rows(t3_layout: str) -> tuple[str, ...]:
    return tuple(rk for rk, _label, _block in registry().rows("t3", t3_layout) if rk not in FLOW_ROWS)


def validate(facts: dict[str, Fact], edition: str | None, t3_layout: str | None) -> list[Finding]:
    if edition is None:
        return []
    reg = registry()
    out: list[Finding] = []
    t3_layout = t3_layout or edition

    def label(row: str, col: str, table: str = "t3") -> str:
        return reg[reg.key_for(table, row, col)].label

    # TYPE
    for key, fact in facts.items():
        if key not in reg:
            continue
        if fact.status == "ambiguous" and fact.raw:
            out.append(
                Finding(
                    "TYPE", "error", f"“{reg[key].label}”内容“{fact.raw}”不是有效数值（{fact.loc or ''}），留空", [key]
                )
            )
        if fact.value is None:
            continue
        f = reg[key]
        if f.type == "int" and fact.value < 0:
            out.append(
                Finding(
                    "TYPE",
                    "error",
                    f"“{f.label}”为负数 {fact.value}（{fact.loc or ''}）",
                    [key],
                    ">= 0",
                    _fmt(fact.value),
                )
            )
        if f.type == "decimal" and fact.value < 0:
            out.append(Finding("TYPE", "error", f"“{f.label}”金额为负数 {fact.value}", [key], ">= 0", _fmt(fact.value)))
        if fact.confidence is not None and fact.confidence < LOW_CONFIDENCE:
            # an error, not a warning: a doubtful OCR reading must not pass as a checked number (a lost minus sign
            # breaks no arithmetic rule, so nothing else would catch it)
            out.append(
                Finding(
                    "OCR", "error", f"“{f.label}”识别置信度低（{fact.confidence:.2f}），数值未经确认，请核对原件", [key]
                )
            )

    # T3 rules
    failing_rows: dict[str, Finding] = {}
    failing_cols: dict[str, list[Finding]] = {}
    if any(k.startswith("t3.") for k in facts):
        outcome_rows = t3_outcome_rows(t3_layout)
        for col in T3_COLUMNS_ORDER:
            keys = [reg.key_for("t3", r, col) for r in FLOW_ROWS]
            if _usable(facts, keys):
                lhs = _num(facts[keys[0]]) + _num(facts[keys[1]])
                rhs = _num(facts[keys[2]]) + _num(facts[keys[3]])
                if lhs != rhs:
                    colname = reg[keys[0]].col_label_short
                    fnd = Finding(
                        "T3-1",
                        "error",
                        f"表三“{colname}”列：本年新收 {_num(facts[keys[0]])} + 上年结转 {_num(facts[keys[1]])} = {lhs}，"
                        f"不等于 办理结果总计 {_num(facts[keys[2]])} + 结转下年度 {_num(facts[keys[3]])} = {rhs}",
                        keys,
                        _fmt(lhs),
                        _fmt(rhs),
                    )
                    out.append(fnd)
                    failing_cols.setdefault(col, []).append(fnd)
            keys = [reg.key_for("t3", r, col) for r in outcome_rows]
            total_key = reg.key_for("t3", "result_total", col)
            all_blank = all(facts[k].value is None for k in keys if k in facts)
            if _usable(facts, [*keys, total_key]) and not all_blank:  # a column left wholly blank is not checked
                s = sum(_num(facts[k]) for k in keys)
                if s != _num(facts[total_key]):
                    fnd = Finding(
                        "T3-2",
                        "error",
                        f"表三“{reg[total_key].col_label_short}”列：各项办理结果之和为 {s}，"
                        f"与“{reg[total_key].row_label}”{_num(facts[total_key])} 不符",
                        [*keys, total_key],
                        _fmt(s),
                        _fmt(_num(facts[total_key])),
                    )
                    out.append(fnd)
                    failing_cols.setdefault(col, []).append(fnd)
        for row, row_label, _block in reg.rows("t3", t3_layout):
            total_key = reg.key_for("t3", row, "total")
            keys = [reg.key_for("t3", row, c) for c in APPLICANT_COLUMNS]
            total = facts.get(total_key)
            if total is None or total.value is None or not _usable(facts, keys):
                continue  # 总计 blank: some agencies fill it only on 一, 二, （七） and 四
            s = sum(_num(facts[k]) for k in keys)
            if s != total.value:
                fnd = Finding(
                    "T3-3",
                    "error",
                    f"表三“{row_label}”行：六类申请人之和为 {s}，与总计 {total.value} 不符",
                    [*keys, total_key],
                    _fmt(s),
                    _fmt(total.value),
                )
                out.append(fnd)
                failing_rows[row] = fnd
        # pinpoint: a single failing row meeting a single failing column
        if len(failing_rows) == 1 and len(failing_cols) == 1:
            row = next(iter(failing_rows))
            col = next(iter(failing_cols))
            suspect = reg.key_for("t3", row, col)
            for fnd in [failing_rows[row], *failing_cols[col]]:
                fnd.suspect_key = suspect
                fnd.message += f"；疑似出错单元格：“{label(row, col)}”"

    # T4-1
    for group in T4_GROUPS_ORDER:
        keys = [reg.key_for("t4", group, c) for c in T4_COLUMNS_ORDER]
        if not _usable(facts, keys):
            continue
        if all(facts[k].value is None for k in keys):
            continue
        if facts[keys[-1]].value is None:
            continue  # 总计 left blank while results are printed: derived from them (pipeline.derive), not a mismatch
        parts = [_num(facts[k]) for k in keys[:-1]]
        group_total = _num(facts[keys[-1]])
        if sum(parts) != group_total:
            glabel = reg[keys[0]].row_label
            out.append(
                Finding(
                    "T4-1",
                    "error",
                    f"表四“{glabel}”：结果维持 {parts[0]} + 结果纠正 {parts[1]} + 其他结果 {parts[2]} + 尚未审结 {parts[3]}"
                    f" = {sum(parts)}，与总计 {group_total} 不符",
                    keys,
                    _fmt(sum(parts)),
                    _fmt(group_total),
                )
            )
    return out
