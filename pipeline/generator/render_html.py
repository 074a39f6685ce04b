"""``html``: the report as a government web page (most reports are published this way).

Page chrome (navigation, breadcrumb, publication info, footer) around the article; the three tables with the
template's rowspan/colspan structure; blank cells as ``&nbsp;``; cell text wrapped in ``<p><span>`` like pages
pasted from Word; at noise ≥ 1 some pages are GBK-encoded with a ``<meta charset>``, at noise 2 some without one.
"""

from __future__ import annotations

import html
import random

from pipeline.generator import prose
from pipeline.generator.numbers import ReportTruth
from pipeline.generator.renderers import register
from pipeline.generator.tables import (
    T2_CONTENT,
    T3_APPLICANTS,
    T3_LEGAL_PERSONS,
    T3_NOTE,
    LabelStyle,
    t2_blocks,
    t3_columns,
    t3_rows,
    t4_column_labels,
    t4_groups,
)


class _Cells:
    """How this page writes a cell (plain, or Word-pasted <p><span>), and blanks."""

    def __init__(self, rng: random.Random, noise: int) -> None:
        self.rng = rng
        self.noise = noise
        self.wordy = noise >= 1 and rng.random() < 0.5
        self.nbsp = noise >= 1 and rng.random() < 0.7

    def td(self, text: str, rowspan: int = 1, colspan: int = 1, label: bool = False) -> str:
        attrs = ""
        if rowspan > 1:
            attrs += f' rowspan="{rowspan}"'
        if colspan > 1:
            attrs += f' colspan="{colspan}"'
        if text == "":
            body = "&nbsp;" if self.nbsp else ""
        else:
            body = html.escape(text, quote=False)
            if label and self.noise >= 2 and len(text) > 14 and self.rng.random() < 0.3:
                cut = len(text) // 2
                body = html.escape(text[:cut], quote=False) + "<br/>" + html.escape(text[cut:], quote=False)
            elif not label and self.noise >= 2 and self.rng.random() < 0.05:
                body = f"&nbsp;{body}&nbsp;"
        if self.wordy:
            body = (
                f'<p style="text-align:center;margin:0"><span style="font-family:宋体;font-size:12px">{body}</span></p>'
            )
        return f"<td{attrs}>{body}</td>"


def draw_t2(truth: ReportTruth, cells: _Cells) -> str:
    width = 1 + max(len(b.columns) for b in t2_blocks(truth))
    rows = []
    for block in t2_blocks(truth):
        rows.append(f"<tr>{cells.td(block.heading, colspan=width)}</tr>")
        span = (width - 1) // len(block.columns)
        head = [cells.td(T2_CONTENT)] + [cells.td(c, colspan=span) for c in block.columns]
        rows.append("<tr>" + "".join(head) + "</tr>")
        for label, keys in block.rows:
            tds = [cells.td(label, label=True)] + [cells.td(truth.cell_text(k), colspan=span) for k in keys]
            rows.append("<tr>" + "".join(tds) + "</tr>")
    return "\n".join(rows)


def draw_t3(truth: ReportTruth, cells: _Cells, style: LabelStyle) -> str:
    cols = t3_columns()
    out = [
        "<tr>" + cells.td(T3_NOTE, rowspan=3, colspan=3) + cells.td(T3_APPLICANTS, colspan=7) + "</tr>",
        "<tr>"
        + cells.td(cols[0], rowspan=2)
        + cells.td(T3_LEGAL_PERSONS, colspan=5)
        + cells.td(cols[6], rowspan=2)
        + "</tr>",
        "<tr>" + "".join(cells.td(c) for c in cols[1:6]) + "</tr>",
    ]
    rows = t3_rows(truth)
    top_span = sum(1 for r in rows if r.top)
    block_spans: dict[str, int] = {}
    for r in rows:
        if r.block:
            block_spans[r.block] = block_spans.get(r.block, 0) + 1
    seen_top = seen_block = ""
    for row in rows:
        values = "".join(cells.td(truth.cell_text(k)) for k in row.keys)
        label = style.row(row.label)
        if not row.top:
            head = cells.td(label, colspan=3, label=True)
        else:
            head = ""
            if row.top != seen_top:
                head += cells.td(style.group(row.top, spaced=False), rowspan=top_span)
            if not row.block:
                head += cells.td(label, colspan=2, label=True)
            else:
                if row.block != seen_block:
                    head += cells.td(style.group(row.block, spaced=False), rowspan=block_spans[row.block])
                head += cells.td(label, label=True)
        seen_top = row.top or seen_top
        seen_block = row.block or seen_block
        out.append(f"<tr>{head}{values}</tr>")
    return "\n".join(out)


