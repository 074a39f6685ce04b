"""Memory and CPU of a process and all its descendants, sampled from outside (the ingest benchmark's meter).

The monitor runs in the benchmark's own process and looks at the ingest process tree (the ingest process, the
forkserver and its parse workers), so its sampling costs nothing the tree is charged for.  Memory is PSS
(proportional set size: pages shared between the parent and its workers — the Python runtime, libduckdb — are not
counted once per process), RSS where the OS has no PSS.  CPU is user + system seconds of every process ever seen in
the tree, each at its last sample: the parse workers are children of the forkserver, not of the ingest process, so
the ingest process's ``children_*`` times would never include them.  A process that ends loses at most its last
sampling interval.
"""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import dataclass, field

import psutil


@dataclass
class TreeSample:
    at: float  # seconds since the monitor started
    pss: int  # bytes, the whole tree now
    cpu: float  # user + system seconds of the whole tree so far
    processes: int


@dataclass
class TreeMonitor:
    pid: int
    started: float = field(default_factory=time.perf_counter)
    peak: int = 0
    _cpu: dict[tuple[int, float], float] = field(default_factory=dict)  # (pid, create time) → its cpu seconds

    def sample(self) -> TreeSample:
        try:
            root = psutil.Process(self.pid)
            procs = [root, *root.children(recursive=True)]
        except psutil.Error:
            procs = []
        pss = 0
        for p in procs:
            with contextlib.suppress(psutil.Error):
                try:
                    pss += p.memory_full_info().pss
                except AttributeError:
                    pss += p.memory_info().rss
                t = p.cpu_times()
                self._cpu[(p.pid, p.create_time())] = t.user + t.system
        self.peak = max(self.peak, pss)
        return TreeSample(time.perf_counter() - self.started, pss, sum(self._cpu.values()), len(procs))


def load_average() -> float:
    """The 1-minute load average (1 = one busy core)."""
    return os.getloadavg()[0]
