"""OCR's memory bound: reading a full scanned A4 page stays under ``limits.MAX_OCR_RESIDENT_MIB``.

The page is read in a fresh child process through the PDF reader (rendered at its OCR dpi), and the child reports
the high-water mark of its own resident memory (``VmHWM``).  Not ``ru_maxrss``: Linux carries that over an
``exec`` from the forking process, so a child of a large pytest worker would report the worker's peak.  A bound on
memory is part of the readers' limits, like a bound on pages or pixels; how fast OCR runs is a benchmark
(docs/benchmarks.md), not asserted here.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.generator.corpus import CorpusConfig, iter_documents
from pipeline.readers import limits

ROOT = Path(__file__).resolve().parents[1]

CHILD = """
import sys
from pathlib import Path
from pipeline.readers import read_document
from pipeline.readers.ocr_engine import engine

path = sys.argv[1]
doc = read_document(path, open(path, "rb").read())
assert any("OCR" in note for note in doc.notes), doc.notes
print(engine().name, sum(1 for row in doc.rows for cell in row.cells if cell.text), file=sys.stderr)
status = Path("/proc/self/status").read_text()
print(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:")))  # KiB
"""


@pytest.fixture(scope="module")
def dense_scanned_page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The densest page (the most text lines: 表三) of a generated scanned report, alone in a PDF."""
    import pypdfium2 as pdfium

    config = CorpusConfig(size="tiny", seed=3, layouts=("scan-pdf",), noise_levels=(1,), limit=1, error_share=0.0,
                          legacy_share=0.0, non_report_share=0.0)  # fmt: skip
    report = next(iter_documents(config))
    source = pdfium.PdfDocument(report.data)
    assert len(source) >= 2
    page = pdfium.PdfDocument.new()
    page.import_pages(source, [1])
    path = tmp_path_factory.mktemp("ocr-memory") / "scan_t3.pdf"
    page.save(str(path))
    return path


@pytest.mark.skipif(sys.platform != "linux", reason="reads the child's /proc/self/status")
def test_ocr_of_a_full_a4_page_stays_within_the_memory_bound(dense_scanned_page: Path) -> None:
    done = subprocess.run([sys.executable, "-c", CHILD, str(dense_scanned_page)], cwd=ROOT, capture_output=True,
                          text=True, timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    cells = int(done.stderr.split()[-1])
    assert cells > 100  # a full page of table cells was read, not an empty one
    peak_mib = int(done.stdout.split()[-1]) / 1024
    assert peak_mib < limits.MAX_OCR_RESIDENT_MIB, f"OCR of one A4 page peaked at {peak_mib:.0f} MiB"
