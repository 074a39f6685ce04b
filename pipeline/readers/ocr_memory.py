"""RapidOCR within a memory bound: how much of a page its models see at once, and how their memory is allocated.

PP-OCRv6's working memory grows with the pixels it reads at once (float32 feature maps; for recognition also
18,710 class scores for every 8 columns of a text line).  Left to its defaults, RapidOCR 3.10 took 800–980 MiB of
resident memory to read an A4 page.  Four measures keep a page near 400 MiB (docs/robustness.md); the generated
scans read the same (1,192 of 1,192 cells exact, three of them now below the confidence threshold):

* detection runs on at most :data:`DET_MAX_PIXELS` (a larger page is detected scaled down; recognition still reads
  each text line from the page at RapidOCR's own size, so only the boxes come from the smaller image);
* recognition reads at most :data:`REC_BATCH_COLUMNS` columns per model call (a single line at most
  :data:`REC_MAX_LINE_COLUMNS`), and keeps of the model's output only the best class and its score per step (all
  that CTC decoding reads);
* neither model uses onnxruntime's memory pattern; recognition runs in onnxruntime's memory arena, shrunk after each
  call;
* detection runs on an emptied heap with its large blocks mapped, so that they go back to the system when freed.

Everything here works on RapidOCR 3.x's objects (its detector and recogniser sessions), so a change of their
internals shows in ``tests/test_ocr_memory.py``, which measures the bound.
"""

from __future__ import annotations

import contextlib
import ctypes
from typing import Any

import numpy as np

# RapidOCR scales a page to at most this many pixels long before it detects and recognises text (its own
# ``max_side_len``; an A4 page becomes 1408 × 1984, ≈ 170 dpi) and, for detection only, upscales an image whose
# short side is below DET_MIN_SIDE (its ``limit_side_len``).
DET_MAX_SIDE = 2000
DET_MIN_SIDE = 736
# Pixels the detector sees at once.  It needs ≈ 130 bytes of working memory a pixel: the whole A4 page (2.8 M
# pixels) took ≈ 370 MiB on top of the ≈ 230 MiB a reading process holds, 1.1 M pixels (an A4 page at 880 × 1248)
# take ≈ 150 MiB.  A generated scan's first page gave the same text boxes from 2.8 M down to 0.75 M pixels.
DET_MAX_PIXELS = 1_100_000
# Columns of the 48-row line images the recogniser reads in one call.  A call needs ≈ 25 KB a column in the arena
# (RapidOCR batches six lines: six long lines, ≈ 1,300 columns each, took 380 MiB), so this holds a call near
# 75 MiB; a line wider than this is read alone.
REC_BATCH_COLUMNS = 3072
# A line wider than this (128 times as wide as tall; a full-width line of body text on an A4 page is ≈ 50) is read
# squeezed to it: ≈ 150 MiB.
REC_MAX_LINE_COLUMNS = 6144
# glibc serves an allocation of at least M_MMAP_THRESHOLD bytes from a mapping of its own, returned to the system
# when freed, and smaller ones from the heap, whose freed memory later allocations reuse but which stays resident.
M_MMAP_THRESHOLD = -3  # mallopt()'s parameter number
# While detecting, every block from 1 MiB up is mapped: a detection of 1.4 M pixels needed 173 MiB, not 404 (its
# feature maps, tens of MB each, leave no fragmented heap behind).
DETECTION_MMAP_BYTES = 1 << 20
# Otherwise glibc's own ceiling: recognition's many calls reuse memory instead (mapping their blocks as well cost
# two million page faults and twice the CPU time a page).
DEFAULT_MMAP_BYTES = 32 << 20


def detection_limit(height: int, width: int) -> tuple[str, int]:
    """How RapidOCR's detector is to size an image of ``height`` × ``width``: its default (``("min",
    DET_MIN_SIDE)``) while that stays within DET_MAX_PIXELS, else ``("max", longest side)`` that does."""
    long_side, short_side = max(height, width, 1), max(min(height, width), 1)
    if long_side > DET_MAX_SIDE:  # RapidOCR's own first step
        long_side, short_side = DET_MAX_SIDE, max(1, round(short_side * DET_MAX_SIDE / long_side))
    upscale = max(1.0, DET_MIN_SIDE / short_side)
    if long_side * short_side * upscale**2 <= DET_MAX_PIXELS:
        return "min", DET_MIN_SIDE
    return "max", int(long_side * min(1.0, (DET_MAX_PIXELS / (long_side * short_side)) ** 0.5))


def bound(ocr: Any) -> None:
    """Load a ``rapidocr.RapidOCR``'s detection and recognition models now (it loads them on first use) and set
    them up as described above."""
    detector, recogniser = ocr._load_det_model(), ocr._load_rec_model()
    _reload(detector.session, arena=False)
    _reload(recogniser.session, arena=True)
    detector.session = _MappedDetection(detector.session)
    recogniser.session = _BoundedRecognition(recogniser.session)
    _trim_heap()  # what the replaced onnxruntime sessions held (≈ 25 MiB)