def draw_t4(truth: ReportTruth, cells: _Cells) -> str:
    groups = t4_groups()
    labels = t4_column_labels()
    out = [
        "<tr>" + cells.td(groups[0].top, colspan=5) + cells.td(groups[1].top, colspan=10) + "</tr>",
        "<tr>"
        + "".join(cells.td(lab, rowspan=2) for lab in labels)
        + cells.td(groups[1].sub, colspan=5)
        + cells.td(groups[2].sub, colspan=5)
        + "</tr>",
        "<tr>" + "".join(cells.td(lab) for lab in labels * 2) + "</tr>",
        "<tr>" + "".join(cells.td(truth.cell_text(k)) for g in groups for k in g.keys) + "</tr>",
    ]
    return "\n".join(out)


def _table(body: str, rng: random.Random) -> str:
    attrs = rng.choice(
        [
            'border="1" cellspacing="0" cellpadding="0"',
            'class="MsoNormalTable" style="border-collapse:collapse;width:100%"',
            'width="600" border="1"',
        ]
    )
    return f"<table {attrs}>\n<tbody>\n{body}\n</tbody>\n</table>"


def _p(text: str) -> str:
    return f'<p style="text-indent:2em">{html.escape(text, quote=False)}</p>'


@register("html")
def render_html(truth: ReportTruth, rng: random.Random, noise: int) -> tuple[bytes, str]:
    """A government web page holding the report."""
    title = prose.title(truth) if truth.kind != "non_report" else ""
    parts: list[str] = []
    if truth.kind == "report":
        style = LabelStyle(rng, noise)
        cells = _Cells(rng, noise)
        parts.append(_p(prose.preamble(truth)))
        parts.append(f"<p><strong>{prose.section_heading('一', rng)}</strong></p>")
        parts += [_p(t) for t in prose.section_one(truth, rng, short=truth.compact or rng.random() < 0.5)]
        parts.append(f"<p><strong>{prose.section_heading('二', rng)}</strong></p>")
        parts.append(_table(draw_t2(truth, cells), rng))
        parts.append(f"<p><strong>{prose.section_heading('三', rng)}</strong></p>")
        parts.append(_table(draw_t3(truth, cells, style), rng))
        parts.append(f"<p><strong>{prose.section_heading('四', rng)}</strong></p>")
        parts.append(_table(draw_t4(truth, cells), rng))
        parts.append(f"<p><strong>{prose.section_heading('五', rng)}</strong></p>")
        parts += [_p(t) for t in prose.section_five(truth, rng)]
        parts.append(f"<p><strong>{prose.section_heading('六', rng)}</strong></p>")
        parts += [_p(t) for t in prose.section_six(truth, rng)]
    else:
        lines = prose.legacy_lines(truth, rng) if truth.kind == "legacy" else prose.non_report_lines(truth, rng)
        title = lines[0]
        parts += [_p(line.replace("\t", "　")) for line in lines[1:] if line]
    agency = truth.agency.name
    gbk = noise >= 1 and rng.random() < 0.3
    meta = '<meta charset="utf-8">'
    if gbk:
        meta = rng.choice(
            ['<meta charset="gbk">', '<meta http-equiv="Content-Type" content="text/html; charset=gb2312">']
        )
        if noise >= 2 and rng.random() < 0.4:
            meta = ""  # the server sends the charset in a header we do not have
    rng.randint(1, 3), rng.randint(10, 28)  # (the draws of an earlier random date: later draws stay as they were)
    info = f"发布时间：{truth.published}&nbsp;&nbsp;" if truth.published else ""
    page = f"""<!DOCTYPE html>
<html lang="zh-CN">
<head>
{meta}
<title>{html.escape(title)}_{html.escape(agency)}</title>
<link rel="stylesheet" href="/css/common.css">
</head>
<body>
<div class="header"><div class="logo">{html.escape(agency)}</div>
<ul class="nav"><li><a href="/">首页</a></li><li><a href="/zwgk/">政务公开</a></li><li><a href="/zfxxgk/">政府信息公开</a></li><li><a href="/hdjl/">互动交流</a></li></ul></div>
<div class="crumb">当前位置：<a href="/">首页</a> &gt; <a href="/zfxxgk/">政府信息公开</a> &gt; 政府信息公开年报</div>
<div class="article">
<h1>{html.escape(title)}</h1>
<div class="info">{info}来源：{html.escape(agency)}&nbsp;&nbsp;【字体：大 中 小】</div>
<div class="content">
{chr(10).join(parts)}
</div>
<div class="share">分享到：<a href="#">微信</a> <a href="#">微博</a> 【打印本页】【关闭窗口】</div>
</div>
<div class="footer"><p>主办单位：{html.escape(agency)}　网站标识码：{truth.agency.region_code}0001</p>
<p>备案号：ICP备{rng.randint(10000000, 99999999)}号　政府网站找错</p></div>
</body>
</html>
"""
    encoding = "gbk" if gbk else "utf-8"
    return page.encode(encoding, errors="xmlcharrefreplace"), "html"
