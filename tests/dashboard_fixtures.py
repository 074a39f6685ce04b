"""Real DuckDB test databases for the dashboard tests, built the way production builds them.

Each hand-made report below is written as a real report document (the generator's text, HTML or PDF renderer, no
noise) and loaded with :func:`pipeline.ingest.ingest` — reader, matcher, validator, derived totals, the store's
migrations and writer — with a manifest for agency, region and the synthetic flag.  Beside them sits
``tests/fixtures/dashboard/sparse_totals_2023.txt``, a report typed by hand in the style of agencies that print
表三's 总计 only on rows 一, 二, （七） and 四 (and leave a 表四 总计 blank).

Cells not listed in a report are 0; ``None`` is a blank cell and ``"/"`` a null marker.  The expected metric values
in the tests are worked out by hand from the numbers below (see the comments), never from the code under test.
"""

from __future__ import annotations

import csv
import json
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.dashboard import plotly_view
from pipeline.dashboard.pages import page
from pipeline.generator.numbers import ReportTruth
from pipeline.generator.renderers import render
from pipeline.generator.universe import Agency
from pipeline.ingest import ingest
from pipeline.model import ParseResult
from pipeline.parse import parse_file
from pipeline.registry import T3_COLUMNS_ORDER, T4_COLUMNS_ORDER, registry
from pipeline.store import Database

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "dashboard"
SPARSE_REPORT = FIXTURES / "sparse_totals_2023.txt"
SPARSE_AGENCY = "丁市人力资源和社会保障局"
EVIL_AGENCY = "<script>alert('x')</script>局'; DROP TABLE reports; --"
EVIL_TEXT = "<script>document.title='pwned'</script> **加粗** [链接](http://example.com) 'quoted' \"dq\""
FORMULA_AGENCY = '=HYPERLINK("http://evil.example","点我")局'
APPLICANTS = T3_COLUMNS_ORDER[:-1]
FLOW = ("new_received", "carried_over", "result_total", "carry_forward")


@dataclass
class HandReport:
    name: str  # file stem
    agency: str
    year: int
    region: str
    edition: str = "2021"
    layout: str = "pdftext-tabs"  # the generator's renderer: pdftext-tabs (txt), html, pdf-text
    synthetic: bool = False
    t3: dict[str, dict[str, int]] = field(default_factory=dict)  # applicant column → row → count
    cells: dict[str, Any] = field(default_factory=dict)  # any other cell (overrides the computed 表三 too)
    sections: dict[str, str] = field(default_factory=dict)  # extra text under a section heading


def t3_cells(columns: dict[str, dict[str, int]], t3_layout: str = "2021") -> dict[str, int]:
    """A consistent 表三 from per-column counts: 总计 per row, （七） per column, carry_forward by T3-1."""
    reg = registry()
    rows = [r for r, _l, _b in reg.rows("t3", t3_layout)]
    out: dict[str, int] = {}
    for col in APPLICANTS:
        given = columns.get(col, {})
        for row in rows:
            if row not in ("result_total", "carry_forward"):
                out[f"t3.{row}.{col}"] = given.get(row, 0)
        out[f"t3.result_total.{col}"] = sum(out[f"t3.{r}.{col}"] for r in rows if r not in FLOW)
        out[f"t3.carry_forward.{col}"] = (
            out[f"t3.new_received.{col}"] + out[f"t3.carried_over.{col}"] - out[f"t3.result_total.{col}"]
        )
    for row in rows:
        out[f"t3.{row}.total"] = sum(out[f"t3.{row}.{c}"] for c in APPLICANTS)
    return out


