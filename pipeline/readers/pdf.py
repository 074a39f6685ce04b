"""PDF reader: the text layer with its table grids, or OCR for scanned pages.

pypdfium2 (PDFium, Apache-2.0/BSD) gives every character's box and every path object's segments ~6x faster than
pdfplumber/pdfminer (see docs/pdf-readers.md); :mod:`pipeline.readers.layout` turns them into rows.  A page whose
text layer is (nearly) empty but which shows an image is rendered and read by OCR (:mod:`pipeline.readers.ocr`).
"""

from __future__ import annotations

import ctypes
import re
from typing import Any

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c

from pipeline.model import Document, Row
from pipeline.readers.dates import pdf_header
from pipeline.readers.errors import ReadError
from pipeline.readers.layout import Glyph, Segment, page_rows
from pipeline.readers.limits import MAX_OCR_PAGE_PIXELS, MAX_OCR_PAGES, MAX_PAGES, MAX_PIXELS, refuse

EXTENSIONS = (".pdf",)
MIN_TEXT_CHARS = 20  # a page with fewer real characters and an image on it is a scan
OCR_SCALE = 3.0  # render scale for OCR (216 dpi): small table digits need it
MIN_OCR_SCALE = 1.0  # a page too large to render even at 72 dpi within MAX_PIXELS is refused
MAX_PAGE_CHARS = 200_000  # characters on one page (a dense report page has ≈ 3,000)
MAX_PAGE_OBJECTS = 200_000  # drawing objects on one page (a table page has a few hundred)

_CONTROL = re.compile(r"[\x00-\x1f\x7f\ufffe\uffff]")


def open_pdf(data: bytes, path: str = "") -> pdfium.PdfDocument:
    """Open PDF bytes, turning PDFium's errors into a :class:`ReadError` that says what is wrong."""
    if not data.lstrip()[:5].startswith(b"%PDF-"):
        raise ReadError(f"{path or '文件'}不是 PDF 文件（缺少 %PDF- 文件头）")
    try:
        pdf = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        # PDFium's error code is process-global and unreliable; the bytes say what is wrong
        if b"/Encrypt" in data:
            raise ReadError(f"PDF 已加密（需要密码），无法读取: {path}") from exc
        if re.search(rb"/Count\s*0\b", data) and not re.search(rb"/Count\s*[1-9]", data):
            raise ReadError(f"PDF 没有任何页面: {path}") from exc
        raise ReadError(f"PDF 文件已损坏，无法打开: {path}") from exc
    if len(pdf) == 0:
        pdf.close()
        raise ReadError(f"PDF 没有任何页面: {path}")
    return pdf


def _metadata(pdf: pdfium.PdfDocument) -> dict[str, str]:
    try:
        return pdf.get_metadata_dict()
    except Exception:  # metadata is optional decoration; a broken Info dict must not stop reading
        return {}


def _metadata_title(pdf: pdfium.PdfDocument) -> str | None:
    title = (_metadata(pdf).get("Title") or "").strip()
    return title or None


# ---------------------------------------------------------------------------------------------------------------
# Text layer


