"""Image reader (``.png``, ``.jpg``, ``.tif`` …): a photographed or scanned report page, read by OCR.

Multi-frame TIFFs are read page by page.  Coordinates (Cell.bbox) are in the image's pixels.  An image is checked
against :data:`~pipeline.readers.limits.MAX_PIXELS` and its frames against ``MAX_OCR_PAGES`` from its header,
before any pixel is decoded; a page larger than OCR needs (``MAX_OCR_PAGE_PIXELS``) is scaled down first.
"""

from __future__ import annotations

import io
import warnings

from PIL import Image, ImageSequence, UnidentifiedImageError

from pipeline.model import Document, Row
from pipeline.readers.errors import ReadError
from pipeline.readers.limits import MAX_OCR_PAGE_PIXELS, MAX_OCR_PAGES, MAX_PIXELS, refuse

EXTENSIONS = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp")
MIN_SIDE = 1200  # small images are upscaled: the recogniser needs ~20 px high digits
MAX_UPSCALE = 4.0  # ... but by at most this much: enlarging further adds no detail, only pixels for OCR to read


def _open(path: str, data: bytes) -> Image.Image:
    Image.MAX_IMAGE_PIXELS = MAX_PIXELS  # PIL's own bomb check, for formats whose size shows only while decoding
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise refuse(path, "图片像素数", MAX_PIXELS + 1, MAX_PIXELS) from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise ReadError(f"图片无法打开（文件损坏或格式不支持）: {path}（{exc}）") from exc
    except Exception as exc:  # Pillow raises assorted errors (TypeError, struct.error …) on damaged headers
        raise ReadError(f"图片无法打开（文件头已损坏）: {path}（{type(exc).__name__}: {exc}）") from exc
    width, height = image.size
    if width * height > MAX_PIXELS:
        raise refuse(path, "图片像素数", width * height, MAX_PIXELS)
    try:
        frames = getattr(image, "n_frames", 1)
    except Exception as exc:  # counting a damaged TIFF's frames reads its page chain
        raise ReadError(f"图片无法打开（文件已损坏）: {path}（{type(exc).__name__}: {exc}）") from exc
    if frames > MAX_OCR_PAGES:
        raise refuse(path, "图片帧数（页数）", frames, MAX_OCR_PAGES)
    return image


def _page(frame: Image.Image) -> tuple[Image.Image, float]:
    """The frame as RGB at a size OCR reads well, and its scale (output pixels per source pixel)."""
    page = frame.convert("RGB")
    scale = 1.0
    if min(page.size) < MIN_SIDE:
        scale = min(MIN_SIDE / max(min(page.size), 1), MAX_UPSCALE)
        if page.width * page.height * scale * scale > MAX_OCR_PAGE_PIXELS:  # a thin strip: never upscale past the cap
            scale = (MAX_OCR_PAGE_PIXELS / (page.width * page.height)) ** 0.5
    elif page.width * page.height > MAX_OCR_PAGE_PIXELS:
        scale = (MAX_OCR_PAGE_PIXELS / (page.width * page.height)) ** 0.5
    if scale != 1.0:
        size = (max(1, round(page.width * scale)), max(1, round(page.height * scale)))
        page = page.resize(size, Image.Resampling.LANCZOS)
    return page, scale


def read(path: str, data: bytes) -> Document:
    image = _open(path, data)
    # the OCR engine loads in seconds: imported only for images that pass the checks
    from pipeline.readers.ocr import ocr_page

    rows: list[Row] = []
    texts: list[str] = []
    notes = ["OCR 识别（图片）"]
    n_tables = 0
    try:
        for number, frame in enumerate(ImageSequence.Iterator(image), start=1):
            page, scale = _page(frame)
            result, page_notes = ocr_page(page, number, scale, first_line=len(rows) + 1, first_table=n_tables)
            notes.extend(page_notes)
            n_tables += len({r.table for r in result.rows if r.table is not None})
            rows.extend(result.rows)
            texts.append(result.text)
    except (OSError, ValueError, SyntaxError, EOFError, TypeError) as exc:  # pixel data damaged past the header
        raise ReadError(f"图片数据已损坏，无法读取: {path}（{type(exc).__name__}: {exc}）") from exc
    text = "\n\f".join(texts)
    if not text.strip():
        raise ReadError(f"图片中没有识别出文字: {path}")
    return Document(path=path, format="image", rows=rows, text=text, notes=notes)
