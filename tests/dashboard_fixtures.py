"""Real DuckDB test databases for the dashboard tests: a handful of hand-made reports written through the store's
own migrations and write path (``Database.write``), so the pages are tested on the schema and rows production has.

Every report carries the full cell layout of its edition (like the store writes it): cells not listed are 0,
a listed ``None`` is a blank cell, ``"/"`` is a null marker.  Report ids are assigned by the store in write order
(ascending ``report_id`` here; :func:`build_db` checks each).  Cross-year findings are not written by hand: the
validator computes them from the facts, as on every ingest.  The expected metric values in the tests are worked
out by hand from the numbers below (see the comments).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from pipeline.model import Fact, Finding, Meta, ParseResult
from pipeline.registry import registry
from pipeline.store import Database

EVIL_AGENCY = "<script>alert('x')</script>局'; DROP TABLE reports; --"
EVIL_TEXT = "<script>document.title='pwned'</script> **加粗** [链接](http://example.com) 'quoted' \"dq\""


@dataclass
class HandReport:
    report_id: int
    agency: str
    year: int
    edition: str = "2021"
    province: str | None = "辽宁省"
    city: str | None = "阜新市"
    county: str | None = None
    level: str = "市级"
    agency_type: str = "司法行政"
    synthetic: bool = False
    is_current: bool = True
    replaced_by: int | None = None
    n_errors: int = 0
    n_warnings: int = 0
    fmt: str = "txt"
    cells: dict[str, Any] = field(default_factory=dict)
    sections: dict[str, str] = field(default_factory=dict)
    findings: list[tuple[str, str, str]] = field(default_factory=list)  # (rule, severity, message) of the report


def hand_reports() -> list[HandReport]:
    """Six reports (five current; #6 is a worse copy of #2, kept as history). Hand-computed facts used by tests:

    公开率 2021 = (6+2 [甲 2021] + 0+3 [乙 2021, 予以公开 blank]) / (11 + 5) = 11/16;  2022 = 10/16 (甲 2022)
    新收申请 总计: 2021 = 12 + 5 = 17, 2022 = 20 (+0 from the evil report) → YoY +3, +3/17
    复议纠错率: 甲 2021 1/(3−1); 甲 2022 1/(4−0); 乙 2021 blank 总计 → excluded; pooled 2/6
    """
    return [
        HandReport(
            1,
            "甲市司法局",
            2021,
            cells={
                "t2.regulations.issued": 2,
                "t2.regulations.in_force": 10,
                "t2.admin_fees.amount_wan_yuan": 1.5,
                "t3.new_received.natural_person": 10,
                "t3.new_received.commercial_enterprise": 2,
                "t3.new_received.total": 12,
                "t3.carried_over.total": 1,
                "t3.granted.total": 6,
                "t3.partially_granted.total": 2,
                "t3.denied_state_secret.total": 1,
                "t3.unable_not_held.total": 2,
                "t3.result_total.total": 11,
                "t3.carry_forward.total": 2,
                "t4.review.upheld": 1,
                "t4.review.corrected": 1,
                "t4.review.pending": 1,
                "t4.review.total": 3,
            },
            sections={
                "一": "一、总体情况\n本机关认真贯彻落实。",
                "六": "六、其他需要报告的事项\n未收取信息处理费。",
            },
        ),
        HandReport(
            2,
            "甲市司法局",
            2022,
            n_warnings=1,
            cells={
                "t2.regulations.issued": 1,
                "t2.regulations.in_force": 11,
                "t3.new_received.natural_person": 20,
                "t3.new_received.total": 20,
                "t3.carried_over.natural_person": 2,  # 2021 carried forward 0 for 自然人: an XY-1 warning
                "t3.carried_over.total": 2,
                "t3.granted.total": 10,
                "t3.not_processed_repeat.total": 6,
                "t3.result_total.total": 16,
                "t3.carry_forward.total": 6,
                "t4.review.upheld": 3,
                "t4.review.corrected": 1,
                "t4.review.total": 4,
            },
            findings=[("NARRATIVE", "warning", "正文称受理政府信息公开申请 21 件，表三“本年新收…总计”为 20")],
        ),
        HandReport(
            3,
            "乙县人民政府",
            2021,
            county="彰武县",
            level="县级",
            agency_type="人民政府",
            n_errors=1,
            fmt="html",
            cells={
                "t3.new_received.natural_person": 5,
                "t3.new_received.total": 5,
                "t3.granted.total": None,  # blank cell
                "t3.partially_granted.total": 3,
                "t3.unable_need_creation.total": "/",  # null marker
                "t3.result_total.total": 5,
                "t4.review.total": None,
                "t4.review.corrected": None,
            },
            findings=[("T3-2", "error", "表三（七）总计 5 ≠ 各项之和 3")],
        ),
        HandReport(
            4,
            "丙市自然资源局",
            2020,
            edition="2019",
            province="江苏省",
            city="淮安市",
            agency_type="自然资源",
            synthetic=True,
            fmt="pdf",
            cells={
                "t2.regulations.public_total": 7,
                "t2.admin_license.decisions": 5,
                "t2.admin_fees.prev_year_items": 3,
            },
        ),
        HandReport(
            5,
            EVIL_AGENCY,
            2022,
            province="江苏省",
            city="淮安市",
            agency_type="自然资源",
            sections={"一": EVIL_TEXT, "二": "'; DROP TABLE facts; --"},
        ),
        HandReport(
            6,
            "甲市司法局",
            2022,
            is_current=False,
            replaced_by=2,
            n_errors=1,
            cells={"t3.new_received.total": 99, "t3.result_total.total": 99},
            findings=[("T3-3", "error", "表三“本年新收”行：六类申请人之和为 0，与总计 99 不符")],
        ),
    ]


def _cell_row(spec: Any) -> tuple[Any, str, bool, str]:
    """(value, raw, blank, status) for a hand-written cell spec."""
    if spec is None:
        return None, "", True, "blank"
    if spec == "/":
        return None, "/", False, "null_marker"
    value = Decimal(str(spec)) if isinstance(spec, float) else spec
    return value, str(spec), False, "ok"


def parse_result(r: HandReport) -> ParseResult:
    """The hand-made report as the parser would hand it to the store."""
    facts = {}
    for i, key in enumerate(registry().layout_keys(r.edition)):
        value, raw, blank, status = _cell_row(r.cells.get(key, 0))
        facts[key] = Fact(key, value, raw, blank, f"line {100 + i}", None, status)  # type: ignore[arg-type]
    meta = Meta(agency=r.agency, year=r.year, edition=r.edition, t3_layout=r.edition, province=r.province,
                city=r.city, county=r.county, level=r.level, agency_type=r.agency_type)  # fmt: skip
    findings = [Finding(rule, severity, message, ["t3.result_total.total"]) for rule, severity, message in r.findings]  # type: ignore[arg-type]
    return ParseResult(path=f"reports/{r.report_id}_{r.agency}.{r.fmt}", sha256=f"sha{r.report_id}", format=r.fmt,
                       meta=meta, facts=facts, findings=findings, sections=r.sections, size_bytes=1000)  # fmt: skip


def build_db(path: Path, reports: list[HandReport] | None = None, *, empty: bool = False) -> Path:
    """Write a real DuckDB file through the store's migrations and write path (hand-made reports unless ``empty``)."""
    database = Database(path)
    with database.write() as session:
        if not empty:
            for r in sorted(hand_reports() if reports is None else reports, key=lambda r: r.report_id):
                outcome = session.write(parse_result(r), synthetic=r.synthetic)
                assert outcome.report_id == r.report_id, (outcome, r.report_id)  # ids come in write order
                assert outcome.n_errors == r.n_errors, (outcome, r.n_errors)
            session.add_unreadable("reports/broken.pdf", "无法读取：文件已损坏")
    if empty:
        return path
    stored = database.execute("SELECT report_id, is_current, replaced_by, n_warnings FROM reports ORDER BY 1")
    for r, (rid, current, replaced_by, n_warnings) in zip(
        sorted(hand_reports() if reports is None else reports, key=lambda r: r.report_id), stored, strict=False
    ):
        assert (rid, current, replaced_by, n_warnings) == (r.report_id, r.is_current, r.replaced_by, r.n_warnings), rid
    return path
