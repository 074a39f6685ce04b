"""机关报告卡: one agency and year on one page — every number with its source, rates against its peer group and its
own earlier years (small-number guard), findings, copied-text share — and the same card as a printable Word or PDF
file (A4, Chinese font embedded)."""

from dataclasses import replace

import polars as pl
import streamlit as st

from pipeline.card.content import copied_text_line, fmt_num, fmt_pct, footer_text
from pipeline.card.data import CARD_COUNTS, CHART_RATE, card_choices, card_data
from pipeline.dashboard import charts, ui
from pipeline.dashboard.agency_picker import pick_agency
from pipeline.dashboard.data import query
from pipeline.dashboard.pages import page
from pipeline.labels import (
    LEFT_OUT_LABELS,
    PUBLISHED_SOURCE_LABELS,
    SEVERITY_LABELS,
    TIMELINESS_LABELS,
    rule_label,
)
from pipeline.metrics import metric


@st.cache_data(max_entries=16, show_spinner="正在生成文件…")
def card_file(kind: str, agency: str, year: int, filters_key: tuple, _card: object) -> bytes:
    """The card as PDF or DOCX bytes (cached per agency, year, filters; built on the first click)."""
    if kind == "pdf":
        from pipeline.card.pdf import card_pdf

        return card_pdf(_card)  # type: ignore[arg-type]
    from pipeline.card.docx import card_docx

    return card_docx(_card)  # type: ignore[arg-type]


filters = ui.page_start("card")
if filters is None:
    st.stop()
c1, c2 = st.columns([3, 1])
with c1:
    agency = pick_agency("机关（输入名称的一部分搜索）", "card_agency", filters, what="机关")
if agency is None:
    st.info("所选范围内没有可生成报告卡的报告（需要识别出机关和年度）。")
    st.stop()
# the chosen agency's years in the selection (the sidebar's agency choice aside)
years = query(card_choices, replace(filters, agencies=(agency,)))["year"].to_list()
with c2:
    year = ui.synced(st.selectbox, "年度", years, key="card_year", default=years[0] if years else None,
                     keep_default=True)  # fmt: skip
if year is None:
    st.info("所选范围内没有该机关可生成报告卡的报告（需要识别出年度）。")
    st.stop()
card = query(card_data, filters, agency, int(year))
if card is None:
    st.error(f"{agency} 没有 {year} 年的当前报告。")
    st.stop()
r = card.report
if card.synthetic:
    st.warning(f"⚠ {ui.SYNTHETIC_NOTICE}：这份报告卡的数字来自生成的示例报告。")
elif card.peer_synthetic:
    st.warning(f"⚠ 同类机关比较中有 {card.peer_synthetic} 份报告是生成的示例数据（{ui.SYNTHETIC_NOTICE}），"
               "同类机关的比率和排名仅作演示。")  # fmt: skip

d1, d2, d3 = st.columns([1, 1, 2])
stem = f"{agency}_{year}_报告卡"
d1.download_button("下载 PDF（A4，可打印）", lambda: card_file("pdf", agency, int(year), filters.key, card),
                   f"{stem}.pdf", mime="application/pdf", key="card_pdf", on_click="ignore")  # fmt: skip
d2.download_button("下载 Word（.docx）", lambda: card_file("docx", agency, int(year), filters.key, card), f"{stem}.docx",
                   mime="application/vnd.openxmlformats-officedocument.wordprocessingml.document", key="card_docx",
                   on_click="ignore")  # fmt: skip
d3.page_link(page("report").file, label=f"查看报告详情 #{r['report_id']}", query_params={"report": str(r["report_id"])})
st.caption(footer_text(card))

st.subheader("基本信息")
region = "".join(x for x in (r.get("province"), r.get("city"), r.get("county")) if x) or "未识别"
published = str(r["published"]) if r.get("published") else "不详"
source = PUBLISHED_SOURCE_LABELS.get(r.get("published_source") or "", "")
info = [("地区", region), ("行政层级", r.get("level") or "未识别"), ("机关类型", r.get("agency_type") or "未识别"),
        ("发布日期", f"{published}{f'（{source}）' if source else ''}"),
        ("是否按时", f"{TIMELINESS_LABELS[card.timeliness]}（法定期限 {card.deadline:%Y-%m-%d}）"),
        ("校验", f"错误 {r['n_errors']} 项，警告 {r['n_warnings']} 项"), ("同类机关组", card.peer_label),
        ("来源文件", str(r.get("source_path") or "")), ("来源网址", str(r.get("source_url") or "—"))]  # fmt: skip
ui.table(pl.DataFrame(info, schema=["项目", "内容"], orient="row"), fit=True)
if r.get("published_source") == "document":
    st.caption("发布日期取自文件创建时间：报告不会早于此日发布，据此判为逾期是确定的，判为按时仅供参考。")

