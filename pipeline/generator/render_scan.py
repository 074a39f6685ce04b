"""Scanned layouts: the ``pdf-text`` rendering printed to pixels and degraded like a scan.

- ``scan-pdf``  — an image-only PDF (no text layer), one grey JPEG page image per page;
- ``scan-tiff`` — the same pages as a multi-page TIFF (what a scanner's "save as image" gives).

Degradation grows with noise: resolution (200 → 150 dpi), a slight rotation (≤ 0.4° / 0.8° / 1.2°), grain and
blur.  The numbers are exactly those of the truth: only the pixels are damaged, so the accuracy bench measures the
OCR path (docs/benchmarks.md).  OCR takes seconds per page: keep these layouts a small share of a corpus.
"""

from __future__ import annotations

import io
import random

import numpy as np
from PIL import Image, ImageFilter

from pipeline.generator import prose
from pipeline.generator.blocks import report_blocks
from pipeline.generator.numbers import ReportTruth
from pipeline.generator.render_pdf import blocks_to_pdf
from pipeline.generator.renderers import register


def scan_pages(pdf_bytes: bytes, rng: random.Random, noise: int) -> tuple[list[Image.Image], int]:
    """Page images of a PDF degraded like a scan; returns (images, dpi)."""
    import pypdfium2 as pdfium

    dpi = (200, 175, 150)[min(noise, 2)]
    pdf = pdfium.PdfDocument(pdf_bytes)
    pages = []
    try:
        for index in range(len(pdf)):
            page = pdf[index]
            image = page.render(scale=dpi / 72).to_pil().convert("L")
            page.close()
            angle = rng.uniform(-1, 1) * (0.4, 0.8, 1.2)[min(noise, 2)]
            image = image.rotate(angle, resample=Image.Resampling.BICUBIC, fillcolor=255)
            if noise >= 1:
                image = image.filter(ImageFilter.GaussianBlur(radius=0.4 + 0.2 * noise))
            pixels: np.ndarray = np.asarray(image, dtype=np.float32)
            np_rng = np.random.default_rng(rng.randrange(2**32))
            pixels = pixels + np_rng.normal(0, 4 + 4 * noise, pixels.shape)
            pixels = pixels * rng.uniform(0.92, 1.0) + rng.uniform(0, 10)  # paper tint, contrast
            pages.append(Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), mode="L"))
    finally:
        pdf.close()
    return pages, dpi


def _text_pdf(truth: ReportTruth, rng: random.Random, noise: int) -> bytes:
    return blocks_to_pdf(report_blocks(truth, rng, noise), rng, noise)


@register("scan-pdf")
def render_scan_pdf(truth: ReportTruth, rng: random.Random, noise: int) -> tuple[bytes, str]:
    pages, dpi = scan_pages(_text_pdf(truth, rng, noise), rng, noise)
    buf = io.BytesIO()
    title = prose.title(truth) if truth.kind == "report" else None
    pages[0].save(
        buf, format="PDF", save_all=True, append_images=pages[1:], resolution=float(dpi), title=title or "", quality=80
    )
    return buf.getvalue(), ".pdf"


@register("scan-tiff")
def render_scan_tiff(truth: ReportTruth, rng: random.Random, noise: int) -> tuple[bytes, str]:
    pages, dpi = scan_pages(_text_pdf(truth, rng, noise), rng, noise)
    buf = io.BytesIO()
    pages[0].save(buf, format="TIFF", save_all=True, append_images=pages[1:], dpi=(dpi, dpi), compression="tiff_lzw")
    return buf.getvalue(), ".tif"
