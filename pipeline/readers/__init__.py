"""Readers turn one file into a :class:`~pipeline.model.Document` (rows of cells + plain text).

Each format is one module exposing ``EXTENSIONS`` and ``read(path, data) -> Document``; adding a format means
adding a module and listing it in ``_READERS``.  :func:`read_document` picks the reader by sniffing the bytes
first (a PDF renamed ``.txt`` is still a PDF) and by extension second.
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path

from pipeline.model import Document
from pipeline.readers.errors import ReadError
from pipeline.readers.limits import MAX_BYTES, MAX_MIB, MAX_TEXT_CHARS, MIB, refuse

__all__ = ["MAX_BYTES", "MAX_MIB", "ReadError", "check_size", "read_document", "read_source", "supported_extensions"]

# module name → extensions it handles
_READERS: dict[str, tuple[str, ...]] = {
    "text": (".txt", ".md", ".text", ".csv"),
    "html": (".html", ".htm", ".shtml", ".xhtml"),
    "pdf": (".pdf",),
    "docx": (".docx", ".doc"),
    "image": (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp"),
}


def check_size(size: int) -> None:
    """Refuse a file over :data:`MAX_BYTES` (the one place the limit is checked)."""
    if size > MAX_BYTES:
        raise ReadError(f"文件过大: {size / MIB:.1f} MiB，超过上限 {MAX_MIB} MiB")


def read_source(path: str | os.PathLike[str]) -> bytes:
    """The bytes of a report file, refused before reading when the file is over the size limit."""
    path = Path(path)
    try:
        if path.is_dir():
            raise ReadError("这是一个文件夹，不是文件")
        check_size(path.stat().st_size)
        return path.read_bytes()
    except FileNotFoundError:
        raise ReadError("文件不存在") from None
    except OSError as exc:
        raise ReadError(f"无法读取文件: {exc.strerror or exc}") from exc


def supported_extensions() -> set[str]:
    return {ext for exts in _READERS.values() for ext in exts}


def sniff_format(data: bytes, suffix: str) -> str:
    """The reader module for these bytes: magic numbers win over the file extension."""
    head = data[:1024]
    if head.startswith(b"%PDF-"):
        return "pdf"
    if head.startswith(b"PK\x03\x04"):
        return "docx"
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        return "docx"  # legacy .doc (OLE); the docx reader converts or explains
    if head.startswith((b"\x89PNG", b"\xff\xd8\xff", b"II*\x00", b"MM\x00*", b"BM", b"RIFF")):
        return "image"
    lowered = head.lower()
    if suffix in _READERS["html"] or b"<html" in lowered or b"<!doctype html" in lowered or b"<table" in lowered:
        return "html"
    for name, exts in _READERS.items():
        if suffix in exts:
            return name
    return "text"


def read_document(path: str | Path, data: bytes | None = None) -> Document:
    """Read ``path`` (or the given bytes, named by ``path``) with the right reader.

    Raises :class:`ReadError` with a specific message for empty, oversized, binary or unsupported input.
    """
    if data is None:
        data = read_source(path)
    path = Path(path)
    check_size(len(data))
    if not data.strip():
        raise ReadError("文件为空")
    fmt = sniff_format(data, path.suffix.lower())
    module = importlib.import_module(f"pipeline.readers.{fmt}")
    document: Document = module.read(str(path), data)
    if len(document.text) > MAX_TEXT_CHARS:  # whatever the format, the matcher's work grows with the text
        raise refuse(str(path), "文本字数", len(document.text), MAX_TEXT_CHARS, " 字")
    return document
