"""The types that flow between the pipeline's stages.

reader (file → :class:`Document`) → matcher (Document → :class:`Fact` list + :class:`Meta`)
→ validator (facts → :class:`Finding` list) → store.  Each stage takes and returns only these.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

Severity = Literal["error", "warning", "info"]

# An OCR reading below this confidence is doubtful: the reader re-reads it, the validator reports it as an error.
LOW_CONFIDENCE = 0.80


@dataclass(slots=True)
class Cell:
    """One cell as a reader saw it: its text exactly as in the source and where it was."""

    text: str
    loc: str  # human-readable provenance: "line 57", "table 2 row 5 col 3", "page 3 (x0,y0,x1,y1)"
    x0: float | None = None  # horizontal position (character column or PDF points) where the reader knows it
    x1: float | None = None
    spanned: bool = False  # an HTML/DOCX merged cell's copy (not its origin)
    confidence: float | None = None  # OCR confidence, 0..1
    page: int | None = None
    bbox: tuple[float, float, float, float] | None = None


@dataclass(slots=True)
class Row:
    """A physical row: a text line (split into cells) or a table row (grid cells after span expansion)."""

    cells: list[Cell]
    line: int  # 1-based line number (text) or running row number (tables)
    table: int | None = None  # index of the source table for HTML/DOCX/PDF grids; None for free text
    page: int | None = None
    grid: bool = False  # empty cells are visible blanks (tab-separated or markdown lines); implied when table is set
    glued: bool = False  # cut from a line whose cell separators were lost (a page flattened to text): values are runs

    @property
    def text(self) -> str:
        return " ".join(c.text for c in self.cells if c.text and not c.spanned)


@dataclass(slots=True)
class Document:
    """What a reader returns: the report's rows in reading order, plus the plain text."""

    path: str
    format: str  # "txt", "html", "pdf", "docx", "image"
    rows: list[Row]
    text: str  # plain text of the whole document (for metadata, sections, narrative)
    title: str | None = None  # <title>, PDF metadata title, … when the format has one
    encoding: str | None = None
    notes: list[str] = field(default_factory=list)  # reader remarks (e.g. "OCR used", "encoding GB18030 guessed")
    header: dict[str, str] = field(default_factory=dict)  # a saved page's own metadata (标题, 发布时间, 原文链接 …)


@dataclass(slots=True)
class Fact:
    """One template cell's value as extracted.

    ``value`` is None when the source cell is blank, holds a null marker ("/", "—", "无"), or could not be
    located; ``raw`` keeps the source text ("" for a blank cell, None when the cell was not found).
    """

    key: str
    value: int | Decimal | None
    raw: str | None
    blank: bool
    loc: str | None = None
    confidence: float | None = None
    status: Literal["ok", "blank", "null_marker", "missing", "not_in_layout", "ambiguous"] = "ok"
    page: int | None = None  # PDF / scan page of the source cell (1-based), for crops in the report detail
    bbox: tuple[float, float, float, float] | None = None

    def json_value(self) -> int | float | None:
        if self.value is None:
            return None
        if isinstance(self.value, Decimal):
            as_int = int(self.value)
            return as_int if self.value == as_int else float(self.value)
        return self.value


@dataclass(slots=True)
class Finding:
    rule: str  # "T3-1", "T3-2", "T3-3", "T4-1", "TYPE", "LAYOUT", "EXTRA_ROW", "NARRATIVE", "XY-1", …
    severity: Severity
    message: str  # Chinese, naming the row and column
    keys: list[str] = field(default_factory=list)
    expected: str | None = None
    actual: str | None = None
    suspect_key: str | None = None  # the cell two failures meet at

    def to_json(self) -> dict[str, Any]:
        return {"rule": self.rule, "severity": self.severity, "message": self.message, "keys": list(self.keys)}


@dataclass(frozen=True, slots=True)
class Derived:
    """A 总计 computed from the cells it totals because the source printed it blank (or with a null marker).

    It never replaces the source cell (which stays blank in ``facts``): it is an analytic value with its own
    provenance — ``sources`` are the keys it was computed from, ``method`` names the template rule used.
    """

    key: str
    value: int | Decimal
    sources: tuple[str, ...]
    method: str  # "row_sum" (表三 six applicant columns), "group_sum" (表四 four results), "remainder_zero"

    def to_json(self) -> dict[str, Any]:
        value = int(self.value) if self.value == int(self.value) else float(self.value)
        return {"value": value, "from": list(self.sources), "method": self.method}


@dataclass(slots=True)
class Meta:
    agency: str | None = None
    year: int | None = None
    edition: str | None = None  # "2019", "2021", "legacy" or None when not a report
    t3_layout: str | None = None  # "2019" or "2021": the （六）其他处理 form actually found
    province: str | None = None
    city: str | None = None
    county: str | None = None
    level: str | None = None  # 省级 / 市级 / 县级 / 乡镇
    agency_type: str | None = None
    edition_evidence: list[str] = field(default_factory=list)
    url: str | None = None
    fetched_at: datetime | None = None  # when the source was downloaded (UTC), for fetched reports
    published: str | None = None  # publication date (ISO, "2022-02-08") where the source states it
    published_source: str | None = None  # where that date came from: page / document / manifest (pipeline.published)
    summary: bool = False  # a region's summary report (全市/全区汇总): its cells should equal the sum of its members'

    def to_json(self) -> dict[str, Any]:
        """The ``meta`` object of ``xxgk parse --json`` (docs/parse-json.md: every key here is documented there)."""
        keys = ("agency", "year", "edition", "table3_layout", "province", "city", "county", "level", "agency_type",
                "published", "published_source", "summary")  # fmt: skip
        out = {k: getattr(self, k, None) for k in keys}
        out["table3_layout"] = self.t3_layout
        return out


@dataclass(slots=True)
class ParseResult:
    path: str
    sha256: str
    format: str
    meta: Meta
    facts: dict[str, Fact]  # every key of the detected layout, in registry order
    findings: list[Finding]
    sections: dict[str, str] = field(default_factory=dict)  # "一" … "六" → text
    extra_rows: list[str] = field(default_factory=list)  # local rows outside the template (reported)
    narrative: dict[str, int] = field(default_factory=dict)  # numbers stated in prose, e.g. received
    size_bytes: int = 0
    derived: dict[str, Derived] = field(default_factory=dict)  # blank 总计 cells computed from their parts

    @property
    def has_hard_error(self) -> bool:
        return any(f.severity == "error" for f in self.findings)

    def to_json(self) -> dict[str, Any]:
        """The canonical ``xxgk parse --json`` shape (a public contract: see docs/parse-json.md)."""
        return {
            "source": {"path": self.path, "sha256": self.sha256, "format": self.format},
            "meta": self.meta.to_json(),
            "facts": {k: f.json_value() for k, f in self.facts.items() if f.status != "not_in_layout"},
            "findings": [f.to_json() for f in self.findings],
            "derived": {k: d.to_json() for k, d in self.derived.items()},
        }


def as_dict(obj: Any) -> dict[str, Any]:
    return asdict(obj)
