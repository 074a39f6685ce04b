"""Compare a parse result with a document's ground truth (used by bench/accuracy.py and the test slice).

Definitions (docs/accuracy.md):
- a *cell* is right when the parsed value equals the truth (``None`` = blank/marker must stay ``None``);
- a report is *exact* when every truth cell is right and edition / 表三 layout match (legacy and non-report
  documents: the parser says so and extracts no number);
- a *silent error* is a report that is not exact — or carries an injected hard agency error — and has no finding of
  severity ``error``: nothing would warn the user;
- a *false alarm* is an exact template report without an injected hard agency error that still gets a hard finding
  (a legacy or non-report document flagged as such is expected);
- an *unnamed wrong cell* is a cell whose parsed value differs from the truth while no finding of severity
  ``error`` names its key: a wrong number nothing points at.  It must stay 0.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
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
    unnamed: list[tuple[str, Any, Any]] = field(default_factory=list)  # wrong cells no error finding names
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
                (k, None, got[k]) for k in numbers[:3]
            ]
        s.meta_ok = kind == "non_report" or (
            meta.get("agency") == tmeta.get("agency") and meta.get("year") == tmeta.get("year")
        )
        return s
    named = {k for f in hard for k in f.get("keys", [])}
    for key, value in expected.items():
        if key in got and _same(value, got[key]):
            s.correct += 1
        else:
            s.wrong.append((key, value, got.get(key, "<missing>")))
            if key not in named:
                s.unnamed.append(s.wrong[-1])
    layout_ok = meta.get("edition") == tmeta.get("edition") and meta.get("table3_layout") == tmeta.get("table3_layout")
    if not layout_ok:
        s.wrong.insert(
            0,
            (
                "meta.edition/table3_layout",
                f"{tmeta.get('edition')}/{tmeta.get('table3_layout')}",
                f"{meta.get('edition')}/{meta.get('table3_layout')}",
            ),
        )
    extra = [k for k, v in got.items() if k not in expected and v is not None]
    s.wrong += [(k, "<not in layout>", got[k]) for k in extra[:3]]
    s.unnamed += [(k, "<not in layout>", got[k]) for k in extra if k not in named]
    s.exact = not s.wrong
    s.meta_ok = meta.get("agency") == tmeta.get("agency") and meta.get("year") == tmeta.get("year")
    return s


# ---------------------------------------------------------------------------------------------------------------
# Real reports (tests/fixtures/real and the shared fixtures): hand-typed truth, judged cell by cell


@dataclass
class RealScore:
    """One real report against its hand-typed truth (``truth.facts.json``).

    A cell is *exact* when the parser gives the truth's value (null for a blank or "/" cell).  A cell listed as
    ``undecidable`` (the text cannot decide it) is right when it comes out null *and* an error finding names it.
    A *wrong* cell is any other mismatch; an *unnamed* wrong cell is one that no error finding names — the figure
    that must stay 0.  ``mistakes_unflagged`` lists the published report's own arithmetic errors (the rules the
    truth itself fails) that no error finding of the parse touches.
    """

    name: str
    source_class: str
    cells: int = 0
    exact: int = 0
    undecidable: int = 0  # cells the text cannot decide, null and named as they must be
    wrong: list[tuple[str, Any, Any]] = field(default_factory=list)
    unnamed: list[tuple[str, Any, Any]] = field(default_factory=list)
    meta_wrong: list[tuple[str, Any, Any]] = field(default_factory=list)
    mistakes_unflagged: list[str] = field(default_factory=list)
    error: str | None = None

    @property
    def ok(self) -> bool:
        return not (self.wrong or self.meta_wrong or self.mistakes_unflagged or self.error)


def _truth_mistakes(truth: dict[str, Any]) -> list[tuple[str, set[str]]]:
    """(rule, keys) of every hard rule the typed truth itself fails: the published report's own mistakes."""
    from decimal import Decimal

    from pipeline.model import Fact
    from pipeline.validator import validate

    meta = truth.get("meta", {})
    facts = {}
    for key, value in truth.get("facts", {}).items():
        if value is None:
            facts[key] = Fact(key, None, "", blank=True, status="blank")
        else:
            facts[key] = Fact(key, Decimal(str(value)) if isinstance(value, float) else value, str(value), blank=False)
    found = validate(facts, meta.get("edition"), meta.get("table3_layout") or meta.get("edition"))
    return [(f.rule, set(f.keys)) for f in found if f.severity == "error"]


