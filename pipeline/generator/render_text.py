"""Text layouts: what copying or extracting a published PDF gives.

- ``pdftext-tabs`` (this module) — PDF-extracted text like the seed (000_b167490a9537da4f.txt): tabs between cells, characters
  spaced apart, long labels wrapped onto a line of their own, orphaned label fragments, blank lines at page breaks,
  blank cells, the 10-number 表四 row, full- and half-width brackets mixed.
- ``pdftext-layout`` (:mod:`pipeline.generator.render_layout`) — like ``pdftotext -layout`` (the real fixtures): cells separated by runs of spaces at fixed
  character columns, merged group labels printed one character per line, labels wrapped above and below their
  number line, page numbers "-3-", 表三 split across pages in the middle of a row group.

Noise 0 is a clean table; noise 1 the common artefacts; noise 2 all of them, more often.
"""

from __future__ import annotations

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
    spaced,
    t2_blocks,
    t3_columns,
    t3_rows,
    t4_column_labels,
    t4_groups,
)


def split_label(label: str, rng: random.Random, min_head: int = 6) -> tuple[str, str]:
    """Split a long label where a PDF cell would wrap it (never inside the enumerator)."""
    lo = min(max(min_head, len(label) // 3), len(label) - 2)
    hi = max(lo, len(label) - 3)
    cut = rng.randint(lo, hi)
    return label[:cut], label[cut:]


def narrative_sections(truth: ReportTruth, rng: random.Random, short: bool) -> dict[str, list[str]]:
    return {
        "一": prose.section_one(truth, rng, short=short),
        "五": prose.section_five(truth, rng),
        "六": prose.section_six(truth, rng),
    }


def has_blank_t3(truth: ReportTruth) -> bool:
    return any(truth.facts.get(k) is None for k in truth.facts if k.startswith("t3."))


# ---------------------------------------------------------------------------------------------------------------
# pdftext-tabs


def _tabs_t2(truth: ReportTruth, rng: random.Random, noise: int, style: LabelStyle) -> list[str]:
    lines: list[str] = []
    width = 1 + max(len(b.columns) for b in t2_blocks(truth))
    for block in t2_blocks(truth):
        heading = block.heading if noise == 0 or rng.random() < 0.6 else block.heading.replace("第（", " 第（")
        lines.append("\t".join([style.brackets(heading)] + [""] * (width - 1)))
        header = [T2_CONTENT, *block.columns]
        lines.append("\t".join(header + [""] * (width - len(header))))
        for label, keys in block.rows:
            if noise >= 1 and rng.random() < 0.12:
                lines.append("")  # page break inside the table
            cells = [label] + [truth.cell_text(k) for k in keys]
            lines.append("\t".join(cells + [""] * (width - len(cells))))
    return lines


def _tabs_t3_header(noise: int, rng: random.Random) -> list[str]:
    cols = t3_columns()
    if noise == 0:
        return [
            "\t".join([T3_NOTE, "", T3_APPLICANTS] + [""] * 6),
            "\t".join(["", "", cols[0], T3_LEGAL_PERSONS, "", "", "", "", cols[6]]),
            "\t".join(["", "", "", *cols[1:6], ""]),
        ]
    heads, tails = [], []
    for col in cols[1:6]:
        if len(col) >= 4 and rng.random() < 0.7:
            cut = len(col) - rng.choice([1, 2]) if len(col) > 4 else 3
            head, tail = col[:cut], col[cut:]
            heads.append(spaced(head) if rng.random() < 0.5 else head)
            tails.append(spaced(tail) if len(tail) > 1 and rng.random() < 0.5 else tail)
        else:
            heads.append(spaced(col) if rng.random() < 0.3 else col)
            tails.append("")
    lines = [
        "\t".join(
            [T3_NOTE.replace("，等于", "，等于 ") if noise >= 2 else T3_NOTE, T3_APPLICANTS] + [""] * 5 + [cols[6]]
        ),
        "\t".join(["", cols[0], T3_LEGAL_PERSONS, "", "", "", ""]),
        "\t".join(["", "", *heads, ""]),
    ]
    if any(tails):
        lines.append("")
        lines.append("\t".join(["", "", "", *tails, ""]))
    return lines


def _tabs_t3(truth: ReportTruth, rng: random.Random, noise: int, style: LabelStyle) -> list[str]:
    lines = _tabs_t3_header(noise, rng)
    blanks = has_blank_t3(truth)
    rows_orphans: dict[str, str] = {}  # block → its cut-off last character, printed on the block's next row
    seen_top = seen_block = ""
    rows = t3_rows(truth)
    for i, row in enumerate(rows):
        values = [truth.cell_text(k) for k in row.keys]
        label = style.row(row.label)
        continuation: str | None = None
        if noise >= 1 and len(label) > 12 and rng.random() < (0.15 if noise == 1 else 0.3):
            label, continuation = split_label(label, rng)
        trailing = [""] if noise >= 1 and not blanks and rng.random() < 0.4 else []
        if not row.top:  # 一、二、四: label spans the two label columns
            cells = [label, "", *values]
        elif not row.block:
            first = row.top != seen_top
            top = style.group(row.top) if first else ""
            cells = [top, label, *values]
        else:
            first = row.block != seen_block
            group = style.group(row.block) if first else ""
            if (
                first
                and noise >= 2
                and len(row.block) > 4
                and rng.random() < 0.4
                and i + 1 < len(rows)
                and rows[i + 1].block == row.block
            ):
                # the merged label is cut: its last character lands at the start of the next row ("理")
                group, orphan = group[:-1], group[-1]
                rows_orphans[row.block] = orphan
            cells = ["", group, label, *values]
            if not first and row.block in rows_orphans:
                cells[0] = rows_orphans.pop(row.block)
            elif first and noise >= 1 and rng.random() < 0.25:
                cells = [group, label, *values]  # the leading empty cell is lost
        if noise >= 1 and not blanks and not row.block and row.top and rng.random() < 0.1:
            cells = cells[1:]  # "4. 保护第三方" style rows start at column 0
        seen_top = row.top or seen_top
        seen_block = row.block or seen_block
        if noise >= 1 and rng.random() < (0.06 if noise == 1 else 0.12):
            lines.append("")  # page break
        lines.append("\t".join(cells + trailing))
        if continuation is not None:
            if rng.random() < 0.5:
                lines.append("")
            lines.append("\t".join(["", continuation] + [""] * 7))
    return lines


def _tabs_t4(truth: ReportTruth, rng: random.Random, noise: int) -> list[str]:
    groups = t4_groups()
    col_labels = t4_column_labels()
    values = [truth.cell_text(k) for g in groups for k in g.keys]
    if noise == 0:
        return [
            "\t".join([groups[0].top] + [""] * 4 + [groups[1].top] + [""] * 9),
            "\t".join([""] * 5 + [groups[1].sub] + [""] * 4 + [groups[2].sub] + [""] * 4),
            "\t".join(col_labels * 3),
            "\t".join(values),
        ]
    sp = spaced if rng.random() < 0.7 else (lambda s: s)
    labels = [sp(c) for c in col_labels]
    return [
        "\t".join([groups[0].top] + [""] * 4 + [groups[1].top] + [""] * 9),
        "\t".join(labels + [groups[1].sub] + [""] * 4 + [groups[2].sub] + [""] * 3),
        "\t".join([""] * 5 + labels * 2),
        "\t".join(values),
    ]


@register("pdftext-tabs")
def render_tabs(truth: ReportTruth, rng: random.Random, noise: int) -> tuple[bytes, str]:
    """PDF-extracted text with tab-separated cells (the seed's form)."""
    if truth.kind != "report":
        lines = prose.legacy_lines(truth, rng) if truth.kind == "legacy" else prose.non_report_lines(truth, rng)
        return ("\n\n".join(line for line in lines if line) + "\n").encode("utf-8"), "txt"
    style = LabelStyle(rng, noise)
    narrative = narrative_sections(truth, rng, short=truth.compact or rng.random() < 0.5)
    title = prose.title(truth)
    if noise >= 1:
        title = title.replace("年政府信息", "年政府信息 ").replace(str(truth.year), f" {truth.year} ", 1)
    out: list[str] = ["", "", title.strip(), "", prose.preamble(truth), ""]
    out += [prose.section_heading("一", rng), ""]
    for para in narrative["一"]:
        out += [para, ""]
    out += [prose.section_heading("二", rng), ""]
    out += _tabs_t2(truth, rng, noise, style) + [""]
    out += [prose.section_heading("三", rng), ""]
    out += _tabs_t3(truth, rng, noise, style) + [""]
    out += [prose.section_heading("四", rng), ""]
    out += _tabs_t4(truth, rng, noise) + [""]
    out += [prose.section_heading("五", rng), ""]
    for para in narrative["五"]:
        out += [para, ""]
    out += [prose.section_heading("六", rng), ""]
    out += narrative["六"]
    return "\n".join(out).encode("utf-8"), "txt"