def size_detection(ocr: Any, height: int, width: int) -> None:
    """Have ``ocr`` detect an image of ``height`` × ``width`` within DET_MAX_PIXELS (see :func:`detection_limit`)."""
    detector = ocr._load_det_model()
    detector.limit_type, detector.limit_side_len = detection_limit(height, width)


def _reload(session: Any, arena: bool) -> None:
    """Reload one of RapidOCR's onnxruntime sessions without onnxruntime's memory pattern, and with its memory arena
    only if ``arena``, then shrunk after every call.

    With the pattern, an input of a shape seen before (the next page of a scan, all pages one size) runs from one
    block planned for all its intermediate results: detection took 246 MiB instead of 185.  Without an arena every
    intermediate result is allocated and freed again, which recognition's many small calls pay for in CPU time;
    shrinking after each call gives back what a wide batch needed."""
    import onnxruntime

    inner = getattr(session, "session", None)
    path = getattr(inner, "_model_path", None)
    if inner is None or not isinstance(path, str) or inner.get_providers()[0] != "CPUExecutionProvider":
        return  # a GPU session, or one this version of onnxruntime does not say the model file of
    options = onnxruntime.SessionOptions()
    options.log_severity_level = 4
    options.enable_cpu_mem_arena = arena
    options.enable_mem_pattern = False
    reloaded = onnxruntime.InferenceSession(path, sess_options=options, providers=inner.get_providers())
    session.session = _ShrinkingSession(reloaded) if arena else reloaded


class _ShrinkingSession:
    """An onnxruntime session whose every run ends by giving its arena's free chunks back."""

    def __init__(self, session: Any) -> None:
        import onnxruntime

        self._session = session
        self._options = onnxruntime.RunOptions()
        self._options.add_run_config_entry("memory.enable_memory_arena_shrinkage", "cpu:0")

    def __getattr__(self, name: str) -> Any:
        return getattr(self._session, name)

    def run(self, output_names: Any, input_feed: Any, run_options: Any = None) -> Any:
        return self._session.run(output_names, input_feed, self._options)


class _MappedDetection:
    """RapidOCR's detection session, run on an emptied heap with its large blocks mapped (DETECTION_MMAP_BYTES)."""

    def __init__(self, session: Any) -> None:
        self._session = session

    def __call__(self, image: np.ndarray) -> np.ndarray:
        _trim_heap()  # what recognition and the page's images left free: detection's memory comes on top
        _mmap_threshold(DETECTION_MMAP_BYTES)
        try:
            return self._session(image)
        finally:
            _mmap_threshold(DEFAULT_MMAP_BYTES)


class _Scores:
    """The best class and its score at every step of a recognition batch: all that RapidOCR's CTC decoding reads of
    the model's (lines × steps × classes) output, kept instead of it (six long lines' output is ≈ 75 MB)."""

    def __init__(self, best: np.ndarray, score: np.ndarray) -> None:
        self._best, self._score = best, score

    def argmax(self, axis: int) -> np.ndarray:
        assert axis == 2
        return self._best

    def max(self, axis: int) -> np.ndarray:
        assert axis == 2
        return self._score


class _BoundedRecognition:
    """RapidOCR's recognition session run on a batch a few lines at a time (REC_BATCH_COLUMNS at most), returning
    only the best class and score per step.  Each line reads as in one call for the whole batch (unless it is
    wider than REC_MAX_LINE_COLUMNS)."""

    def __init__(self, session: Any) -> None:
        self._session = session

    def __call__(self, batch: np.ndarray) -> _Scores:
        import cv2

        lines, _channels, height, width = batch.shape
        if width > REC_MAX_LINE_COLUMNS:
            batch = np.stack([cv2.resize(line.transpose(1, 2, 0), (REC_MAX_LINE_COLUMNS, height)).transpose(2, 0, 1)
                              for line in batch])  # fmt: skip
            width = REC_MAX_LINE_COLUMNS
        per_call = max(1, REC_BATCH_COLUMNS // width)
        best, score = [], []
        for start in range(0, lines, per_call):
            scores = self._session(np.ascontiguousarray(batch[start : start + per_call]))
            best.append(scores.argmax(axis=2))
            score.append(scores.max(axis=2))
            del scores
        return _Scores(np.concatenate(best), np.concatenate(score))


def _mmap_threshold(size: int) -> None:
    """Set glibc's mmap threshold (a no-op where the C library has no mallopt())."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).mallopt(M_MMAP_THRESHOLD, size)


def _trim_heap() -> None:
    """Give the heap's free memory back to the system (glibc's malloc_trim; a no-op elsewhere)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).malloc_trim(0)
