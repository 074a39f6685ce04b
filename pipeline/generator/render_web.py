"""Web pages as users bring them after another tool had them: saved by a site crawler, or converted to markdown.

- ``crawler-text`` — the ``html`` page flattened to text the way scrapers save it: every element's text run into the
  next with no separator, so table cells run together ("一、本年新收政府信息公开申请数量640020470").  Two habits seen in
  real archives: a metadata block on top (标题: / 发布时间: / 发布机构: / 栏目: / 原文链接: … then "==== 正文 ====") with
  the page chrome kept and ``&nbsp;`` turned into a space; or the article text alone with every space dropped, so a
  blank cell leaves no trace (some pages keep ideographic spaces between 表二's cells).
- ``converter-md`` — the report as PDF→markdown converters leave it: markdown tables with merged cells left empty,
  and at higher noise the converters' habits: a wrapped row label split over two table rows (numbers on one, the
  label's tail on the other), neighbouring rows swapped, notes in cells ("22（其中修订16件）"), the 2019 label
  规范性文件 in a 2021 表二, a table cut at a page break with its header repeated, a table printed one cell per line,
  and a cell pulled out of the table onto a line of its own below it (the cell left empty in the table).

The numbers are the truth's (``ReportTruth.cell_text``); what the text can no longer decide (a 表二 run with no
identity, a blank cell that left no trace) must come out null and named by an error — never as a wrong number.
"""

from __future__ import annotations

import random
import re

from pipeline.generator import prose
from pipeline.generator.numbers import ReportTruth
from pipeline.generator.render_html import render_html
from pipeline.generator.renderers import register
from pipeline.generator.tables import (
    T2_CONTENT,
    T3_APPLICANTS,
    T3_NOTE,
    LabelStyle,
    t2_blocks,
    t3_columns,
    t3_rows,
    t4_column_labels,
    t4_groups,
)

# ---------------------------------------------------------------------------------------------------------------
# crawler-text

_BLOCKS = ("crumb", "info", "content", "share")


def _page_text(page: str, keep_chrome: bool) -> str:
    """The page's text as an HTML-to-text call without separators gives it (``&nbsp;`` → space)."""
    from selectolax.lexbor import LexborHTMLParser

    tree = LexborHTMLParser(page)
    parts = []
    for name in _BLOCKS if keep_chrome else ("content",):
        node = tree.css_first(f"div.{name}")
        if node is not None:
            parts.append(node.text(separator="", deep=True))
    text = " ".join(parts)
    return text.replace("\xa0", " ").replace("\n", "")


@register("crawler-text")
def render_crawler(truth: ReportTruth, rng: random.Random, noise: int) -> tuple[bytes, str]:
    """A report page saved as plain text by a site crawler (cells run together)."""
    data, _ext = render_html(truth, rng, noise)
    try:
        page = data.decode("utf-8")
    except UnicodeDecodeError:
        page = data.decode("gb18030")  # the page was written in GBK
    title = (
        prose.title(truth)
        if truth.kind != "non_report"
        else re.sub(r"<[^>]+>", "", page.split("<h1>")[1].split("</h1>")[0])
    )
    with_header = rng.random() < 0.5
    if with_header:
        body = _page_text(page, keep_chrome=True)
        body = re.sub(r" {2,}", " ", body)
        drawn = f"{truth.year + 1}-0{rng.randint(1, 3)}-{rng.randint(10, 28)} {rng.randint(8, 17):02d}:{rng.randint(0, 59):02d}"
        published = f"{truth.published} {drawn[-5:]}" if truth.published else ""  # the truth's date (or none), a time
        slug = rng.randint(10000, 99999)
        header = [
            f"标题: {title}",
            f"发布时间: {published}",
            "文号: ",
            f"发布机构: {truth.agency.name if rng.random() < 0.3 else ''}",
            "栏目: 政府信息公开年报",
            f"原文链接: {truth.url}",
            f"本地目录: zwgk/zfxxgknb/{truth.year + 1}01/{slug}_{title}",
            "页面链接与图片详见 links.tsv(同目录)",
            "==================== 正文 ====================",
        ]
        text = "\n".join(header) + "\n" + body + "\n"
    else:
        body = _page_text(page, keep_chrome=False)
        if noise >= 1 and rng.random() < 0.5:  # noqa: SIM108 - the comment below says why
            body = re.sub(r"[ \t\r\n]+", "", body)  # every ASCII space dropped: blank cells leave no trace
        else:
            body = re.sub(r"\s+", "", body)
        text = "\n" + title + body + "\n" if rng.random() < 0.5 else "\n" + body + "\n"
    return text.encode("utf-8"), "txt"


