"""What a process holds, by kind, from one moment to the next: the probe behind ``writer_memory.py --diagnose``.

A long ingest's parent should hold the same between write sessions whatever the session's number.  When its PSS
rises from session to session, this says where: the C heap (glibc's ``mallinfo2``: in use vs free-but-kept),
anonymous vs file-backed pages (``/proc/self/smaps_rollup``: memory-mapped index runs count as file pages), Python
objects (allocated blocks, objects the collector tracks, and with ``tracemalloc`` the lines that allocated what
grew), the process's ``functools`` caches (entries of every ``lru_cache``/``cache`` that holds any), open files,
mappings and threads.  Each :meth:`MemoryProbe.report` prints the values now and the change since the previous one.
"""

from __future__ import annotations

import ctypes
import functools
import gc
import os
import sys
import threading
import tracemalloc
from pathlib import Path


class _MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]  # fmt: skip


def heap() -> dict[str, int]:
    """glibc's view of the C heap, in bytes: in use (``uordblks`` + mmapped chunks), free but kept (``fordblks``)."""
    try:
        fn = ctypes.CDLL(None).mallinfo2
    except (OSError, AttributeError):
        return {}
    fn.restype = _MallInfo2
    info = fn()
    return {
        "heap in use": info.uordblks + info.hblkhd,
        "heap free, kept": info.fordblks,
        "heap arenas": info.arena,
    }


def rollup() -> dict[str, int]:
    """``/proc/self/smaps_rollup`` in bytes (Linux): PSS of anonymous pages and of file pages."""
    out: dict[str, int] = {}
    try:
        text = Path("/proc/self/smaps_rollup").read_text()
    except OSError:
        return out
    for line in text.splitlines()[1:]:
        name, _, rest = line.partition(":")
        if name in ("Rss", "Pss", "Pss_Anon", "Pss_File", "Anonymous"):
            out[name] = int(rest.split()[0]) * 1024
    return out


def caches() -> dict[str, int]:
    """Entries of every function cache of the process that holds any (``module.name`` → entries)."""
    out = {}
    for obj in gc.get_objects():
        if isinstance(obj, functools._lru_cache_wrapper):  # type: ignore[attr-defined]
            size = obj.cache_info().currsize
            if size:
                out[f"{getattr(obj, '__module__', '?')}.{getattr(obj, '__qualname__', '?')}"] = size
    return out


def counts() -> dict[str, int]:
    maps = Path("/proc/self/maps").read_text().splitlines() if Path("/proc/self/maps").exists() else []
    fds = len(os.listdir("/proc/self/fd")) if Path("/proc/self/fd").exists() else 0
    return {"python blocks": sys.getallocatedblocks(), "gc objects": len(gc.get_objects()), "mappings": len(maps),
            "files mapped": len({m.split()[-1] for m in maps if len(m.split()) > 5 and m.split()[-1].startswith("/")}),
            "open fds": fds, "threads": threading.active_count()}  # fmt: skip


class MemoryProbe:
    """Successive reports of :func:`heap`, :func:`rollup`, :func:`counts` and :func:`caches`, with the change since
    the previous report; with ``frames`` > 0 also ``tracemalloc``'s top growths by allocating line."""

    def __init__(self, frames: int = 0, top: int = 12) -> None:
        self.top = top
        self._last: dict[str, int] = {}
        self._snapshot: tracemalloc.Snapshot | None = None
        if frames:
            tracemalloc.start(frames)

    def values(self) -> dict[str, int]:
        gc.collect()
        values = {**rollup(), **heap(), **counts()}
        if tracemalloc.is_tracing():
            values["python traced"] = tracemalloc.get_traced_memory()[0]
        values.update({f"cache {k}": v for k, v in caches().items()})
        return values

    def report(self, label: str) -> str:
        values = self.values()
        lines = [f"[probe] {label}"]
        for name, value in values.items():
            change = value - self._last.get(name, 0)
            if name.startswith("cache ") or "blocks" in name or "objects" in name or name in (
                    "mappings", "files mapped", "open fds", "threads"):  # fmt: skip
                lines.append(f"  {name:<48} {value:>12,} ({change:+,})")
            else:
                lines.append(f"  {name:<48} {value / 1e6:>10.1f} MB ({change / 1e6:+.1f})")
        self._last = values
        if tracemalloc.is_tracing():
            snapshot = tracemalloc.take_snapshot().filter_traces([tracemalloc.Filter(False, tracemalloc.__file__)])
            if self._snapshot is not None:
                lines.append("  python allocations that grew most since the previous report:")
                for stat in snapshot.compare_to(self._snapshot, "traceback")[: self.top]:
                    where = " ← ".join(f"{Path(f.filename).name}:{f.lineno}" for f in stat.traceback[:4])
                    lines.append(f"    {stat.size_diff / 1e6:+8.2f} MB {stat.count_diff:+9,} blocks  {where}")
            self._snapshot = snapshot
        return "\n".join(lines)
