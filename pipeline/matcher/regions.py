"""Where the tables are: the lines of 表二, 表三 and 表四, found by their headings and anchor rows; and which edition
of the template the tables' own wording shows."""

from __future__ import annotations

import re
from dataclasses import dataclass

from pipeline.matcher.lines import Line

# How far (in lines) the heading of 表三 may sit above its first row, and how far 表二 may reach without a 表三.
T3_HEADING_REACH = 40
T3_HEADER_ROWS = 8
T2_REACH = 80


def _find(lines: list[Line], start: int, end: int, *needles: str) -> int | None:
    for ln in lines[start:end]:
        text = ln.label
        if any(n in text for n in needles):
            return ln.idx
    return None


@dataclass(slots=True)
class Regions:
    t2: tuple[int, int] | None
    t3: tuple[int, int] | None
    t4: tuple[int, int] | None


def find_regions(lines: list[Line]) -> Regions:
    n = len(lines)
    t3_anchor = _find(lines, 0, n, "本年新收", "新收政府信息公开申请")
    if t3_anchor is None:
        t3_anchor = _find(lines, 0, n, "上年结转政府信息公开申请", "本年度办理结果")
    t3_head = None
    if t3_anchor is not None:
        # the 表三 heading or header above the anchor
        for ln in reversed(lines[max(0, t3_anchor - T3_HEADING_REACH) : t3_anchor]):
            if "收到和处理" in ln.label or "申请人情况" in ln.label:
                t3_head = ln.idx
                if "收到和处理" in ln.label:
                    break
    t3_start = t3_head if t3_head is not None else (t3_anchor - T3_HEADER_ROWS if t3_anchor is not None else None)
    if t3_start is not None:
        t3_start = max(0, t3_start)
    # 表四 heading: after the last 表三 row
    t4_head = None
    search_from = t3_anchor if t3_anchor is not None else 0
    cf = _find(lines, search_from, n, "结转下年度", "结转下一年度")
    after = cf if cf is not None else search_from
    for ln in lines[after:]:
        if ("行政复议" in ln.label or "复议" in ln.label and "诉讼" in ln.label) and not ln.values:
            t4_head = ln.idx
            break
    t4_end = n
    if t4_head is not None:
        for ln in lines[t4_head + 1 :]:
            if re.match(r"^[五六][、.．]", ln.label) or "存在的主要问题" in ln.label or "其他需要报告" in ln.label:
                t4_end = ln.idx
                break
    t3_end = t4_head if t4_head is not None else (min(n, cf + 3) if cf is not None else n)
    t2_start = _find(lines, 0, t3_start if t3_start is not None else n, "第二十条")
    if t2_start is None:
        t2_start = _find(lines, 0, t3_start if t3_start is not None else n, "主动公开政府信息情况", "主动公开政府信息")
    if t2_start is not None:
        # the heading before 第二十条 belongs to the region too
        t2 = (max(0, t2_start - 2), t3_start if t3_start is not None else min(n, t2_start + T2_REACH))
    else:
        t2 = None
    return Regions(
        t2, (t3_start, t3_end) if t3_start is not None else None, (t4_head, t4_end) if t4_head is not None else None
    )


MARK_2019 = (
    "本年新制作数量",
    "对外公开总数量",
    "上一年项目数量",
    "本年增/减",
    "其他对外管理服务事项",
    "政府集中采购",
    "采购总金额",
)
MARK_2021 = (
    "本年制发件数",
    "本年废止件数",
    "现行有效件数",
    "本年处理决定数量",
    "本年收费金额",
    "逾期不补正",
    "缴纳费用",
)


def detect_edition(table_text: str, year: int | None) -> tuple[str | None, list[str]]:
    """Edition from the template's own wording; the report year decides only when the tables give no answer."""
    hits19 = [m for m in MARK_2019 if m in table_text]
    hits21 = [m for m in MARK_2021 if m in table_text]
    if re.search(r"(?<!本年)处理决定数量", table_text):
        hits19.append("处理决定数量(无“本年”)")
    if len(hits21) > len(hits19):
        return "2021", [f"2021 标志: {'、'.join(hits21)}"] + ([f"2019 标志: {'、'.join(hits19)}"] if hits19 else [])
    if len(hits19) > len(hits21):
        return "2019", [f"2019 标志: {'、'.join(hits19)}"] + ([f"2021 标志: {'、'.join(hits21)}"] if hits21 else [])
    if year is not None:
        ed = "2019" if year <= 2020 else "2021"
        return ed, [f"表格无版本标志，按报告年度 {year} 判定为 {ed} 版"]
    return None, ["表格无版本标志，年度未知"]


def detect_t3_layout(lines: list[Line], lo: int, hi: int, edition: str | None) -> tuple[str, str]:
    """The （六）其他处理 form of 表三: three sub-rows (2021) or one row of numbers (2019)."""
    text = "".join(ln.label for ln in lines[lo:hi])
    if "逾期不补正" in text or "缴纳费用" in text or "收费通知" in text:
        return "2021", "表三（六）其他处理含“逾期不补正/缴纳费用”分项"
    for ln in lines[lo:hi]:
        if "其他处理" in ln.label and (len(ln.values) >= 6 or ln.glued):
            return "2019", "表三（六）其他处理为单行数字"
    if "其他处理" in text:
        return "2019", "表三（六）其他处理无“逾期不补正/缴纳费用”分项"
    return (edition or "2021"), "表三（六）其他处理形式不明，按版本判定"
