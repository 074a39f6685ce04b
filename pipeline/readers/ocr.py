"""OCR of a page image → rows (shared by scanned PDFs and image files).

RapidOCR (PP-OCR detection + recognition as ONNX models *inside* the wheel, :mod:`pipeline.readers.ocr_engine`:
nothing is downloaded at run time) reads text boxes with per-word boxes.  Ruling lines are found in the image with
OpenCV morphology, the page is deskewed by their angle, and :mod:`pipeline.readers.layout` rebuilds rows exactly as
for a text PDF.  The angle classifier is off: on small single digits it rotates "6" into "9" with high confidence.

Every OCR'd cell keeps the lowest character confidence of its text (``Cell.confidence``).  A ruled cell that shows
ink but in which the detector found no text is re-read on its own crop; if that fails too, the cell comes out as
``""`` with confidence 0, so the matcher can report it instead of taking it for a blank.
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image

from pipeline.model import LOW_CONFIDENCE
from pipeline.readers import limits
from pipeline.readers.layout import Glyph, PageRows, Segment, build_grids, page_rows
from pipeline.readers.ocr_engine import TextBox, engine

# ---------------------------------------------------------------------------------------------------------------
# Ruling lines in the image


def _line_masks(gray: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    import cv2

    ink = (gray < 170).astype(np.uint8) * 255
    h, w = ink.shape
    horiz = cv2.morphologyEx(ink, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (max(25, w // 25), 1)))
    vert = cv2.morphologyEx(ink, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (1, max(25, h // 60))))
    return horiz, vert


def skew_angle(gray: np.ndarray) -> float:
    """The page's rotation in degrees, from its long horizontal lines (0 when there are none)."""
    import cv2

    ink = (gray < 170).astype(np.uint8) * 255
    h, w = ink.shape
    # tolerate a few degrees: dilate vertically before looking for long horizontal runs
    thick = cv2.dilate(ink, cv2.getStructuringElement(cv2.MORPH_RECT, (1, 5)))
    horiz = cv2.morphologyEx(thick, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (max(40, w // 6), 1)))
    n, labels, stats, _ = cv2.connectedComponentsWithStats(horiz)
    angles = []
    for k in range(1, n):
        x, y, cw, ch, _area = stats[k]
        if cw < w // 4:
            continue
        ys, xs = np.nonzero(ink[y : y + ch, x : x + cw] & (labels[y : y + ch, x : x + cw] == k).astype(np.uint8) * 255)
        if len(xs) < 50:
            continue
        slope = np.polyfit(xs.astype(float), ys.astype(float), 1)[0]
        angles.append(math.degrees(math.atan(slope)))
    return float(np.median(angles)) if angles else 0.0


def image_segments(gray: np.ndarray, scale: float) -> list[Segment]:
    """Horizontal and vertical ruling segments of a (deskewed) page image, in points (pixels / scale)."""
    import cv2

    horiz, vert = _line_masks(gray)
    out: list[Segment] = []
    for mask, horizontal in ((horiz, True), (vert, False)):
        n, _labels, stats, _ = cv2.connectedComponentsWithStats(mask)
        for k in range(1, n):
            x, y, cw, ch, _area = (int(v) for v in stats[k])
            if horizontal:
                out.append(Segment(True, (y + ch / 2) / scale, x / scale, (x + cw) / scale))
            else:
                out.append(Segment(False, (x + cw / 2) / scale, y / scale, (y + ch) / scale))
    return out


# ---------------------------------------------------------------------------------------------------------------
# OCR boxes → glyphs


def _box_glyphs(item: TextBox, scale: float) -> list[Glyph]:
    """Per-character glyphs of one recognised text box (evenly spread when the engine gives no character boxes)."""
    box, text, score = item.box, item.text, item.score
    xs, ys = [p[0] for p in box], [p[1] for p in box]
    x0, x1, top, bottom = min(xs), max(xs), min(ys), max(ys)
    size = (bottom - top) / scale
    chars = [c for c in text if not c.isspace()]
    if item.words:
        glyphs = []
        for word_box, word, word_score in item.words:
            wx, wy = [p[0] for p in word_box], [p[1] for p in word_box]
            letters = [c for c in str(word) if not c.isspace()]
            if not letters:
                continue
            span = (max(wx) - min(wx)) / len(letters)
            for i, c in enumerate(letters):
                gx0 = min(wx) + i * span
                glyphs.append(
                    Glyph(
                        c, gx0 / scale, min(wy) / scale, (gx0 + span) / scale, max(wy) / scale, size, float(word_score)
                    )
                )
        if glyphs:
            return glyphs
    if not chars:
        return []
    step = (x1 - x0) / len(chars)
    return [
        Glyph(c, (x0 + i * step) / scale, top / scale, (x0 + (i + 1) * step) / scale, bottom / scale, size, score)
        for i, c in enumerate(chars)
    ]


UNEXPLAINED_INK_CONFIDENCE = 0.3  # a reading that leaves a mark in its own box unread (a lost minus sign)
_NUMERIC = set("0123456789+-−.,，")


def _unexplained_ink(gray: np.ndarray, current: list[Glyph], scale: float) -> bool:
    """True when a numeric reading has more separate ink marks in its box than characters.

    The detector sometimes boxes "-3" whole but reads only "3": the minus is inside the box, just not in the text.
    Digits are one connected mark each (touching digits merge, which only lowers the count), so more marks than
    characters means part of what is printed was not read."""
    import cv2

    text = "".join(g.text for g in current)
    if not text or not set(text) <= _NUMERIC:
        return False
    x0 = int(min(g.x0 for g in current) * scale) - 1
    x1 = int(max(g.x1 for g in current) * scale) + 2
    y0 = int(min(g.top for g in current) * scale)
    y1 = int(max(g.bottom for g in current) * scale) + 1
    box = (gray[max(0, y0) : y1, max(0, x0) : x1] < 170).astype(np.uint8)
    if box.size == 0:
        return False
    # blur and a low resolution break a digit's thin strokes ("3" into three bars): close gaps vertically only, so
    # a digit is whole again while a minus sign beside it stays a separate mark
    closed = cv2.morphologyEx(box, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (1, 7)))
    n, _labels, stats, _centroids = cv2.connectedComponentsWithStats(closed, connectivity=8)
    marks = sum(1 for i in range(1, n) if stats[i, cv2.CC_STAT_AREA] >= 4)
    return marks > len(text)


def _reread_cells(gray: np.ndarray, glyphs: list[Glyph], segments: list[Segment], scale: float) -> list[Glyph]:
    """Re-read, each on its own crop, the ruled cells that show ink but got no text from the page pass (small lone
    digits are often missed) or got it with low confidence.  Returns the glyph list with those cells replaced."""
    by_cell: dict[int, list[Glyph]] = {}
    free: list[Glyph] = []
    grids = build_grids(segments)
    cells = {id(c): c for grid in grids for c in grid.cells}
    for g in glyphs:
        cell = next((c for grid in grids if (c := grid.cell_at(g.cx, g.cy)) is not None), None)
        if cell is None:
            free.append(g)
        else:
            by_cell.setdefault(id(cell), []).append(g)
    todo: list[tuple[int, np.ndarray, tuple[float, float, float, float]]] = []
    stray: set[int] = set()  # cells whose reading left ink in its own box unread
    for key, cell in cells.items():
        current = by_cell.get(key, [])
        if current and min((g.confidence or 1.0) for g in current) >= LOW_CONFIDENCE:
            if not _unexplained_ink(gray, current, scale):
                continue
            stray.add(key)
        if len(current) > 12:
            continue  # a long label: the page pass read it in context; a crop would not do better
        pad = 3
        x0, x1 = int(cell.x0 * scale) + pad, int(cell.x1 * scale) - pad
        y0, y1 = int(cell.top * scale) + pad, int(cell.bottom * scale) - pad
        if x1 - x0 < 6 or y1 - y0 < 6:
            continue
        dark = gray[y0:y1, x0:x1] < 140
        if dark.sum() < 12:  # nothing there: a genuinely blank cell
            continue
        ys, xs = np.nonzero(dark)
        bx0, bx1, by0, by1 = xs.min(), xs.max() + 1, ys.min(), ys.max() + 1
        m = max(4, (by1 - by0) // 3)
        crop = gray[max(0, y0 + by0 - m) : y0 + by1 + m, max(0, x0 + bx0 - m) : x0 + bx1 + m]
        todo.append(
            (
                key,
                np.stack([crop] * 3, axis=-1),
                ((x0 + bx0) / scale, (y0 + by0) / scale, (x0 + bx1) / scale, (y0 + by1) / scale),
            )
        )
    if not todo:
        return glyphs
    results = engine().crops([crop for _, crop, _ in todo])
    for (key, _crop, (bx0, by0, bx1, by1)), (text, score) in zip(todo, results, strict=False):
        text, score = "".join(str(text).split()), float(score)
        current = by_cell.get(key, [])
        before = "".join(g.text for g in current)
        before_score = min((g.confidence or 1.0) for g in current) if current else 0.0
        if key in stray and len(text) <= len(before):
            # the crop reading does not account for the extra mark either: keep the reading, marked unreliable
            for g in current:
                g.confidence = min(g.confidence or 1.0, UNEXPLAINED_INK_CONFIDENCE)
            continue
        if current and text == before:
            for g in current:
                g.confidence = max(g.confidence or 0.0, score)
            continue
        if current and key not in stray and (not text or score <= before_score):
            continue
        # the crop reading wins; if the two readings disagree the cell stays doubtful
        conf = score if not current else min(score, 1.0 - before_score + 0.5 * score)
        size = by1 - by0
        if not text:
            by_cell[key] = [Glyph("", bx0, by0, bx1, by1, size, 0.0)]
            continue
        step = (bx1 - bx0) / len(text)
        by_cell[key] = [
            Glyph(c, bx0 + i * step, by0, bx0 + (i + 1) * step, by1, size, conf) for i, c in enumerate(text)
        ]
    return free + [g for gs in by_cell.values() for g in gs]


def ocr_page(
    image: Image.Image, page: int, scale: float = 1.0, first_line: int = 1, first_table: int = 0
) -> tuple[PageRows, list[str]]:
    """OCR one page image; ``scale`` = pixels per output unit (2.0 for a PDF page rendered at 144 dpi).

    Returns the page's rows and reader notes (deskew angle, doubtful cells).
    """
    limits.ocr_page_started()  # an ingest worker gives the file a page's worth of time more
    notes: list[str] = []
    rgb = image.convert("RGB")
    gray = np.asarray(rgb.convert("L"))
    angle = skew_angle(gray)
    if abs(angle) > 0.05:
        rgb = rgb.rotate(angle, resample=Image.Resampling.BICUBIC, fillcolor=(255, 255, 255))
        gray = np.asarray(rgb.convert("L"))
        notes.append(f"第 {page} 页已纠偏 {angle:.2f}°")
    glyphs = [g for item in engine().page(np.asarray(rgb)) for g in _box_glyphs(item, scale)]
    segments = image_segments(gray, scale)
    glyphs = _reread_cells(gray, glyphs, segments, scale)
    rows = page_rows(glyphs, segments, page, first_line=first_line, first_table=first_table)
    doubtful = sum(
        1
        for r in rows.rows
        for c in r.cells
        if not c.spanned and c.confidence is not None and c.confidence < LOW_CONFIDENCE
    )
    if doubtful:
        notes.append(f"第 {page} 页有 {doubtful} 个识别置信度低于 {LOW_CONFIDENCE:.0%} 的单元格")
    return rows, notes
