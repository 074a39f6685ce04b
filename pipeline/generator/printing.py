"""How an agency prints its numbers: blank cells and markers, and the mistakes real agencies publish.

Both act on a :class:`ReportTruth` after its numbers are drawn, so the clean numbers stay in ``truth.clean``.
"""

from __future__ import annotations

import random
from decimal import Decimal
from typing import Any

from pipeline.generator.numbers import (
    T3_TOTAL_ALWAYS_ROWS,
    Profile,
    ReportTruth,
    Value,
    signed_keys,
    t3_row_keys,
)
from pipeline.registry import T3_COLUMNS_ORDER, T4_COLUMNS_ORDER, T4_GROUPS_ORDER


def present(truth: ReportTruth, profile: Profile, rng: random.Random) -> None:
    """Decide blanks and markers (noise ≥ 1 only), turning those facts into ``None`` with their text kept."""
    if truth.noise < 1 or truth.kind != "report":
        return
    f, texts = truth.facts, truth.texts
    # 表四: the seed leaves the five 行政复议 cells blank when they are all zero
    if profile.blank_t4_review and all(f.get(f"t4.review.{c}") == 0 for c in T4_COLUMNS_ORDER):
        for c in T4_COLUMNS_ORDER:
            f[f"t4.review.{c}"] = None
    t3_rows = t3_row_keys(truth.t3_layout or "2021")
    if truth.noise >= 2 and profile.zero_rows_blank:
        for row in t3_rows:
            keys = [f"t3.{row}.{c}" for c in T3_COLUMNS_ORDER]
            if row not in T3_TOTAL_ALWAYS_ROWS and all(f.get(k) == 0 for k in keys) and rng.random() < 0.8:
                for k in keys:
                    f[k] = None
    if profile.sparse_totals:
        for row in t3_rows:
            if row not in T3_TOTAL_ALWAYS_ROWS:
                f[f"t3.{row}.total"] = None
    # 表二: departments without regulations print a marker in the 规章 row
    if profile.slash_t2 and not profile.makes_regulations:
        for key in [k for k in f if k.startswith("t2.regulations.")]:
            if f[key] == 0:
                f[key] = None
                texts[key] = profile.null_marker if truth.noise >= 2 else "/"
    if truth.edition == "2019":
        amount_key = "t2.central_procurement.total_amount_wan_yuan"
        amount = f.get(amount_key)
        if profile.yuan_amount and isinstance(amount, Decimal) and amount > 0:
            texts[amount_key] = f"{int(amount * 10000)}元"
        if profile.plain_positive:
            for key, value in f.items():
                if key in signed_keys() and isinstance(value, int) and value > 0:
                    texts[key] = str(value)
    fee_key = "t2.admin_fees.amount_wan_yuan"
    if truth.edition == "2021" and f.get(fee_key) == 0 and rng.random() < 0.3:
        texts[fee_key] = "0.00"


# ---------------------------------------------------------------------------------------------------------------
# Agency errors (the mistakes real agencies publish)


def _swap_digits(value: int, rng: random.Random) -> int | None:
    digits = str(value)
    pairs = [i for i in range(len(digits) - 1) if digits[i] != digits[i + 1] and not (i == 0 and digits[1] == "0")]
    if not pairs:
        return None
    i = rng.choice(pairs)
    swapped = digits[:i] + digits[i + 1] + digits[i] + digits[i + 2 :]
    return int(swapped)


def inject_error(truth: ReportTruth, kind: str, rng: random.Random) -> bool:
    """Apply one agency error of ``kind`` to the printed facts; False when it does not apply to this report."""
    f = truth.facts
    t3_keys = [k for k in f if k.startswith("t3.")]
    if kind == "total_mismatch":
        totals = [k for k in t3_keys if k.endswith(".total") and f[k] is not None]
        if not totals:
            return False
        key = rng.choice(totals)
        old = f[key]
        assert isinstance(old, int)
        delta = rng.choice([1, 1, 2, -1, 10, 3]) if old > 0 else rng.choice([1, 2])
        if old + delta < 0:
            delta = 1
        f[key] = old + delta
        truth.agency_errors.append(
            {
                "kind": kind,
                "keys": [key],
                "severity": "error",
                "rule": "T3-3",
                "detail": f"总计印作 {old + delta}，各列之和为 {old}",
            }
        )
        return True
    if kind == "swapped_digit":
        candidates = [k for k in t3_keys if isinstance(v := f[k], int) and v >= 10]
        rng.shuffle(candidates)
        for key in candidates:
            old = f[key]
            assert isinstance(old, int)
            new = _swap_digits(old, rng)
            if new is not None and new != old:
                f[key] = new
                truth.agency_errors.append(
                    {
                        "kind": kind,
                        "keys": [key],
                        "severity": "error",
                        "rule": "T3-3",
                        "detail": f"{old} 印作 {new}（数字颠倒）",
                    }
                )
                return True
        return False
    if kind == "t4_total_mismatch":
        groups = [g for g in T4_GROUPS_ORDER if f.get(f"t4.{g}.total") is not None]
        if not groups:
            return False
        group = rng.choice(groups)
        total_key = f"t4.{group}.total"
        total = f[total_key]
        assert isinstance(total, int)
        if total == 0:  # 洪泽区 2023: parts written, 总计 left 0
            key = f"t4.{group}.upheld"
            f[key] = rng.randint(1, 5)
            keys = [key]
            detail = f"结果维持 {f[key]}，总计印作 0"
        else:
            f[total_key] = total + rng.choice([1, -1, 2]) if total > 1 else total + 1
            keys = [total_key]
            detail = f"总计印作 {f[total_key]}，四项之和为 {total}"
        truth.agency_errors.append({"kind": kind, "keys": keys, "severity": "error", "rule": "T4-1", "detail": detail})
        return True
    if kind == "narrative_mismatch":
        printed = f.get("t3.new_received.total")
        if not isinstance(printed, int):
            return False
        stated = printed + rng.choice([-3, -1, 1, 2, 5, 10]) if printed > 3 else printed + rng.randint(1, 9)
        truth.narrative["received"] = stated
        truth.agency_errors.append(
            {
                "kind": kind,
                "keys": ["t3.new_received.total"],
                "severity": "warning",
                "rule": "NARRATIVE",
                "detail": f"正文称共受理 {stated} 件，表三为 {printed} 件",
            }
        )
        return True
    raise ValueError(f"unknown error kind {kind}")


def inject_carry_mismatch(facts: dict[str, Value], rng: random.Random, errors: list[dict[str, Any]]) -> None:
    """上年结转 differs from last year's 结转下年度: both ends of this year move so T3-1 still holds."""
    delta = rng.randint(1, 4)
    old = facts["t3.carried_over.natural_person"]
    assert isinstance(old, int)
    for key in (
        "t3.carried_over.natural_person",
        "t3.carried_over.total",
        "t3.carry_forward.natural_person",
        "t3.carry_forward.total",
    ):
        value = facts[key]
        assert isinstance(value, int)
        facts[key] = value + delta
    errors.append(
        {
            "kind": "carry_mismatch",
            "keys": ["t3.carried_over.natural_person", "t3.carried_over.total"],
            "severity": "warning",
            "rule": "XY-1",
            "detail": f"上年结转印作 {old + delta}，上年报告结转下年度为 {old}",
        }
    )