def hand_reports() -> list[HandReport]:
    """Six current reports and one replaced version. Hand-computed facts used by tests:

    公开率 2021 = (6+2 [甲] + 2+3 [乙: 予以公开 总计 blank, derived 2 from 自然人 2]) ÷ (11 + 5) = 13/16;
    2022 = 10/16 (甲); 2023 = (16+6)/55 (丁, every outcome 总计 derived); 2020: 丙's （七）总计 is 0 → left out.
    新收申请 总计: 2021 = 12 + 5 = 17, 2022 = 20 (+0 from the evil report), 2023 = 54.
    复议纠错率: 甲 2021 1/(3−1); 甲 2022 1/(4−0); 乙 2021 all five blank → left out (cannot be derived);
    丁 2023 1/(4−1) with 总计 derived 4 = 2+1+0+1.
    """
    return [
        HandReport(
            "jia_2021",
            "甲市司法局",
            2021,
            "辽宁省阜新市",
            t3={
                "natural_person": {
                    "new_received": 10,
                    "carried_over": 1,
                    "granted": 5,
                    "partially_granted": 2,
                    "denied_state_secret": 1,
                    "unable_not_held": 1,
                },
                "commercial_enterprise": {"new_received": 2, "granted": 1, "unable_not_held": 1},
            },
            cells={
                "t2.regulations.issued": 2,
                "t2.regulations.in_force": 10,
                "t2.admin_fees.amount_wan_yuan": 1.5,
                "t4.review.upheld": 1,
                "t4.review.corrected": 1,
                "t4.review.pending": 1,
                "t4.review.total": 3,
            },
            sections={"六": "未收取信息处理费。"},
        ),  # fmt: skip
        HandReport(
            "jia_2022_v1",
            "甲市司法局",
            2022,
            "辽宁省阜新市",
            t3={"natural_person": {"new_received": 99, "granted": 99}},
        ),
        HandReport(
            "jia_2022",
            "甲市司法局",
            2022,
            "辽宁省阜新市",
            # 上年结转 3 against 2021's 结转下年度 2: a cross-year warning (XY-1), in 自然人 and in 总计
            t3={"natural_person": {"new_received": 20, "carried_over": 3, "granted": 10, "not_processed_repeat": 6}},
            cells={
                "t2.regulations.issued": 1,
                "t2.regulations.in_force": 11,
                "t4.review.upheld": 3,
                "t4.review.corrected": 1,
                "t4.review.total": 4,
            },
        ),  # fmt: skip
        HandReport(
            "yi_2021",
            "乙县人民政府",
            2021,
            "辽宁省阜新市彰武县",
            layout="html",
            t3={"natural_person": {"new_received": 5, "granted": 2, "partially_granted": 3}},
            cells={
                "t3.granted.total": None,  # blank 总计, derived 2 from the 自然人 column
                "t3.unable_need_creation.total": "/",  # a null marker, derived 0
                **{f"t4.review.{c}": None for c in T4_COLUMNS_ORDER},  # nothing to derive from
                "t4.suit_direct.upheld": 1,
            },  # 总计 0 ≠ 1: a T4-1 error
        ),  # fmt: skip
        HandReport(
            "bing_2020",
            "丙市自然资源局",
            2020,
            "江苏省淮安市",
            edition="2019",
            layout="pdf-text",
            synthetic=True,
            cells={
                "t2.regulations.public_total": 7,
                "t2.admin_license.decisions": 5,
                "t2.admin_fees.prev_year_items": 3,
            },
        ),  # fmt: skip
        HandReport(
            "evil_2022",
            EVIL_AGENCY,
            2022,
            "江苏省淮安市",
            sections={"一": EVIL_TEXT, "二": "'; DROP TABLE facts; --"},
        ),
    ]


def _agency(r: HandReport) -> Agency:
    return Agency(
        agency_id=r.name, name=r.agency, level="市级", agency_type="", province="", city=None, county=None,
        region_code="", volume=1, licenses=1, penalties=1, is_government=False, url="",
    )  # fmt: skip


def _document(r: HandReport) -> tuple[bytes, str]:
    """The report rendered as a clean document (the generator's renderer, no noise)."""
    reg = registry()
    facts: dict[str, Any] = dict.fromkeys(reg.layout_keys(r.edition), 0)
    facts.update(t3_cells(r.t3, r.edition))
    texts: dict[str, str] = {}
    for key, value in r.cells.items():
        if value == "/":
            facts[key], texts[key] = None, "/"
        else:
            facts[key] = value
    truth = ReportTruth(
        _agency(r), r.year, "report", r.edition, r.edition, facts=facts, texts=texts, layout=r.layout, noise=0,
        compact=True, narrative={"received": facts["t3.new_received.total"]},
    )  # fmt: skip
    data, ext = render(truth, random.Random(r.name))
    for numeral, text in r.sections.items():
        data = _add_to_section(data, numeral, text, ext)
    return data, ext


def _add_to_section(data: bytes, numeral: str, text: str, ext: str) -> bytes:
    """Put ``text`` right under section ``numeral``'s heading (the line that starts with it)."""
    if ext != "txt":
        raise ValueError("section text can be added to text reports only")
    lines = data.decode("utf-8").split("\n")
    at = next(i for i, line in enumerate(lines) if line.strip().startswith(f"{numeral}、"))
    lines[at + 1 : at + 1] = ["", text, ""]
    return "\n".join(lines).encode("utf-8")


