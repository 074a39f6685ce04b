"""Copied text in the dashboard: the 数据质量 view (ranking, threshold filter, CSV) and 报告详情's marked sections.

Report text is untrusted: it reaches the page only as ``st.text`` and dataframe cells (the copied sentences are
listed beside their section with their sources); links are built from report ids and section numerals only.
"""

from __future__ import annotations

import polars as pl
import streamlit as st

from pipeline import narrative
from pipeline.dashboard import ui
from pipeline.dashboard.data import query
from pipeline.filters import Filters
from pipeline.reuse.queries import KIND_LABELS, KINDS, RANKING_LABELS, ranking, report_reuse, summary
from pipeline.search.export import report_link, safe_csv_bytes

MATCH_KINDS = {"previous": "与本机关上年报告相同", "other": "与其他机关同年报告相同"}
EXPLAIN = (
    "按句比对正文（一至六部分的文字，不含统计表）：每句与本机关上一年度报告、其他机关同年度报告比较，"
    "统一年份数字和本机关名称后字符三元组相似度 ≥ 0.6 记为相同。很多报告都用的句子（同年超过 20 句相同）"
    "记为「通用表述」，不计入抄袭比例。与其他机关相同的文字无法判断谁抄谁，双方都会计入。"
)


def pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.0%}"


def quality_view(filters: Filters) -> None:
    """数据质量 → 抄袭比对: headline numbers, the ranking with a threshold, the most similar pairs, CSV."""
    st.subheader("抄袭比对（正文与上年报告、其他机关报告相同的文字）")
    stats = query(summary, filters)
    if not stats["reports"]:
        st.info("还没有比对结果：入库时会自动比对；较早建的数据库请运行 xxgk reuse --update。")
        return
    c1, c2, c3 = st.columns(3)
    c1.metric("已比对报告", f"{stats['reports']:,}")
    c2.metric("含相同文字的报告", f"{stats['with_copies']:,}")
    c3.metric("相同文字 ≥ 50% 的报告", f"{stats['over_half']:,}")
    f1, f2 = st.columns([2, 3])
    with f1:
        kind = ui.synced(
            st.selectbox, "比例", list(KINDS), key="copy_kind", default="copied", format_func=KIND_LABELS.get
        )
    with f2:
        # a number box, not a slider: a slider costs a new tab ≈ 0.2 s of browser CPU to draw (docs/benchmarks.md)
        min_share = st.number_input("只看比例不低于（%）", 0, 100, key="copy_min", bind=ui.BIND, step=5) / 100
    ranked: pl.DataFrame = query(ranking, filters, float(min_share), kind or "copied", 500)
    st.caption(f"{len(ranked)} 份报告（最多列出 500 份，比例高的在前）。{EXPLAIN}")
    if ranked.is_empty():
        return
    shown = ranked.with_columns(
        pl.format("/report?report={}", pl.col("report_id")).alias("report_link"),
        pl.when(pl.col("top_source_id").is_not_null())
        .then(pl.format("/report?report={}", pl.col("top_source_id")))
        .alias("source_link"),
    )
    ui.table(
        shown.select(
            "report_link",
            "agency",
            "year",
            "copied_share",
            "previous_share",
            "other_share",
            "common_share",
            "source_link",
            "top_source_agency",
            "top_source_share",
        ),  # fmt: skip
        {**RANKING_LABELS, "report_link": "报告", "source_link": "最相似的其他机关报告"},
        column_config={
            "报告": st.column_config.LinkColumn(display_text=r"report=(\d+)"),
            "最相似的其他机关报告": st.column_config.LinkColumn(display_text=r"report=(\d+)"),
            **{
                RANKING_LABELS[c]: st.column_config.ProgressColumn(format="percent", min_value=0, max_value=1)
                for c in ("copied_share", "previous_share", "other_share", "common_share", "top_source_share")
            },
        },  # fmt: skip
    )
    st.download_button(
        "下载 CSV",
        lambda: safe_csv_bytes(ranked.rename(RANKING_LABELS)),
        "抄袭比对.csv",
        mime="text/csv",
        key="dl_reuse",
        on_click="ignore",
    )


def report_summary(row: dict | None) -> str | None:
    """One line for 报告详情 (None when the report was not compared)."""
    if row is None or not row["chars"]:
        return None
    text = (f"抄袭比对：正文 {row['chars']:,} 字中，与本机关上年报告相同 {pct(row['previous_share'])}，"
            f"与其他机关同年报告相同 {pct(row['other_share'])}，合计 {pct(row['copied_share'])}")  # fmt: skip
    if row.get("top_source_id") is not None:
        text += f"；最相似的其他机关报告为 #{row['top_source_id']} {row['top_source_agency'] or ''} {row['top_source_year'] or ''} 年"
    return text + "。"


def report_sections(report_id: int, sections: pl.DataFrame, wanted: str | None) -> None:
    """报告详情 → 报告正文: each section in an expander (the linked one open), its copied sentences listed."""
    row, matches = query(report_reuse, None, int(report_id))
    summary = report_summary(row)
    if summary:
        st.caption(summary)
    for numeral in narrative.SECTIONS:
        sec = sections.filter(pl.col("section") == numeral)
        if sec.is_empty():
            continue
        text = sec["text"][0] or ""
        marked = matches.filter(pl.col("section") == numeral) if not matches.is_empty() else matches
        n = marked["number"].n_unique() if not marked.is_empty() else 0
        label = f"第{numeral}部分" + (f"（{n} 句与其他报告相同）" if n else "")
        with st.expander(label, expanded=numeral == wanted):
            st.text(text)
            if not n:
                continue
            sentences = {p.number: p.text for p in narrative.passages(numeral, text)}
            st.caption("本部分下列句子与其他报告相同（相同的句子及来源）：")
            ui.table(
                marked.with_columns(
                    pl.col("number").replace_strict(sentences, default=None, return_dtype=pl.String).alias("text"),
                    pl.col("kind").replace_strict(MATCH_KINDS, default=pl.col("kind")),
                    pl.struct("source_id", "source_section")
                    .map_elements(lambda s: report_link(s["source_id"], s["source_section"]), return_dtype=pl.String)
                    .alias("link"),
                ).select("text", "kind", "link", "source_agency", "source_year", "similarity"),
                {
                    "text": "句子",
                    "kind": "类型",
                    "link": "来源报告",
                    "source_agency": "来源机关",
                    "source_year": "来源年度",
                    "similarity": "相似度",
                },  # fmt: skip
                column_config={"来源报告": st.column_config.LinkColumn(display_text=r"report=(\d+)")},
            )
