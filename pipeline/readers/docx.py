"""Word reader (``.docx``; ``.doc`` through LibreOffice when it is installed).

Body paragraphs become single-cell rows; tables become one row per ``w:tr`` with one :class:`Cell` per grid
column, like the HTML reader: ``x0`` = grid column, the copies a horizontal (``w:gridSpan``) or vertical
(``w:vMerge``) merge creates carry the origin's text with ``spanned=True``.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import tempfile
import zipfile
from datetime import datetime
from pathlib import Path
from typing import Any

from pipeline.model import Cell, Document, Row
from pipeline.readers.dates import docx_header
from pipeline.readers.errors import ReadError
from pipeline.readers.grid import CellBudget, GridCell, SpanCell, expand
from pipeline.readers.limits import MAX_COLUMNS, MAX_TABLES, MAX_UNPACKED_BYTES, refuse

EXTENSIONS = (".docx", ".doc")
W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_OLE = b"\xd0\xcf\x11\xe0"
_ENCRYPTED = "EncryptedPackage".encode("utf-16-le")
CONVERT_TIMEOUT = 120


def read(path: str, data: bytes) -> Document:
    notes: list[str] = []
    if data.startswith(_OLE):
        if _ENCRYPTED in data:
            raise ReadError(f"Word 文件已加密（需要密码），无法读取: {path}")
        data = convert_doc(path, data)
        notes.append("旧版 .doc 已用 LibreOffice 转换为 .docx")
    _check_unpacked_size(path, data)
    try:
        from docx import Document as load_docx

        document = load_docx(io.BytesIO(data))
    except (zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise ReadError(f"Word 文件已损坏或不是 .docx: {path}（{exc}）") from exc
    except Exception as exc:  # python-docx raises assorted errors (PackageNotFoundError, lxml errors) on junk
        raise ReadError(f"Word 文件无法打开: {path}（{type(exc).__name__}: {exc}）") from exc
    rows: list[Row] = []
    lines: list[str] = []
    n_tables = 0
    budget = CellBudget(path)
    for element in _body_elements(document.element.body):
        if element.tag == f"{W}p":
            text = _text(element).strip()
            if text:
                n = len(rows) + 1
                rows.append(Row(cells=[Cell(text, f"第 {n} 段")], line=n))
                lines.append(text)
        elif element.tag == f"{W}tbl":
            n_tables += 1
            if n_tables > MAX_TABLES:
                raise refuse(path, "表格数", n_tables, MAX_TABLES)
            for r, cells in enumerate(_table_grid(element, budget), start=1):
                n = len(rows) + 1
                row_cells = [
                    Cell(text, f"表格 {n_tables} 第 {r} 行 第 {c + 1} 列", float(c), float(c + 1), spanned)
                    for c, (text, spanned) in enumerate(cells)
                ]
                rows.append(Row(row_cells, n, n_tables))
                lines.append("\t".join("" if s else t for t, s in cells).rstrip("\t"))
    notes.extend(budget.notes)
    text = "\n".join(lines)
    if not text.strip():
        raise ReadError(f"Word 文件中没有文字: {path}")
    core = document.core_properties
    title = (core.title or "").strip() or None
    header = docx_header(_core_date(core, "created"), _core_date(core, "modified"))
    return Document(path=path, format="docx", rows=rows, text=text, title=title, notes=notes, header=header)


def _core_date(core: Any, name: str) -> datetime | None:
    """core.xml's ``created`` / ``modified``; None when missing, unreadable or out of range (python-docx raises
    OverflowError for a date whose time-zone offset crosses year 1 or 9999)."""
    try:
        value = getattr(core, name)
    except (ValueError, OverflowError):
        return None
    return value if isinstance(value, datetime) else None


def _body_elements(body):  # noqa: ANN001, ANN202 - lxml elements
    """Paragraphs and tables of the body in order, looking inside content controls (w:sdt)."""
    for child in body.iterchildren():
        if child.tag in (f"{W}p", f"{W}tbl"):
            yield child
        elif child.tag == f"{W}sdt":
            content = child.find(f"{W}sdtContent")
            if content is not None:
                yield from _body_elements(content)


def _text(element) -> str:  # noqa: ANN001
    parts = []
    for node in element.iter(f"{W}t", f"{W}tab", f"{W}br", f"{W}p"):
        if node.tag == f"{W}t":
            parts.append(node.text or "")
        elif node.tag == f"{W}tab":
            parts.append(" ")
        elif node.tag in (f"{W}br", f"{W}p") and parts:
            parts.append("" if node.tag == f"{W}p" else " ")
    return "".join(parts)


def _cell_text(tc) -> str:  # noqa: ANN001
    paragraphs = [_text(p).strip() for p in tc.iter(f"{W}p")]
    return "".join(p for p in paragraphs if p)


def _int_attr(el, name: str, default: int) -> int:  # noqa: ANN001
    if el is None:
        return default
    value = str(el.get(f"{W}{name}", default))
    if not value.isdigit() or len(value) > 9:  # more digits than this is no span a table can have
        return default if not value.isdigit() else 10**9
    return int(value)


def _table_grid(tbl, budget: CellBudget) -> list[list[GridCell]]:  # noqa: ANN001
    """The table as rows of (text, spanned) per grid column, merges expanded (:func:`pipeline.readers.grid.expand`)."""
    rows: list[list[SpanCell]] = []
    for tr in tbl.iterchildren(f"{W}tr"):
        trpr = tr.find(f"{W}trPr")
        before = _int_attr(trpr.find(f"{W}gridBefore") if trpr is not None else None, "val", 0)
        if before >= MAX_COLUMNS:
            raise refuse(budget.path, "表格行前空列数（w:gridBefore）", before, MAX_COLUMNS - 1)
        cells: list[SpanCell] = [("", 1, 1, None)] * before
        for tc in tr.iterchildren(f"{W}tc"):
            tcpr = tc.find(f"{W}tcPr")
            span = max(1, _int_attr(tcpr.find(f"{W}gridSpan") if tcpr is not None else None, "val", 1))
            vmerge = tcpr.find(f"{W}vMerge") if tcpr is not None else None
            if vmerge is None:
                cells.append((_cell_text(tc), span, 1, None))
            elif vmerge.get(f"{W}val", "continue") != "restart":
                cells.append(("", span, 1, "continue"))
            else:
                cells.append((_cell_text(tc), span, 1, "restart"))
        rows.append(cells)
    return expand(rows, budget)


def _check_unpacked_size(path: str, data: bytes) -> None:
    """Refuse a zip whose parts unpack to more than :data:`MAX_UNPACKED_BYTES` (a zip bomb), before inflating."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            total = sum(info.file_size for info in archive.infolist())
    except Exception as exc:  # zipfile raises assorted errors on a damaged directory (NotImplementedError too)
        raise ReadError(f"Word 文件已损坏或不是 .docx: {path}（{type(exc).__name__}: {exc}）") from exc
    if total > MAX_UNPACKED_BYTES:
        raise refuse(path, "Word 文件解压后的大小", total, MAX_UNPACKED_BYTES, " 字节")


