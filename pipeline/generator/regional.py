"""Region summary reports and publication dates for the generated corpus.

**Summary reports** (``CorpusConfig.summary_share``): a share of regions (province, city or county) publish, every
year, a summary report "<government>（汇总全市）" whose cells are the sums of the reports generated for the agencies
inside the region that year (members: the same set :mod:`pipeline.validator.summary` sums).  The sums use each
member's numbers *before* its presentation and its injected errors (what a 政务公开办 collects from its agencies),
so the summary's own arithmetic holds.  A share of summary-years (``summary_error_share``) counts one more, unpublished
agency: a consistent block of d requests granted to natural persons is added (本年新收, 予以公开, 办理结果总计 and
their 总计), so the summary differs from Σ members in exactly those six cells — recorded in ``agency_errors`` as
``summary_mismatch`` (rule SUM-1).  The iteration order of :func:`pipeline.generator.universe.iter_agencies` (a
region's agencies are contiguous) lets each summary be emitted as soon as its region is complete, holding one dict of
sums per open region and year.

**Publication dates** (``CorpusConfig.dated``): 70 % of reports on time (5–31 January of the next year), 15 % late
(February to April), 15 % without a date.  Web pages print the date (发布时间); other layouts carry it in the
manifest's ``published`` column (see :mod:`pipeline.generator.corpus`).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from pipeline.generator.numbers import ReportTruth, Value, layout_keys
from pipeline.generator.universe import Agency, _url

SUMMARY_TYPE = "地区汇总"
MISMATCH_KEYS = ("t3.new_received.natural_person", "t3.new_received.total", "t3.granted.natural_person",
                 "t3.granted.total", "t3.result_total.natural_person", "t3.result_total.total")  # fmt: skip
_AREA_WORDS = (("自治区", "区"), ("地区", "区"), ("省", "省"), ("市", "市"), ("区", "区"), ("县", "县"), ("州", "州"),
               ("盟", "盟"), ("旗", "旗"))  # fmt: skip


def publication_date(truth: ReportTruth, seed: int) -> str | None:
    """The generated publication date of a report (ISO) or None (see the module docstring)."""
    if truth.kind == "non_report":
        return None
    rng = random.Random(f"{seed}:{truth.doc_id}:published")
    roll = rng.random()
    if roll < 0.15:
        return None
    start = date(truth.year + 1, 1, 5) if roll < 0.85 else date(truth.year + 1, 2, 1)
    span = 26 if roll < 0.85 else 88
    return (start + timedelta(days=rng.randrange(span + 1))).isoformat()


def _area_word(region: str) -> str:
    return next((word for suffix, word in _AREA_WORDS if region.endswith(suffix)), "区")


def _region_key(agency: Agency, level: str) -> tuple[str | None, ...]:
    if level == "province":
        return (agency.province,)
    if level == "city":
        return (agency.province, agency.city)
    return (agency.province, agency.city, agency.county)


def _level_of(agency: Agency) -> str | None:
    """The region a government agency governs: province (no city/county), city, county; None for departments."""
    if not agency.is_government or agency.agency_type != "人民政府":
        return None
    if agency.county:
        return "county"
    return "city" if agency.city else "province"


@dataclass
class _OpenRegion:
    level: str
    key: tuple[str | None, ...]
    summary: Agency
    sums: dict[int, dict[str, Value]] = field(default_factory=dict)  # year → key → Σ members
    editions: dict[int, tuple[str, str]] = field(default_factory=dict)  # year → (edition, 2021-layout or not)
    members: dict[int, int] = field(default_factory=dict)

    def add(self, truth: ReportTruth) -> None:
        year = truth.year
        edition = truth.edition or ""
        self.editions.setdefault(year, (edition, "2021" if edition == "2021" else "2019"))
        sums = self.sums.setdefault(year, {})
        for key, value in (truth.clean or truth.facts).items():
            if value is None:
                continue
            if edition == "2021" and truth.t3_layout == "2019" and key.startswith("t3.other_handling."):
                key = key.replace("other_handling", "other_misc")  # the single 2019 row counted with the 2021 rows
            sums[key] = (sums.get(key) or 0) + value
        self.members[year] = self.members.get(year, 0) + 1


def _summary_agency(gov: Agency) -> Agency:
    region = gov.county or gov.city or gov.province
    return Agency(
        agency_id=f"{gov.region_code}-hz", name=f"{gov.name}（汇总全{_area_word(region or '')}）", level=gov.level,
        agency_type=SUMMARY_TYPE, province=gov.province, city=gov.city, county=gov.county,
        region_code=gov.region_code, volume=gov.volume, licenses=gov.licenses, penalties=gov.penalties,
        is_government=True, url=_url(gov.region_code, "hz"),
    )  # fmt: skip


def _summary_truths(region: _OpenRegion, seed: int, error_share: float, layout: str) -> Iterator[ReportTruth]:
    for year in sorted(region.sums):
        edition, t3_layout = region.editions[year]
        sums = region.sums[year]
        facts: dict[str, Value] = {k: sums.get(k, 0) for k in layout_keys(edition, t3_layout)}
        for key, value in facts.items():
            if isinstance(value, Decimal):
                facts[key] = value.quantize(Decimal("0.01"))
        truth = ReportTruth(region.summary, year, "report", edition, t3_layout, facts, layout=layout, noise=0,
                            doc_id=f"{region.summary.agency_id}_{year}")  # fmt: skip
        truth.clean = dict(facts)
        rng = random.Random(f"{seed}:{truth.doc_id}:summary")
        if rng.random() < error_share:
            extra = rng.randint(1, 9)
            for key in MISMATCH_KEYS:
                value = facts[key]
                assert isinstance(value, int)
                facts[key] = value + extra
            truth.agency_errors.append({"kind": "summary_mismatch", "keys": list(MISMATCH_KEYS), "severity": "warning",
                                        "rule": "SUM-1", "detail": f"汇总时多计一个未发布报告的机关：{extra} 件申请"})  # fmt: skip
        truth.narrative["received"] = facts["t3.new_received.total"]  # type: ignore[assignment]
        yield truth


def with_summaries(
    agency_truths: Iterator[tuple[Agency, list[ReportTruth]]], seed: int, share: float, error_share: float, layout: str
) -> Iterator[ReportTruth]:
    """Every truth of ``agency_truths`` (agency by agency, in universe order), with the summary reports of the
    chosen regions yielded as soon as each region's last agency has passed."""
    open_regions: list[_OpenRegion] = []
    for agency, truths in agency_truths:
        # close the regions this agency is outside of (innermost last opened)
        while open_regions and _region_key(agency, open_regions[-1].level) != open_regions[-1].key:
            yield from _summary_truths(open_regions.pop(), seed, error_share, layout)
        level = _level_of(agency)
        if level is not None and share > 0 and random.Random(f"{seed}:{agency.agency_id}:summary").random() < share:
            open_regions.append(_OpenRegion(level, _region_key(agency, level), _summary_agency(agency)))
        for truth in truths:
            if truth.kind == "report":
                for region in open_regions:
                    region.add(truth)
            yield truth
    while open_regions:
        yield from _summary_truths(open_regions.pop(), seed, error_share, layout)
