"""Bytes → text for every text-like reader (plain text, markdown, web pages): one encoding detector.

Order: a byte-order mark; UTF-16 without BOM (many zero bytes); the page's own declaration (web pages) — except that
bytes which are valid, non-ASCII UTF-8 are UTF-8 whatever a GB/Big5 declaration says (a copied template header is
common, valid UTF-8 by chance is not); strict UTF-8 (also when only the last character was cut off); GB18030 (a
superset of GB2312 and GBK); UTF-8/GB18030 with a few bad bytes replaced; a guess by charset-normalizer on a sample.
"""

from __future__ import annotations

import codecs
import re
import unicodedata
from dataclasses import dataclass, field

from pipeline.readers.errors import ReadError

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_META_CHARSET = re.compile(rb"""<meta\b[^>]{0,500}?charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]{1,40})""", re.I)
# Declarations that mean "some GB encoding": always decode with GB18030, their common superset.
_GB_FAMILY = frozenset(
    [
        "gb2312",
        "gbk",
        "gb18030",
        "gb_2312-80",
        "gb_2312",
        "x-gbk",
        "cp936",
        "ms936",
        "windows-936",
        "euc-cn",
        "csgb2312",
        "chinese",
        "iso-ir-58",
        "x-euc-cn",
    ]
)
_BIG5_FAMILY = frozenset(["big5", "big5-hkscs", "big5hkscs", "x-x-big5", "cn-big5", "csbig5", "cp950"])
# A Chinese report is never in a Western single-byte encoding: such a declaration is a template mistake.
_WESTERN = re.compile(r"^(iso-?8859-\d+|latin-?\d|windows-125\d|cp125\d|us-ascii|ascii)$")
_TEXTISH = re.compile(r"[\u4e00-\u9fff\u3000-\u303f\uff01-\uff5e\x20-\x7e\s]+")  # runs: one regex step per run
GUESS_SAMPLE_BYTES = 256 * 1024  # charset-normalizer looks at this much (its cost grows with the input)


@dataclass(slots=True)
class Decoded:
    text: str
    encoding: str
    notes: list[str] = field(default_factory=list)  # how the encoding was decided, when it was not plain


def declared_charset(data: bytes) -> str | None:
    """Python codec name of a web page's ``<meta charset>`` / ``http-equiv`` declaration, or None."""
    m = _META_CHARSET.search(data, 0, 16384)
    if not m:
        return None
    name = m.group(1).decode("ascii", "ignore").lower().strip("-_.")
    if name in _GB_FAMILY:
        return "gb18030"
    if name in _BIG5_FAMILY:
        return "big5hkscs"
    if name in ("utf8", "utf-8", "unicode-1-1-utf-8", "x-unicode20utf8"):
        return "utf-8"
    if _WESTERN.match(name):
        return None
    try:
        return codecs.lookup(name).name
    except LookupError:
        return None


def plausible_text(text: str) -> bool:
    """Mostly Chinese, ASCII, CJK punctuation and white space, as a report's text is."""
    sample = text[:5000]
    return bool(sample) and sum(map(len, _TEXTISH.findall(sample))) >= 0.8 * len(sample)


def looks_binary(text: str) -> bool:
    """Decoded bytes that are not text: control, replacement or unassigned characters beyond 5 % of a sample."""
    sample = text[:5000]
    if not sample:
        return False
    rest = _TEXTISH.sub("", sample)  # Chinese, ASCII and punctuation are fine; look only at what remains
    bad = sum(
        1
        for ch in rest
        if (ord(ch) < 32 and ch not in "\t\n\r\f") or ch == "\ufffd" or unicodedata.category(ch) in ("Cn", "Co", "Cs")
    )
    return bad > len(sample) * 0.05


def _utf8(data: bytes) -> str | None:
    """Strict UTF-8, also when only the last (multi-byte) character was cut off, as a truncated download is."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start >= len(data) - 3 and exc.reason == "unexpected end of data":
            return data[: exc.start].decode("utf-8", errors="strict")
        return None


def _few_errors(data: bytes, encoding: str) -> str | None:
    """Text decoded with replacement when only a handful of bytes are bad (a truncated or patched file)."""
    text = data.decode(encoding, errors="replace")
    bad = text.count("\ufffd")
    return text if bad <= max(2, len(text) // 2000) else None


def decode(data: bytes, *, html: bool = False) -> Decoded:
    """Text of ``data`` (see the module docstring); ``html`` honours the page's charset declaration.

    Raises :class:`ReadError` when nothing gives readable text.
    """
    for bom, enc in _BOMS:
        if data.startswith(bom):
            return Decoded(data.decode(enc, errors="replace"), enc)
    head = data[:4000]
    if len(head) >= 4 and head.count(0) > len(head) // 4:
        enc = "utf-16-le" if head[1::2].count(0) > head[0::2].count(0) else "utf-16-be"
        text = data.decode(enc, errors="replace")
        if not plausible_text(text):
            raise ReadError("不是文本文件（含二进制内容）")
        return Decoded(text, enc, [f"无 BOM 的 {enc.upper()} 编码"])
    if not html and b"\x00" in head:
        raise ReadError("不是文本文件（含二进制内容）")

    notes: list[str] = []
    declared = declared_charset(data) if html else None
    utf8 = _utf8(data)
    if declared and declared != "utf-8":
        if utf8 is not None and not utf8.isascii():
            notes.append(f"网页声明编码为 {declared}，但内容是合法的 UTF-8，按 UTF-8 解码")
            return Decoded(utf8, "utf-8", notes)
        try:
            return Decoded(data.decode(declared), declared, notes)
        except (UnicodeDecodeError, LookupError):
            notes.append(f"网页声明编码 {declared} 无法解码，改为自动识别")
    if utf8 is not None:
        return Decoded(utf8, "utf-8", notes)
    if declared == "utf-8":
        notes.append("网页声明编码为 UTF-8，但内容不是合法的 UTF-8，改为自动识别")
    try:
        return Decoded(data.decode("gb18030"), "gb18030", notes)
    except UnicodeDecodeError:
        pass
    for enc in ("utf-8", "gb18030"):
        patched = _few_errors(data, enc)
        if patched is not None:
            notes.append(f"按 {enc} 解码，少量无效字节已替换为 \ufffd")
            return Decoded(patched, enc, notes)
    return _guess(data, notes)


def _guess(data: bytes, notes: list[str]) -> Decoded:
    from charset_normalizer import from_bytes

    best = from_bytes(data[:GUESS_SAMPLE_BYTES]).best()
    if best is None or best.encoding is None:
        raise ReadError("无法识别文本编码（不是 UTF-8、GB18030 或其他可识别的文本编码）")
    encoding = str(best.encoding)
    notes.append(f"编码由 charset-normalizer 推测为 {encoding}")
    return Decoded(data.decode(encoding, errors="replace"), encoding, notes)
