"""What one cell of a digit run may read as: a number as printed for its column's kind, a null marker, or blank.

A count cell is a number without leading zeros ("0", "151"); a signed cell may carry a sign ("-18"); an amount cell
may carry decimals and a unit ("13575394432.52元").  A null marker ("/", "—", "——", "－") is a cell of its own
("规章///": three cells, each "/").  The search in :mod:`pipeline.matcher.digits` asks which texts a cell may have
ending or starting at a position of the run, and what each counts for in an identity (:func:`cell_value`).
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Final, Literal

CellKind = Literal["int", "signed", "amount"]  # what a column holds: counts, signed counts (本年增/减) or amounts
INT: Final = "int"
SIGNED: Final = "signed"
AMOUNT: Final = "amount"

MAX_CELL_DIGITS = 14  # integer digits of one cell: DuckDB DECIMAL(18,4) holds |value| < 10^14
_MAX_CELL_CHARS = MAX_CELL_DIGITS + 12  # sign, decimals and a unit around the integer digits

_MARKER = r"|[/／]|——?|[－–]"  # a null marker is a cell of its own ("规章///": three cells, each "/")
_CELL: dict[CellKind, re.Pattern[str]] = {
    INT: re.compile(r"0|[1-9]\d*" + _MARKER),
    SIGNED: re.compile(r"[+\-−]?(?:0|[1-9]\d*)" + _MARKER),
    AMOUNT: re.compile(r"(?:0|[1-9]\d*)(?:\.\d+)?(?:万元|元)?" + _MARKER),
}
MARKERS = frozenset("/／—－–") | {"——"}
NULLISH = MARKERS | {""}  # a cell that is null whichever of these it is


@lru_cache(maxsize=16384)
def texts_ending(run: str, end: int, kind: CellKind) -> tuple[str, ...]:
    """Every text a cell of ``kind`` can have ending at ``end`` (shortest first).  Cached: a run is searched again
    with more blank cells, and loosely for the cells' certainty."""
    out = []
    pattern = _CELL[kind]
    for start in range(end - 1, max(-1, end - 1 - _MAX_CELL_CHARS), -1):
        if run[start] == " ":
            break
        text = run[start:end]
        if pattern.fullmatch(text) and sum(ch.isdigit() for ch in text.split(".")[0]) <= MAX_CELL_DIGITS:
            out.append(text)
    return tuple(out)


@lru_cache(maxsize=16384)
def texts_starting(run: str, start: int, kind: CellKind) -> tuple[tuple[str, int], ...]:
    """Every text a cell of ``kind`` can have starting at ``start`` (shortest first), with its value (texts
    without one left out).  Cached like :func:`texts_ending`."""
    out = []
    pattern = _CELL[kind]
    for end in range(start + 1, min(len(run), start + _MAX_CELL_CHARS) + 1):
        if run[end - 1] == " ":
            break
        text = run[start:end]
        if pattern.fullmatch(text) and sum(ch.isdigit() for ch in text.split(".")[0]) <= MAX_CELL_DIGITS:
            value = cell_value(text)
            if value is not None:
                out.append((text, value))
    return tuple(out)


@lru_cache(maxsize=8192)
def cell_value(text: str) -> int | None:
    """The number a cell's text stands for in an identity (counts only: identities never involve amounts, so an
    amount's text has none)."""
    if not text or text in MARKERS:
        return 0  # blank and null markers count as 0 in the arithmetic, as the validator reads them
    try:
        return int(text.replace("−", "-"))
    except ValueError:
        return None
