"""Derived totals: a 总计 the source left blank, computed from the cells it totals (facts → derived values).

Many agencies print 表三's 总计 column only on rows 一, 二, （七） and 四, and some leave a 表四 group's 总计 blank
while its results are filled.  Counted as 0, such a blank makes every rate built on it wrong (a 公开率 of 0 %).
The template's own arithmetic says what the total is, so xxgk computes it — as a separate, labelled value:

- ``row_sum``: a 表三 row's 总计 = the six applicant columns (rule T3-3), when at least one of them is printed;
- ``group_sum``: a 表四 group's 总计 = 结果维持 + 结果纠正 + 其他结果 + 尚未审结 (rule T4-1), likewise;
- ``column_sum``: 表三 （七）总计 = the sum of the outcome rows' 总计 (rule T3-2), when every one is known;
- ``remainder_zero``: outcome rows printed wholly blank are 0 when （七）总计 minus every other outcome row's 总计
  is exactly 0 (counts are never negative, so each blank row must be 0).

Inside a sum a blank or "/" part counts as 0, as in the template's arithmetic; a part that was not located or is
ambiguous makes the total underivable.  The source cell is never changed: it stays blank in ``facts`` and the
derived value lives beside it with the keys it came from (:class:`pipeline.model.Derived`).  This is a pure
function of one report's facts, run once at parse time (``pipeline.parse``), so ``xxgk parse --json``, the store
and every page see the same derived values.
"""

from __future__ import annotations

from decimal import Decimal
from functools import cache

from pipeline.model import Derived, Fact, Finding
from pipeline.registry import T3_COLUMNS_ORDER, T4_COLUMNS_ORDER, T4_GROUPS_ORDER, registry

RULE = "DERIVED"
EMPTY = ("blank", "null_marker")  # a printed cell with no number in it
APPLICANT_COLUMNS = T3_COLUMNS_ORDER[:-1]
T4_PARTS = T4_COLUMNS_ORDER[:-1]
FLOW_ROWS = ("new_received", "carried_over", "result_total", "carry_forward")
METHOD_TEXT = {
    "row_sum": "本行六类申请人之和",
    "group_sum": "本组四项结果之和",
    "column_sum": "各项办理结果总计之和",
    "remainder_zero": "（七）总计减去其余各项结果后为 0",
}


@cache
def is_total(key: str) -> bool:
    """True for a 总计 cell that can be derived: a 表三 row total or a 表四 group total."""
    reg = registry()
    return key in reg and reg[key].table in ("t3", "t4") and reg[key].col_key == "total"


def _sum_parts(facts: dict[str, Fact], parts: list[str]) -> int | Decimal | None:
    """Σ of the parts when every part is in the report, none unusable and at least one printed; else None."""
    cells = [facts.get(k) for k in parts]
    if any(c is None or (c.status != "ok" and c.status not in EMPTY) for c in cells):
        return None
    if not any(c.status == "ok" and c.value is not None for c in cells if c is not None):
        return None
    total: int | Decimal = sum((c.value for c in cells if c is not None and c.value is not None), 0)
    return total


def _empty(facts: dict[str, Fact], key: str) -> bool:
    fact = facts.get(key)
    return fact is not None and fact.status in EMPTY


def derive(facts: dict[str, Fact], edition: str | None, t3_layout: str | None) -> dict[str, Derived]:
    """Every blank 总计 of the report that the template's arithmetic determines, by key (registry order)."""
    if edition not in ("2019", "2021"):
        return {}
    reg = registry()
    out: dict[str, Derived] = {}
    rows = [row for row, _label, _block in reg.rows("t3", t3_layout or edition)]

    def known(key: str) -> int | Decimal | None:
        if key in out:
            return out[key].value
        fact = facts.get(key)
        return fact.value if fact is not None and fact.status == "ok" else None

    for row in rows:
        total = reg.key_for("t3", row, "total")
        if _empty(facts, total):
            parts = [reg.key_for("t3", row, c) for c in APPLICANT_COLUMNS]
            value = _sum_parts(facts, parts)
            if value is not None:
                out[total] = Derived(total, value, tuple(parts), "row_sum")
    for group in T4_GROUPS_ORDER:
        total = reg.key_for("t4", group, "total")
        if _empty(facts, total):
            parts = [reg.key_for("t4", group, c) for c in T4_PARTS]
            value = _sum_parts(facts, parts)
            if value is not None:
                out[total] = Derived(total, value, tuple(parts), "group_sum")

    outcome_totals = [reg.key_for("t3", row, "total") for row in rows if row not in FLOW_ROWS]
    result_total = reg.key_for("t3", "result_total", "total")
    if _empty(facts, result_total) and result_total not in out:
        values = [v for v in (known(k) for k in outcome_totals) if v is not None]
        if outcome_totals and len(values) == len(outcome_totals):
            column_sum: int | Decimal = sum(values, 0)
            out[result_total] = Derived(result_total, column_sum, tuple(outcome_totals), "column_sum")
    unknown = [k for k in outcome_totals if known(k) is None]
    grand = known(result_total)
    if unknown and grand is not None and all(_empty(facts, k) for k in unknown):
        wholly_blank = all(
            _empty(facts, reg.key_for("t3", reg[k].row_key, c)) for k in unknown for c in APPLICANT_COLUMNS
        )
        rest = [k for k in outcome_totals if k not in unknown]
        accounted: int | Decimal = sum((v for v in (known(k) for k in rest) if v is not None), 0)
        if wholly_blank and grand - accounted == 0:
            sources = (result_total, *rest)
            for key in unknown:
                out[key] = Derived(key, 0, sources, "remainder_zero")
    order = {k: i for i, k in enumerate(reg.by_key)}
    return dict(sorted(out.items(), key=lambda item: order[item[0]]))


def derived_finding(derived: dict[str, Derived]) -> Finding | None:
    """The info finding that lists a report's derived totals (None when there are none)."""
    if not derived:
        return None
    reg = registry()
    items = [f"“{reg[k].label}” = {d.value}（{METHOD_TEXT[d.method]}）" for k, d in derived.items()]
    shown = "；".join(items[:8]) + (f"；等共 {len(items)} 项" if len(items) > 8 else "")
    return Finding(
        RULE,
        "info",
        f"原表 {len(items)} 个总计单元格空白，分析时按模板算术推算（原值仍为空白）：{shown}",
        list(derived),
    )
