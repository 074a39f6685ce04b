"""Reading the copied-text results: rankings for the CLI and 数据质量, one report's marked passages for 报告详情.

Every function takes a read connection and returns polars frames; none of them writes.  They return empty results
(never raise) on a database whose reuse tables do not exist yet (built before copied-text detection, or not
updated since: ``xxgk reuse --update``).
"""

from __future__ import annotations

import duckdb
import polars as pl

from pipeline.filters import Filters

KINDS = ("copied", "previous", "other")  # which share a ranking sorts and thresholds on
KIND_LABELS = {
    "copied": "抄袭比例（合计）",
    "previous": "与本机关上年报告相同",
    "other": "与其他机关同年报告相同",
}
RANKING_LABELS = {
    "report_id": "报告编号", "agency": "机关", "year": "年度", "chars": "正文字数",
    "copied_share": "抄袭比例", "previous_share": "与上年报告相同", "other_share": "与其他机关同年报告相同",
    "common_share": "通用表述", "previous_id": "上年报告", "top_source_id": "最相似的其他机关报告",
    "top_source_agency": "该报告机关", "top_source_share": "与该报告相同的比例",
}  # fmt: skip


def available(con: duckdb.DuckDBPyConnection) -> bool:
    """True when the database has the reuse tables."""
    return (
        con.execute(
            "SELECT count(*) FROM (SELECT table_name AS name FROM duckdb_tables()"
            " UNION ALL SELECT view_name FROM duckdb_views()) WHERE name = 'reuse_reports'"
        ).fetchall()[0][0]
        > 0
    )


def pending(con: duckdb.DuckDBPyConnection) -> int:
    """Current reports not compared yet (0 when up to date; every current report when the tables are missing)."""
    if not available(con):
        return con.execute("SELECT count(*) FROM reports WHERE is_current").fetchall()[0][0]
    return con.execute(
        "SELECT count(*) FROM reports r ANTI JOIN reuse_reports u USING (report_id) WHERE r.is_current"
    ).fetchall()[0][0]


def ranking(
    con: duckdb.DuckDBPyConnection,
    filters: Filters | None = None,
    min_share: float = 0.0,
    kind: str = "copied",
    limit: int = 100,
) -> pl.DataFrame:
    """Reports by copied share (highest first) with their most similar other-agency report."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}")
    if not available(con):
        return pl.DataFrame(schema=list(RANKING_LABELS))
    where, params = (filters or Filters()).where("r")
    params |= {"min_share": float(min_share), "limit": int(limit)}
    return con.sql(
        f"""SELECT r.report_id, r.agency, r.year, u.chars, u.copied_share, u.previous_share, u.other_share,
                   u.common_chars / nullif(u.chars, 0) AS common_share, u.previous_id, u.top_source_id,
                   s.agency AS top_source_agency, u.top_source_chars / nullif(u.chars, 0) AS top_source_share
            FROM reuse_reports u JOIN reports r USING (report_id)
            LEFT JOIN reports s ON s.report_id = u.top_source_id
            WHERE {where} AND u.{kind}_share >= $min_share AND u.chars > 0
            ORDER BY u.{kind}_share DESC, u.copied_chars DESC, r.report_id
            LIMIT $limit""",
        params=params,
    ).pl()


def summary(con: duckdb.DuckDBPyConnection, filters: Filters | None = None) -> dict[str, float | int | None]:
    """Counts for a headline: reports compared, with any copied text, median copied share."""
    if not available(con):
        return {"reports": 0, "with_copies": 0, "over_half": 0, "median_share": None}
    where, params = (filters or Filters()).where("r")
    row = con.sql(
        f"""SELECT count(*), count(*) FILTER (u.copied_share > 0), count(*) FILTER (u.copied_share >= 0.5),
                   median(u.copied_share)
            FROM reuse_reports u JOIN reports r USING (report_id) WHERE {where} AND u.chars > 0""",
        params=params,
    ).fetchall()[0]
    return dict(zip(("reports", "with_copies", "over_half", "median_share"), row, strict=True))


def report_reuse(con: duckdb.DuckDBPyConnection, report_id: int) -> tuple[dict | None, pl.DataFrame]:
    """One report's summary row and its matched passages (section, number → source report and passage)."""
    if not available(con):
        return None, pl.DataFrame()
    rows = con.sql(
        """SELECT u.*, s.agency AS top_source_agency, s.year AS top_source_year
           FROM reuse_reports u LEFT JOIN reports s ON s.report_id = u.top_source_id WHERE u.report_id = $id""",
        params={"id": int(report_id)},
    ).pl()
    passages = con.sql(
        """SELECT p.section, p.number, p.common, m.kind, m.source_id, r.agency AS source_agency,
                  r.year AS source_year, sp.section AS source_section, sp.number AS source_number, m.similarity
           FROM reuse_passages p
           JOIN reuse_matches m USING (report_id, pno)
           JOIN reports r ON r.report_id = m.source_id
           JOIN reuse_passages sp ON sp.report_id = m.source_id AND sp.pno = m.source_pno
           WHERE p.report_id = $id AND NOT p.common
           ORDER BY p.pno, m.kind DESC, m.similarity DESC, m.source_id""",
        params={"id": int(report_id)},
    ).pl()
    return (rows.row(0, named=True) if rows.height else None), passages
