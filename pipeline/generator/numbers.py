"""Realistic, year-consistent statistics for one agency, and the report truth that carries them.

Every agency draws a *profile* once (volume, applicant mix, outcome mix, habits) and then walks through its years
keeping state: ``carried_over[Y] = carry_forward[Y-1]``, 表二 stocks evolve (``in_force[Y] = in_force[Y-1] + issued
− repealed``, with occasional breaks), 2019-edition item counts follow ``prev_year_items[Y] = prev_year_items[Y-1]
+ items_change[Y-1]``.  The distributions are documented in docs/generator.md.

Values in :class:`ReportTruth.facts` are the numbers *as printed* (agency errors included); ``None`` is a cell
printed blank or with a null marker ("/", "—", "无"), whose text is in :attr:`ReportTruth.texts`.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cache
from typing import Any

from pipeline.generator.draws import binomial, multinomial, neg_binomial, poisson
from pipeline.generator.universe import LEVEL_CITY, LEVEL_COUNTY, LEVEL_PROVINCE, LEVEL_TOWN, Agency
from pipeline.registry import T3_COLUMNS_ORDER, T4_COLUMNS_ORDER, T4_GROUPS_ORDER, registry

Value = int | Decimal | None

APPLICANT_COLUMNS = T3_COLUMNS_ORDER[:-1]  # the six applicant columns; the 7th is 总计
# Rows of 表三 that are not outcome rows (the rest, whatever the registry lists, are outcomes).
T3_FLOW_ROWS = ("new_received", "carried_over", "result_total", "carry_forward")
# Rows of which some agencies fill the 总计 cell only (spec: 一, 二, （七）, 四).
T3_TOTAL_ALWAYS_ROWS = T3_FLOW_ROWS

# Base outcome weights (share of handled requests); perturbed per agency.  Unknown rows get 0.005.
OUTCOME_WEIGHTS: dict[str, float] = {
    "granted": 0.32,
    "partially_granted": 0.08,
    "denied_state_secret": 0.003,
    "denied_law_prohibited": 0.006,
    "denied_security_stability": 0.004,
    "denied_third_party": 0.012,
    "denied_internal_affairs": 0.01,
    "denied_process_info": 0.015,
    "denied_enforcement_file": 0.008,
    "denied_admin_query": 0.02,
    "unable_not_held": 0.24,
    "unable_need_creation": 0.04,
    "unable_unclear": 0.02,
    "not_processed_petition": 0.05,
    "not_processed_repeat": 0.03,
    "not_processed_publication": 0.005,
    "not_processed_mass_repeat": 0.01,
    "not_processed_confirm": 0.006,
    "other_handling": 0.12,
    "other_no_correction": 0.05,
    "other_fee_unpaid": 0.004,
    "other_misc": 0.07,
}
APPLICANT_WEIGHTS = (0.88, 0.06, 0.003, 0.006, 0.03, 0.02)

ERROR_KINDS_HARD = ("total_mismatch", "swapped_digit", "t4_total_mismatch")
ERROR_KINDS_SOFT = ("carry_mismatch", "narrative_mismatch")
ERROR_KIND_WEIGHTS = {
    "total_mismatch": 0.3,
    "swapped_digit": 0.25,
    "t4_total_mismatch": 0.1,
    "carry_mismatch": 0.2,
    "narrative_mismatch": 0.15,
}


@cache
def t3_row_keys(t3_layout: str) -> tuple[str, ...]:
    """表三 row keys of a layout, in template order."""
    return tuple(r for r, _label, _block in registry().rows("t3", t3_layout))


@cache
def signed_keys() -> frozenset[str]:
    return frozenset(f.key for f in registry().fields if f.signed)


@cache
def layout_keys(edition: str, t3_layout: str) -> tuple[str, ...]:
    return tuple(registry().layout_keys(edition, t3_layout))


def edition_for_year(year: int) -> str:
    """The template edition an agency uses for a report on ``year`` (legacy before 2019)."""
    if year <= 2018:
        return "legacy"
    return "2019" if year <= 2020 else "2021"


# ---------------------------------------------------------------------------------------------------------------
# The truth of one document


@dataclass
class ReportTruth:
    """Everything a renderer needs about one document, and the ground truth written beside it."""

    agency: Agency
    year: int
    kind: str  # "report", "legacy" (2018 and earlier) or "non_report"
    edition: str | None
    t3_layout: str | None
    facts: dict[str, Value] = field(default_factory=dict)
    texts: dict[str, str] = field(default_factory=dict)  # printed text where it is not the plain number
    agency_errors: list[dict[str, Any]] = field(default_factory=list)
    narrative: dict[str, int] = field(default_factory=dict)  # numbers stated in the prose
    layout: str = ""
    noise: int = 0
    doc_id: str = ""
    compact: bool = False  # short prose (the committed demo sample keeps its size down)
    prose: Any = None  # prose.ProsePlan: varied sentences, some copied from known reports (copy_share > 0)
    clean: dict[str, Value] = field(default_factory=dict)  # the numbers before presentation and agency errors
    published: str | None = None  # publication date (ISO) the document or its manifest row states

    def cell_text(self, key: str) -> str:
        """The text printed in the cell of ``key`` ("" for a blank cell)."""
        if key in self.texts:
            return self.texts[key]
        value = self.facts.get(key)
        if value is None:
            return ""
        if isinstance(value, Decimal):
            return format_amount(value)
        if value > 0 and key in signed_keys():
            return f"+{value}"
        return str(value)

    def to_json(self) -> dict[str, Any]:
        """The truth file: the ``xxgk parse --json`` shape plus what the generator injected."""
        a = self.agency
        meta = {
            "agency": a.name if self.kind != "non_report" else None,
            "year": self.year if self.kind != "non_report" else None,
            "edition": self.edition,
            "table3_layout": self.t3_layout,
            "province": a.province,
            "city": a.city,
            "county": a.county,
            "level": a.level,
            "agency_type": a.agency_type,
            "region": a.region,
            "url": self.url,
            "published": self.published,
        }
        return {
            "meta": meta,
            "facts": {k: json_number(v) for k, v in self.facts.items()},
            "agency_errors": self.agency_errors,
            "narrative": self.narrative,
            "kind": self.kind,
            "layout": self.layout,
            "noise": self.noise,
            "synthetic": True,
        } | ({"copied": self.prose.to_json(self)} if self.prose is not None else {})

    @property
    def url(self) -> str:
        return f"{self.agency.url}{self.year}.html"


def format_amount(value: Decimal) -> str:
    text = f"{value.normalize():f}"
    return text


def json_number(value: Value) -> int | float | None:
    """As :meth:`pipeline.model.Fact.json_value`: integral amounts become ints."""
    if value is None:
        return None
    if isinstance(value, Decimal):
        as_int = int(value)
        return as_int if value == as_int else float(value)
    return value


# ---------------------------------------------------------------------------------------------------------------
# Agency profile and yearly state


@dataclass
class Profile:
    volume: float
    growth: float
    applicant_mix: list[float]
    outcome_weights: dict[str, float]
    carry_rate: float
    review_rate: float
    suit_rate: float
    makes_regulations: bool
    normative_rate: float
    licenses: float
    penalties: float
    coercions: float
    fee_share: float
    fee_mean: float
    procurement: float
    mixed_template: bool
    # presentation habits (applied only at noise ≥ 1 / 2)
    blank_t4_review: bool
    sparse_totals: bool
    zero_rows_blank: bool
    slash_t2: bool
    yuan_amount: bool
    plain_positive: bool
    null_marker: str


def draw_profile(agency: Agency, rng: random.Random, mixed_share: float) -> Profile:
    level_scale = {LEVEL_PROVINCE: 1.0, LEVEL_CITY: 1.0, LEVEL_COUNTY: 1.0, LEVEL_TOWN: 1.0}[agency.level]
    volume = agency.volume * level_scale * rng.lognormvariate(-0.3, 1.0)
    mix = [w * rng.lognormvariate(0, 0.5) for w in APPLICANT_WEIGHTS]
    weights = {k: w * rng.lognormvariate(0, 0.5) for k, w in OUTCOME_WEIGHTS.items()}
    big = volume > 80
    return Profile(
        volume=volume,
        growth=rng.uniform(-0.05, 0.15),
        applicant_mix=mix,
        outcome_weights=weights,
        carry_rate=rng.choice([0.0, 0.0, 0.01, 0.02, 0.03, 0.05]),
        review_rate=rng.uniform(0.0, 0.08) if big or rng.random() < 0.3 else 0.0,
        suit_rate=rng.uniform(0.0, 0.04) if big else rng.uniform(0.0, 0.01),
        makes_regulations=agency.is_government and agency.level in (LEVEL_PROVINCE, LEVEL_CITY),
        normative_rate=(8.0 if agency.is_government else 2.0)
        * rng.lognormvariate(0, 0.6)
        * (0.3 if agency.level == LEVEL_TOWN else 1.0),
        licenses=agency.licenses * rng.lognormvariate(-0.5, 1.0) if rng.random() < 0.8 else 0.0,
        penalties=agency.penalties * rng.lognormvariate(-0.5, 1.0) if rng.random() < 0.8 else 0.0,
        coercions=agency.penalties * 0.05 * rng.lognormvariate(0, 1.0) if rng.random() < 0.5 else 0.0,
        fee_share=0.0 if rng.random() < 0.75 else rng.uniform(0.5, 1.0),
        fee_mean=rng.lognormvariate(3, 1.5),
        procurement=rng.lognormvariate(1.5, 1.0) if rng.random() < 0.6 else 0.0,
        mixed_template=rng.random() < mixed_share,
        blank_t4_review=rng.random() < 0.35,
        sparse_totals=rng.random() < 0.25,
        zero_rows_blank=rng.random() < 0.3,
        slash_t2=rng.random() < 0.35,
        yuan_amount=rng.random() < 0.3,
        plain_positive=rng.random() < 0.2,
        null_marker=rng.choice(["/", "/", "/", "—", "-", "无"]),
    )


@dataclass
class AgencyState:
    """What carries from one year to the next."""

    carry_forward: dict[str, int]
    regs_in_force: int
    norm_in_force: int
    regs_public_total: int
    norm_public_total: int
    items: dict[str, int]  # 2019 edition: 上一年项目数量 per row
    items_change: dict[str, int]
    previous_year: int | None = None


def initial_state(profile: Profile, rng: random.Random) -> AgencyState:
    carry = {c: 0 for c in APPLICANT_COLUMNS}
    if profile.carry_rate > 0:
        carry["natural_person"] = poisson(rng, profile.volume * profile.carry_rate)
    regs = poisson(rng, 25) if profile.makes_regulations else 0
    norms = poisson(rng, profile.normative_rate * 5)
    items = {
        r: poisson(rng, m)
        for r, m in (
            ("admin_license", 25),
            ("other_mgmt_services", 8),
            ("admin_penalty", 60),
            ("admin_coercion", 6),
            ("admin_fees", 3),
        )
    }
    return AgencyState(carry, regs, norms, regs * 3, norms * 2, items, {r: 0 for r in items})


# ---------------------------------------------------------------------------------------------------------------
# One year


def draw_t3(profile: Profile, state: AgencyState, year: int, t3_layout: str, rng: random.Random) -> dict[str, int]:
    rows = t3_row_keys(t3_layout)
    outcomes = [r for r in rows if r not in T3_FLOW_ROWS]
    trend = (1 + profile.growth) ** (year - 2019)
    n = neg_binomial(rng, profile.volume * trend, shape=3.0)
    new = dict(zip(APPLICANT_COLUMNS, multinomial(rng, n, profile.applicant_mix), strict=True))
    facts: dict[str, int] = {}
    weights = [profile.outcome_weights.get(r, 0.005) for r in outcomes]
    for col in APPLICANT_COLUMNS:
        carried = state.carry_forward.get(col, 0)
        available = new[col] + carried
        forward = binomial(rng, available, profile.carry_rate)
        handled = available - forward
        split = multinomial(rng, handled, weights)
        facts[f"t3.new_received.{col}"] = new[col]
        facts[f"t3.carried_over.{col}"] = carried
        for row, k in zip(outcomes, split, strict=True):
            facts[f"t3.{row}.{col}"] = k
        facts[f"t3.result_total.{col}"] = handled
        facts[f"t3.carry_forward.{col}"] = forward
    for row in rows:
        facts[f"t3.{row}.total"] = sum(facts[f"t3.{row}.{c}"] for c in APPLICANT_COLUMNS)
    return facts


def draw_t4(profile: Profile, received: int, rng: random.Random) -> dict[str, int]:
    facts: dict[str, int] = {}
    review = poisson(rng, profile.review_rate * received)
    direct = poisson(rng, profile.suit_rate * received)
    after = binomial(rng, review, 0.25)
    split_weights = [0.55, 0.12, 0.23, 0.10]
    for group, n in zip(T4_GROUPS_ORDER, (review, direct, after), strict=True):
        parts = multinomial(rng, n, split_weights)
        for col, k in zip(T4_COLUMNS_ORDER[:-1], parts, strict=True):
            facts[f"t4.{group}.{col}"] = k
        facts[f"t4.{group}.total"] = n
    return facts


def _amount(rng: random.Random, mean: float, decimals: int = 2) -> Decimal:
    value = rng.lognormvariate(math.log(max(mean, 0.01)), 1.0)
    return Decimal(str(round(value, decimals))).normalize() if value >= 0.01 else Decimal(0)


def draw_t2(
    edition: str, profile: Profile, state: AgencyState, rng: random.Random, errors: list[dict[str, Any]]
) -> dict[str, Value]:
    facts: dict[str, Value] = {}
    licenses = poisson(rng, profile.licenses)
    penalties = poisson(rng, profile.penalties)
    coercions = poisson(rng, profile.coercions)
    facts["t2.admin_license.decisions"] = licenses
    facts["t2.admin_penalty.decisions"] = penalties
    facts["t2.admin_coercion.decisions"] = coercions
    regs_issued = poisson(rng, 1.5) if profile.makes_regulations else 0
    norm_issued = poisson(rng, profile.normative_rate)
    if edition == "2021":
        for row, issued, stock in (
            ("regulations", regs_issued, state.regs_in_force),
            ("normative_docs", norm_issued, state.norm_in_force),
        ):
            repealed = binomial(rng, stock, 0.04 if rng.random() < 0.7 else 0.2)
            in_force = stock + issued - repealed
            if rng.random() < 0.08 and stock > 3:  # the stock was recounted (清理) — the soft rule breaks
                in_force = max(0, in_force + rng.choice([-3, -2, -1, 1, 2, 5]))
                errors.append(
                    {
                        "kind": "stock_mismatch",
                        "keys": [f"t2.{row}.in_force"],
                        "severity": "warning",
                        "rule": "XY-2",
                        "detail": f"现行有效件数 {in_force} ≠ 上年 {stock} + 制发 {issued} − 废止 {repealed}",
                    }
                )
            facts[f"t2.{row}.issued"] = issued
            facts[f"t2.{row}.repealed"] = repealed
            facts[f"t2.{row}.in_force"] = in_force
            if row == "regulations":
                state.regs_in_force = in_force
            else:
                state.norm_in_force = in_force
        fee = _amount(rng, profile.fee_mean) if rng.random() < profile.fee_share else Decimal(0)
        facts["t2.admin_fees.amount_wan_yuan"] = fee
        return facts
    # 2019 edition
    for row, made in (("regulations", regs_issued), ("normative_docs", norm_issued)):
        published = made if rng.random() < 0.85 else binomial(rng, made, 0.8)
        if row == "regulations":
            state.regs_public_total += published
            total = state.regs_public_total
            state.regs_in_force += made
        else:
            state.norm_public_total += published
            total = state.norm_public_total
            state.norm_in_force += made
        facts[f"t2.{row}.made_new"] = made
        facts[f"t2.{row}.published_new"] = published
        facts[f"t2.{row}.public_total"] = total
    for row in ("admin_license", "other_mgmt_services", "admin_penalty", "admin_coercion", "admin_fees"):
        prev = state.items[row] + state.items_change[row]
        change = 0 if rng.random() < 0.55 else rng.randint(-min(prev, 5), 6)
        state.items[row] = prev
        state.items_change[row] = change
        facts[f"t2.{row}.prev_year_items"] = prev
        facts[f"t2.{row}.items_change"] = change
    facts["t2.other_mgmt_services.decisions"] = poisson(rng, profile.licenses * 0.1)
    projects = poisson(rng, profile.procurement)
    facts["t2.central_procurement.projects"] = projects
    amount = Decimal(0)
    if projects:
        amount = Decimal(max(1, round(rng.lognormvariate(3.5, 1.2) * projects))) / 100  # 万元, 2 decimals
    facts["t2.central_procurement.total_amount_wan_yuan"] = amount.normalize() if amount else Decimal(0)
    return facts