def score_real(
    name: str,
    source_class: str,
    truth: dict[str, Any],
    parsed: dict[str, Any] | None,
    error: str | None = None,
    meta_keys: tuple[str, ...] | None = None,
) -> RealScore:
    """Score one real report. ``parsed`` is ``ParseResult.to_json()``; ``meta_keys`` the truth's meta fields to
    compare (default: every one the truth gives)."""
    s = RealScore(name, source_class)
    expected: dict[str, Any] = truth.get("facts", {})
    undecidable = set(truth.get("undecidable", []))
    s.cells = len(expected)
    if parsed is None:
        s.error = error or "parser failed"
        return s
    got: dict[str, Any] = parsed.get("facts", {})
    named = {k for f in parsed.get("findings", []) if f.get("severity") == "error" for k in f.get("keys", [])}
    for key, value in expected.items():
        value_got = got.get(key, "<missing>")
        if key in undecidable:
            if value_got is None and key in named:
                s.undecidable += 1
                continue
            s.wrong.append((key, "null + error (undecidable)", value_got))
        elif key in got and _same(value, value_got):
            s.exact += 1
            continue
        else:
            s.wrong.append((key, value, value_got))
        if key not in named:
            s.unnamed.append(s.wrong[-1])
    for key in got.keys() - expected.keys():
        if got[key] is not None:
            s.wrong.append((key, "<not in layout>", got[key]))
            if key not in named:
                s.unnamed.append(s.wrong[-1])
    meta, tmeta = parsed.get("meta", {}), truth.get("meta", {})
    for key in meta_keys if meta_keys is not None else tuple(tmeta):
        if key in tmeta and meta.get(key) != tmeta[key]:
            s.meta_wrong.append((f"meta.{key}", tmeta[key], meta.get(key)))
    errors = [f for f in parsed.get("findings", []) if f.get("severity") == "error"]
    for rule, keys in _truth_mistakes(truth):
        if not any(f.get("rule") == rule or keys & set(f.get("keys", [])) for f in errors):
            s.mistakes_unflagged.append(f"{rule} {sorted(keys)[:3]}")
    return s


@dataclass(frozen=True)
class RealCase:
    """One real report to score: its source file, its truth, its source class and the meta fields to compare."""

    name: str
    source: Path
    truth: Path
    source_class: str
    meta_keys: tuple[str, ...] | None = None  # None: every meta field the truth gives
    undecidable: tuple[str, ...] = ()  # cells the text cannot decide, for truths that do not list them


# The shared crawler fixtures' truths do not list the cells their text cannot decide: 表二 runs with no identity.
_T2_2019_RUNS = tuple(
    f"t2.{row}.{col}"
    for row, cols in (
        ("normative_docs", ("made_new", "published_new", "public_total")),
        ("admin_license", ("prev_year_items", "items_change", "decisions")),
        ("other_mgmt_services", ("prev_year_items", "items_change", "decisions")),
        ("admin_penalty", ("prev_year_items", "items_change", "decisions")),
        ("admin_coercion", ("prev_year_items", "items_change", "decisions")),
        ("admin_fees", ("prev_year_items", "items_change")),
        ("central_procurement", ("projects", "total_amount_wan_yuan")),
    )
    for col in cols
)
SHARED_UNDECIDABLE = {
    "05_pingtan_2019": _T2_2019_RUNS,  # "898989", "3960181", "100153", "26480430", "126025", "350", "13575394432.52元"
    "06_pingtan_2021": (
        "t2.normative_docs.issued",
        "t2.normative_docs.repealed",
        "t2.normative_docs.in_force",
    ),  # 693665
}


# Real-report truths the parser disagrees with, and why (reported to the corpus's authors).  tests/test_real_corpus.py
# marks them strict xfail, which turns red once the truth or the parser changes; docs/accuracy.md lists them.
DISPUTED_TRUTHS: dict[str, str] = {}


def real_cases(repo: Path) -> list[RealCase]:
    """Every real report with a hand-typed truth: ``tests/fixtures/real/*`` and, when ``../shared`` is beside the
    repository, the shared crawler and PDF fixtures and the seed."""
    import json

    out: list[RealCase] = []
    for folder in sorted(p for p in (repo / "tests" / "fixtures" / "real").glob("*") if p.is_dir()):
        truth = folder / "truth.facts.json"
        origin = folder / "origin.json"
        if not truth.exists():
            continue
        source_class = (
            json.loads(origin.read_text(encoding="utf-8")).get("source_class", "?") if origin.exists() else "?"
        )
        for source in sorted(folder.glob("source.*")):
            out.append(RealCase(folder.name, source, truth, source_class))
    shared = repo.parent / "shared"
    if not shared.is_dir():
        return out
    for folder in sorted((shared / "fixtures" / "crawler").glob("*")):
        out.append(
            RealCase(
                f"shared/{folder.name}",
                folder / "source.txt",
                folder / "truth.facts.json",
                "crawler_text",
                ("year", "edition", "table3_layout"),
                SHARED_UNDECIDABLE.get(folder.name, ()),
            )
        )
    for folder in sorted((shared / "fixtures" / "real").glob("*")):
        for source, kind in ((folder / "source.txt", "pdf_text"), (folder / "source.pdf", "pdf")):
            if source.exists():
                out.append(
                    RealCase(
                        f"shared/{folder.name} ({source.suffix[1:]})",
                        source,
                        folder / "truth.facts.json",
                        kind,
                        ("agency", "year", "edition", "table3_layout"),
                    )
                )
    for seed in sorted((shared / "seeds").glob("*.txt")):
        out.append(
            RealCase(
                f"shared/seed {seed.stem}",
                seed,
                seed.with_suffix(".truth.json"),
                "pdf_text",
                ("agency", "year", "edition"),
            )
        )
    return out


def score_case(case: RealCase) -> RealScore:
    """Parse one real report with the real parser and score it."""
    import json

    from pipeline.parse import parse_file

    truth = json.loads(case.truth.read_text(encoding="utf-8"))
    if case.undecidable:
        truth = {**truth, "undecidable": sorted(set(truth.get("undecidable", [])) | set(case.undecidable))}
    try:
        parsed = parse_file(case.source).to_json()
    except Exception as exc:  # noqa: BLE001 - a crash is a result, reported as such
        return score_real(case.name, case.source_class, truth, None, f"{type(exc).__name__}: {exc}")
    return score_real(case.name, case.source_class, truth, parsed, meta_keys=case.meta_keys)
