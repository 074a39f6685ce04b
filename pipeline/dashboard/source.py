"""The source beside a report's tables on 报告详情: the text lines a cell came from, or its PDF page cropped.

Only for display: the file named by the report's ``source_path`` is read again (bounded by the readers' size limit)
and decoded the way the text reader decoded it, so a cell's ``loc`` ("line 57") points at the same line.  The text
is shown as plain text only, never as markdown or HTML.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

from pipeline.readers import ReadError

_LINE = re.compile(r"第\s*(\d+)\s*行|\bline (\d+)\b")
_CELL = re.compile(r"第\s*(\d+)\s*格")
_SPACES = re.compile(r"\s{2,}")
TEXT_FORMATS = ("txt", "md")


def crop_cell_png(
    pdf_bytes: bytes, page: int, bbox: tuple[float, float, float, float], margin: float = 24.0, scale: float = 2.0
) -> bytes:
    """A PNG of the page region around ``bbox`` (top-down points, 1-based ``page``) with the cell outlined."""
    from PIL import ImageDraw

    from pipeline.readers.pdf import open_pdf

    pdf = open_pdf(pdf_bytes)
    try:
        if not 1 <= page <= len(pdf):
            raise ReadError(f"页码超出范围: {page}（共 {len(pdf)} 页）")
        pg = pdf[page - 1]
        width, height = pg.get_width(), pg.get_height()
        image = pg.render(scale=scale).to_pil().convert("RGB")
        pg.close()
    finally:
        pdf.close()
    x0, top, x1, bottom = bbox
    box = (max(0.0, x0 - margin), max(0.0, top - margin), min(width, x1 + margin), min(height, bottom + margin))
    crop = image.crop(tuple(int(v * scale) for v in box))
    ImageDraw.Draw(crop).rectangle(
        [(x0 - box[0]) * scale, (top - box[1]) * scale, (x1 - box[0]) * scale, (bottom - box[1]) * scale],
        outline=(220, 30, 30),
        width=3,
    )
    buf = io.BytesIO()
    crop.save(buf, format="PNG")
    return buf.getvalue()


def line_number(loc: str | None) -> int | None:
    """The source line of a cell read from text (``"第 57 行 第 3 格"``), else None."""
    match = _LINE.search(loc or "")
    return int(match.group(1) or match.group(2)) if match else None


def cell_number(loc: str | None) -> int | None:
    """The cell of a text line a value was read from (``"第 57 行 第 9 格"`` → 9), else None."""
    match = _CELL.search(loc or "")
    return int(match.group(1)) if match else None


def line_cells(line: str) -> list[str]:
    """A text line's cells as the text reader splits them: on tabs, on ``|`` (markdown), else on runs of spaces."""
    stripped = line.strip()
    if "\t" in line:
        parts = line.split("\t")
    elif stripped.startswith("|") and stripped.count("|") >= 2:
        parts = stripped.strip("|").split("|")
    else:
        parts = _SPACES.split(stripped)
    return [p.strip() for p in parts]


def source_lines(path: str | Path) -> list[str] | None:
    """The lines of a text report as the text reader numbered them (None when the file is gone or not text)."""
    from pipeline.normalize import clean_document_text
    from pipeline.readers import read_source
    from pipeline.readers.encoding import decode

    try:
        text = decode(read_source(path)).text
    except ReadError:
        return None
    return clean_document_text(text).split("\n")


def excerpt(lines: list[str], line: int, context: int = 8) -> str:
    """The lines around ``line`` (1-based), numbered, the line itself marked with ▶."""
    start, end = max(1, line - context), min(len(lines), line + context)
    width = len(str(end))
    return "\n".join(
        f"{'▶' if n == line else ' '} {n:>{width}}  {lines[n - 1].replace(chr(9), '    ')}"
        for n in range(start, end + 1)
    )
