"""Findings about one report beyond its arithmetic: edition (LEGACY, MIXED_TEMPLATE), metadata (META), the prose
(NARRATIVE) and values the store cannot hold (RANGE).
"""

from __future__ import annotations

from decimal import Decimal

from pipeline.model import Fact, Finding, Meta
from pipeline.registry import registry
from pipeline.validator.arithmetic import validate

RULE_LEGACY = "LEGACY"
RULE_MIXED = "MIXED_TEMPLATE"
RULE_META = "META"  # agency or year not detected
RULE_NARRATIVE = "NARRATIVE"
RULE_RANGE = "RANGE"  # a value outside what the store can hold exactly

LEGACY_LAST_YEAR = 2018  # reports for this year and earlier use the pre-2019 template (no tables are read)
# facts.value is DECIMAL(18, 4): 14 integer digits and 4 decimal places.
MAX_STORED_ABS = Decimal(10) ** 14
MAX_STORED_INT = 10**14
STORED_PLACES = 4


def is_legacy(year: int | None) -> bool:
    return year is not None and year <= LEGACY_LAST_YEAR


def legacy_finding(year: int) -> Finding:
    return Finding(RULE_LEGACY, "warning", f"{year} 年度报告使用 2019 年以前的旧格式，未提取表格数字", [])


def narrative_findings(facts: dict[str, Fact], narrative: dict[str, int]) -> list[Finding]:
    """Soft: the number of applications the prose states should equal 表三 new_received.total."""
    key = registry().key_for("t3", "new_received", "total")
    received = narrative.get("received")
    fact = facts.get(key)
    if received is None or fact is None or fact.value is None or received == fact.value:
        return []
    return [
        Finding(
            RULE_NARRATIVE,
            "warning",
            f"正文称受理政府信息公开申请 {received} 件，表三“{registry()[key].label}”为 {fact.value}",
            [key],
            str(received),
            str(fact.value),
        )
    ]


def mixed_template_findings(meta: Meta) -> list[Finding]:
    if meta.edition is None or not meta.t3_layout or meta.t3_layout == meta.edition:
        return []
    return [
        Finding(
            RULE_MIXED,
            "info",
            f"表二为 {meta.edition} 版，表三（六）其他处理为 {meta.t3_layout} 版单行格式；三个分项记为空（非 0）",
            [],
        )
    ]


def meta_findings(meta: Meta) -> list[Finding]:
    """A report without agency or year is stored by its hash only: say so, and what that costs."""
    if meta.edition is None:
        return []
    missing = [label for label, v in (("发布机关", meta.agency), ("统计年度", meta.year)) if not v]
    if not missing:
        return []
    return [
        Finding(
            RULE_META,
            "warning",
            f"未能识别{'和'.join(missing)}，报告按内容哈希入库，不参与版本替换和跨年度核对；可在清单（manifest）中补充",
        )
    ]


def is_storable(value: int | Decimal | float | None) -> bool:
    """Whether the store holds ``value`` exactly (None always fits)."""
    if value is None:
        return True
    if type(value) is int:  # the common case, fast
        return -MAX_STORED_INT < value < MAX_STORED_INT
    number = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    if not number.is_finite() or abs(number) >= MAX_STORED_ABS:
        return False
    exponent = number.as_tuple().exponent
    return isinstance(exponent, int) and exponent >= -STORED_PLACES


def range_findings(facts: dict[str, Fact]) -> list[Finding]:
    """An error for each value the store cannot hold exactly; the writer stores such a cell as null."""
    reg = registry()
    out = []
    for key, fact in facts.items():
        if is_storable(fact.value):
            continue
        label = reg[key].label if key in reg else key
        out.append(
            Finding(
                RULE_RANGE,
                "error",
                f"“{label}”数值 {fact.raw or fact.value} 超出可存储范围（绝对值小于 10^14，最多 {STORED_PLACES} 位小数），"
                f"记为空（{fact.loc or ''}）",
                [key],
                None,
                str(fact.value),
            )
        )
    return out


def report_findings(meta: Meta, facts: dict[str, Fact], narrative: dict[str, int]) -> list[Finding]:
    """Every finding the validator makes about one matched report (the matcher's own findings come first)."""
    out: list[Finding] = []
    if meta.edition == "legacy" and meta.year is not None:
        out.append(legacy_finding(meta.year))
    elif meta.edition is not None:
        out.extend(validate(facts, meta.edition, meta.t3_layout))
        out.extend(narrative_findings(facts, narrative))
        out.extend(range_findings(facts))
    out.extend(mixed_template_findings(meta))
    out.extend(meta_findings(meta))
    return out
