"""Search hits as a table and as CSV that opens safely in Excel.

CSV is UTF-8 with a byte-order mark (Excel reads the Chinese correctly), one header row of Chinese labels.  A text cell that starts with
``= + - @``, a tab or a carriage return would be read by Excel as a formula (report text is untrusted), so it gets a
leading apostrophe, which Excel shows as plain text.
"""

from __future__ import annotations

import html
import io
from urllib.parse import quote

import polars as pl

from pipeline import narrative
from pipeline.search.query import EXCERPT_CHARS, Hit, SearchResult

FORMULA_START = r"^[=+\-@\t\r]"  # Excel and LibreOffice start a formula with any of these
HIT_LABELS = {
    "report_id": "报告编号", "agency": "机关", "year": "年度", "section": "部分", "paragraph": "段落",
    "excerpt": "摘录（【】内为匹配）", "link": "报告详情链接",
}  # fmt: skip


def report_link(report_id: int, section: str | None = None) -> str:
    """The dashboard path of 报告详情 for a report, opened at a section (the numeral left readable)."""
    link = f"/report?report={int(report_id)}"
    if not section:
        return link
    return f"{link}&section={section if section in narrative.SECTIONS else quote(section)}"


def safe_csv_bytes(df: pl.DataFrame) -> bytes:
    """CSV (UTF-8 BOM) with every text column neutralised against formula injection."""
    text_cols = [c for c, t in df.schema.items() if t == pl.String]
    safe = df.with_columns(
        pl.when(pl.col(c).str.contains(FORMULA_START)).then(pl.lit("'") + pl.col(c)).otherwise(pl.col(c)).alias(c)
        for c in text_cols
    )
    buf = io.BytesIO()
    safe.write_csv(buf, include_bom=True, null_value="")
    return buf.getvalue()


def hits_frame(result: SearchResult) -> pl.DataFrame:
    """One row per hit, plain text (matches between 【】), with the 报告详情 link."""
    return pl.DataFrame(
        {
            "report_id": [h.report_id for h in result.hits],
            "agency": [h.agency for h in result.hits],
            "year": [h.year for h in result.hits],
            "section": [h.section for h in result.hits],
            "paragraph": [h.paragraph + 1 for h in result.hits],
            "excerpt": [h.marked() for h in result.hits],
            "link": [report_link(h.report_id, h.section) for h in result.hits],
        },
        schema={"report_id": pl.Int64, "agency": pl.String, "year": pl.Int32, "section": pl.String,
                "paragraph": pl.Int32, "excerpt": pl.String, "link": pl.String},
    )  # fmt: skip


def hit_html(hit: Hit, width: int = EXCERPT_CHARS) -> str:
    """One hit as HTML for the page: every character of report text escaped, matches in ``<mark>``, a link to
    报告详情 built only from the report id and section numeral (never from report text)."""
    text, spans, cut_start, cut_end = hit.excerpt(width)
    out, pos = [], 0
    for a, b in spans:
        out += [html.escape(text[pos:a]), "<mark>", html.escape(text[a:b]), "</mark>"]
        pos = b
    out.append(html.escape(text[pos:]))
    excerpt = ("…" if cut_start else "") + "".join(out) + ("…" if cut_end else "")
    where = f"{html.escape(hit.agency or '（未识别机关）')} · {hit.year or '未识别年度'} 年 · 第{html.escape(hit.section)}部分"
    link = html.escape(report_link(hit.report_id, hit.section))
    return (f'<div style="margin:0 0 .9em 0"><div style="font-size:.9em;color:#555">#{int(hit.report_id)} · {where} · '
            f'<a href="{link}" target="_self">报告详情 →</a></div><div style="line-height:1.7">{excerpt}</div></div>')  # fmt: skip
