"""A series of reports for one agency, numbers consistent from one year to the next."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from typing import Any

from pipeline.generator.draws import neg_binomial
from pipeline.generator.numbers import (
    APPLICANT_COLUMNS,
    ERROR_KIND_WEIGHTS,
    ReportTruth,
    Value,
    draw_profile,
    draw_t2,
    draw_t3,
    draw_t4,
    edition_for_year,
    initial_state,
    layout_keys,
)
from pipeline.generator.printing import inject_carry_mismatch, inject_error, present
from pipeline.generator.universe import Agency

LayoutChooser = Callable[[Agency, int, random.Random], tuple[str, int]]


def agency_series(
    agency: Agency,
    years: list[int],
    seed: int,
    choose_layout: LayoutChooser,
    error_share: float = 0.05,
    mixed_share: float = 0.1,
) -> Iterator[ReportTruth]:
    """Yield the agency's reports for ``years`` (ascending), numbers consistent from one year to the next."""
    rng = random.Random(f"{seed}:{agency.agency_id}")
    profile = draw_profile(agency, rng, mixed_share)
    state = initial_state(profile, rng)
    for year in sorted(years):
        yrng = random.Random(f"{seed}:{agency.agency_id}:{year}")
        layout, noise = choose_layout(agency, year, yrng)
        edition = edition_for_year(year)
        if edition == "legacy":
            yield ReportTruth(
                agency,
                year,
                "legacy",
                "legacy",
                None,
                layout=layout,
                noise=noise,
                narrative={"received": neg_binomial(yrng, profile.volume)},
            )
            continue
        t3_layout = "2019" if edition == "2019" or profile.mixed_template else "2021"
        errors: list[dict[str, Any]] = []
        facts: dict[str, Value] = {}
        facts.update(draw_t2(edition, profile, state, yrng, errors))
        t3 = draw_t3(profile, state, year, t3_layout, yrng)
        facts.update(t3)
        facts.update(draw_t4(profile, t3["t3.new_received.total"], yrng))
        # the previous report exists only when the series is contiguous
        if state.previous_year == year - 1 and yrng.random() < error_share * ERROR_KIND_WEIGHTS["carry_mismatch"]:
            inject_carry_mismatch(facts, yrng, errors)
        for col in APPLICANT_COLUMNS:
            cf = facts[f"t3.carry_forward.{col}"]
            assert isinstance(cf, int)
            state.carry_forward[col] = cf
        state.previous_year = year
        ordered = {k: facts[k] for k in layout_keys(edition, t3_layout)}
        truth = ReportTruth(
            agency,
            year,
            "report",
            edition,
            t3_layout,
            ordered,
            agency_errors=errors,
            layout=layout,
            noise=noise,
            clean=dict(ordered),
        )
        present(truth, profile, yrng)
        kind = None
        if yrng.random() < error_share * (1 - ERROR_KIND_WEIGHTS["carry_mismatch"]):
            kinds = [k for k in ERROR_KIND_WEIGHTS if k != "carry_mismatch"]
            kind = yrng.choices(kinds, weights=[ERROR_KIND_WEIGHTS[k] for k in kinds])[0]
        if kind is not None and not inject_error(truth, kind, yrng):
            inject_error(truth, "total_mismatch", yrng)
        if "received" not in truth.narrative:
            # the prose states the 表三 total as printed, so only narrative_mismatch makes them differ
            received = truth.facts.get("t3.new_received.total")
            truth.narrative["received"] = received if isinstance(received, int) else t3["t3.new_received.total"]
        yield truth
