"""Dates a source states about itself, for :attr:`Document.header` (the publication date is chosen from them by
:mod:`pipeline.published`).

- a web page: ``<meta name="PubDate" content="…">`` and its kin (the national government-website metadata spec
  names PubDate; CMSs also write publishdate, firstpublishedtime, article:published_time), else a visible
  "发布时间：…" / "发布日期：…" anywhere in the page (the info bar above the article is chrome the reader drops, so
  the raw page is searched) → header ``发布时间``;
- a PDF: the Info dictionary's CreationDate and ModDate → ``文件创建时间`` / ``文件修改时间`` (ISO dates);
- a DOCX: core.xml ``dcterms:created`` / ``dcterms:modified`` (UTC) → the same keys, as dates in China time (UTC+8).

Everything here is bounded: the page search stops at the first :data:`SEARCH_CHARS` characters.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import Any

PAGE_DATE = "发布时间"
FILE_CREATED = "文件创建时间"
FILE_MODIFIED = "文件修改时间"
SEARCH_CHARS = 400_000  # the info bar sits near the top of a page; a huge page is not searched to its end
CHINA_OFFSET = timedelta(hours=8)

_META_NAMES = ("pubdate", "publishdate", "publish_date", "firstpublishedtime", "publishtime", "pubtime",
               "article:published_time", "dc.date.issued", "dcterms.issued")  # fmt: skip
_DATE_TEXT = r"(?:19|20)\d{2}\s*[-/.年]\s*\d{1,2}\s*[-/.月]\s*\d{1,2}"
# "发布时间：2023-01-20", "发布日期:&nbsp;2023年1月20日", "发布时间：</span><span>2023-01-20" (tags between)
_VISIBLE = re.compile(
    r"(?:发布|公开)(?:时间|日期)\s*(?:[:：]|&#65306;|&#xff1a;)(?:\s|&nbsp;|&#160;|<[^<>]{0,200}>){0,8}(?P<d>"
    + _DATE_TEXT
    + ")"
)
_PDF_DATE = re.compile(r"^(?:D:)?(?P<y>\d{4})(?P<m>\d{2})(?P<d>\d{2})")


def html_header(html: str, tree: Any) -> dict[str, str]:
    """``{"发布时间": text}`` from a page's metadata or its visible info bar ({} when it states none)."""
    for node in tree.css("meta"):
        attrs = node.attributes
        name = (attrs.get("name") or attrs.get("property") or attrs.get("itemprop") or "").strip().lower()
        content = (attrs.get("content") or "").strip()
        if name in _META_NAMES and re.search(_DATE_TEXT, content):
            return {PAGE_DATE: content[:40]}
    m = _VISIBLE.search(html[:SEARCH_CHARS])
    return {PAGE_DATE: m["d"]} if m else {}


def pdf_header(metadata: dict[str, str]) -> dict[str, str]:
    """The Info dictionary's CreationDate / ModDate as ISO dates (as written: the author's local date)."""
    out = {}
    for key, name in (("CreationDate", FILE_CREATED), ("ModDate", FILE_MODIFIED)):
        m = _PDF_DATE.match((metadata.get(key) or "").strip())
        if m:
            out[name] = f"{m['y']}-{m['m']}-{m['d']}"
    return out


def docx_header(created: datetime | None, modified: datetime | None) -> dict[str, str]:
    """core.xml's created / modified (stored in UTC) as dates in China time."""
    out = {}
    for value, name in ((created, FILE_CREATED), (modified, FILE_MODIFIED)):
        if isinstance(value, datetime):
            try:
                local = value + CHINA_OFFSET if value.tzinfo is None else value.astimezone(timezone(CHINA_OFFSET))
            except OverflowError:  # the last hours of year 9999: no publication date
                continue
            out[name] = local.date().isoformat()
    return out
