"""The OCR engine behind :mod:`pipeline.readers.ocr`: RapidOCR's ONNX models, loaded once per process, offline.

``rapidocr`` (3.x) ships its PP-OCR detection, recognition and angle models inside the wheel and runs them with
``onnxruntime``; nothing is downloaded at run time.  The older ``rapidocr-onnxruntime`` package (1.x, being retired
upstream) is used when it is the one installed, or when ``XXGK_OCR_ENGINE=rapidocr-onnxruntime``.  Both are
reduced to the same two calls: text boxes of a page, and the text of small crops.  Either runs its models on the GPU
when onnxruntime can use CUDA there (:func:`use_gpu`).

``rapidocr`` 3.x runs within a memory bound (:mod:`pipeline.readers.ocr_memory`); the 1.x package does not.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import cache
from typing import Any, Protocol

import numpy as np

from pipeline.readers import ocr_memory

Point = tuple[float, float]


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
                "Global.max_side_len": ocr_memory.DET_MAX_SIDE,
                "Det.limit_type": "min",
                "Det.limit_side_len": ocr_memory.DET_MIN_SIDE,
                "EngineConfig.onnxruntime.use_cuda": use_gpu(),
            }
        )
        ocr_memory.bound(self._ocr)

    def page(self, rgb: np.ndarray) -> list[TextBox]:
        ocr_memory.size_detection(self._ocr, *rgb.shape[:2])
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


@cache
def engine() -> Engine:
    """The process's OCR engine (loading the models takes ~1 s): ``rapidocr`` when installed."""
    choice = os.environ.get("XXGK_OCR_ENGINE", "")
    if choice != RapidOCROnnxruntime.name:
        try:
            return RapidOCR3()
        except ImportError:
            if choice == RapidOCR3.name:
                raise
    return RapidOCROnnxruntime()
