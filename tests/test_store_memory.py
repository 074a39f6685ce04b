"""A write session gives the C heap's freed pages back to the system (:mod:`pipeline.store.memory`).

glibc keeps memory that was freed below the top of its heap; only ``malloc_trim`` returns it.  The test fills the
heap with small blocks (below the mmap threshold, so they live in the heap), frees all but the last one (which pins
the heap's top, so glibc cannot shrink it on its own), and checks that the process's resident memory falls by most
of what was freed once :func:`release_freed_memory` runs — without it, it does not.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import platform
from pathlib import Path

import pytest

from pipeline.store.memory import release_freed_memory

BLOCKS = 40_000
BLOCK = 4_096  # bytes: far below glibc's mmap threshold (128 KiB), so every block is carved from the heap


def _resident() -> int:
    """This process's resident set in bytes (/proc/self/statm)."""
    return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc", reason="glibc only")
def test_freed_heap_memory_goes_back_to_the_system() -> None:
    libc = ctypes.CDLL(ctypes.util.find_library("c"))
    libc.malloc.restype = ctypes.c_void_p
    libc.malloc.argtypes = [ctypes.c_size_t]
    libc.free.argtypes = [ctypes.c_void_p]
    libc.memset.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_size_t]
    blocks = []
    for _ in range(BLOCKS):
        ptr = libc.malloc(BLOCK)
        libc.memset(ptr, 1, BLOCK)  # touched: resident
        blocks.append(ptr)
    filled = _resident()
    for ptr in blocks[:-1]:
        libc.free(ptr)
    freed = _resident()
    assert release_freed_memory()
    trimmed = _resident()
    libc.free(blocks[-1])
    size = BLOCKS * BLOCK
    assert filled - freed < size / 2  # free() alone kept the pages (the test's premise)
    assert freed - trimmed > size / 2  # the trim gave them back


def test_a_memory_limit_holds_for_its_block_and_is_restored() -> None:
    import duckdb

    from pipeline.store.memory import memory_limit

    con = duckdb.connect()
    con.execute("SET memory_limit = '128MB'")
    setting = lambda: con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0]  # noqa: E731
    before = setting()
    with memory_limit(con, "384MB"):
        assert setting() != before and setting().startswith("36")  # 384 MB as DuckDB prints it (366.2 MiB)
    assert setting() == before
    with memory_limit(con, None):
        assert setting() == before
    try:
        with memory_limit(con, "384MB"):
            raise RuntimeError("a failing step")
    except RuntimeError:
        pass
    assert setting() == before
