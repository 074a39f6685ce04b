"""What an agency's report card shows for one year, gathered from the metrics package's building blocks.

- the report itself (:func:`pipeline.metrics.records.report_detail`): every cell with its source (text, status,
  location), derived totals with their parts, findings (the report's own, cross-year and SUM-1);
- its rates this year and in its own earlier years (:func:`pipeline.metrics.aggregate.per_report` over the agency),
  and against its **peer group** — same agency type and level, inside the sidebar's region and quality filters,
  the agency included, summary reports never (:func:`pipeline.metrics.aggregate.aggregate` pooled, and the rank of
  :func:`pipeline.metrics.queries.peer_ranking`); every rate under the small-number guard (``filters.min_n``);
- its publication date and timeliness (:mod:`pipeline.published`);
- the copied-text shares (:mod:`pipeline.reuse`: same as the agency's previous report, as other agencies' reports of
  the same year), where the database has been compared.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any

import duckdb
import polars as pl

from pipeline.filters import Filters
from pipeline.labels import STATUS_LABELS, TABLE_NAMES
from pipeline.metrics.aggregate import aggregate, per_report
from pipeline.metrics.catalogue import metric
from pipeline.metrics.queries import peer_ranking
from pipeline.metrics.records import report_detail
from pipeline.metrics.sql import run, selected_cte
from pipeline.published import deadline, timeliness
from pipeline.registry import registry

CARD_COUNTS = ("count.t3.new_received.total", "count.t3.result_total.total", "count.t3.carry_forward.total",
               "count.t4.review.total", "count.t4.suit_direct.total", "count.t4.suit_after_review.total")  # fmt: skip
CARD_RATES = ("rate.disclosure", "share.unable", "share.denied", "rate.correction.review",
              "rate.correction.suit_direct")  # fmt: skip
CHART_RATE = "rate.disclosure"


@dataclass
class RateRow:
    key: str
    name: str
    formula: str
    value: float | None  # None when not computable or guarded
    numerator: float | None
    denominator: float | None
    guarded: bool
    state: str  # counted / a left-out reason
    peer_value: float | None
    peer_guarded: bool
    peer_reports: int
    peer_left_out: int
    rank: int | None
    group_size: int | None
    # year → (value, numerator, denominator, guarded) of the agency's own earlier (and this) years
    history: dict[int, tuple[float | None, float | None, float | None, bool]] = field(default_factory=dict)


@dataclass
class CardData:
    agency: str
    year: int
    report: dict[str, Any]
    cells: pl.DataFrame  # every cell: table, label, value, raw, status, loc, derived value / parts
    counts: pl.DataFrame  # headline counts per year (the agency's own)
    rates: list[RateRow]
    peer_series: pl.DataFrame  # CHART_RATE pooled over the peer group per year
    findings: pl.DataFrame
    timeliness: str
    deadline: date
    copied: dict[str, Any] | None
    filters: Filters
    data_date: datetime | None
    peer_label: str
    peer_synthetic: int = 0  # synthetic reports among the peer group's reports of the year (the card says so)

    @property
    def synthetic(self) -> bool:
        return bool(self.report.get("synthetic"))


def card_choices(con: duckdb.DuckDBPyConnection, filters: Filters) -> pl.DataFrame:
    """(agency, year) pairs with a current report in the selection, newest year first."""
    where, params = filters.where("r")
    return run(con, f"""SELECT agency, year, report_id FROM reports r WHERE {where} AND agency IS NOT NULL
                        AND year IS NOT NULL ORDER BY agency, year DESC""", params)  # fmt: skip


def _cells(detail: dict[str, Any]) -> pl.DataFrame:
    reg = registry()
    facts = detail["facts"].filter(pl.col("status") != "not_in_layout")
    derived = detail["derived"].select("key", pl.col("value").alias("derived_value"),
                                       pl.col("sources").list.join(" + ").alias("derived_from"))  # fmt: skip
    order = {k: i for i, k in enumerate(reg.by_key)}
    return (
        facts.join(derived, on="key", how="left")
        .with_columns(
            pl.col("key").replace_strict({k: TABLE_NAMES[f.table] for k, f in reg.by_key.items()}, default="").alias("table"),
            pl.col("key").replace_strict({k: f.label for k, f in reg.by_key.items()}, default=pl.col("key")).alias("label"),
            pl.col("status").replace_strict(STATUS_LABELS, default=pl.col("status")).alias("status_label"),
            pl.col("key").replace_strict(order, default=None, return_dtype=pl.Int64).alias("_o"),
        )
        .sort("_o").drop("_o")
        .select("key", "table", "label", "value", "raw", "status", "status_label", "loc", "page", "derived_value",
                "derived_from")
    )  # fmt: skip


def copied_text(con: duckdb.DuckDBPyConnection, report_id: int) -> dict[str, Any] | None:
    """The report's copied-text shares (issue 13 part 2: :func:`pipeline.reuse.queries.report_reuse`): None when the
    database has no copied-text tables, {} when this report has not been compared yet."""
    from pipeline.reuse.queries import available, report_reuse

    if not available(con):
        return None
    row, _passages = report_reuse(con, int(report_id))
    if row is None:
        return {}
    return {k: row.get(k) for k in ("copied_share", "previous_share", "other_share", "top_source_agency",
                                    "top_source_year")}  # fmt: skip


def _rate_rows(con: duckdb.DuckDBPyConnection, own: pl.DataFrame, peers: Filters, year: int, agency: str,
               min_n: int) -> list[RateRow]:  # fmt: skip
    pooled = aggregate(con, replace(peers, years=(year,)), list(CARD_RATES), by=())
    out = []
    for key in CARD_RATES:
        m = metric(key)
        mine = own.filter(pl.col("metric") == key)
        history = {
            int(r["year"]): (r["value"], r["numerator"], r["denominator"],
                             r["value"] is not None and (r["denominator"] or 0) < min_n)
            for r in mine.iter_rows(named=True) if r["year"] is not None
        }  # fmt: skip
        this = mine.filter(pl.col("year") == year)
        row: dict[str, Any] = this.row(0, named=True) if not this.is_empty() else {"value": None, "numerator": None,
                                                                      "denominator": None, "state": "no_table"}  # fmt: skip
        guarded = row["value"] is not None and (row["denominator"] or 0) < min_n
        peer = pooled.filter(pl.col("metric") == key)
        p: dict[str, Any] = peer.row(0, named=True) if not peer.is_empty() else {"value": None, "denominator": None,
                                                                    "n_reports": 0, "n_left_out": 0}  # fmt: skip
        ranking = peer_ranking(con, peers, key, year).filter(pl.col("agency") == agency)
        rank: dict[str, Any] = (
            ranking.row(0, named=True) if not ranking.is_empty() else {"rank": None, "group_size": None}
        )
        out.append(RateRow(
            key, m.name, m.formula, None if guarded else row["value"], row["numerator"], row["denominator"], guarded,
            row["state"], p["value"] if (p["denominator"] or 0) >= min_n else None,
            p["value"] is not None and (p["denominator"] or 0) < min_n, int(p["n_reports"] or 0),
            int(p["n_left_out"] or 0), rank["rank"], rank["group_size"], history,
        ))  # fmt: skip
    return out


def card_data(con: duckdb.DuckDBPyConnection, filters: Filters, agency: str, year: int) -> CardData | None:
    """Everything the card of ``agency`` for ``year`` shows; None when the agency has no current report that year."""
    found = run(con, "SELECT report_id FROM reports WHERE is_current AND agency = $a AND year = $y",
                {"a": agency, "y": int(year)})  # fmt: skip
    if found.is_empty():
        return None
    detail = report_detail(con, int(found["report_id"][0]))
    assert detail is not None
    report = detail["report"]
    own_filters = Filters(agencies=(agency,), min_n=filters.min_n, panel="all", include_summaries=True)
    own = per_report(con, own_filters, [*CARD_COUNTS, *CARD_RATES])
    peers = replace(filters, agencies=(), years=(), agency_types=(report["agency_type"],) if report["agency_type"] else (),
                    levels=(report["level"],) if report["level"] else (), include_summaries=False, panel="all")  # fmt: skip
    peer_series = aggregate(con, peers, [CHART_RATE], by=("year",))
    counts = own.filter(pl.col("metric").is_in(CARD_COUNTS)).select("year", "metric", "value", "state")
    where = "、".join(v for v in (filters.province, filters.city, filters.county) if v) or "全国"
    loaded = run(con, "SELECT max(loaded_at) AS d FROM reports", {})
    sel, params = selected_cte(replace(peers, years=(int(year),)), for_sums=True)
    peer_synthetic = con.sql(f"WITH {sel} SELECT count(*) FILTER (WHERE synthetic) FROM sel",
                             params=params or None).fetchall()[0][0]  # fmt: skip
    return CardData(
        agency=agency, year=int(year), report=report, cells=_cells(detail), counts=counts,
        rates=_rate_rows(con, own, peers, int(year), agency, filters.min_n), peer_series=peer_series,
        findings=detail["findings"], timeliness=timeliness(report.get("published"), int(year)),
        deadline=deadline(int(year)), copied=copied_text(con, int(report["report_id"])), filters=filters,
        data_date=loaded["d"][0] if not loaded.is_empty() else None,
        peer_label=f"{report['agency_type'] or '（未识别类型）'} · {report['level'] or '（未识别层级）'} · {where}",
        peer_synthetic=int(peer_synthetic),
    )  # fmt: skip
