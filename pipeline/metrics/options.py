"""What the filter widgets offer: short distinct lists, and agencies found by typing part of a name.

At national scale there are hundreds of thousands of agencies, so no page ever receives the whole agency list.
:func:`filter_options` returns only lists bounded by the country's shape (years, provinces, levels, agency types,
editions, the province → city → county triples) and, of the agencies, only those a link named that exist.
:func:`search_agencies` is what a page asks while the user types: the first ``limit`` agencies whose name contains
every typed term, exact name first, then names that start with it, then by how many reports an agency filed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from typing import Any

import duckdb
import polars as pl

from pipeline.filters import Filters
from pipeline.metrics.named import named_query

SEARCH_LIMIT = 20  # agencies offered per search (what a page sends to the browser)
MAX_SEARCH_LIMIT = 200
MAX_TERMS = 5  # typed words, each must occur in the name
MAX_TERM_CHARS = 40
OPTION_COLUMNS = ("year", "province", "level", "agency_type", "edition")


def filter_options(con: duckdb.DuckDBPyConnection, agencies: Iterable[str] = ()) -> dict[str, list[Any]]:
    """Distinct values the sidebar offers (over current reports), and ``agency``: those of ``agencies`` (a link's)
    that have a current report — never every agency.  ``regions`` holds the (province, city, county) triples."""
    out: dict[str, list[Any]] = {}
    for column in OPTION_COLUMNS:
        out[column] = [
            r[0]
            for r in con.execute(
                f"SELECT DISTINCT {column} FROM reports WHERE is_current AND {column} IS NOT NULL ORDER BY {column}"
            ).fetchall()
        ]
    out["agency"] = known_agencies(con, agencies)
    out["regions"] = con.execute(
        "SELECT DISTINCT province, city, county FROM reports WHERE is_current AND province IS NOT NULL"
    ).fetchall()
    return out


def known_agencies(con: duckdb.DuckDBPyConnection, names: Iterable[str], filters: Filters | None = None) -> list[str]:
    """The names among ``names`` that an agency with a current report carries, in the order given (with
    ``filters``: a report in that selection, its own agency choice aside)."""
    wanted = list(dict.fromkeys(str(n) for n in names if n))
    if not wanted:
        return []
    where, params = replace(filters or Filters(), agencies=()).where("r")
    found = {
        r[0]
        for r in con.sql(
            f"SELECT DISTINCT agency FROM reports r WHERE {where} AND agency IN (SELECT unnest($names::VARCHAR[]))",
            params={**params, "names": wanted},
        ).fetchall()
    }
    return [n for n in wanted if n in found]


def search_terms(text: str | None) -> list[str]:
    """The words of a typed search (blank-separated, at most :data:`MAX_TERMS`, each cut to a bounded length)."""
    words = (text or "").replace("\u3000", " ").split()
    return list(dict.fromkeys(w[:MAX_TERM_CHARS] for w in words))[:MAX_TERMS]


@named_query(lambda s: {"": ("",), "typed": (s.agency[:2],)})
def search_agencies(
    con: duckdb.DuckDBPyConnection, filters: Filters | None, text: str | None, limit: int = SEARCH_LIMIT
) -> pl.DataFrame:
    """Agencies whose name contains every typed word, among the current reports the filters select (their own
    agency choice aside): at most ``limit`` rows, best first.

    Ranked: the exact name, then names starting with the first word, then the most reports, the shortest name.
    With nothing typed, the agencies with the most reports.  Columns: ``agency``, ``n_reports``, ``n_matches`` (how
    many agencies match in all, on every row).  One grouped scan of ``reports``: 12–51 ms of CPU at 1 M reports
    (docs/benchmarks.md, 「筛选条件」).
    """
    limit = max(1, min(int(limit), MAX_SEARCH_LIMIT))
    terms = search_terms(text)
    where, params = replace(filters or Filters(), agencies=()).where("r")
    params = {**params, "q_text": " ".join(terms), "q_first": terms[0] if terms else ""}
    for i, term in enumerate(terms):
        where += f" AND contains(r.agency, $q_{i})"
        params[f"q_{i}"] = term
    sql = f"""WITH hits AS (
            SELECT r.agency, count(*) AS n_reports FROM reports r WHERE {where} AND r.agency IS NOT NULL
            GROUP BY r.agency)
        SELECT agency, n_reports, count(*) OVER () AS n_matches FROM hits
        ORDER BY agency = $q_text DESC, starts_with(agency, $q_first) DESC, n_reports DESC, length(agency), agency
        LIMIT {limit}"""
    return con.sql(sql, params=params).pl()


@named_query()
def selection_years(con: duckdb.DuckDBPyConnection, filters: Filters) -> list[int]:
    """The years with a current report in the selection, newest first."""
    where, params = filters.where("r")
    rows = con.sql(
        f"SELECT DISTINCT year FROM reports r WHERE {where} AND year IS NOT NULL ORDER BY year DESC",
        params=params or None,
    ).fetchall()
    return [int(r[0]) for r in rows]


@named_query(lambda s: {"": (s.agency,), "unnamed": (None,)})
def agency_reports(
    con: duckdb.DuckDBPyConnection, filters: Filters, agency: str | None, limit: int = 1000
) -> pl.DataFrame:
    """Every stored version of one agency's reports in the selection (its own agency choice aside), newest year
    first, current version first; ``agency`` None: the reports whose agency was not recognised (at most ``limit``)."""
    where, params = replace(filters, agencies=()).where("r", current_only=False)
    if agency is None:
        where += " AND r.agency IS NULL"
    else:
        where += " AND r.agency = $agency"
        params = {**params, "agency": agency}
    return con.sql(
        f"""SELECT report_id, agency, year, is_current FROM reports r WHERE {where}
            ORDER BY year DESC NULLS LAST, is_current DESC, report_id DESC LIMIT {max(1, int(limit))}""",
        params=params or None,
    ).pl()


@named_query()
def has_unnamed_reports(con: duckdb.DuckDBPyConnection, filters: Filters) -> bool:
    """Whether the selection holds a report whose agency was not recognised (reachable on 报告详情 only)."""
    where, params = replace(filters, agencies=()).where("r", current_only=False)
    return bool(con.sql(f"SELECT EXISTS (SELECT 1 FROM reports r WHERE {where} AND r.agency IS NULL)",
                        params=params or None).fetchall()[0][0])  # fmt: skip
