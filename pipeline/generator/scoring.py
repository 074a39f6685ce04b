"""Compare a parse result with a document's ground truth (used by bench/accuracy.py and the test slice).

Definitions (docs/accuracy.md):
- a *cell* is right when the parsed value equals the truth (``None`` = blank/marker must stay ``None``);
- a report is *exact* when every truth cell is right and edition / 表三 layout match (legacy and non-report
  documents: the parser says so and extracts no number);
- a *silent error* is a report that is not exact — or carries an injected hard agency error — and has no finding of
  severity ``error``: nothing would warn the user;
- a *false alarm* is an exact template report without an injected hard agency error that still gets a hard finding
  (a legacy or non-report document flagged as such is expected).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class DocScore:
    path: str
    layout: str
    noise: int
    kind: str
    cells: int = 0
    correct: int = 0
    exact: bool = False
    hard_finding: bool = False
    agency_error_hard: bool = False  # the truth lists an agency error a single-document rule must flag
    meta_ok: bool = False
    wrong: list[tuple[str, Any, Any]] = field(default_factory=list)  # (key, expected, got)
    error: str | None = None  # the parser raised
    hard_messages: list[str] = field(default_factory=list)  # the first hard findings' messages
    meta_got: tuple[Any, Any] = (None, None)  # (agency, year) the parser detected
    seconds: float = 0.0

    @property
    def silent(self) -> bool:
        return (not self.exact or self.agency_error_hard) and not self.hard_finding

    @property
    def caught(self) -> bool:
        return self.agency_error_hard and self.hard_finding

    @property
    def false_alarm(self) -> bool:
        # a legacy or non-report document flagged as such is the expected outcome, not an alarm
        return self.kind == "report" and self.exact and not self.agency_error_hard and self.hard_finding


def _same(expected: Any, got: Any) -> bool:
    if expected is None or got is None:
        return expected is None and got is None
    return abs(float(expected) - float(got)) < 1e-9


def score(truth: dict[str, Any], parsed: dict[str, Any] | None, path: str = "", error: str | None = None) -> DocScore:
    """Score one document. ``parsed`` is ``ParseResult.to_json()`` (None when the parser raised ``error``)."""
    kind = truth.get("kind", "report")
    s = DocScore(path=path, layout=truth.get("layout", ""), noise=int(truth.get("noise", 0)), kind=kind)
    expected: dict[str, Any] = truth.get("facts", {})
    s.cells = len(expected)
    s.agency_error_hard = any(e.get("severity") == "error" for e in truth.get("agency_errors", []))
    if parsed is None:
        s.error = error or "parser failed"
        s.wrong = [(k, v, "<exception>") for k, v in list(expected.items())[:3]]
        return s
    got: dict[str, Any] = parsed.get("facts", {})
    meta, tmeta = parsed.get("meta", {}), truth.get("meta", {})
    hard = [f for f in parsed.get("findings", []) if f.get("severity") == "error"]
    s.hard_finding = bool(hard)
    s.hard_messages = [f"[{f.get('rule')}] {f.get('message', '')}" for f in hard[:2]]
    s.meta_got = (meta.get("agency"), meta.get("year"))
    if kind != "report":
        numbers = [k for k, v in got.items() if v is not None]
        s.exact = meta.get("edition") == tmeta.get("edition") and not numbers
        if not s.exact:
            s.wrong = [("meta.edition", tmeta.get("edition"), meta.get("edition"))] + [
                (k, None, got[k]) for k in numbers[:3]]
        s.meta_ok = kind == "non_report" or (meta.get("agency") == tmeta.get("agency")
                                             and meta.get("year") == tmeta.get("year"))
        return s
    for key, value in expected.items():
        if key in got and _same(value, got[key]):
            s.correct += 1
        else:
            s.wrong.append((key, value, got.get(key, "<missing>")))
    layout_ok = (meta.get("edition") == tmeta.get("edition")
                 and meta.get("table3_layout") == tmeta.get("table3_layout"))
    if not layout_ok:
        s.wrong.insert(0, ("meta.edition/table3_layout", f"{tmeta.get('edition')}/{tmeta.get('table3_layout')}",
                           f"{meta.get('edition')}/{meta.get('table3_layout')}"))
    extra = [k for k, v in got.items() if k not in expected and v is not None]
    s.wrong += [(k, "<not in layout>", got[k]) for k in extra[:3]]
    s.exact = not s.wrong
    s.meta_ok = meta.get("agency") == tmeta.get("agency") and meta.get("year") == tmeta.get("year")
    return s