# ---------------------------------------------------------------------------------------------------------------
# converter-md


def _md_row(cells: list[str]) -> str:
    return "| " + " | ".join(c.replace("|", "｜") for c in cells) + " |"


def _md_table(rows: list[list[str]]) -> list[str]:
    width = max(len(r) for r in rows)
    rows = [r + [""] * (width - len(r)) for r in rows]
    return [_md_row(rows[0]), "|" + "---|" * width, *(_md_row(r) for r in rows[1:])]


class _Habits:
    """Which converter habits this document shows (more of them at higher noise)."""

    def __init__(self, rng: random.Random, noise: int) -> None:
        p = (0.0, 0.35, 0.7)[noise]
        self.rng = rng
        self.note = rng.random() < max(p, 0.2)  # "22（其中修订16件）"
        self.old_label = noise >= 1 and rng.random() < p  # 2021 表二 with the 2019 label 规范性文件
        self.split_label = rng.random() < p  # a wrapped label over two table rows
        self.swap = rng.random() < p * 0.6  # two neighbouring outcome rows swapped
        self.page_break = rng.random() < p  # 表三 cut at a page break, header repeated
        self.cell_per_line = noise >= 2 and rng.random() < 0.5  # one table printed one cell per line
        self.pulled_out = noise >= 2 and rng.random() < 0.4  # a 表二 cell pulled out below its table


def _t2_md(truth: ReportTruth, habits: _Habits) -> list[str]:
    out: list[str] = []
    pulled: list[str] = []
    for block in t2_blocks(truth):
        out += [f"**{block.heading}**", ""]
        rows = [[T2_CONTENT, *block.columns]]
        for label, keys in block.rows:
            texts = [truth.cell_text(k) for k in keys]
            if habits.note and "normative_docs" in keys[0] and texts[0].isdigit() and int(texts[0]) > 1:
                texts[0] += f"（其中修订{habits.rng.randint(1, int(texts[0]) - 1)}件）"
            if habits.old_label and truth.edition == "2021" and label == "行政规范性文件":
                label = "规范性文件"
            if habits.pulled_out and not pulled and len(texts) > 1 and texts[0] and habits.rng.random() < 0.5:
                pulled.append(texts[0])
                texts[0] = ""
            rows.append([label, *texts])
        if habits.cell_per_line and block is t2_blocks(truth)[0]:
            out += [c for r in rows for c in r if c] + [""]
        else:
            out += _md_table(rows) + [""]
        if pulled and len(pulled) == 1:
            out += [pulled[0], ""]
            pulled.append("")  # printed once
    return out


