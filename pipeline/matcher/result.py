"""What matching produces: facts per field key, layout findings, and how a slot becomes a fact."""

from __future__ import annotations

from dataclasses import dataclass, field

from pipeline.matcher.lines import Slot
from pipeline.model import Fact, Finding
from pipeline.normalize import parse_value
from pipeline.registry import Field


@dataclass(slots=True)
class MatchResult:
    facts: dict[str, Fact] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)
    extra_rows: list[str] = field(default_factory=list)
    edition: str | None = None
    t3_layout: str | None = None
    evidence: list[str] = field(default_factory=list)
    found_tables: set[str] = field(default_factory=set)


def make_fact(f: Field, slot: Slot | None, *, missing: bool = False) -> Fact:
    """The fact of template cell ``f`` read from ``slot`` (None: a blank cell; ``missing``: not found at all)."""
    if missing:
        return Fact(f.key, None, None, blank=False, status="missing")
    if slot is None:
        return Fact(f.key, None, "", blank=True, status="blank")
    return fact_from_text(f, slot.raw, slot.cell.loc, slot.cell.page, slot.cell.bbox, slot.cell.confidence)


def fact_from_text(
    f: Field,
    raw: str,
    loc: str | None,
    page: int | None = None,
    bbox: tuple[float, float, float, float] | None = None,
    confidence: float | None = None,
) -> Fact:
    where = {"loc": loc, "page": page, "bbox": bbox, "confidence": confidence}
    if raw == "":
        return Fact(f.key, None, "", blank=True, status="blank", **where)
    value, status = parse_value(raw, amount=f.is_amount, signed=f.signed)
    if status in ("invalid", "too_large"):  # not a number, or beyond what the store holds: refused, raw kept
        return Fact(f.key, None, raw, blank=False, status="ambiguous", **where)
    return Fact(f.key, value, raw, blank=False, status=status, **where)


def missing_row(res: MatchResult, fields: tuple[Field, ...] | list[Field], message: str) -> None:
    """Cells not found at all: null (missing) and one LAYOUT error naming them."""
    for f in fields:
        res.facts[f.key] = make_fact(f, None, missing=True)
    res.findings.append(Finding("LAYOUT", "error", message, [f.key for f in fields]))


def ambiguous_row(res: MatchResult, fields: tuple[Field, ...] | list[Field], message: str) -> None:
    """Cells whose values were seen but could not be placed with certainty: null (ambiguous) and a LAYOUT error."""
    for f in fields:
        res.facts[f.key] = Fact(f.key, None, None, blank=False, status="ambiguous")
    res.findings.append(Finding("LAYOUT", "error", message, [f.key for f in fields]))
