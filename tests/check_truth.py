"""Check a hand-typed truth file against the template's own arithmetic (never against the parser).

A real report's truth (``truth.facts.json``: ``{"meta": {...}, "facts": {key: number | null}}``) is typed by hand
from reading the source.  This script checks what can be checked without the source: every key of the report's
layout is present (and no other), values have the cell's type, and the hard rules T3-1, T3-2, T3-3 and T4-1 hold —
run through :func:`pipeline.validator.validate`, the template arithmetic itself, on the typed numbers.  A published
report whose own totals are wrong fails here; list such cells under ``"source_mistakes"`` in the truth file (rule id
and a sentence), and the check then expects exactly those rules to fail.

Usage: ``python -m tests.check_truth tests/fixtures/real/*/truth.facts.json`` (exit status 1 on any problem).
"""

from __future__ import annotations

import json
import sys
from decimal import Decimal
from pathlib import Path

from pipeline.model import Fact
from pipeline.registry import registry
from pipeline.validator import validate


def truth_facts(values: dict[str, int | float | None]) -> dict[str, Fact]:
    """Facts as the validator reads them: a number is an ``ok`` cell, null a blank cell."""
    out: dict[str, Fact] = {}
    for key, value in values.items():
        if value is None:
            out[key] = Fact(key, None, "", blank=True, status="blank")
        else:
            number = Decimal(str(value)) if isinstance(value, float) else int(value)
            out[key] = Fact(key, number, str(value), blank=False, status="ok")
    return out


def problems(truth: dict) -> list[str]:
    """Everything wrong with one truth file (empty when it is consistent)."""
    reg = registry()
    meta = truth.get("meta", {})
    edition, layout = meta.get("edition"), meta.get("table3_layout")
    values: dict = truth.get("facts", {})
    if edition not in ("2019", "2021"):
        return [f"meta.edition must be '2019' or '2021', not {edition!r}"]
    out: list[str] = []
    wanted = set(reg.layout_keys(edition, layout))
    if missing := sorted(wanted - set(values)):
        out.append(f"keys of the layout missing: {missing[:5]}{' …' if len(missing) > 5 else ''} ({len(missing)})")
    if extra := sorted(set(values) - wanted):
        out.append(f"keys not in the layout: {extra[:5]} ({len(extra)})")
    for key, value in values.items():
        if key not in reg or value is None:
            continue
        kind = reg[key].type
        if kind in ("int", "signed_int") and not isinstance(value, int):
            out.append(f"{key}: {value!r} should be an integer")
        if kind == "int" and isinstance(value, int) and value < 0:
            out.append(f"{key}: {value} is negative")
    expected_rules = sorted({m["rule"] for m in truth.get("source_mistakes", [])})
    failed = validate(truth_facts({k: v for k, v in values.items() if k in reg}), edition, layout)
    failed_rules = sorted({f.rule for f in failed if f.severity == "error"})
    if failed_rules != expected_rules:
        for f in failed:
            if f.rule not in expected_rules:
                out.append(f"[{f.rule}] {f.message}")
        for rule in set(expected_rules) - set(failed_rules):
            out.append(f"source_mistakes lists {rule}, but the typed numbers do not fail it")
    return out


def main(paths: list[str]) -> int:
    bad = 0
    for path in paths:
        found = problems(json.loads(Path(path).read_text(encoding="utf-8")))
        print(f"{'OK ' if not found else 'BAD'} {path}")
        for p in found:
            print(f"    {p}")
        bad += bool(found)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
