"""The OCR engine behind :mod:`pipeline.readers.ocr`: RapidOCR's ONNX models, loaded once per process, offline.

``rapidocr`` (3.x) ships its PP-OCR detection, recognition and angle models inside the wheel and runs them with
``onnxruntime``; nothing is downloaded at run time.  The older ``rapidocr-onnxruntime`` package (1.x, being retired
upstream) is used when it is the one installed, or when ``XXGK_OCR_ENGINE=rapidocr-onnxruntime``.  Both are
reduced to the same two calls: text boxes of an image, and the text of small crops.  Either runs its models on the GPU
when onnxruntime can use CUDA there (:func:`use_gpu`).

The models' working memory is bounded (docs/robustness.md): detection sees at most DET_MAX_PIXELS, recognition
reads REC_BATCH_COLUMNS at a time, and large freed buffers go back to the system.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
from dataclasses import dataclass, field
from functools import cache
from typing import Any, Protocol

import numpy as np

Point = tuple[float, float]

# RapidOCR scales a page to at most this many pixels long before it detects and recognises text (its own
# ``max_side_len``; an A4 page becomes 1408 × 1984, ≈ 170 dpi) and upscales one whose short side is below
# DET_MIN_SIDE for detection only.
DET_MAX_SIDE = 2000
DET_MIN_SIDE = 736
# Pixels the detector sees at once.  PP-OCRv6 small needs ≈ 135 bytes of working memory a pixel (its float32
# feature maps and the full-size probability map), so the whole A4 page (2.8 M pixels) took ≈ 370 MiB on top of
# the ≈ 230 MiB a reading process holds.  A larger page is detected scaled down to this (A4: 992 × 1408, ≈ 185
# MiB); recognition still reads the text from the page at its own size, so only the boxes come from the smaller
# image.
DET_MAX_PIXELS = 1_400_000


@dataclass(slots=True)
class TextBox:
    """One recognised text box: its corner points (pixels), text, confidence and, when known, its words."""

    box: list[Point]
    text: str
    score: float
    words: list[tuple[list[Point], str, float]] = field(default_factory=list)  # (corners, text, confidence)


class Engine(Protocol):
    name: str

    def page(self, rgb: np.ndarray) -> list[TextBox]: ...

    def crops(self, images: list[np.ndarray]) -> list[tuple[str, float]]: ...


def _points(box: Any) -> list[Point]:
    return [(float(p[0]), float(p[1])) for p in box]


class RapidOCR3:
    """``rapidocr`` 3.x (models in its wheel)."""

    name = "rapidocr"

    def __init__(self) -> None:
        from rapidocr import RapidOCR

        self._ocr = RapidOCR(
            params={
                "Global.use_cls": False,
                "Global.log_level": "critical",
                "Global.max_side_len": DET_MAX_SIDE,
                "Det.limit_type": "min",
                "Det.limit_side_len": DET_MIN_SIDE,
                "EngineConfig.onnxruntime.use_cuda": use_gpu(),
            }
        )
        # both models loaded now (RapidOCR loads them on first use) to bound their memory
        detector: Any = self._ocr._load_det_model()
        recogniser: Any = self._ocr._load_rec_model()
        _without_memory_pattern(detector.session)
        _without_memory_pattern(recogniser.session)
        recogniser.session = _BoundedRecognition(recogniser.session)
        _trim_heap()  # what the replaced sessions held (≈ 25 MiB)

    def page(self, rgb: np.ndarray) -> list[TextBox]:
        detector: Any = self._ocr._load_det_model()
        detector.limit_type, detector.limit_side_len = detection_limit(*rgb.shape[:2])
        _trim_heap()  # the detector's working memory comes on top of what the process holds now
        # every argument is given: the engine keeps the ones of its previous call
        out: Any = self._ocr(rgb, use_det=True, use_cls=False, use_rec=True, return_word_box=True)  # RapidOCROutput
        if getattr(out, "boxes", None) is None or out.txts is None:
            return []
        words = out.word_results if len(out.word_results) == len(out.txts) else [()] * len(out.txts)
        boxes = []
        for box, text, score, line in zip(out.boxes, out.txts, out.scores, words, strict=False):
            parts = [(_points(b), str(t), float(s)) for t, s, b in (line or ()) if b is not None]
            boxes.append(TextBox(_points(box), str(text), float(score), parts))
        return boxes

    def crops(self, images: list[np.ndarray]) -> list[tuple[str, float]]:
        out = []
        for image in images:
            res: Any = self._ocr(image, use_det=False, use_cls=False, use_rec=True, return_word_box=False)
            txts, scores = getattr(res, "txts", None), getattr(res, "scores", None)
            out.append((str(txts[0]), float(scores[0])) if txts and scores else ("", 0.0))
        return out


class RapidOCROnnxruntime:
    """``rapidocr-onnxruntime`` 1.x (models in its wheel)."""

    name = "rapidocr-onnxruntime"

    def __init__(self) -> None:
        from rapidocr_onnxruntime import RapidOCR

        gpu = use_gpu()
        self._ocr = RapidOCR(
            params={"Global.use_cls": False, "Global.print_verbose": False, "Det.use_cuda": gpu, "Rec.use_cuda": gpu}
        )

    def page(self, rgb: np.ndarray) -> list[TextBox]:
        result, _elapsed = self._ocr(rgb, use_cls=False, return_word_box=True)
        boxes = []
        for item in result or []:
            words = []
            if len(item) >= 6 and item[4] and len(item[4]) == len(item[5]):
                words = [(_points(b), str(t), float(s)) for b, t, s in zip(item[3], item[4], item[5], strict=False)]
            boxes.append(TextBox(_points(item[0]), str(item[1]), float(item[2]), words))
        return boxes

    def crops(self, images: list[np.ndarray]) -> list[tuple[str, float]]:
        results, _elapsed = self._ocr.text_rec(images)
        return [(str(text), float(score)) for text, score in results]


def detection_limit(height: int, width: int) -> tuple[str, int]:
    """How RapidOCR's detector is to size an image of ``height`` × ``width``: its default (``("min",
    DET_MIN_SIDE)``) when that stays within DET_MAX_PIXELS, else ``("max", longest side)`` that does."""
    long_side, short_side = max(height, width, 1), max(min(height, width), 1)
    if long_side > DET_MAX_SIDE:  # RapidOCR's own first step
        long_side, short_side = DET_MAX_SIDE, max(1, round(short_side * DET_MAX_SIDE / long_side))
    upscale = max(1.0, DET_MIN_SIDE / short_side)
    if long_side * short_side * upscale**2 <= DET_MAX_PIXELS:
        return "min", DET_MIN_SIDE
    return "max", int(long_side * min(1.0, (DET_MAX_PIXELS / (long_side * short_side)) ** 0.5))


def _without_memory_pattern(session: Any) -> None:
    """Reload a RapidOCR onnxruntime session without onnxruntime's memory pattern.

    With the pattern, a second input of a shape already seen (the next page of a scan, all pages one size) is run
    from one block planned for all its intermediate results at once: detection then took 246 MiB instead of 185.
    The CPU memory arena stays off, as RapidOCR sets it."""
    import onnxruntime

    inner = getattr(session, "session", None)
    path = getattr(inner, "_model_path", None)
    if inner is None or not isinstance(path, str) or inner.get_providers()[0] != "CPUExecutionProvider":
        return
    options = onnxruntime.SessionOptions()
    options.log_severity_level = 4
    options.enable_cpu_mem_arena = False
    options.enable_mem_pattern = False
    session.session = onnxruntime.InferenceSession(path, sess_options=options, providers=inner.get_providers())


# Columns (of the 48-row line images) the recogniser reads in one call.  It needs ≈ 19 KB of working memory per
# column (the output alone is 18,710 class scores for every 8 columns), so a call stays near 110 MiB; RapidOCR
# batches six lines, which for long lines (≈ 1,300 columns each) took 380 MiB.  A single line wider than this
# (more than ≈ 128 times as wide as tall; a full-width line of an A4 page is ≈ 60) is read squeezed to it.
REC_BATCH_COLUMNS = 6144


class _Scores:
    """The best class and its score at every step of a recognition batch: all that CTC decoding reads of the
    model's (lines × steps × classes) output, kept instead of it (6 long lines' scores are ≈ 75 MB)."""

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
    only the best class and score per step.  Each line's reading is the same as in one batch call."""

    def __init__(self, session: Any) -> None:
        self._session = session

    def __call__(self, batch: np.ndarray) -> _Scores:
        import cv2

        lines, _channels, height, width = batch.shape
        if width > REC_BATCH_COLUMNS:
            batch = np.stack([cv2.resize(line.transpose(1, 2, 0), (REC_BATCH_COLUMNS, height)).transpose(2, 0, 1)
                              for line in batch])  # fmt: skip
            width = REC_BATCH_COLUMNS
        per_call = max(1, REC_BATCH_COLUMNS // width)
        best, score = [], []
        for start in range(0, lines, per_call):
            scores = self._session(np.ascontiguousarray(batch[start : start + per_call]))
            best.append(scores.argmax(axis=2))
            score.append(scores.max(axis=2))
            del scores
        return _Scores(np.concatenate(best), np.concatenate(score))


def use_gpu() -> bool:
    """OCR on a GPU when onnxruntime can use CUDA here (``onnxruntime-gpu`` installed and a GPU present).

    ``XXGK_OCR_DEVICE=cpu`` keeps it on the CPU, ``cuda`` insists (RapidOCR falls back to the CPU with a warning
    when CUDA is not usable).  Default ``auto``.
    """
    device = os.environ.get("XXGK_OCR_DEVICE", "auto").strip().lower()
    if device == "cpu":
        return False
    if device == "cuda":
        return True
    import onnxruntime

    return "CUDAExecutionProvider" in onnxruntime.get_available_providers()


M_MMAP_THRESHOLD = -3  # glibc's mallopt() parameter number
MMAP_THRESHOLD_BYTES = 1 << 20


def _return_large_blocks() -> None:
    """Serve every allocation of MMAP_THRESHOLD_BYTES or more from its own mapping, given back when freed.

    glibc otherwise raises that threshold by itself after the first large block is freed (up to 32 MiB), and the
    models' working buffers (tens of MB each) then stay in the heap, fragmented: one call's leftovers added to the
    next call's peak (measured: six long lines took 385 MiB to recognise after a detection, 147 MiB with this).
    A no-op where the C library has no mallopt()."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)


def _trim_heap() -> None:
    """Give the heap's free memory back to the system (glibc's malloc_trim; a no-op elsewhere)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).malloc_trim(0)


@cache
def engine() -> Engine:
    """The process's OCR engine (loading the models takes ~1 s): ``rapidocr`` when installed."""
    _return_large_blocks()
    choice = os.environ.get("XXGK_OCR_ENGINE", "")
    if choice != RapidOCROnnxruntime.name:
        try:
            return RapidOCR3()
        except ImportError:
            if choice == RapidOCR3.name:
                raise
    return RapidOCROnnxruntime()
