"""Real DuckDB test databases for the dashboard tests: ``pipeline/schema.sql`` + a handful of hand-made reports.

Every report carries the full cell layout of its edition (like the store writes it): cells not listed are 0,
a listed ``None`` is a blank cell, ``"/"`` is a null marker.  The expected metric values in the tests are worked
out by hand from the numbers below (see the comments).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import duckdb

from pipeline.registry import registry

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
    findings: list[tuple[str, str, str, str]] = field(
        default_factory=list
    )  # (rule, severity, message, scope)


def hand_reports() -> list[HandReport]:
    """Six reports (five current). Hand-computed facts used by tests:

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
            9,
            "甲市司法局",
            2022,
            is_current=False,
            replaced_by=2,
            cells={"t3.new_received.total": 99, "t3.result_total.total": 99},
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
                "t3.carried_over.total": 2,
                "t3.granted.total": 10,
                "t3.not_processed_repeat.total": 6,
                "t3.result_total.total": 16,
                "t3.carry_forward.total": 6,
                "t4.review.upheld": 3,
                "t4.review.corrected": 1,
                "t4.review.total": 4,
            },
            findings=[
                ("XY-1", "warning", "甲市司法局 2022 年上年结转与 2021 年结转下年度不一致", "cross_year")
            ],
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
            findings=[("T3-2", "error", "表三（七）总计 5 ≠ 各项之和 3", "report")],
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
    ]


def _cell_row(key: str, spec: Any) -> tuple[Any, str, bool, str]:
    """(value, raw, blank, status) for a hand-written cell spec."""
    if spec is None:
        return None, "", True, "blank"
    if spec == "/":
        return None, "/", False, "null_marker"
    return spec, str(spec), False, "ok"


def build_db(path: Path, reports: list[HandReport] | None = None, *, empty: bool = False) -> Path:
    """Write a real DuckDB file with the project schema (and the hand-made reports unless ``empty``)."""
    schema = resources.files("pipeline").joinpath("schema.sql").read_text(encoding="utf-8")
    con = duckdb.connect(str(path))
    try:
        con.execute(schema)
        con.execute("INSERT INTO schema_version (version) VALUES (1)")
        if not empty:
            _insert(con, hand_reports() if reports is None else reports)
        con.execute("CHECKPOINT")
    finally:
        con.close()
    return path


def _insert(con: duckdb.DuckDBPyConnection, reports: list[HandReport]) -> None:
    reg = registry()
    for r in reports:
        con.execute(
            """INSERT INTO reports (report_id, sha256, source_path, format, size_bytes, agency, year, edition,
                   t3_layout, province, city, county, level, agency_type, synthetic, n_errors, n_warnings,
                   is_current, replaced_by)
               VALUES (?, ?, ?, ?, 1000, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            [
                r.report_id, f"sha{r.report_id}", f"reports/{r.report_id}_{r.agency}.{r.fmt}", r.fmt, r.agency,
                r.year, r.edition, r.edition, r.province, r.city, r.county, r.level, r.agency_type, r.synthetic,
                r.n_errors, r.n_warnings, r.is_current, r.replaced_by,
            ],
        )  # fmt: skip
        rows = []
        for i, key in enumerate(reg.layout_keys(r.edition)):
            value, raw, blank, status = _cell_row(key, r.cells.get(key, 0))
            rows.append((r.report_id, key, value, raw, blank, status, f"line {100 + i}", None))
        con.executemany(
            "INSERT INTO facts (report_id, key, value, raw, blank, status, loc, confidence)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
        for section, text in r.sections.items():
            con.execute(
                "INSERT INTO sections (report_id, section, heading, text) VALUES (?, ?, ?, ?)",
                [r.report_id, section, text.split("\n")[0], text],
            )
        for rule, severity, message, scope in r.findings:
            con.execute(
                "INSERT INTO findings (report_id, rule, severity, message, keys, scope) VALUES (?, ?, ?, ?, ?, ?)",
                [r.report_id, rule, severity, message, ["t3.result_total.total"], scope],
            )
        con.execute(
            "INSERT INTO ingest_log (source_path, sha256, status, message, report_id) VALUES (?, ?, 'loaded', '', ?)",
            [f"reports/{r.report_id}", f"sha{r.report_id}", r.report_id],
        )
    con.execute(
        "INSERT INTO ingest_log (source_path, status, message) VALUES (?, 'unreadable', ?)",
        ["reports/broken.pdf", "无法读取：文件已损坏"],
    )
