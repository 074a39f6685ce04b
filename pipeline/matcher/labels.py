"""Label similarity and the template's rows: how a line's label text is compared with the official row labels.

Labels are compared by the Dice coefficient of their character bigrams after :func:`label_key` (enumerators,
punctuation and digits dropped, CJK only), so spaced, split, typo'd and OCR-damaged labels still match.  The score
thresholds the matcher uses are named here, once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache, lru_cache

from pipeline.normalize import cjk_only, compact, nfkc
from pipeline.registry import T3_COLUMNS_ORDER, Field, registry

# --- label-score thresholds (Dice coefficient of bigrams, 0..1) ------------------------------------------------
LABEL_MATCH = 0.6  # a label names this template row
LABEL_CONFIDENT = 0.55  # a row placed by the alignment is trusted on its label (not on order alone)
LABEL_WEAK = 0.5  # below this, a row's score may be lifted by the wrapped label fragments around the line
LABEL_UNRELATED = 0.3  # below this, a label names no template row (a local row, or a contradiction)
WRAPPED_DISCOUNT = 0.9  # a score read from label fragments around a line counts a little less than its own label
ORDER_BONUS = 0.05  # what a pair earns in the row alignment for keeping the printed order

# Labels longer than this (after label_key) are prose, not row labels; scoring reads only this many characters, so
# a hostile 100k-character line costs no more than a normal one.
MAX_LABEL_KEY = 160

_ENUM = re.compile(r"[(（][一二三四五六七八九十\d]+[)）]|[一二三四五六七八九十]+[、.．]|\d+[.、．]")


@lru_cache(maxsize=16384)
def label_key(text: str) -> str:
    """The comparable core of a label: enumerators, punctuation and digits removed, CJK only (bounded length)."""
    return cjk_only(_ENUM.sub("", nfkc(text[: 4 * MAX_LABEL_KEY])))[:MAX_LABEL_KEY]


@lru_cache(maxsize=16384)
def _bigrams(s: str) -> frozenset[str]:
    if len(s) < 2:
        return frozenset({s}) if s else frozenset()
    return frozenset(s[i : i + 2] for i in range(len(s) - 1))


@lru_cache(maxsize=32768)
def similarity(text_key: str, official_key: str) -> float:
    """Dice coefficient of character bigrams (robust to spaced, split, typo'd and partly missing labels)."""
    a, b = _bigrams(text_key[:MAX_LABEL_KEY]), _bigrams(official_key[:MAX_LABEL_KEY])
    if not a or not b:
        return 0.0
    return 2 * len(a & b) / (len(a) + len(b))


@dataclass(frozen=True, slots=True)
class TemplateRow:
    row_key: str
    label: str
    key: str  # label_key(label)
    fields: tuple[Field, ...]  # in printed column order


@cache
def t3_template(layout: str) -> tuple[TemplateRow, ...]:
    reg = registry()
    rows = []
    for row_key, row_label, _block in reg.rows("t3", layout):
        fields = tuple(reg[reg.key_for("t3", row_key, c)] for c in T3_COLUMNS_ORDER)
        rows.append(TemplateRow(row_key, row_label, label_key(row_label), fields))
    return tuple(rows)


@cache
def t2_template(edition: str) -> tuple[TemplateRow, ...]:
    """表二 rows with their columns in printed order.

    fields.csv lists the shared ``decisions`` column first; in the 2019 layout it is printed after
    上一年项目数量 and 本年增/减, so within a row the shared column goes last.
    """
    reg = registry()
    rows = []
    for row_key, row_label, _block in reg.rows("t2", edition):
        fields = [f for f in reg.select(edition, "t2") if f.row_key == row_key]
        fields.sort(key=lambda f: len(f.editions) > 1)  # shared (2019 2021) columns last: stable sort
        rows.append(TemplateRow(row_key, row_label, label_key(row_label), tuple(fields)))
    return tuple(rows)


@cache
def t2_row_aliases(edition: str) -> dict[str, str]:
    """Row labels of the other edition that name the same 表二 row (a 2021 report still printing the 2019 label
    规范性文件): label key → row key, only where the row exists in ``edition`` under another label."""
    reg = registry()
    own = {row_key: label_key(label) for row_key, label, _b in reg.rows("t2", edition)}
    out: dict[str, str] = {}
    for other in ("2019", "2021"):
        for row_key, label, _b in reg.rows("t2", other):
            key = label_key(label)
            if row_key in own and own[row_key] != key:
                out[key] = row_key
    return out


@cache
def header_words() -> tuple[str, ...]:
    """Column-header words of the three tables (本年制发件数, 自然人, 结果维持 …, both editions), longest first.

    A line whose label runs several of them together is a table header, whatever follows it."""
    reg = registry()
    words = {compact(f.col_label_for(ed)) for f in reg.fields for ed in f.editions}
    words |= {compact(f.row_label) for f in reg.fields if f.table == "t4"}  # 行政复议, 未经复议直接起诉 …
    words |= {"信息内容", "申请人情况", "法人或其他组织", "行政诉讼"}
    return tuple(sorted((w for w in words if len(w) >= 2), key=len, reverse=True))


# --- row starts and group labels -----------------------------------------------------------------------------

ROW_START = re.compile(r"^(?:\d+[.、．]|[(（][一二三四五六七八九十]+[)）]|[一二三四五六七八九十]+、)")
_GROUP_PREFIX = re.compile(
    r"^(?:[(（][三四五六][)）][\u4e00-\u9fff]{0,4}(?=\d+[.、．])"  # "(六)其1.申请人…": a split group label
    r"|[\u4e00-\u9fff]{1,2}(?=[(（][一二三四五六七八九十]+[)）]|\d+[.、．]))"  # "年(二)…": a vertical label's character
)


@cache
def _group_labels() -> tuple[str, ...]:
    """Compact 表三 group labels (三、本年度办理结果, （三）不予公开 …) from the registry, longest first."""
    blocks = {compact(b) for _k, _l, b in registry().rows("t3") if b}
    return tuple(sorted(blocks, key=len, reverse=True))


def row_part(label: str) -> str:
    """A line's label without the group labels printed in front of it ("(五)不予处理1.信访…" → "1.信访…")."""
    changed = True
    while changed and label:
        changed = False
        for g in _group_labels():
            if label.startswith(g) and len(label) > len(g):
                label, changed = label[len(g) :], True
        m = _GROUP_PREFIX.match(label)
        if m:
            label, changed = label[m.end() :], True
    return label


def starts_row(label: str) -> bool:
    return bool(ROW_START.match(row_part(label)))