def page_glyphs(page: pdfium.PdfPage, path: str = "", number: int = 0) -> list[Glyph]:
    """Every visible character of the page with its loose box, top-down coordinates."""
    height = page.get_height()
    textpage = page.get_textpage()
    raw = textpage.raw
    n = pdfium_c.FPDFText_CountChars(raw)
    if n > MAX_PAGE_CHARS:
        textpage.close()
        raise refuse(path, f"第 {number} 页的字符数", n, MAX_PAGE_CHARS)
    rect = pdfium_c.FS_RECTF()
    left, right, bottom, top = (ctypes.c_double() for _ in range(4))
    glyphs = []
    for i in range(n):
        code = pdfium_c.FPDFText_GetUnicode(raw, i)
        if code in (0, 32, 9, 10, 13, 0xA0, 0x3000, 0xFFFE, 0xFFFF):
            continue
        if pdfium_c.FPDFText_IsGenerated(raw, i):
            continue
        ch = chr(code)
        if _CONTROL.match(ch) or ch.isspace():
            continue
        if not pdfium_c.FPDFText_GetCharBox(raw, i, left, right, bottom, top):
            continue
        size = pdfium_c.FPDFText_GetFontSize(raw, i) or (top.value - bottom.value) or 10.0
        x0, x1, y0, y1 = left.value, right.value, bottom.value, top.value
        ink = max(x1 - x0, y1 - y0, 1.0)
        if pdfium_c.FPDFText_GetLooseCharBox(raw, i, rect):
            loose = max(rect.right - rect.left, rect.top - rect.bottom)
            if loose > 30 and loose > 4 * ink:
                # absurd font metrics (seen: size 199 for 9 pt glyphs in WPS PDFs): use the ink box
                size = min(size, 1.1 * ink)
                cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
                x0, x1, y0, y1 = cx - ink / 2, cx + ink / 2, cy - ink / 2, cy + ink / 2
            else:  # the loose box (font ascent/descent) clusters lines better than the ink box
                x0, x1, y0, y1 = rect.left, rect.right, rect.bottom, rect.top
        glyphs.append(Glyph(ch, x0, height - y1, x1, height - y0, size))
    textpage.close()
    return glyphs


def _path_segments(obj, matrix: tuple[float, ...], height: float, out: list[Segment]) -> None:
    """Straight axis-parallel pieces of a path object.  A path that is only filled (not stroked) counts only
    where a sub-path is a thin rectangle (a rule drawn as a rectangle): filled boxes are backgrounds."""
    a, b, c, d, e, f = matrix
    fill, stroke = ctypes.c_int(), ctypes.c_int()
    stroked = bool(pdfium_c.FPDFPath_GetDrawMode(obj, fill, stroke) and stroke.value)
    x, y = ctypes.c_float(), ctypes.c_float()
    subpaths: list[list[tuple[float, float]]] = []
    for k in range(pdfium_c.FPDFPath_CountSegments(obj)):
        seg = pdfium_c.FPDFPath_GetPathSegment(obj, k)
        if not pdfium_c.FPDFPathSegment_GetPoint(seg, x, y):
            continue
        pt = (a * x.value + c * y.value + e, height - (b * x.value + d * y.value + f))
        kind = pdfium_c.FPDFPathSegment_GetType(seg)
        if kind == pdfium_c.FPDF_SEGMENT_MOVETO or not subpaths:
            subpaths.append([pt])
        elif kind == pdfium_c.FPDF_SEGMENT_LINETO:
            subpaths[-1].append(pt)
        else:  # a curve: not a rule; restart so its chord is not taken for one
            subpaths.append([pt])
        if pdfium_c.FPDFPathSegment_GetClose(seg):
            subpaths[-1].append(subpaths[-1][0])
    for pts in subpaths:
        if len(pts) < 2:
            continue
        if not stroked:
            xs, ys = [p[0] for p in pts], [p[1] for p in pts]
            if min(max(xs) - min(xs), max(ys) - min(ys)) > 3.0:
                continue
        for p, q in zip(pts, pts[1:], strict=False):
            _add_line(p, q, out)


def _add_line(p: tuple[float, float], q: tuple[float, float], out: list[Segment]) -> None:
    (x0, y0), (x1, y1) = p, q
    if abs(y1 - y0) <= 1.0 and abs(x1 - x0) > 1.0:
        out.append(Segment(True, (y0 + y1) / 2, min(x0, x1), max(x0, x1)))
    elif abs(x1 - x0) <= 1.0 and abs(y1 - y0) > 1.0:
        out.append(Segment(False, (x0 + x1) / 2, min(y0, y1), max(y0, y1)))


def _compose(m: tuple[float, ...], n: tuple[float, ...]) -> tuple[float, ...]:
    """m applied first, then n (PDF row-vector convention)."""
    a, b, c, d, e, f = m
    A, B, C, D, E, F = n
    return (a * A + b * C, a * B + b * D, c * A + d * C, c * B + d * D, e * A + f * C + E, e * B + f * D + F)