st.subheader("比率：与同类机关和本机关往年比较")
rows = []
for rate in card.rates:
    own = f"分母不足 {filters.min_n}" if rate.guarded else fmt_pct(rate.value)
    if rate.value is None and not rate.guarded and rate.state != "counted":
        own = f"—（{LEFT_OUT_LABELS.get(rate.state, rate.state)}）"
    rows.append({"比率": rate.name, "本机关": own, "分子": fmt_num(rate.numerator), "分母": fmt_num(rate.denominator),
                 "同类机关": f"分母不足 {filters.min_n}" if rate.peer_guarded else fmt_pct(rate.peer_value),
                 "同类计入报告": rate.peer_reports, "同类未计入": rate.peer_left_out,
                 "排名": f"{rate.rank} / {rate.group_size}" if rate.rank else "不排名"})  # fmt: skip
ui.table(pl.DataFrame(rows))
st.caption(f"同类机关 = {card.peer_label}（含本机关，不含地区汇总报告）：合计分子 ÷ 合计分母。分母小于 {filters.min_n} 的"
           "比率不显示为数值、不参与排名（小数字保护）。公式见「指标说明」。")  # fmt: skip
rate = next(x for x in card.rates if x.key == CHART_RATE)
own_series = pl.DataFrame(
    [{"series": "本机关", "year": y, "value": v, "numerator": n, "denominator": d,
      "n_reports": 1, "guarded": g} for y, (v, n, d, g) in rate.history.items()],
    schema={"series": pl.String, "year": pl.Int64, "value": pl.Float64, "numerator": pl.Float64,
            "denominator": pl.Float64, "n_reports": pl.Int64, "guarded": pl.Boolean},
)  # fmt: skip
peer_series = card.peer_series.select(
    pl.lit("同类机关（合计）").alias("series"), pl.col("year").cast(pl.Int64), pl.col("value").cast(pl.Float64),
    pl.col("numerator").cast(pl.Float64), pl.col("denominator").cast(pl.Float64), pl.col("n_reports").cast(pl.Int64),
    (pl.col("denominator") < filters.min_n).fill_null(False).alias("guarded"),
)  # fmt: skip
series = pl.concat([own_series, peer_series]).filter(pl.col("year").is_not_null())
if series.filter(pl.col("value").is_not_null()).is_empty():
    st.info(f"没有可比较的{metric(CHART_RATE).name}。")
else:
    charts.chart(charts.trend_lines(series, "series", f"{metric(CHART_RATE).name}：本机关与同类机关", percent=True,
                                    min_n=filters.min_n, height=360))  # fmt: skip

st.subheader("主要数量（本机关逐年）")
order = {k: i for i, k in enumerate(CARD_COUNTS)}
counts = (
    card.counts.sort(pl.col("metric").replace_strict(order, default=None, return_dtype=pl.Int64))
    .with_columns(
        pl.col("metric")
        .replace_strict({k: metric(k).name for k in card.counts["metric"].unique().to_list()})
        .alias("项目")
    )
    .pivot(on="year", index="项目", values="value", sort_columns=True)
)
ui.table(counts.rename({c: f"{c} 年" for c in counts.columns if c != "项目"}))
ui.null_legend()

st.subheader("校验发现")
if card.findings.is_empty():
    st.success("没有校验发现。")
else:
    ui.table(card.findings.select(
        pl.col("rule").map_elements(rule_label, return_dtype=pl.String).alias("规则"),
        pl.col("severity").replace_strict(SEVERITY_LABELS, default=pl.col("severity")).alias("级别"),
        pl.col("message").alias("说明")))  # fmt: skip

st.subheader("文本复用")
st.text(copied_text_line(card))  # agency names inside: plain text only

st.subheader("全部单元格及其来源")
cells = card.cells.with_columns(
    (pl.lit(f"report?report={r['report_id']}&cell=") + pl.col("key")).alias("source_link"),
    pl.when(pl.col("raw") == "").then(pl.lit("（空白）")).otherwise(pl.col("raw")).alias("raw"),
)
ui.table(
    cells.select("source_link", "table", "label", "value", "derived_value", "raw", "status_label", "loc", "page"),
    {"source_link": "原文位置", "table": "表", "label": "项目", "value": "数值", "derived_value": "推算值",
     "raw": "原文", "status_label": "状态", "loc": "位置", "page": "页"},
    column_config={"原文位置": st.column_config.LinkColumn(display_text="查看")}, height=420,
)  # fmt: skip
st.caption("「查看」打开报告详情并定位到该单元格（原文行或 PDF 页面上的位置）。")