def convert_doc(path: str, data: bytes) -> bytes:
    """Legacy binary .doc → .docx bytes with LibreOffice (``soffice --headless --convert-to docx``)."""
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    if soffice is None:
        raise ReadError(
            f"旧版 Word (.doc) 文件需要 LibreOffice 才能读取，本机未安装: {path}。"
            "请安装 LibreOffice（apt-get install libreoffice-writer），或在 Word 中另存为 .docx 后再导入。"
        )
    with tempfile.TemporaryDirectory(prefix="xxgk-doc-") as tmp:
        src = Path(tmp) / "input.doc"
        src.write_bytes(data)
        try:
            subprocess.run(
                [
                    soffice,
                    "--headless",
                    "--norestore",
                    f"-env:UserInstallation=file://{tmp}/profile",
                    "--convert-to",
                    "docx",
                    "--outdir",
                    tmp,
                    str(src),
                ],
                capture_output=True,
                timeout=CONVERT_TIMEOUT,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise ReadError(f"LibreOffice 转换 .doc 超时（{CONVERT_TIMEOUT} 秒）: {path}") from exc
        out = Path(tmp) / "input.docx"
        if not out.exists():
            raise ReadError(f"LibreOffice 无法转换此 .doc 文件（可能已损坏）: {path}")
        return out.read_bytes()
