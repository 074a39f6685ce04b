"""Text normalisation shared by readers and the matcher.

Labels are compared after: NFKC (full-width → half-width), traditional → simplified, pinyin spam removed,
all whitespace deleted.  Values are read by :func:`parse_value`, which keeps blank, null markers and numbers apart.
"""

from __future__ import annotations

import re
import unicodedata
from decimal import Decimal, InvalidOperation
from functools import cache, lru_cache
from typing import Any

# Characters that only occur in traditional text in these reports; one hit is enough to convert.
_TRADITIONAL_HINTS = frozenset(
    "開請數總報處與經關機務資訊條項規權據貳參陸區縣鎮廳萬計發廢現許罰強費複議訟結轉設審護內過執檔詢擁證國"
)
_PINYIN_SPAM = re.compile(r"(?<=[\u4e00-\u9fff])[（(][a-z]{1,6}[)）]")
_WS = re.compile(r"\s+")
_NON_CJK = re.compile(r"[^\u4e00-\u9fff]")


@cache
def simplified_converter() -> Any:
    """The process's one OpenCC traditional → simplified converter (loading its dictionaries takes time)."""
    import opencc

    return opencc.OpenCC("t2s")


_TRADITIONAL_RE = re.compile("[" + "".join(sorted(_TRADITIONAL_HINTS)) + "]")


def is_traditional(text: str) -> bool:
    found = _TRADITIONAL_RE.finditer(text, 0, 20000)
    return next(found, None) is not None and next(found, None) is not None and next(found, None) is not None


def to_simplified(text: str) -> str:
    """Traditional → simplified (OpenCC t2s), only when the text looks traditional (it is slow-ish)."""
    return simplified_converter().convert(text) if is_traditional(text) else text


def strip_pinyin_spam(text: str) -> str:
    """Remove the pinyin that spam mirrors insert after characters: ``公(gong)开`` → ``公开``."""
    return _PINYIN_SPAM.sub("", text) if "(" in text or "（" in text else text


def clean_document_text(text: str) -> str:
    """Whole-document clean-up every reader applies before building rows."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\ufeff", "")
    return strip_pinyin_spam(to_simplified(text))


# NFKC, faster for Chinese text.  CPython's normalize() returns at once when a text passes the "quick check"; one
# full-width comma or colon fails it, and then the whole text is decomposed and recomposed character by character
# (most of what normalising a report costs).  The characters of these blocks that NFKC changes (full-width forms,
# the ideographic space, enclosed and compatibility characters, Kangxi radicals) are replaced by their own NFKC
# form first, which is exact: a character and its NFKC form have the same NFKD, so the text's NFKC is unchanged;
# normalize() then still sees the whole text (combining marks, anything outside these blocks) and usually has
# nothing left to do.
_NFKC_BLOCKS = ((0x2000, 0x2070), (0x2150, 0x2190), (0x2460, 0x2500), (0x2F00, 0x2FE0), (0x3000, 0x3100),
                (0x3200, 0x3400), (0xF900, 0xFB00), (0xFE10, 0xFE70), (0xFF00, 0xFFF0))  # fmt: skip
_NFKC_OF = {
    ch: form
    for a, b in _NFKC_BLOCKS
    for ch in map(chr, range(a, b))
    if (form := unicodedata.normalize("NFKC", ch)) != ch
}
_NFKC_CHANGED = re.compile("[" + "".join(re.escape(ch) for ch in _NFKC_OF) + "]")


def _nfkc_of(m: re.Match[str]) -> str:
    return _NFKC_OF[m.group()]


def nfkc(text: str) -> str:
    """``unicodedata.normalize("NFKC", text)``, exactly (see above)."""
    if text.isascii():
        return text  # ASCII is NFKC already
    return unicodedata.normalize("NFKC", _NFKC_CHANGED.sub(_nfkc_of, text))


@lru_cache(maxsize=8192)
def compact(text: str) -> str:
    """NFKC and all whitespace deleted: the form labels and markers are compared in."""
    return _WS.sub("", nfkc(text))


def cjk_only(text: str) -> str:
    """Only the CJK characters: enumerators, brackets, digits and punctuation dropped (for label similarity)."""
    return _NON_CJK.sub("", text)


# ---------------------------------------------------------------------------------------------------------------
# Values

# The store keeps values as DECIMAL(18,4): |value| < 10^14.  A cell beyond that is refused (status "too_large"), so
# the matcher leaves it null and the validator names it in a TYPE error; the rest of the report still loads.
MAX_INTEGER_DIGITS = 14
MAX_FRACTION_DIGITS = 12  # more decimals than any amount has (the store rounds to 4)

NULL_MARKERS = frozenset(
    {"/", "／", "\\", "—", "——", "－", "-", "–", "一", "无", "無", "空", "/ ", "--", "———", "×", "x"}
)
_NUM = re.compile(
    r"^(?P<sign>[+\-−]?)(?P<int>\d{1,3}(?:[,，]\d{3})+|\d+)(?P<frac>\.\d+)?(?P<unit>万元|元|件|个|项|条|次|万)?"
    r"(?P<note>[(（][^()（）]{1,30}[)）])?$"  # "22（其中修订16件）": a number with a note, as converters leave it
)


@lru_cache(maxsize=16384)
def is_value_token(token: str) -> bool:
    """A token that is a cell value (a number, possibly signed or with a unit, or a null marker)."""
    if token.isascii() and token.isdigit():
        return True
    t = nfkc(token).strip()
    return bool(_NUM.match(t)) or t in NULL_MARKERS


def is_number_token(token: str) -> bool:
    return bool(_NUM.match(nfkc(token).strip()))


def parse_value(raw: str | None, *, amount: bool = False, signed: bool = False) -> tuple[int | Decimal | None, str]:
    """Read one cell. Returns ``(value, status)`` with status ``ok``, ``blank``, ``null_marker`` or ``invalid``.

    Amounts are Decimals in 万元: a cell written ``251000元`` becomes ``25.1`` (the raw text is kept by the caller).
    A number of :data:`MAX_INTEGER_DIGITS` or more integer digits (≥ 10^14, beyond what the store holds) is
    ``too_large``.
    """
    if raw is None:
        return None, "missing"
    if raw.isascii() and raw.isdigit():  # the common case, fast
        if len(raw.lstrip("0")) > MAX_INTEGER_DIGITS:
            return None, "too_large"
        return (Decimal(int(raw)) if amount else int(raw)), "ok"
    t = nfkc(raw).strip()
    if not t:
        return None, "blank"
    if t in NULL_MARKERS:
        return None, "null_marker"
    m = _NUM.match(t)
    if not m:
        return None, "invalid"
    digits = m["int"].replace(",", "").replace("，", "")
    sign = -1 if m["sign"] in ("-", "−") else 1
    whole = len(digits.lstrip("0"))
    if m["unit"] == "元" and amount:
        whole -= 4  # 元 → 万元
    if whole > MAX_INTEGER_DIGITS or len(m["frac"] or "") > MAX_FRACTION_DIGITS + 1:
        return None, "too_large"
    if amount:
        try:
            val = Decimal(digits + (m["frac"] or "")) * sign
        except InvalidOperation:  # pragma: no cover - regex guarantees digits
            return None, "invalid"
        if m["unit"] == "元":
            val = val / Decimal(10000)
        return val.normalize() if val != val.to_integral() else Decimal(int(val)), "ok"
    if m["frac"]:
        return None, "invalid"  # a count with decimals
    return int(digits) * sign, "ok"  # a negative count is kept as printed; the validator flags it
