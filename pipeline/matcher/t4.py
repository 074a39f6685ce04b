"""表四: one data row of 15 cells (行政复议, 未经复议直接起诉, 复议后起诉 × 维持/纠正/其他/尚未审结/总计), the first data
line(s) after its header; blank groups placed by the header's column positions or by thirds of the table width, a
digit run split by the groups' identities."""

from __future__ import annotations

from pipeline.matcher.glued import INTACT, Separators, is_run, read_run, settle
from pipeline.matcher.lines import Line, Slot, align_slots, header_words_at, strip_blank_edges
from pipeline.matcher.result import MatchResult, make_fact
from pipeline.matcher.splits import t4_identities
from pipeline.model import Fact, Finding
from pipeline.registry import T4_COLUMNS_ORDER, T4_GROUPS_ORDER, registry

GROUP_SIZE = len(T4_COLUMNS_ORDER)
MIN_TABLE_WIDTH = 10  # header text narrower than this gives no usable thirds


def _t4_header_columns(region: list[Line], data_line: Line, n: int) -> list[float] | None:
    """Column centres of 表四 from the header line that names all 15 columns (结果维持 … 总计, or their first
    halves 结果/其他/尚未/总计 when the labels are split over two lines)."""
    labels = [f.col_label_short for f in registry().select(None, "t4")[:GROUP_SIZE]]
    best: list[float] = []
    for ln in region:
        if ln.idx >= data_line.idx:
            break
        xs = [x for word, x in header_words_at(ln) if any(lab.startswith(word) for lab in labels)]
        if len(xs) > len(best):
            best = xs
    return best if len(best) == n and all(a < b for a, b in zip(best, best[1:], strict=False)) else None


def _t4_by_thirds(region: list[Line], data_line: Line, n: int) -> list[Slot | None] | None:
    """A 表四 row with whole groups left blank, in text that keeps positions but not blank cells (pdftotext
    -layout): each value's group is the third of the table's width it sits in.  Accepted only when every group
    then holds 0 or 5 values; anything else stays uncertain."""
    values = data_line.values
    placed = [(s, s.x) for s in values if s.x is not None]
    if len(values) % GROUP_SIZE or len(placed) < len(values):
        return None
    spans = [(c.x0, c.x1) for ln in region if ln.idx < data_line.idx for c in ln.row.cells if c.text]
    extents = [(x0, x1) for x0, x1 in spans if x0 is not None and x1 is not None]  # header cells with a position
    if not extents:
        return None
    left = min(x0 for x0, _x1 in extents)
    right = max(x1 for _x0, x1 in extents)
    if right - left < MIN_TABLE_WIDTH:
        return None
    groups: list[list[Slot]] = [[] for _ in T4_GROUPS_ORDER]
    for s, x in placed:
        g = min(len(groups) - 1, max(0, int(len(groups) * (x - left) / (right - left))))
        groups[g].append(s)
    if any(len(group) not in (0, GROUP_SIZE) for group in groups):
        return None
    out: list[Slot | None] = []
    for group in groups:
        out.extend(group if group else [None] * GROUP_SIZE)
    return out if len(out) == n else None


def match_t4(lines: list[Line], lo: int, hi: int, res: MatchResult, seps: Separators = INTACT) -> None:
    reg = registry()
    fields = [reg[reg.key_for("t4", g, c)] for g in T4_GROUPS_ORDER for c in T4_COLUMNS_ORDER]
    n = len(fields)
    region = lines[lo:hi]
    data = [
        ln for ln in region if ln.values and (len(ln.slots) >= GROUP_SIZE or len(ln.values) >= GROUP_SIZE or ln.glued)
    ]
    slots: list[Slot | None] | None = None
    if data:
        first = data[0]
        if is_run(first, n, seps) and len(first.values) != n:
            res.found_tables.add("t4")
            settle(
                res,
                read_run("行政复议、行政诉讼", tuple(fields), first, t4_identities()),
                "表四",
                "“各组维持、纠正、其他、尚未审结之和等于总计”",
            )
            return
        if len(strip_blank_edges(first.slots, n)) == n:
            slots = list(strip_blank_edges(first.slots, n))
        elif not first.positional and len(first.values) < n:
            header = _t4_header_columns(region, first, n)
            slots = align_slots(first, n, header) if header else None
            if slots is None:
                slots = _t4_by_thirds(region, first, n)
        if slots is None:
            # a table split in several parts (行政复议 | 行政诉讼): concatenate consecutive data lines
            acc: list[Slot] = []
            for ln in data:
                acc.extend(ln.slots if ln.positional else ln.values)
                if len(acc) >= n:
                    break
            if len(acc) == n and len(data) > 1:
                slots = list(acc)
    if slots is None:
        got = len(data[0].values) if data else 0
        for f in fields:
            res.facts[f.key] = Fact(f.key, None, None, blank=False, status="missing" if not data else "ambiguous")
        if data:
            message = (
                f"表四数据行（第 {data[0].row.line} 行）只有 {got} 个数值（应为 15 个），无法确定空白格位置，数值留空"
            )
        else:
            message = "未能定位表四数据行"
        res.findings.append(Finding("LAYOUT", "error", message, [f.key for f in fields]))
        return
    res.found_tables.add("t4")
    for f, slot in zip(fields, slots, strict=True):
        res.facts[f.key] = make_fact(f, slot)
