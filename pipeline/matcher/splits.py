"""What a split of a digit run is checked against and what the search returns: the template's identities (which
cells must sum to which), the splits found, what they agree on cell by cell, and how they are named in a finding.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache

from pipeline.matcher.run_cells import NULLISH


@dataclass(frozen=True, slots=True)
class Identity:
    """``sum(cells[parts]) == cells[total]``, blank cells read as 0; a blank total skips the identity when
    ``skip_blank_total`` (表三 rows whose 总计 is left blank)."""

    parts: tuple[int, ...]
    total: int
    skip_blank_total: bool = False


@cache
def t3_row_identities(total_always: bool = False) -> tuple[Identity, ...]:
    """表三: the six applicant columns sum to 总计 (rows whose 总计 is blank are not checked).  ``total_always``:
    一, 二, （七） and 四 always carry their 总计 (agencies that leave 总计 blank leave it blank on the other rows)."""
    return (Identity(tuple(range(6)), 6, skip_blank_total=not total_always),)


@cache
def t4_identities() -> tuple[Identity, ...]:
    """表四: in each of the three groups, 维持 + 纠正 + 其他 + 尚未审结 = 总计."""
    return tuple(Identity(tuple(range(g * 5, g * 5 + 4)), g * 5 + 4) for g in range(3))


@dataclass(slots=True)
class Splits:
    """The splits of one run: up to :data:`~pipeline.matcher.digits.MAX_CANDIDATES` of them, their total count,
    and why the search stopped early (``limit``) if it did — then the count is a lower bound and the run must be
    treated as undecided."""

    candidates: list[tuple[str, ...]] = field(default_factory=list)
    count: int = 0
    limit: str | None = None

    def agreed(self) -> list[str | None]:
        """Per cell: its text when every split agrees on it (the cell is decided), else None."""
        if not self.candidates or self.limit is not None or self.count > len(self.candidates):
            return [None] * (len(self.candidates[0]) if self.candidates else 0)
        return agree(self.candidates)


def agree(candidates: list[tuple[str, ...]]) -> list[str | None]:
    """Per cell, what every candidate split says: its text, or — when they differ only between blank and null
    markers ("———" for three cells) — a null marker or blank either way (the value is null in every reading)."""
    out: list[str | None] = []
    for i in range(len(candidates[0])):
        texts = {c[i] for c in candidates}
        if len(texts) == 1:
            out.append(texts.pop())
        elif texts <= NULLISH:
            out.append(next((t for t in sorted(texts) if t), ""))
        else:
            out.append(None)
    return out


def describe(candidates: list[tuple[str, ...]], count: int, shown: int = 6) -> str:
    """Candidate splits for a message: "69|3|665、6|93|665 …（共 10 种）"."""
    parts = ["|".join(c or "空" for c in cand) for cand in candidates[:shown]]
    more = f" …（共 {count} 种）" if count > shown else ""
    return "、".join(parts) + more