def _obj_matrix(obj) -> tuple[float, ...]:
    m = pdfium_c.FS_MATRIX()
    if not pdfium_c.FPDFPageObj_GetMatrix(obj, m):
        return (1.0, 0.0, 0.0, 1.0, 0.0, 0.0)
    return (m.a, m.b, m.c, m.d, m.e, m.f)


def page_segments(page: pdfium.PdfPage, path: str = "", number: int = 0) -> tuple[list[Segment], bool]:
    """The page's straight horizontal/vertical path segments (ruling lines), and whether it shows an image."""
    height = page.get_height()
    out: list[Segment] = []
    has_image = False
    stack: list[tuple[Any, tuple[float, ...] | None]] = [
        (pdfium_c.FPDFPage_GetObject(page.raw, i), None) for i in range(pdfium_c.FPDFPage_CountObjects(page.raw))
    ]
    visited = 0
    while stack:
        obj, parent = stack.pop()
        visited += 1
        if visited > MAX_PAGE_OBJECTS:  # forms can repeat their contents many times over
            raise refuse(path, f"第 {number} 页的图形对象数", visited, MAX_PAGE_OBJECTS)
        kind = pdfium_c.FPDFPageObj_GetType(obj)
        matrix = _obj_matrix(obj)
        if parent is not None:
            matrix = _compose(matrix, parent)
        if kind == pdfium_c.FPDF_PAGEOBJ_PATH:
            visited += pdfium_c.FPDFPath_CountSegments(obj)
            if visited > MAX_PAGE_OBJECTS:
                raise refuse(path, f"第 {number} 页的图形线段数", visited, MAX_PAGE_OBJECTS)
            _path_segments(obj, matrix, height, out)
        elif kind == pdfium_c.FPDF_PAGEOBJ_IMAGE:
            has_image = True
        elif kind == pdfium_c.FPDF_PAGEOBJ_FORM:
            for i in range(pdfium_c.FPDFFormObj_CountObjects(obj)):
                stack.append((pdfium_c.FPDFFormObj_GetObject(obj, i), matrix))
    return out, has_image


# ---------------------------------------------------------------------------------------------------------------


def read(path: str, data: bytes) -> Document:
    pdf = open_pdf(data, path)
    try:
        return _read_pdf(path, pdf)
    finally:
        pdf.close()


def _ocr_scale(path: str, page: pdfium.PdfPage, number: int, notes: list[str]) -> float:
    """The render scale for OCR: :data:`OCR_SCALE`, less for a page larger than ``MAX_OCR_PAGE_PIXELS`` at it."""
    points = max(page.get_width(), 1.0) * max(page.get_height(), 1.0)
    if points * MIN_OCR_SCALE**2 > MAX_PIXELS:
        raise refuse(path, f"第 {number} 页的面积", round(points), round(MAX_PIXELS / MIN_OCR_SCALE**2), " 平方点")
    if points * OCR_SCALE**2 <= MAX_OCR_PAGE_PIXELS:
        return OCR_SCALE
    scale = (MAX_OCR_PAGE_PIXELS / points) ** 0.5
    notes.append(f"第 {number} 页尺寸过大，按 {scale:.2f} 倍而非 {OCR_SCALE} 倍渲染后识别")
    return scale


