"""The report card as a list of blocks (headings, paragraphs, tables, charts) that the Word and PDF writers lay out
the same way — one text, two formats.  All text here is plain (the writers escape it); labels come from the
registry and :mod:`pipeline.labels`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import polars as pl

from pipeline.card.charts import counts_chart, rate_chart
from pipeline.card.data import CARD_COUNTS, CardData
from pipeline.labels import (
    LEFT_OUT_LABELS,
    PUBLISHED_SOURCE_LABELS,
    SEVERITY_LABELS,
    TIMELINESS_LABELS,
    edition_label,
    rule_label,
)
from pipeline.metrics.catalogue import metric

SYNTHETIC_NOTICE = "示例数据，非真实机关统计"
TITLE_SUFFIX = "政府信息公开工作年度报告 · 报告卡"


@dataclass
class Block:
    kind: Literal["heading", "para", "note", "warning", "table", "image"]
    text: str = ""
    header: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    widths: list[float] = field(default_factory=list)  # relative column widths
    image: bytes = b""
    small: bool = False  # a long table in a smaller font


def fmt_num(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"


def fmt_pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.1%}"


def title(card: CardData) -> str:
    return f"{card.agency} {card.year} 年度{TITLE_SUFFIX}"


def footer_text(card: CardData) -> str:
    """Filters used and the data date (every page's footer)."""
    used = [f"{label}：{value}" for label, value in card.filters.describe() if value not in ("全部",)]
    date = f"{card.data_date:%Y-%m-%d}" if card.data_date else "—"
    return f"数据日期 {date}；筛选条件：{'；'.join(used) or '无'}"


def _rate_cell(value: float | None, guarded: bool, denominator: float | None, min_n: int) -> str:
    if guarded:
        return f"分母不足 {min_n}（n={fmt_num(denominator)}）"
    return fmt_pct(value)


def copied_text_line(card: CardData) -> str:
    """The copied-text shares in one sentence (or why there are none)."""
    c = card.copied
    if c is None:
        return "文本复用比例尚未计算：数据库中没有文本比对结果（xxgk reuse --update）。"
    if not c:
        return "这份报告尚未做文本复用比对（xxgk reuse --update）。"
    text = (f"正文与本机关上年报告相同 {fmt_pct(c.get('previous_share'))}；与其他机关同年报告相同 "
            f"{fmt_pct(c.get('other_share'))}；合计 {fmt_pct(c.get('copied_share'))}")  # fmt: skip
    if c.get("top_source_agency"):
        text += f"；最相似的其他机关报告：{c['top_source_agency']} {c.get('top_source_year') or ''}"
    return text + "。逐句标记见「报告详情」。"


def blocks(card: CardData) -> list[Block]:
    r = card.report
    out: list[Block] = []
    if card.synthetic:
        out.append(Block("warning", f"⚠ {SYNTHETIC_NOTICE}：本报告卡的数字来自生成的示例报告。"))
    elif card.peer_synthetic:
        out.append(Block("warning", f"⚠ 同类机关比较中有 {card.peer_synthetic} 份报告是生成的示例数据（{SYNTHETIC_NOTICE}），"
                                    "同类机关的比率和排名仅作演示。"))  # fmt: skip
    region = "".join(x for x in (r.get("province"), r.get("city"), r.get("county")) if x) or "未识别"
    published = str(r["published"]) if r.get("published") else "不详"
    source = PUBLISHED_SOURCE_LABELS.get(r.get("published_source") or "", "")
    out.append(Block("heading", "一、基本信息"))
    info = [
        ["机关", card.agency], ["年度", str(card.year)], ["地区", region], ["行政层级", r.get("level") or "未识别"],
        ["机关类型", r.get("agency_type") or "未识别"], ["报告格式", edition_label(r.get("edition"))],
        ["发布日期", f"{published}{f'（{source}）' if source else ''}"],
        ["是否按时", f"{TIMELINESS_LABELS[card.timeliness]}（法定期限 {card.deadline:%Y-%m-%d}，条例第五十条）"],
        ["校验", f"错误 {r.get('n_errors', 0)} 项，警告 {r.get('n_warnings', 0)} 项"],
        ["来源文件", str(r.get("source_path") or "")], ["来源网址", str(r.get("source_url") or "—")],
        ["报告编号", f"#{r['report_id']}"], ["同类机关组", card.peer_label],
    ]  # fmt: skip
    if r.get("published_source") == "document" and card.timeliness == "on_time":
        info[7][1] += "；日期取自文件创建时间，按时仅供参考"
    out.append(Block("table", header=["项目", "内容"], rows=info, widths=[1, 4]))

    out.append(Block("heading", "二、主要数量"))
    counts = card.counts
    years = sorted({y for y in counts["year"].to_list() if y is not None and y <= card.year}, reverse=True)[:3]
    rows = []
    for key in CARD_COUNTS:
        part = dict(counts.filter(pl.col("metric") == key).select("year", "value").iter_rows())
        rows.append([metric(key).name, *[fmt_num(part.get(y)) for y in years]])
    out.append(Block("table", header=["项目", *[f"{y} 年" for y in years]], rows=rows, widths=[4, *[1] * len(years)]))
    out.append(Block("note", "「—」= 该年没有报告、单元格空白或无法推算（不等于 0）。"))
    out.append(Block("image", image=counts_chart(card)))

    out.append(Block("heading", "三、比率：与同类机关和本机关往年比较"))
    min_n = card.filters.min_n
    rows = []
    for rate in card.rates:
        own = _rate_cell(rate.value, rate.guarded, rate.denominator, min_n)
        if rate.value is None and not rate.guarded:
            own = f"— （{LEFT_OUT_LABELS.get(rate.state, rate.state)}）" if rate.state != "counted" else "—"
        peer = (
            _rate_cell(rate.peer_value, rate.peer_guarded, None, min_n)
            if rate.peer_guarded
            else fmt_pct(rate.peer_value)
        )
        rank = f"{rate.rank} / {rate.group_size}" if rate.rank else "不排名"
        history = "；".join(
            f"{y} {_rate_cell(v, g, d, min_n) if v is not None else '—'}"
            for y, (v, _n, d, g) in sorted(rate.history.items(), reverse=True) if y < card.year
        )[:120]  # fmt: skip
        rows.append([rate.name, own, f"{fmt_num(rate.numerator)} / {fmt_num(rate.denominator)}", peer,
                     f"{rate.peer_reports}（未计入 {rate.peer_left_out}）", rank, history or "—"])  # fmt: skip
    out.append(Block("table", header=["比率", "本机关", "分子 / 分母", "同类机关", "同类计入报告", "排名", "本机关往年"],
                     rows=rows, widths=[2.2, 1.3, 1.3, 1, 1.2, 0.8, 3.2]))  # fmt: skip
    out.append(Block("note", f"同类机关 = {card.peer_label}（含本机关，不含地区汇总报告），比率为合计分子 ÷ 合计分母；"
                             f"分母小于 {min_n} 的比率不显示为数值、不排名（小数字保护）。"))  # fmt: skip
    for rate in card.rates:
        out.append(Block("note", f"{rate.formula}"))
    out.append(Block("image", image=rate_chart(card)))

    out.append(Block("heading", "四、校验发现"))
    if card.findings.is_empty():
        out.append(Block("para", "没有校验发现。"))
    else:
        rows = [[rule_label(f["rule"]), SEVERITY_LABELS.get(f["severity"], f["severity"]), f["message"]]
                for f in card.findings.iter_rows(named=True)]  # fmt: skip
        out.append(Block("table", header=["规则", "级别", "说明"], rows=rows, widths=[2, 0.6, 5], small=True))

    out.append(Block("heading", "五、文本复用"))
    out.append(Block("para", copied_text_line(card)))

    out.append(Block("heading", "六、全部单元格及其来源"))
    out.append(Block("note", "数值 = 来源印刷的数字；「空白」「/」等不等于 0；「推算」= 原表空白的总计按分项推算（原值仍为空白）；"
                             "位置 = 在原文件中的行、表格单元或页码。"))  # fmt: skip
    rows = []
    for c in card.cells.iter_rows(named=True):
        value = fmt_num(c["value"]) if c["value"] is not None else c["status_label"]
        if c["derived_value"] is not None:
            value = f"推算 {fmt_num(c['derived_value'])}"
        raw = "（空白）" if c["raw"] == "" else (c["raw"] or "—")
        rows.append([c["table"], c["label"], value, raw[:30], c["loc"] or "—"])
    out.append(Block("table", header=["表", "项目", "数值", "原文", "位置"], rows=rows, widths=[0.5, 4.5, 1, 1, 2],
                     small=True))  # fmt: skip
    return out
