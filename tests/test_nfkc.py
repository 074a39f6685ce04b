"""normalize.nfkc is exactly unicodedata's NFKC: for every code point, and for mixed texts where combining marks
meet the characters it replaces before normalising (full-width forms, half-width katakana and their voiced marks,
Hangul jamo that compose)."""

from __future__ import annotations

import random
import unicodedata

from pipeline.normalize import _NFKC_OF, compact, nfkc


def test_every_code_point() -> None:
    for cp in range(0x110000):
        if 0xD800 <= cp < 0xE000:
            continue  # surrogates are not characters
        ch = chr(cp)
        assert nfkc(ch) == unicodedata.normalize("NFKC", ch), hex(cp)


def test_mixed_texts_with_combining_marks() -> None:
    rng = random.Random(12)
    replaced = sorted(_NFKC_OF)
    marks = [chr(c) for c in range(0x300, 0x370)] + ["\u3099", "\u309a", "\uff9e", "\uff9f", "\u1161", "\u11a8"]
    plain = ["a", "e", "1", " ", "カ", "ｶ", "は", "中", "，", "（", "\u1100", "\u3000", "①", "㈠", "⼈", "ﬁ"]
    for _ in range(50_000):
        text = "".join(rng.choice(replaced + marks + plain) for _ in range(rng.randint(1, 8)))
        assert nfkc(text) == unicodedata.normalize("NFKC", text), ascii(text)


def test_report_text() -> None:
    text = "２０２１年，本机关共收到政府信息公开申请１２件（其中：①当面申请３件）。ｶﾞｲﾄﾞ　㈠ 本年新收"
    assert nfkc(text) == unicodedata.normalize("NFKC", text)
    assert compact(text) == "".join(unicodedata.normalize("NFKC", text).split())