def _read_pdf(path: str, pdf: pdfium.PdfDocument) -> Document:
    rows: list[Row] = []
    texts: list[str] = []
    notes: list[str] = []
    ocr_pages: list[int] = []
    broken: list[int] = []
    n_tables = 0
    if len(pdf) > MAX_PAGES:
        raise refuse(path, "PDF 页数", len(pdf), MAX_PAGES)
    for index in range(len(pdf)):
        number = index + 1
        try:
            page = pdf[index]
            n_objects = pdfium_c.FPDFPage_CountObjects(page.raw)
            if n_objects > MAX_PAGE_OBJECTS:
                raise refuse(path, f"第 {number} 页的图形对象数", n_objects, MAX_PAGE_OBJECTS)
            glyphs = page_glyphs(page, path, number)
            segments, has_image = page_segments(page, path, number)
        except pdfium.PdfiumError:  # a damaged page: read the pages that can be read
            broken.append(number)
            continue
        if len(glyphs) < MIN_TEXT_CHARS and has_image:
            from pipeline.readers.ocr import ocr_page

            if len(ocr_pages) >= MAX_OCR_PAGES:
                raise refuse(path, "需要 OCR 识别的页数", len(ocr_pages) + 1, MAX_OCR_PAGES)
            scale = _ocr_scale(path, page, number, notes)
            image = page.render(scale=scale).to_pil()
            result, ocr_notes = ocr_page(image, number, scale, first_line=len(rows) + 1, first_table=n_tables)
            notes.extend(ocr_notes)
            ocr_pages.append(number)
        else:
            result = page_rows(glyphs, segments, number, first_line=len(rows) + 1, first_table=n_tables)
        page.close()
        n_tables = _continue_tables(rows, result.rows, n_tables, notes, number)
        rows.extend(result.rows)
        texts.append(result.text)
    for i, row in enumerate(rows, start=1):
        row.line = i
    if ocr_pages:
        notes.append(f"OCR 识别: 第 {', '.join(map(str, ocr_pages))} 页没有文字层")
    if broken:
        notes.append(f"第 {', '.join(map(str, broken))} 页已损坏，无法读取")
    text = "\n\f".join(texts)
    if not text.strip():
        raise ReadError(f"PDF 中没有可读取的文字（也没有可识别的图像）: {path}")
    return Document(
        path=path,
        format="pdf",
        rows=rows,
        text=text,
        title=_metadata_title(pdf),
        notes=notes,
        header=pdf_header(_metadata(pdf)),
    )


def _continue_tables(prev_rows: list[Row], new_rows: list[Row], n_tables: int, notes: list[str], page: int) -> int:
    """Renumber the page's tables; a table that opens the page and has the same column edges as the table that
    closed the previous page continues it (same table index, repeated header rows dropped).  Returns the new
    table count."""
    tables = sorted({r.table for r in new_rows if r.table is not None})
    if not tables:
        return n_tables
    last_prev = next(
        (r for r in reversed(prev_rows) if r.cells and any(c.text for c in r.cells) and not _page_mark(r)), None
    )
    first_new = next((r for r in new_rows if r.cells and any(c.text for c in r.cells) and not _page_mark(r)), None)
    continued = False
    if (
        last_prev is not None
        and last_prev.table is not None
        and first_new is not None
        and first_new.table == tables[0]
        and all(abs(a - b) <= 3.0 for a, b in zip(_edges(last_prev), _edges(first_new), strict=True))
    ):
        continued = True
    mapping = {t: n_tables + k - (1 if continued else 0) for k, t in enumerate(tables)}
    if continued:
        assert last_prev is not None and last_prev.table is not None
        mapping[tables[0]] = last_prev.table
    for r in new_rows:
        if r.table is not None:
            r.table = mapping[r.table]
    if continued:
        assert last_prev is not None
        old = [r for r in prev_rows if r.table == last_prev.table]
        cont = [r for r in new_rows if r.table == last_prev.table]
        k = 0
        while k < len(cont) and k < len(old) and _row_key(cont[k]) == _row_key(old[k]) and _row_key(old[k]):
            k += 1
        for r in cont[:k]:
            new_rows.remove(r)
        notes.append(f"第 {page} 页的表格接续上一页" + (f"（重复的表头 {k} 行已略去）" if k else ""))
    return n_tables + len(tables) - (1 if continued else 0)


def _edges(row: Row) -> tuple[float, float]:
    xs = [c.x0 for c in row.cells if c.x0 is not None] + [c.x1 for c in row.cells if c.x1 is not None]
    return (min(xs), max(xs)) if xs else (0.0, 0.0)


def _row_key(row: Row) -> str:
    return "|".join(c.text for c in row.cells)


_PAGE_MARK = re.compile(r"^[-—\s]*\d+[-—\s]*$|^第\s*\d+\s*页")


def _page_mark(row: Row) -> bool:
    return row.table is None and bool(_PAGE_MARK.match(row.text.strip()))
