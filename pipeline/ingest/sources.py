"""Finding report files: folders walked lazily in a fixed order, files named on the command line always tried."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from pipeline.readers import supported_extensions


def _walk(root: Path, exts: set[str]) -> Iterator[Path]:
    """Supported files under ``root``, depth first, names sorted in each folder (deterministic order)."""
    try:
        entries = sorted(os.scandir(root), key=lambda e: e.name)
    except OSError:
        return
    for entry in entries:
        if entry.name.startswith("."):
            continue
        if entry.is_dir(follow_symlinks=False):
            yield from _walk(Path(entry.path), exts)
        elif entry.is_file() and Path(entry.name).suffix.lower() in exts:
            yield Path(entry.path)


def iter_source_files(
    paths: Iterable[str | os.PathLike[str]], exclude: str | os.PathLike[str] | None = None
) -> Iterator[Path]:
    """Files named on the command line (whatever their extension) and supported files inside folders.

    A path that does not exist is yielded as is, so it is reported as unreadable rather than silently skipped.
    ``exclude`` (the manifest, which often sits in the reports folder) is never yielded.
    """
    exts = supported_extensions()
    skip = Path(exclude).resolve() if exclude else None
    for raw in paths:
        path = Path(raw)
        found = _walk(path, exts) if path.is_dir() else iter([path])
        for p in found:
            if skip is None or p.resolve() != skip:
                yield p


def count_source_files(paths: Iterable[str | os.PathLike[str]], exclude: str | os.PathLike[str] | None = None) -> int:
    """How many files :func:`iter_source_files` will yield (a cheap first pass, for the progress bar)."""
    return sum(1 for _ in iter_source_files(paths, exclude))
