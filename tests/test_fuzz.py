"""A fixed-seed sample of mutated reports (bench/fuzz.py; ``make fuzz`` runs 10,000): no input crashes the parser,
hangs or goes past 500 MB.  Each input is parsed in a runner process under hard limits.

The 10-second mark of ``make fuzz`` is a speed figure for its report, not an assertion here: the machine running the
tests is shared, so this test counts as hung only an input still running after ``HANG_S``.
"""

from __future__ import annotations

from bench.fuzz import failures, inputs, run

SAMPLE = 120
HANG_S = 45.0
SEED = 20261130  # another sample than make fuzz's seed 0


def test_mutated_reports_neither_crash_nor_hang_nor_exhaust_memory() -> None:
    results = run(inputs(SAMPLE, SEED), runners=2, hard_s=HANG_S)
    assert len(results) == SAMPLE
    fail = failures(results)
    hung = [r for r in results if r.status == "timeout"]
    assert fail["crash"] == []
    assert hung == []
    assert fail["big"] == []
    statuses = {r.status for r in results}
    assert {"ok", "refused"} <= statuses  # the sample reaches both parsed and refused inputs
