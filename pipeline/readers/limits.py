"""How much work a reader does for one file, at most.  Anything beyond is refused with one message naming the file
and the limit (:class:`LimitError`), so hostile input can neither crash, hang nor exhaust the memory.

The figures sit far above what real reports need (measured in docs/robustness.md) and well below what would take
a worker seconds or hundreds of megabytes.
"""

from __future__ import annotations

from collections.abc import Callable

from pipeline.readers.errors import ReadError

MIB = 1024 * 1024
MAX_BYTES = 50 * MIB  # file size: the one limit of the CLI, ingest and the upload page
MAX_MIB = MAX_BYTES // MIB
MAX_LINE_CHARS = 200_000  # one line of text (a crawler's one-line report is ≈ 17,000)
MAX_LINES = 200_000  # lines of text (a report has a few hundred)
MAX_TEXT_CHARS = 1_000_000  # characters of a document's text, any format (real reports: 10–100 K; matching takes ≈ 2 s of CPU per million)
MAX_COLUMNS = 256  # columns of one table (a report's widest table has 15)
MAX_GRID_CELLS = 500_000  # cells of all tables of a document after span expansion
MAX_TABLES = 2_000  # tables in one document
MAX_DEPTH = 512  # element nesting of a web page or a Word file
MAX_ELEMENTS = 150_000  # tags of a web page (a report page has 2,000–20,000; the parser needs ≈ 1.3 KB for each)
MAX_PAGES = 300  # pages of a PDF or frames of an image (a report has 5–30)
MAX_OCR_PAGES = 60  # pages read by OCR (≈ 5 s each)
MAX_PIXELS = 40_000_000  # pixels of an image or a rendered page (A4 at 600 dpi ≈ 35 M)
# pixels of a page read by OCR; a larger page or image is scaled down to this first.  An A4 page at the PDF reader's
# 216 dpi is 4.5 M; the text is read from at most 2,000 px of the long side anyway (≈ 170 dpi on A4), further
# pixels served only the ruling lines and the re-read cells while the process held them: an A4 image at 300 dpi
# (8.7 M) peaked at 469 MiB, at 12 M 506 MiB, a poster-sized PDF page rendered at 40 M at 956 MiB.
MAX_OCR_PAGE_PIXELS = 4_600_000
# resident memory of a process reading a page by OCR, libraries and models included: 500 MB, the bound `make fuzz`
# holds every input to (an A4 page at 216 dpi peaks near 410 MiB; tests/test_ocr_memory.py)
MAX_OCR_RESIDENT_MIB = 476
MAX_UNPACKED_BYTES = 200 * MIB  # a Word file's unpacked parts (a zip bomb is refused before inflating)

# Called by the OCR reader before each page; an ingest worker extends the file's time budget by a page's worth.
on_ocr_page: Callable[[], None] | None = None


class LimitError(ReadError):
    """A file beyond one of the limits above."""


def refuse(path: str, what: str, value: int | float, limit: int | float, unit: str = "") -> LimitError:
    """The error for a file over a limit: ``{path}: {what} {value}{unit}，超过上限 {limit}{unit}``."""
    return LimitError(f"{path}: {what} {value:,}{unit}，超过上限 {limit:,}{unit}")


def ocr_page_started() -> None:
    if on_ocr_page is not None:
        on_ocr_page()
