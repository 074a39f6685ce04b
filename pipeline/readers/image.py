"""Image reader (``.png``, ``.jpg``, ``.tif`` …): a photographed or scanned report page, read by OCR.

Multi-frame TIFFs are read page by page.  Coordinates (Cell.bbox) are in the image's pixels.
"""

from __future__ import annotations

import io

from PIL import Image, ImageSequence, UnidentifiedImageError

from pipeline.model import Document, Row
from pipeline.readers import ReadError

EXTENSIONS = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp")
MIN_SIDE = 1200  # small images are upscaled: the recogniser needs ~20 px high digits
MAX_PIXELS = 60_000_000  # a decompression bomb is refused, not read


def read(path: str, data: bytes) -> Document:
    from pipeline.readers.ocr import ocr_page

    Image.MAX_IMAGE_PIXELS = MAX_PIXELS
    try:
        image = Image.open(io.BytesIO(data))
        image.load()
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as exc:
        raise ReadError(f"图片无法打开（文件损坏或格式不支持）: {path}（{exc}）") from exc
    rows: list[Row] = []
    texts: list[str] = []
    notes = ["OCR 识别（图片）"]
    n_tables = 0
    for number, frame in enumerate(ImageSequence.Iterator(image), start=1):
        page = frame.convert("RGB")
        scale = 1.0
        if min(page.size) < MIN_SIDE:
            factor = MIN_SIDE / min(page.size)
            page = page.resize((round(page.width * factor), round(page.height * factor)), Image.Resampling.LANCZOS)
            scale = factor
        result, page_notes = ocr_page(page, number, scale, first_line=len(rows) + 1, first_table=n_tables)
        notes.extend(page_notes)
        tables = {r.table for r in result.rows if r.table is not None}
        n_tables += len(tables)
        rows.extend(result.rows)
        texts.append(result.text)
    text = "\n\f".join(texts)
    if not text.strip():
        raise ReadError(f"图片中没有识别出文字: {path}")
    return Document(path=path, format="image", rows=rows, text=text, notes=notes)
