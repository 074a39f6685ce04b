"""When a report was published, where that date came from, and whether it met the legal deadline.

条例 第五十条: an agency publishes its annual report for year Y by **31 January of Y+1**.  The date comes from, in order
of precedence:

==========  ======================================================================================================
source      what it is
==========  ======================================================================================================
manifest    the manifest's ``published`` column (ISO date) — the user's own record wins
page        the page's own statement: a crawler header's or an HTML page's 发布时间 / 发布日期, or its
            ``<meta name="PubDate">`` (:mod:`pipeline.readers.dates`)
document    the file's own properties: a PDF's CreationDate, a DOCX's core.xml created (else the modification
            date).  The file existed then, so the report cannot have been published earlier: *late* by this date
            is certain, *on time* only indicative (pages say so)
==========  ======================================================================================================

A date outside [1 December of the report year, 31 December of Y+5] is not this report's publication (a reused
template's creation date, a page's wrong date) and is ignored.  No date → timeliness ``unknown``, never a guess.
"""

from __future__ import annotations

import re
from datetime import date

from pipeline.model import Document
from pipeline.readers.dates import FILE_CREATED, FILE_MODIFIED

SOURCE_MANIFEST, SOURCE_PAGE, SOURCE_DOCUMENT = "manifest", "page", "document"
SOURCES = (SOURCE_MANIFEST, SOURCE_PAGE, SOURCE_DOCUMENT)
PAGE_KEYS = ("发布时间", "发布日期")
ON_TIME, LATE, UNKNOWN = "on_time", "late", "unknown"
STATUSES = (ON_TIME, LATE, UNKNOWN)
YEARS_AFTER = 5  # a publication date more than this many years after the report year is not plausible

_DATE = re.compile(r"(?P<y>(?:19|20)\d{2})\s*[-/.年]\s*(?P<m>\d{1,2})\s*[-/.月]\s*(?P<d>\d{1,2})")


def iso_date(text: str | None) -> str | None:
    """The first date in ``text`` ("2022-02-08 16:34", "2022年2月8日", "2022/2/8") as ISO, or None."""
    m = _DATE.search(text or "")
    if not m:
        return None
    try:
        return date(int(m["y"]), int(m["m"]), int(m["d"])).isoformat()
    except ValueError:  # 2023-02-30
        return None


def deadline(year: int) -> date:
    """The legal deadline of the report for ``year``: 31 January of the following year (条例 第五十条)."""
    return date(year + 1, 1, 31)


def plausible(published: str | date | None, year: int | None) -> bool:
    """Whether ``published`` can be the publication date of the report for ``year`` (see the module docstring)."""
    if published is None or year is None:
        return False
    day = date.fromisoformat(published) if isinstance(published, str) else published
    return date(year, 12, 1) <= day <= date(year + YEARS_AFTER, 12, 31)


def publication(doc: Document, year: int | None) -> tuple[str | None, str | None]:
    """(ISO date, source) of the report's publication from what its source states about itself; (None, None)."""
    header = doc.header or {}
    candidates = [(header.get(k), SOURCE_PAGE) for k in PAGE_KEYS]
    candidates += [(header.get(FILE_CREATED), SOURCE_DOCUMENT), (header.get(FILE_MODIFIED), SOURCE_DOCUMENT)]
    for text, source in candidates:
        day = iso_date(text)
        if day is not None and plausible(day, year):
            return day, source
    return None, None


def timeliness(published: date | str | None, year: int | None) -> str:
    """``on_time`` (published on or before the deadline), ``late`` or ``unknown`` (no plausible date)."""
    if year is None or not plausible(published, year):
        return UNKNOWN
    day = date.fromisoformat(published) if isinstance(published, str) else published
    assert day is not None
    return ON_TIME if day <= deadline(year) else LATE