def parse_result(r: HandReport) -> ParseResult:
    """A hand report parsed as ``xxgk ingest`` would parse it (rendered, then read back through the parser)."""
    data, ext = _document(r)
    result = parse_file(f"{r.name}.{ext}", data, overrides={"agency": r.agency, "year": r.year, "region": r.region})
    return result


def write_reports(folder: Path, reports: list[HandReport], *, with_sparse: bool = True) -> Path:
    """Write the reports (and the hand-typed sparse-totals report) and their manifest into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    manifest = folder / "manifest.csv"
    with manifest.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["path", "agency", "year", "region", "url", "synthetic"])
        for r in reports:
            data, ext = _document(r)
            (folder / f"{r.name}.{ext}").write_bytes(data)
            writer.writerow([f"{r.name}.{ext}", r.agency, r.year, r.region, "", str(r.synthetic).lower()])
        if with_sparse:
            writer.writerow([SPARSE_REPORT.name, SPARSE_AGENCY, 2023, "辽宁省阜新市", "", "false"])
    if with_sparse:
        (folder / SPARSE_REPORT.name).write_bytes(SPARSE_REPORT.read_bytes())
        (folder / "broken.pdf").write_bytes(b"%PDF-1.4\n% a damaged file: no objects, no pages\n")
    return manifest


def build_db(path: Path, reports: list[HandReport] | None = None, *, empty: bool = False) -> Path:
    """A real database at ``path``: migrated schema, and (unless ``empty``) the reports ingested.

    Files named ``*_v1`` are ingested first, so the next version of the same agency and year replaces them.
    The default set also holds the hand-typed sparse-totals report and an unreadable file.
    """
    Database(path).migrate()
    if empty:
        return path
    folder = path.parent / f"{path.stem}_reports"
    manifest = write_reports(folder, hand_reports() if reports is None else reports, with_sparse=reports is None)
    first = sorted(folder.glob("*_v1.*"))
    if first:
        ingest(first, db=path, manifest=manifest)
    ingest([p for p in sorted(folder.iterdir()) if p not in first and p != manifest], db=path, manifest=manifest)
    return path


def report_id(db: Path, agency: str, year: int, current: bool = True) -> int:
    """The id the ingest gave a report (ids follow the order of ingest)."""
    rows = Database(db).execute(
        "SELECT report_id FROM reports WHERE agency = ? AND year = ? AND is_current = ?", [agency, year, current]
    )
    assert len(rows) == 1, (agency, year, rows)
    return int(rows[0][0])


_BUILT: dict[str, Path] = {}


def shared_db(tmp_path_factory: Any, *, empty: bool = False) -> Path:
    """The hand-made database (or an empty one), built once per test process and shared read-only.

    Tests that write to a database build their own with :func:`build_db`.
    """
    name = "empty" if empty else "hand"
    base = str(tmp_path_factory.getbasetemp())
    key = f"{base}:{name}"
    if key not in _BUILT:
        folder = tmp_path_factory.mktemp(f"shared_{name}")
        _BUILT[key] = build_db(folder / f"{name}.duckdb", empty=empty)
    return _BUILT[key]


APP = str(Path(__file__).resolve().parents[1] / "app.py")


def open_page(monkeypatch: Any, db: Path, key: str, query: dict[str, Any] | None = None) -> Any:
    """The page ``key`` opened from a link (its first run is that page, as in a fresh browser tab): an AppTest."""
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("XXGK_DB", str(db))
    at = AppTest.from_file(APP, default_timeout=60)
    for k, v in (query or {}).items():
        at.query_params[k] = v
    if not page(key).default:
        at.switch_page(page(key).file)
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def figures(node: Any) -> list[dict[str, Any]]:
    """The plotly figures under ``node`` (an AppTest, a tab …) in page order, as plotly JSON: those drawn by the
    dashboard's plotly component (:mod:`pipeline.dashboard.plotly_view`) and any drawn by ``st.plotly_chart``."""
    out = []
    for element in node:
        if element.type == "bidi_component" and element.proto.component_name == plotly_view.COMPONENT:
            out.append(json.loads(json.loads(element.proto.json)["figure"]))
        elif element.type == "plotly_chart":
            out.append(json.loads(element.proto.spec))
    return out
