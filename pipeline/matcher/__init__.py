"""Template matcher: a reader's rows → facts keyed by the field registry.

How it finds the numbers, for every layout a reader produces (text lines, table grids, OCR lines):

1. :mod:`~pipeline.matcher.lines` — each :class:`~pipeline.model.Row` becomes a line: its label text and its value
   *slots* (numbers, null markers such as "/", and — where the reader can see them — blank cells).
2. :mod:`~pipeline.matcher.regions` — the document is cut into the regions of 表二, 表三 and 表四 by their headings
   and anchor rows, and the edition is read from the tables' own wording.
3. :mod:`~pipeline.matcher.t3_rows` / :mod:`~pipeline.matcher.t3` — 表三's value lines are aligned with the
   template's rows by label similarity (:mod:`~pipeline.matcher.labels`) and order; each row's slots become the
   seven columns by count, blank cells or position.
4. :mod:`~pipeline.matcher.t2`, :mod:`~pipeline.matcher.t4` — 表二 rows by label, 表四's data row after its header.
5. :mod:`~pipeline.matcher.digits` / :mod:`~pipeline.matcher.glued` — rows whose separators were lost are split by
   the template's arithmetic, jointly over rows and columns, and only where a single split remains (what one cell of
   such a run may read as: :mod:`~pipeline.matcher.run_cells`; the identities and the splits found:
   :mod:`~pipeline.matcher.splits`).

When placement is not certain the cells stay null and a LAYOUT finding names them — numbers are never shifted.
"""

from __future__ import annotations

from functools import lru_cache

from pipeline.matcher.glued import separators_of
from pipeline.matcher.labels import label_key, similarity
from pipeline.matcher.lines import lines_of
from pipeline.matcher.regions import MARK_2019, MARK_2021, detect_edition, detect_t3_layout, find_regions
from pipeline.matcher.result import MatchResult, make_fact
from pipeline.matcher.t2 import match_t2
from pipeline.matcher.t3 import match_t3
from pipeline.matcher.t4 import match_t4
from pipeline.model import Document, Fact, Finding
from pipeline.registry import Field, Registry, registry

# A document where this many lines lost their separators is read as separator-less throughout.
GLUED_DOCUMENT_LINES = 3


def match(doc: Document, year: int | None = None) -> MatchResult:
    """Facts for every key of the detected layout (missing ones null with a finding)."""
    lines = lines_of(doc)
    res = MatchResult()
    regions = find_regions(lines)
    table_text = "".join(ln.label for ln in lines[regions.t2[0] : regions.t2[1]]) if regions.t2 else ""
    if regions.t3:
        table_text += "".join(ln.label for ln in lines[regions.t3[0] : regions.t3[1]])
    has_t2 = regions.t2 is not None and any(
        "第二十条" in ln.label or any(m in ln.label for m in MARK_2019 + MARK_2021)
        for ln in lines[regions.t2[0] : regions.t2[1]]
    )
    if regions.t3 is None and not has_t2:
        res.findings.append(
            Finding("NOT_REPORT", "error", "未找到表二、表三（不是年度报告，或为 2018 年及以前的旧格式）", [])
        )
        return res
    edition, evidence = detect_edition(table_text, year)
    res.edition, res.evidence = edition, evidence
    if edition is None:
        res.findings.append(Finding("EDITION", "error", "无法判断报告格式版本", []))
        return res
    glued = separators_of(lines, GLUED_DOCUMENT_LINES)
    if regions.t3 is not None:
        layout, why = detect_t3_layout(lines, *regions.t3, edition)
        res.t3_layout = layout
        res.evidence.append(why)
        match_t3(lines, *regions.t3, layout, res, glued)
        res.found_tables.add("t3")
        t3_facts = [f for k, f in res.facts.items() if k.startswith("t3.")]
        if t3_facts and all(f.value is None for f in t3_facts) and not any(fd.rule == "LAYOUT" for fd in res.findings):
            res.findings.append(Finding("LAYOUT", "error", "表三没有读到任何数字（整表空白或数字未能识别）", []))
    else:
        res.t3_layout = edition
        _missing_table(res, edition, "t3", "未找到表三（收到和处理政府信息公开申请情况）")
    if regions.t2 is not None:
        match_t2(lines, regions.t2[0], regions.t2[1], edition, res, glued)
        res.found_tables.add("t2")
    else:
        _missing_table(res, edition, "t2", "未找到表二（主动公开政府信息情况）")
    if regions.t4 is not None:
        match_t4(lines, *regions.t4, res, glued)
    else:
        _missing_table(res, edition, "t4", "未找到表四（行政复议、行政诉讼情况）")
    return res


def _missing_table(res: MatchResult, edition: str, table: str, message: str) -> None:
    for f in registry().select(edition, table):
        res.facts[f.key] = make_fact(f, None, missing=True)
    res.findings.append(Finding("LAYOUT", "error", message, []))


def ordered_facts(res: MatchResult) -> dict[str, Fact]:
    """Every key of the detected layout in registry order; keys of the other （六） form marked not_in_layout."""
    out: dict[str, Fact] = {}
    if res.edition is None:
        return out
    facts = res.facts
    for f, wanted in _layout_plan(registry(), res.edition, res.t3_layout):
        if wanted:
            out[f.key] = facts.get(f.key) or make_fact(f, None, missing=True)
        else:
            out[f.key] = Fact(f.key, None, None, blank=False, status="not_in_layout")
    return out


@lru_cache(maxsize=16)
def _layout_plan(reg: Registry, edition: str, t3_layout: str | None) -> tuple[tuple[Field, bool], ...]:
    """The fields :func:`ordered_facts` lists for a layout, in registry order, and whether each is in it (the
    same few layouts every report has: worked out once)."""
    wanted = set(reg.layout_keys(edition, t3_layout))
    return tuple(
        (f, f.key in wanted)
        for f in reg.fields
        if (edition in f.editions or f.key in wanted) and (f.key in wanted or f.table == "t3")
    )


__all__ = ["MatchResult", "match", "ordered_facts", "lines_of", "label_key", "similarity"]
