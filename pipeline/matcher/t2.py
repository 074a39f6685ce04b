"""表二: each row found by its label (the label of either edition), its cells by count or position; a row read as
one digit run ("行政规范性文件693665") is split only where the text allows a single reading — 表二 has no identity, so
"693665" (69·3·665, 6·93·665 …) stays null with an error listing the candidates."""

from __future__ import annotations

from pipeline.matcher.digits import MAX_CANDIDATES, split_run
from pipeline.matcher.glued import INTACT, RunRow, Separators, is_run, kinds_of, read_run, settle
from pipeline.matcher.labels import (
    LABEL_MATCH,
    LABEL_WEAK,
    label_key,
    similarity,
    t2_row_aliases,
    t2_template,
)
from pipeline.matcher.lines import Line, align_slots, complete_lines, reference_positions
from pipeline.matcher.result import (
    MatchResult,
    ambiguous_row,
    doubt_blanks_near_strays,
    make_fact,
    missing_row,
)
from pipeline.model import Fact, Finding
from pipeline.normalize import parse_value

NEARBY_LINES = 8  # complete rows this close give column positions to a row with blanks
PROSE_LABEL = 20  # a longer label with a date in it is a sentence, not a local row


def _score(ln: Line, key: str, alias_keys: tuple[str, ...]) -> float:
    own = label_key(ln.label)
    s = similarity(own, key)
    for alias in alias_keys:
        s = max(s, similarity(own, alias))
    return s


def _digits(row: RunRow) -> int:
    return sum(ch.isdigit() for ch in row.line.run)


def settle_runs(runs: list[RunRow], res: MatchResult, edition: str) -> None:
    """Facts of the 表二 rows read as digit runs.  表二 has no arithmetic, so a run is split only where its text allows
    one reading.  When a run of this table has fewer digits than cells, the page drops blank cells without a trace;
    then any run may hide a blank cell ("10" over two cells is 1·0, 10·blank or blank·10), and a cell is decided
    only where every reading with or without blank cells agrees on it."""
    untraced_blanks = any(_digits(row) < len(row.fields) for row in runs)
    for row in runs:
        if untraced_blanks:
            wide = split_run(row.line.run, kinds_of(row.fields), free_blanks=len(row.fields))
            if wide.limit is None and wide.count > 1:
                row.splits = wide
                row.kept = list(wide.candidates) if wide.count <= MAX_CANDIDATES else []
                row.certain = None
        settle(res, row, "表二", "", edition)


def match_t2(lines: list[Line], lo: int, hi: int, edition: str, res: MatchResult, seps: Separators = INTACT) -> None:
    template = t2_template(edition)
    aliases = t2_row_aliases(edition)
    alias_keys = {t.row_key: tuple(k for k, row in aliases.items() if row == t.row_key) for t in template}
    region = lines[lo:hi]
    taken: set[int] = set()
    used: set[int] = set()
    runs: list[RunRow] = []
    for t in template:
        best, best_s = None, 0.0
        for ln in region:
            if ln.idx in taken or not ln.label:
                continue
            s = _score(ln, t.key, alias_keys[t.row_key])
            if s > best_s:
                best, best_s = ln, s
        if best is None or best_s < LABEL_MATCH:
            missing_row(res, t.fields, f"表二未能定位“{t.label}”行，该行数值留空")
            continue
        others = [o.label for o in template if o is not t and len(o.key) >= 4 and o.key in label_key(best.label)]
        if others and t.key in label_key(best.label):
            # one line carrying two rows' labels ("行政处罚/行政强制5"): whose number it is cannot be told
            taken.add(best.idx)
            ambiguous_row(
                res,
                t.fields,
                f"表二第 {best.row.line} 行的标签同时含有“{t.label}”和“{others[0]}”，无法确定数值属于哪一行",
            )
            continue
        taken.add(best.idx)
        ln = best
        if not ln.slots:
            # label on its own line, numbers on the next line (wrapped label)
            nxt = next((x for x in region if x.idx > ln.idx and (x.slots or x.label)), None)
            if nxt is not None and not nxt.label and nxt.values:
                ln = nxt
                used.add(nxt.idx)
        n = len(t.fields)
        if ln.values and is_run(ln, n, seps) and (len(ln.values) < n or ln.glued and len(ln.values) != n):
            runs.append(read_run(t.label, t.fields, ln))
            continue
        nearby = (
            complete_lines([x for x in region if abs(x.idx - ln.idx) < NEARBY_LINES], n) if len(ln.slots) < n else []
        )
        aligned = align_slots(ln, n, reference_positions(nearby, ln))
        if aligned is None and not ln.values and not ln.slots:
            aligned = [None] * n  # a row printed with every cell blank
        if (
            aligned is None
            and ln.values
            and len(ln.values) < n
            and all(parse_value(s.raw)[1] == "null_marker" for s in ln.values)
        ):
            # fewer cells than columns, every one a null marker ("/", "—"): each column is null wherever they stood
            for f in t.fields:
                res.facts[f.key] = Fact(
                    f.key, None, ln.values[0].raw, blank=False, loc=ln.values[0].cell.loc, status="null_marker"
                )
            continue
        if aligned is None:
            ambiguous_row(
                res,
                t.fields,
                f"表二“{t.label}”（第 {ln.row.line} 行）有 {len(ln.values)} 个数值，应为 {n} 个，无法确定各自所在列",
            )
            continue
        for f, slot in zip(t.fields, aligned, strict=True):
            res.facts[f.key] = make_fact(f, slot)
    settle_runs(runs, res, edition)
    stray = [ln for ln in region if ln.idx not in taken | used and ln.values and not ln.label and not ln.glued]
    doubt_blanks_near_strays(res, "表二", stray, [f for t in template for f in t.fields])
    # extra local rows: labelled value lines in 表二 that are no template row
    for ln in region:
        if ln.idx in taken or not ln.values or not ln.label:
            continue
        key = label_key(ln.label)
        if len(key) >= 3 and "第二十条" not in ln.label and all(similarity(key, t.key) < LABEL_WEAK for t in template):
            if any(w in ln.label for w in ("年", "月", "日")) and len(ln.label) > PROSE_LABEL:
                continue  # prose
            res.extra_rows.append(f"表二 {ln.slots[0].cell.loc}: {ln.label}")
            res.findings.append(
                Finding("EXTRA_ROW", "info", f"表二有模板外的行“{ln.label}”（{ln.slots[0].cell.loc}），已忽略", [])
            )
