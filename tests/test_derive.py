"""Derived totals (pipeline/derive.py): a blank 总计 computed from its parts, with provenance — never over the source."""

from __future__ import annotations

from decimal import Decimal

from pipeline.derive import derive, derived_finding, is_total
from pipeline.model import Fact
from pipeline.parse import parse_file
from pipeline.registry import registry
from tests.dashboard_fixtures import SPARSE_REPORT, t3_cells

APPLICANTS = ("natural_person", "commercial_enterprise", "research_institution", "public_interest_org",
              "legal_service_org", "other_org")  # fmt: skip


def facts_of(cells: dict[str, object], edition: str = "2021") -> dict[str, Fact]:
    """Facts of a full layout: listed cells as given (None = blank, "/" = null marker, "?" = not located)."""
    out = {}
    for key in registry().layout_keys(edition):
        v = cells.get(key, 0)
        if v is None:
            out[key] = Fact(key, None, "", True, status="blank")
        elif v == "/":
            out[key] = Fact(key, None, "/", False, status="null_marker")
        elif v == "?":
            out[key] = Fact(key, None, None, False, status="missing")
        else:
            out[key] = Fact(key, v, str(v), False)
    return out


def test_row_total_from_the_applicant_columns():
    cells = t3_cells(
        {"natural_person": {"new_received": 7, "granted": 4}, "other_org": {"new_received": 1, "granted": 1}}
    )
    cells["t3.granted.total"] = None
    cells["t3.partially_granted.total"] = "/"
    derived = derive(facts_of(cells), "2021", "2021")
    d = derived["t3.granted.total"]
    assert (d.value, d.method) == (5, "row_sum")  # 4 + 1, worked out by hand
    assert d.sources == tuple(f"t3.granted.{c}" for c in APPLICANTS)
    assert derived["t3.partially_granted.total"].value == 0  # a "/" total over printed zeros
    assert "t3.new_received.total" not in derived  # printed: nothing to derive


def test_a_blank_part_counts_zero_an_unlocated_one_blocks():
    cells = t3_cells({"natural_person": {"granted": 3}})
    cells.update({"t3.granted.total": None, "t3.granted.other_org": None})
    assert derive(facts_of(cells), "2021", "2021")["t3.granted.total"].value == 3
    cells["t3.granted.other_org"] = "?"
    assert "t3.granted.total" not in derive(facts_of(cells), "2021", "2021")


def test_a_wholly_blank_row_is_zero_only_when_the_total_leaves_nothing_for_it():
    cells = t3_cells({"natural_person": {"new_received": 6, "granted": 6}})
    for c in (*APPLICANTS, "total"):
        cells[f"t3.denied_state_secret.{c}"] = None
    derived = derive(facts_of(cells), "2021", "2021")
    d = derived["t3.denied_state_secret.total"]
    assert (d.value, d.method) == (0, "remainder_zero")
    assert d.sources[0] == "t3.result_total.total"
    cells["t3.result_total.total"] = 7  # one request unaccounted for: the blank row is not known to be 0
    assert "t3.denied_state_secret.total" not in derive(facts_of(cells), "2021", "2021")


def test_t4_group_total_and_nothing_to_derive_from():
    cells = {"t4.review.upheld": 2, "t4.review.corrected": 1, "t4.review.pending": 1, "t4.review.total": None}
    cells |= {f"t4.suit_direct.{c}": None for c in ("upheld", "corrected", "other", "pending", "total")}
    derived = derive(facts_of(cells), "2021", "2021")
    assert derived["t4.review.total"].value == 4 and derived["t4.review.total"].method == "group_sum"
    assert "t4.suit_direct.total" not in derived  # all five blank: nothing says what the total is


def test_result_total_from_the_outcome_rows():
    cells = t3_cells({"natural_person": {"new_received": 3, "granted": 2, "unable_not_held": 1}})
    for c in (*APPLICANTS, "total"):
        cells[f"t3.result_total.{c}"] = None
    derived = derive(facts_of(cells), "2021", "2021")
    assert derived["t3.result_total.total"].value == 3
    assert derived["t3.result_total.total"].method == "column_sum"


def test_legacy_and_non_reports_derive_nothing():
    assert derive({}, None, None) == {} and derive({}, "legacy", None) == {}
    assert derived_finding({}) is None


def test_is_total():
    assert is_total("t3.granted.total") and is_total("t4.review.total")
    assert not is_total("t3.granted.natural_person") and not is_total("t2.regulations.issued")


def test_parse_json_lists_the_derived_totals_and_keeps_the_source_blank():
    """The hand-typed report with 总计 only on rows 一, 二, （七）, 四 and a blank 表四 总计."""
    result = parse_file(SPARSE_REPORT)
    out = result.to_json()
    assert out["facts"]["t3.granted.total"] is None  # the source cell stays blank
    assert out["derived"]["t3.granted.total"] == {
        "value": 16,
        "from": [f"t3.granted.{c}" for c in APPLICANTS],
        "method": "row_sum",
    }  # 12+3+0+0+1+0
    assert out["derived"]["t4.review.total"]["value"] == 4  # 2 + 1 + 0 + 1
    assert len(out["derived"]) == 22  # 21 outcome rows of the 2021 layout + 行政复议
    note = [f for f in out["findings"] if f["rule"] == "DERIVED"]
    assert len(note) == 1 and note[0]["severity"] == "info" and set(note[0]["keys"]) == set(out["derived"])
    assert not [f for f in result.findings if f.severity == "error"]
    assert isinstance(result.derived["t3.granted.total"].value, int | Decimal)


def test_migration_3_derives_the_totals_of_reports_already_stored(tmp_path):
    """A database from before derived totals gets them at its next write (the migration backfills them)."""
    import duckdb

    from pipeline.store import Database
    from pipeline.store.schema import MIGRATIONS, migrate

    db = tmp_path / "old.duckdb"
    con = duckdb.connect(str(db))
    migrate(con, MIGRATIONS[:2])
    con.execute("INSERT INTO reports (report_id, sha256, source_path, format, agency, year, edition, t3_layout) "
                "VALUES (1, 'x', 'x.txt', 'txt', '甲市司法局', 2023, '2021', '2021')")  # fmt: skip
    rows = [(1, k, v, "" if v is None else str(v), v is None, "blank" if v is None else "ok")
            for k, v in facts_values({"t3.granted.natural_person": 4, "t3.granted.other_org": 1,
                                      "t3.granted.total": None}).items()]  # fmt: skip
    con.executemany("INSERT INTO facts (report_id, key, value, raw, blank, status) VALUES (?, ?, ?, ?, ?, ?)", rows)
    con.close()
    Database(db).migrate()
    assert Database(db).execute("SELECT report_id, key, CAST(value AS INTEGER), method FROM derived") == [
        (1, "t3.granted.total", 5, "row_sum")
    ]  # 4 + 1


def facts_values(cells: dict[str, object]) -> dict[str, object]:
    return {k: cells.get(k, 0) for k in registry().layout_keys("2021")}
