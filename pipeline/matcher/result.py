"""What matching produces: facts per field key, layout findings, and how a slot becomes a fact."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from pipeline.matcher.lines import Line, Slot
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


# What parse_value says of a cell it could read, as a fact's status (its other answers make the cell ambiguous).
ReadStatus = Literal["ok", "blank", "null_marker"]
_READ_STATUSES: dict[str, ReadStatus] = {"ok": "ok", "blank": "blank", "null_marker": "null_marker"}


def make_fact(f: Field, slot: Slot | None, *, missing: bool = False) -> Fact:
    """The fact of template cell ``f`` read from ``slot`` (None: a blank cell; ``missing``: not found at all)."""
    if missing:
        return Fact(f.key, None, None, False, None, None, "missing")
    if slot is None:
        return Fact(f.key, None, "", True, None, None, "blank")
    cell, raw = slot.cell, slot.raw
    if raw.isascii() and raw.isdigit() and len(raw) <= 14 and not f.is_amount:  # the common case, without detours
        return Fact(f.key, int(raw), raw, False, cell.loc, cell.confidence, "ok", cell.page, cell.bbox)
    return fact_from_text(f, raw, cell.loc, cell.page, cell.bbox, cell.confidence)


def fact_from_text(
    f: Field,
    raw: str,
    loc: str | None,
    page: int | None = None,
    bbox: tuple[float, float, float, float] | None = None,
    confidence: float | None = None,
) -> Fact:
    if raw == "":
        return Fact(f.key, None, "", True, loc, confidence, "blank", page, bbox)
    value, status = parse_value(raw, amount=f.is_amount, signed=f.signed)
    read = _READ_STATUSES.get(status)
    if read is None:  # "invalid" or "too_large": not a number, or beyond what the store holds: refused, raw kept
        return Fact(f.key, None, raw, False, loc, confidence, "ambiguous", page, bbox)
    return Fact(f.key, value, raw, False, loc, confidence, read, page, bbox)


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


def doubt_blanks_near_strays(res: MatchResult, table: str, stray: list[Line], fields: list[Field]) -> None:
    """Numbers standing alone in a table, on no row (a converter pulled a cell out onto a line of its own): every
    blank cell of the table may be where one came from, so none of them is certain — null, and one error names them."""
    stray = [
        ln for ln in stray if any(any(ch.isdigit() for ch in s.raw) for s in ln.values)
    ]  # a lone "/" is null anyway
    blanks = [f for f in fields if (fact := res.facts.get(f.key)) is not None and fact.status == "blank"]
    if not stray or not blanks:
        return
    texts = "、".join(f"“{' '.join(s.raw for s in ln.values)}”（第 {ln.row.line} 行）" for ln in stray[:3])
    for f in blanks:
        res.facts[f.key] = Fact(f.key, None, None, blank=False, loc=res.facts[f.key].loc, status="ambiguous")
    res.findings.append(
        Finding(
            "LAYOUT",
            "error",
            f"{table}中有不属于任何行的数字 {texts}，可能是从空白单元格移出的，这些空白格不能确认，数值留空",
            [f.key for f in blanks],
        )
    )
