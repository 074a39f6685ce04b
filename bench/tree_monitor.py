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


class StepMeter:
    """CPU seconds and peak PSS of this process during each call of named functions (the steps after a write
    session's last report: cross-year refresh, copied text, checkpoint and publish, sums, full-text sync).

    :meth:`wrap` replaces ``owner.name`` by a timed wrapper (the function runs as it is); a background thread samples
    this process's PSS every ``interval`` seconds, and each call records the highest sample seen while it ran.
    """

    def __init__(self, interval: float = 0.2) -> None:
        import threading

        self.interval = interval
        self.steps: list[dict[str, float | str]] = []
        self._proc = psutil.Process()
        self._peak = 0
        self._stop = threading.Event()
        self._active = threading.Event()  # sampled only while a wrapped step runs (reading smaps costs CPU)
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _pss(self) -> int:
        try:
            return self._proc.memory_full_info().pss
        except (AttributeError, psutil.Error):
            return self._proc.memory_info().rss

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            if self._active.is_set():
                self._peak = max(self._peak, self._pss())

    def wrap(self, owner: object, name: str, label: str | None = None) -> None:
        import functools

        fn = getattr(owner, name)

        @functools.wraps(fn)
        def timed(*args: object, **kwargs: object) -> object:
            self._peak = self._pss()
            cpu, wall = time.process_time(), time.perf_counter()
            self._active.set()
            try:
                return fn(*args, **kwargs)
            finally:
                self._active.clear()
                self.steps.append({"step": label or name, "cpu_s": time.process_time() - cpu,
                                   "wall_s": time.perf_counter() - wall,
                                   "peak_mb": max(self._peak, self._pss()) / 1e6})  # fmt: skip

        setattr(owner, name, timed)

    def close(self) -> None:
        self._stop.set()


def meter_publish_steps(meter: StepMeter) -> None:
    """Wrap the steps a write session runs after its last report (:meth:`pipeline.store.Database.write`)."""
    import pipeline.reuse as reuse
    import pipeline.store.database as database
    import pipeline.store.swap as swap

    meter.wrap(database, "agency_key_clash", "agency key clash check")
    meter.wrap(database, "refresh_cross_year", "cross-year findings")
    meter.wrap(database, "refresh_summaries", "region summaries")
    meter.wrap(reuse, "update", "copied text (reuse.update)")
    meter.wrap(swap.SegmentWrite, "commit", "checkpoint + merge + publish")
    meter.wrap(database, "_sync_sums", "metric sums sync")
    meter.wrap(database, "_sync_search", "full-text index sync")
