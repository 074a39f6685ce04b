"""The prose of a report's sections 一 … 六: paragraphs and sentence passages, for search and copied-text detection.

A stored section (``sections.text``) is the extracted text as it came out of the reader: the heading line, prose
wrapped at the PDF's line ends, page numbers ("-3-"), and the rows of 表二/三/四 with their numbers.  Search and
copied-text detection read only the *narrative*:

- table rows (a line with two or more bare numbers, or one bare number and no sentence punctuation, or a header
  line of space-separated labels without punctuation, a 表二 block heading, or a row label of the template
  printed on its own line) and page-number lines are dropped;
- wrapped lines are joined back into paragraphs: a line that does not end a sentence continues on the next line
  unless that line starts a new enumerated item (（一）, 一、, 1.) or the line is a short sub-heading;
- a *passage* is one sentence of a paragraph (split after 。！？ and ；), with its character span in the paragraph.

Everything here is a pure function of the section text, so the dashboard can recompute the passages of any stored
report and mark the ones the copied-text engine matched by their number.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache

SECTIONS = ("一", "二", "三", "四", "五", "六")
MAX_SECTION_CHARS = 200_000  # a bound on one section's text (a broken extraction can run on for megabytes)
MIN_PASSAGE_CHARS = 20  # significant characters; shorter sentences (headings, stock one-liners) are never "copied"

_NUMBER = re.compile(r"^[-+]?\d[\d,，.．]*%?$")
_PAGE_NUMBER = re.compile(r"^[-—－\s]*(第\s*)?\d{1,4}\s*(页)?(\s*/\s*\d+\s*页?)?[-—－\s]*$")
_SENTENCE_PUNCT = re.compile(r"[。！？；，：]")
_SENTENCE_END = ("。", "！", "？", "；", "：", "”", "」", "）", ")", "…")
_ITEM_START = re.compile(
    r"^\s*([（(][一二三四五六七八九十\d]{1,3}[)）]|[一二三四五六七八九十]{1,3}[、.．]|\d{1,2}[、.．](?!\d))"
)
_SPLIT = re.compile(r"(?<=[。！？；])")
_INSIGNIFICANT = re.compile(r"[\W_]+", re.UNICODE)
_SECTION_HEADING = re.compile(r"^[一二三四五六][、.．,，]\s*\S.{0,58}$")  # how pipeline.meta finds a section
_ENUMERATOR = re.compile(r"^([(（]?[一二三四五六七八九十\d]{1,3}[)）、.．]\s*)+")
_TEMPLATE_LINE = re.compile(r"^第二十条第[（(][一二三四五六七八九十]+[)）]项")  # 表二 block headings


def _bare(text: str) -> str:
    """A label without its enumerator, spaces, punctuation or width differences (for comparing with the template)."""
    if not unicodedata.is_normalized("NFKC", text):
        text = unicodedata.normalize("NFKC", text)
    return _INSIGNIFICANT.sub("", _ENUMERATOR.sub("", text.strip()))


@cache
def _template_labels() -> frozenset[str]:
    """Row and group labels of 表二/三/四 in both editions, bare (a table row printed without its numbers)."""
    from pipeline.registry import registry

    reg = registry()
    labels = {_bare(part) for t in ("t2", "t3", "t4") for edition in ("2019", "2021")
              for _, label, group in reg.rows(t, edition) for part in (label, group, *label.split("/")) if part}  # fmt: skip
    return frozenset(label for label in labels if len(label) >= 4)


def is_table_line(line: str) -> bool:
    """A row or header of a statistical table (not prose).

    The tests are independent; the template-label test (a normalisation and two substitutions) comes last, so a
    row with numbers never pays for it.  Only a token that starts like a number is matched against the number
    pattern (most tokens of prose start with a Han character)."""
    tokens = line.split()
    numbers = sum(1 for t in tokens if (t[0] in "+-" or t[0].isdecimal()) and _NUMBER.match(t))
    if numbers >= 2:
        return True
    has_punct = bool(_SENTENCE_PUNCT.search(line))
    if numbers == 1 and not has_punct:
        return True
    labels_only = len(tokens) >= 2 and max(map(len, tokens)) <= 16  # a header row: short labels side by side
    if (labels_only and not has_punct) or _TEMPLATE_LINE.match(line):
        return True
    return _bare(line) in _template_labels()


def paragraphs(section_text: str | None) -> list[str]:
    """The prose paragraphs of one stored section, its heading line excluded (see module docstring)."""
    if not section_text:
        return []
    lines = section_text[:MAX_SECTION_CHARS].splitlines()
    if lines and _SECTION_HEADING.match(lines[0].strip()):
        lines = lines[1:]
    out: list[str] = []
    current = ""
    for raw in lines:
        line = raw.strip()
        if not line or _PAGE_NUMBER.match(line):
            continue
        if is_table_line(line):
            if current:
                out.append(current)
                current = ""
            continue
        if current and (current.endswith(_SENTENCE_END) or _ITEM_START.match(line) or _is_heading(current)):
            out.append(current)
            current = ""
        current += line
    if current:
        out.append(current)
    return out


def _is_heading(line: str) -> bool:
    """An enumerated sub-heading on a line of its own, e.g. "（一）主动公开"."""
    return len(line) <= 30 and bool(_ITEM_START.match(line)) and not _SENTENCE_PUNCT.search(line)


@dataclass(frozen=True, slots=True)
class Passage:
    """One sentence of a section's narrative: its number in the section, paragraph, span and text."""

    section: str
    number: int  # 0-based, over the section's passages in reading order
    paragraph: int
    start: int  # character offsets in the paragraph
    stop: int
    text: str

    @property
    def significant(self) -> int:
        """Characters that are not punctuation or spaces (the length that counts for shares)."""
        return len(_INSIGNIFICANT.sub("", self.text))


def sentence_spans(paragraph: str) -> Iterator[tuple[int, int]]:
    """(start, stop) of each sentence of a paragraph, ending after 。！？ or ；."""
    pos = 0
    for piece in _SPLIT.split(paragraph):
        if piece:
            yield pos, pos + len(piece)
            pos += len(piece)


def passages(section: str, section_text: str | None) -> list[Passage]:
    """Every sentence of the section's narrative, numbered in reading order."""
    out: list[Passage] = []
    for p_no, para in enumerate(paragraphs(section_text)):
        for start, stop in sentence_spans(para):
            out.append(Passage(section, len(out), p_no, start, stop, para[start:stop]))
    return out


def normalise(text: str) -> str:
    """Fold width and case (NFKC, lower-case): the form passages are compared in."""
    return unicodedata.normalize("NFKC", text).lower()
