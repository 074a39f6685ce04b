"""Region summary reports: a report whose statistics cover a whole region (全省 / 全市 / 全区 / 全县汇总).

**What counts as a summary report** (the rule, also on 指标说明 and in docs/dashboard.md): only a report that *says*
so — its title line or its agency name carries a summary marker:

- a bracketed marker: （汇总全区） （全市汇总） （全县） （汇总） …;
- the word 汇总 in the title line ("…政府信息公开工作年度报告汇总");
- 全省 / 全市 / 全区 / 全县 / 全州 / 全盟 / 全旗 directly before 政府信息公开 ("XX市全市政府信息公开工作年度报告");
- or the manifest's ``summary`` column (true / false), which wins over the text.

Only the title (a head line of ≤ 60 characters) counts, not the prose: a preamble saying the report was compiled by
"汇总…各有关单位…情况" (平潭综合实验区's own reports say so) leaves the report its agency's own.  A government's own
report ("XX市人民政府…年度报告") is **not** taken for a summary: most cover the government's own work only, and
treating them as summaries would compare unrelated numbers.  A report whose name is only the
region ("北京市2023年…") is not one either, unless it carries a marker.

A summary report is stored under its agency name with the marker in brackets ("平潭综合实验区管委会（汇总全区）"),
so it never displaces the same agency's own report of that year, and with the agency type 地区汇总 (so pages can
keep it out of peer groups and sums).  Its region is the region its name starts with.
"""

from __future__ import annotations

import re
from dataclasses import replace

from pipeline.model import Document, Meta
from pipeline.normalize import compact

SUMMARY_TYPE = "地区汇总"
_AREA = r"(?:省|自治区|市|区|县|州|盟|旗)"
_BRACKETED = re.compile(rf"[（(]\s*(?P<mark>汇总全{_AREA}|全{_AREA}(?:汇总|合计)?|汇总)\s*[)）]")
_BARE = re.compile(rf"(?P<mark>汇总|全{_AREA}(?=政府信息公开))")
_TITLE = re.compile(r"信息公开.{0,12}报告")
HEAD_ROWS = 12  # the title is among a report's first lines
TITLE_MAX = 60  # a title is short: a preamble that says it "汇总…各有关单位…编制而成" is prose, not a title


def marker(text: str | None) -> str | None:
    """The summary marker in a title line or agency name ("全市汇总", "汇总全区", "汇总"), or None."""
    if not text:
        return None
    m = _BRACKETED.search(text) or _BARE.search(text)
    return m["mark"] if m else None


def strip_marker(text: str) -> str:
    return _BARE.sub("", _BRACKETED.sub("", text))


def _is_title(text: str) -> bool:
    return len(text) <= TITLE_MAX and bool(_TITLE.search(text))


def title_marker(doc: Document) -> tuple[Document, str | None]:
    """(the document with the marker taken out of its title lines, the marker) — (doc, None) when there is none.

    The marker is taken out so the title's agency is recognised as usual ("…管委会（汇总全区）2023年…" ends in a
    bracket, not in 委员会); :func:`mark` puts it back into the stored agency name.
    """
    found = marker(compact(doc.title)) if doc.title and _is_title(compact(doc.title)) else None
    rows = list(doc.rows)
    seen = 0
    for i, row in enumerate(rows):
        text = compact(row.text)
        if not text:
            continue
        seen += 1
        if seen > HEAD_ROWS:
            break
        if _is_title(text) and marker(text):
            found = found or marker(text)
            rows[i] = replace(row, cells=[replace(c, text=strip_marker(c.text)) for c in row.cells])
    if found is None:
        return doc, None
    title = strip_marker(doc.title) if doc.title else doc.title
    return replace(doc, rows=rows, title=title), found


def mark(meta: Meta, title_mark: str | None, flag: bool | None = None) -> None:
    """Decide whether ``meta`` is a summary report (manifest ``flag`` first, then the title, then the agency name)
    and name it so: the marker in brackets after the agency, agency type :data:`SUMMARY_TYPE`."""
    found = title_mark or marker(meta.agency)
    meta.summary = bool(flag) if flag is not None else found is not None
    if not meta.summary:
        return
    if meta.agency and marker(meta.agency) is None:
        meta.agency = f"{meta.agency}（{found or '汇总'}）"
    meta.agency_type = SUMMARY_TYPE