def _t3_md(truth: ReportTruth, habits: _Habits, style: LabelStyle) -> list[str]:
    cols = list(t3_columns())
    header = [T3_NOTE, "", "", *cols]
    rows: list[list[str]] = []
    seen_top = seen_block = ""
    for row in t3_rows(truth):
        values = [truth.cell_text(k) for k in row.keys]
        label = style.row(row.label)
        top = style.group(row.top, spaced=False) if row.top and row.top != seen_top else ""
        block = style.group(row.block, spaced=False) if row.block and row.block != seen_block else ""
        seen_top, seen_block = row.top or seen_top, row.block or seen_block
        if not row.top:
            cells = [label, "", ""]
        elif not row.block:
            cells = [top, label, ""]
        else:
            cells = [top, block, label]
        if habits.split_label and len(label) > 14 and habits.rng.random() < 0.3:
            cut = len(label) // 2
            head = [c if c != label else label[:cut] for c in cells]
            tail = ["" if c != label else label[cut:] for c in cells]
            if habits.rng.random() < 0.5:
                rows += [head + [""] * 7, tail + values]
            else:
                rows += [head + values, tail + [""] * 7]
            continue
        rows.append(cells + values)
    if habits.swap:
        outcome = [
            i
            for i, r in enumerate(rows)
            if r[2] and r[-1] != "" and i + 1 < len(rows) and rows[i + 1][2] and rows[i + 1][-1] != ""
        ]
        if outcome:
            i = habits.rng.choice(outcome)
            rows[i], rows[i + 1] = rows[i + 1], rows[i]
    tables = [rows]
    if habits.page_break and len(rows) > 10:
        cut = habits.rng.randrange(6, len(rows) - 3)
        tables = [rows[:cut], rows[cut:]]
    out: list[str] = [f"申请人情况（{T3_APPLICANTS}）" if habits.rng.random() < 0.2 else ""]
    for k, part in enumerate(tables):
        head = header if k == 0 or habits.rng.random() < 0.5 else [""] * len(header)
        if k:
            out += ["", f"<!-- page {habits.rng.randint(3, 6)} -->", ""]
        out += _md_table([head, *part])
    return out + [""]


def _t4_md(truth: ReportTruth, habits: _Habits) -> list[str]:
    groups = t4_groups()
    labels = list(t4_column_labels())
    values = [truth.cell_text(k) for g in groups for k in g.keys]
    if habits.cell_per_line:
        return (
            [groups[0].top, groups[1].top, groups[1].sub, groups[2].sub, *labels * 3, *(v for v in values if v), ""]
            if all(values)
            else _t4_table(groups, labels, values)
        )
    return _t4_table(groups, labels, values)


def _t4_table(groups, labels: list[str], values: list[str]) -> list[str]:
    rows = [
        [groups[0].top, "", "", "", "", groups[1].top] + [""] * 9,
        labels + [groups[1].sub, "", "", "", "", groups[2].sub, "", "", "", ""],
        [""] * 5 + labels * 2,
        values,
    ]
    return _md_table(rows) + [""]


@register("converter-md")
def render_converter(truth: ReportTruth, rng: random.Random, noise: int) -> tuple[bytes, str]:
    """The report as a PDF→markdown converter leaves it."""
    if truth.kind != "report":
        lines = prose.legacy_lines(truth, rng) if truth.kind == "legacy" else prose.non_report_lines(truth, rng)
        return ("\n\n".join(line.replace("\t", " | ") for line in lines if line) + "\n").encode("utf-8"), "md"
    habits = _Habits(rng, noise)
    style = LabelStyle(rng, min(noise, 1))
    out = [f"# {prose.title(truth)}", "", prose.preamble(truth), ""]
    out += [f"## {prose.section_heading('一', rng)}", ""]
    for para in prose.section_one(truth, rng, short=truth.compact or rng.random() < 0.5):
        out += [para, ""]
    out += [f"## {prose.section_heading('二', rng)}", ""] + _t2_md(truth, habits)
    out += [f"## {prose.section_heading('三', rng)}", ""] + _t3_md(truth, habits, style)
    out += [f"## {prose.section_heading('四', rng)}", ""] + _t4_md(truth, habits)
    out += [f"## {prose.section_heading('五', rng)}", ""]
    for para in prose.section_five(truth, rng):
        out += [para, ""]
    out += [f"## {prose.section_heading('六', rng)}", ""] + prose.section_six(truth, rng)
    return ("\n".join(out) + "\n").encode("utf-8"), "md"
