"""Fetched bytes → a file in the fetched folder, typed by its own bytes, with its provenance beside it.

Files are named ``<sha256><ext>``: the same document fetched twice (from one URL or two) is one file, and no name a
server chooses (URL path, ``Content-Disposition``) ever reaches the file system — those only hint at a type when
the bytes cannot tell (a legacy Word binary saved as ``.wps``).  Beside each file, ``<sha256>.json`` keeps every
fetch of it (page URL, document URL, final URL, HTTP status, content type, time, attempts), and the folder's
``manifest.csv`` (``path, url, fetched_at``) is an ordinary ingest manifest: ``xxgk ingest DIR --manifest
DIR/manifest.csv`` rebuilds the same reports with the same provenance.
"""

from __future__ import annotations

import contextlib
import csv
import fcntl
import hashlib
import io
import json
import os
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import unquote, urlsplit

from pipeline.fetch.client import Response
from pipeline.readers import sniff_format

MANIFEST = "manifest.csv"
MANIFEST_COLUMNS = ("path", "url", "fetched_at")
MAX_FETCHES_KEPT = 50  # fetch records kept per document in its sidecar (the newest)
_OLE = b"\xd0\xcf\x11\xe0"
_WORD_STREAM = "WordDocument".encode("utf-16-le")  # the main stream of a Word / WPS Writer binary file
_EXCEL_STREAMS = ("Workbook".encode("utf-16-le"), "Book".encode("utf-16-le"))
_IMAGES = {b"\x89PNG": ".png", b"\xff\xd8\xff": ".jpg", b"II*\x00": ".tif", b"MM\x00*": ".tif", b"BM": ".bmp"}
_FILENAME = re.compile(r"""filename\*?\s*=\s*(?:[\w-]+'[\w-]*')?["']?([^"';]+)""", re.I)


def fetched_dir(db: str | os.PathLike[str]) -> Path:
    """Where downloads are kept by default: ``<database folder>/fetched``."""
    return Path(db).resolve().parent / "fetched"


def url_extension(url: str) -> str:
    return Path(unquote(urlsplit(url).path)).suffix.lower()


def disposition_extension(disposition: str | None) -> str:
    match = _FILENAME.search(disposition or "")
    return Path(unquote(match.group(1).strip())).suffix.lower() if match else ""


def document_type(resp: Response) -> tuple[str | None, str | None]:
    """(extension to store the bytes under, None) or (None, why this is not a document the readers take)."""
    data = resp.data
    hint = disposition_extension(resp.content_disposition) or url_extension(resp.final_url)
    content_type = (resp.content_type or "").split(";")[0].strip().lower()
    if not data.strip():
        return None, "内容为空"
    if data.startswith(b"%PDF-"):
        return ".pdf", None
    if data.startswith(b"PK\x03\x04"):
        return _zip_type(data)
    if data.startswith(_OLE):
        if _WORD_STREAM in data:
            return (".wps" if hint == ".wps" else ".doc"), None
        if any(s in data for s in _EXCEL_STREAMS):
            return None, "Excel 表格（.xls/.et）不是年报文件格式，暂不支持"
        return None, "无法识别的 Office 二进制文件（不是 Word/WPS 文字文档）"
    for magic, ext in _IMAGES.items():
        if data.startswith(magic):
            return ext, None
    if sniff_format(data, hint) == "html" or content_type in ("text/html", "application/xhtml+xml"):
        return ".html", None
    if content_type == "text/plain" or hint in (".txt", ".md"):
        return ".txt", None
    return None, f"不支持的附件类型（{content_type or hint or '未知类型'}）"


def _zip_type(data: bytes) -> tuple[str | None, str | None]:
    try:
        names = zipfile.ZipFile(io.BytesIO(data)).namelist()
    except (zipfile.BadZipFile, ValueError):
        return None, "压缩格式文件已损坏，无法打开"
    if "word/document.xml" in names:
        return ".docx", None
    if any(n.startswith("xl/") for n in names):
        return None, "Excel 表格（.xlsx）不是年报文件格式，暂不支持"
    if any(n.startswith("ppt/") for n in names):
        return None, "演示文稿（.pptx）暂不支持"
    if "OFD.xml" in names:
        return None, "OFD 版式文件暂不支持（请在网站上找同一报告的 PDF 或 Word 版本）"
    return None, "ZIP 压缩包暂不支持（请解压后用 xxgk ingest 导入其中的文件）"


@dataclass(slots=True)
class SavedDocument:
    path: Path
    sha256: str
    ext: str
    fetched: Response  # without its bytes (they are in ``path``): a long URL list must not pile them up in memory
    page_url: str  # the URL the user gave (the page the attachment was found on, or the document itself)
    size_bytes: int

    @property
    def is_attachment(self) -> bool:
        return self.fetched.url != self.page_url


def save(out_dir: Path, resp: Response, ext: str, page_url: str) -> SavedDocument:
    """Write the bytes as ``<sha256><ext>`` (once) and add this fetch to the sidecar."""
    out_dir.mkdir(parents=True, exist_ok=True)
    sha = hashlib.sha256(resp.data).hexdigest()
    path = out_dir / f"{sha}{ext}"
    if not path.exists():
        _atomic_write(path, resp.data)
    doc = SavedDocument(path, sha, ext, replace(resp, data=b""), page_url, len(resp.data))
    _add_to_sidecar(out_dir / f"{sha}.json", doc)
    return doc


def _add_to_sidecar(sidecar: Path, doc: SavedDocument) -> None:
    record = {"page_url": doc.page_url, **doc.fetched.provenance()}
    try:
        data = json.loads(sidecar.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        data = {}
    fetches = [f for f in data.get("fetches", []) if isinstance(f, dict)]
    fetches = (fetches + [record])[-MAX_FETCHES_KEPT:]
    data = {
        "sha256": doc.sha256,
        "file": doc.path.name,
        "size_bytes": doc.size_bytes,
        "fetches": fetches,
    }
    _atomic_write(sidecar, json.dumps(data, ensure_ascii=False, indent=1).encode("utf-8"))


def provenance(sidecar_dir: Path, sha256: str) -> dict | None:
    """The sidecar of a fetched document (None when there is none)."""
    try:
        return json.loads((sidecar_dir / f"{sha256}.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def record_in_manifest(out_dir: Path, docs: list[SavedDocument]) -> Path:
    """Add the documents to ``out_dir/manifest.csv`` (a file already listed keeps its first URL and time)."""
    manifest = out_dir / MANIFEST
    with _locked(out_dir / (MANIFEST + ".lock")):
        rows: dict[str, dict[str, str]] = {}
        if manifest.exists():
            with manifest.open(encoding="utf-8-sig", newline="") as fh:
                for row in csv.DictReader(fh):
                    if row.get("path"):
                        rows[row["path"]] = {c: row.get(c) or "" for c in MANIFEST_COLUMNS}
        for doc in docs:
            rows.setdefault(doc.path.name, {
                "path": doc.path.name,
                "url": doc.fetched.final_url,
                "fetched_at": doc.fetched.fetched_at.isoformat(timespec="seconds"),
            })  # fmt: skip
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=MANIFEST_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows.values())
        _atomic_write(manifest, buf.getvalue().encode("utf-8"))
    return manifest


@contextlib.contextmanager
def _locked(lock_path: Path) -> Iterator[None]:
    with open(lock_path, "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.part")
    tmp.write_bytes(data)
    tmp.replace(path)
