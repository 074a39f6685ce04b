"""Renderer registry: layout name → ``render(truth, rng, noise) -> (bytes, extension)``.

Layouts register themselves with :func:`register`; every module ``pipeline/generator/render_*.py`` (text, HTML,
PDF, DOCX, scans …) is imported by :func:`load_renderers` on first use.  A renderer must not change the
numbers: blanks and markers are decided beforehand (:func:`pipeline.generator.printing.present`) and read through
:meth:`ReportTruth.cell_text`.
"""

from __future__ import annotations

import importlib
import pkgutil
import random
from collections.abc import Callable
from functools import cache

from pipeline.generator.numbers import ReportTruth

Renderer = Callable[[ReportTruth, random.Random, int], tuple[bytes, str]]

_RENDERERS: dict[str, Renderer] = {}


def register(name: str) -> Callable[[Renderer], Renderer]:
    """Decorator: make ``fn`` the renderer of layout ``name``."""

    def wrap(fn: Renderer) -> Renderer:
        _RENDERERS[name] = fn
        return fn

    return wrap


@cache
def _import_renderer_modules() -> None:
    """Import every ``render_*`` module once (a module imported directly registers only its own layouts)."""
    package = importlib.import_module("pipeline.generator")
    for info in pkgutil.iter_modules(package.__path__):
        if info.name.startswith("render_"):
            importlib.import_module(f"pipeline.generator.{info.name}")


def load_renderers() -> dict[str, Renderer]:
    """All registered renderers, importing the renderer modules on first use."""
    _import_renderer_modules()
    return dict(_RENDERERS)


def layout_names() -> list[str]:
    return sorted(load_renderers())


def render(truth: ReportTruth, rng: random.Random) -> tuple[bytes, str]:
    """Render ``truth`` in its layout and noise level."""
    renderers = load_renderers()
    if truth.layout not in renderers:
        raise KeyError(f"未知版式 {truth.layout!r}；可用: {', '.join(sorted(renderers))}")
    return renderers[truth.layout](truth, rng, truth.noise)
