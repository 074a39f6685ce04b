"""The attachments a report page links to: the documents to follow when the page itself holds no report tables.

A link is an attachment when its address ends in a document extension (PDF, Word, WPS), when its text says 附件
or 下载 (download servlets such as ``download.jsp?id=…`` have no extension), or when it opens a document in an
online viewer (``viewer.html?file=/a.pdf``); ``<iframe>``/``<embed>``/``<object>`` showing a document count too.
Links to other web pages, scripts and pictures are not attachments.  Links to document formats the readers
cannot take (Excel, OFD, archives) are returned separately, so each can be reported instead of silently dropped.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qsl, urljoin, urlsplit, urlunsplit

from selectolax.lexbor import LexborHTMLParser

from pipeline.fetch.documents import url_extension
from pipeline.readers.html import check_limits, decode_html

DOCUMENT_EXTENSIONS = (".pdf", ".doc", ".docx", ".wps")
UNSUPPORTED_EXTENSIONS = (
    ".xls",
    ".xlsx",
    ".et",
    ".ofd",
    ".ppt",
    ".pptx",
    ".dps",
    ".zip",
    ".rar",
    ".7z",
    ".caj",
)
PAGE_EXTENSIONS = (".htm", ".html", ".shtml", ".xhtml", ".jhtml")
# Never attachments, whatever the link text says (installers, pictures, styles …).
IGNORED_EXTENSIONS = (".exe", ".apk", ".msi", ".dmg", ".ipa", ".jpg", ".jpeg", ".png", ".gif", ".css", ".js")
LINK_WORDS = ("附件", "下载")
MAX_LINKS_SCANNED = 5000  # links looked at on one page (a huge directory page is not walked to the end)


@dataclass(slots=True)
class Attachment:
    url: str
    text: str  # the link text (for messages)
    unsupported: bool = False  # a document format the readers cannot take


def find_attachments(data: bytes, page_url: str) -> list[Attachment]:
    """Attachments linked from the page, in page order, each address once (see the module docstring)."""
    try:
        html, _encoding, _notes = decode_html(data)
        check_limits(html, page_url)  # the web page reader's limits: a hostile page is not parsed here either
    except Exception:  # not decodable as HTML, or beyond a limit (the parse already reported which): no links
        return []
    tree = LexborHTMLParser(html)
    base_node = tree.css_first("base[href]")
    base = urljoin(page_url, (base_node.attributes.get("href") or "").strip()) if base_node else page_url
    found: dict[str, Attachment] = {}
    own = _without_fragment(page_url)
    for n, node in enumerate(tree.css("a[href], area[href], iframe[src], embed[src], object[data]")):
        if n >= MAX_LINKS_SCANNED:
            break
        attrs = node.attributes
        raw = attrs.get("href") or attrs.get("src") or attrs.get("data") or ""
        text = " ".join((node.text(deep=True) or "").split()) or (attrs.get("title") or "")
        url = _absolute(base, raw)
        if url is None or url == own or url in found:
            continue
        attachment = _classify(url, text, is_link=node.tag in ("a", "area"))
        if attachment is not None:
            found[attachment.url] = attachment
    return list(found.values())


def _classify(url: str, text: str, is_link: bool) -> Attachment | None:
    inner = _viewer_target(url)
    if inner is not None:
        return Attachment(inner, text)
    ext = url_extension(url)
    if ext in DOCUMENT_EXTENSIONS:
        return Attachment(url, text)
    if ext in UNSUPPORTED_EXTENSIONS:
        return Attachment(url, text, unsupported=True)
    if (
        is_link
        and any(word in text for word in LINK_WORDS)
        and ext not in PAGE_EXTENSIONS
        and ext not in IGNORED_EXTENSIONS
    ):
        return Attachment(url, text)
    return None


def _viewer_target(url: str) -> str | None:
    """The document an online viewer link opens (``…/viewer.html?file=/files/a.pdf``), if any."""
    for key, value in parse_qsl(urlsplit(url).query):
        if key.lower() in ("file", "url", "src") and url_extension(value) in DOCUMENT_EXTENSIONS:
            return _absolute(url, value)
    return None


def _absolute(base: str, raw: str) -> str | None:
    raw = raw.strip()
    if not raw or raw.startswith("#"):
        return None
    try:
        url = urljoin(base, raw)
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None  # javascript:, mailto:, data: …
    return _without_fragment(url)


def _without_fragment(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path or "/", parts.query, ""))
