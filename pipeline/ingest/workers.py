"""Parsing in worker processes that can be killed: one hostile file cannot stall or starve an ingest.

Every file is parsed in a worker process, also when there is only one worker, under a :class:`Budget`: a time budget
per file and a memory cap per worker.  A worker over either is killed (SIGKILL), its file is reported with a clear
message, the other files of its chunk go to a fresh worker, and the ingest goes on.  A worker that crashes (a fault
in a C library) is reported the same way.

Workers are forked from a forkserver that has already imported the parser and parsed three tiny reports
(:mod:`~pipeline.ingest.warmup`), so every worker starts with its caches warm (fast to start, and safe from a
multi-threaded parent such as the Streamlit server).  Each worker has several chunks queued and sends its answers
from a thread of its own, so it never waits for the parent, not even while the parent writes a batch; facts and
findings travel as constructor arguments (:func:`_register_reducers`), so the parent's share per report — receiving
it — stays small beside the worker's parsing.  Workers never outlive the ingest: a watchdog thread in each worker ends it the moment the ingest process
is gone (even ``kill -9``), and the forkserver exits after its workers.
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import multiprocessing
import operator
import os
import queue
import signal
import sys
import threading
import time
import types
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from multiprocessing.reduction import ForkingPickler

from pipeline.ingest.parsing import ParseJob, ParseOutcome, parse_one, sha256_or_none
from pipeline.model import Fact, Finding
from pipeline.readers import limits

POLL_S = 0.05  # how often busy workers' time and memory are checked
# Chunks a worker may hold unanswered: enough parsing to cover the parent writing a batch of 200 reports (≈ 0.5 s)
# at ≈ 3.5 ms per report, so the workers go on parsing while the parent writes instead of waiting for it.
QUEUED_CHUNKS = 5
_PAGE = os.sysconf("SC_PAGE_SIZE")
_PR_SET_PDEATHSIG = 1


def _env_number(name: str, default: float) -> float:
    try:
        return float(os.environ.get(name, default))
    except ValueError:
        return default


@dataclass(frozen=True, slots=True)
class Budget:
    """What one file may cost: ``seconds`` of parsing (plus ``ocr_page_seconds`` for every page read by OCR) and
    ``memory_mib`` of resident memory in its worker.  Defaults: env ``XXGK_FILE_SECONDS`` (60),
    ``XXGK_OCR_PAGE_SECONDS`` (30), ``XXGK_FILE_MEMORY_MIB`` (1536)."""

    seconds: float = field(default_factory=lambda: _env_number("XXGK_FILE_SECONDS", 60.0))
    ocr_page_seconds: float = field(default_factory=lambda: _env_number("XXGK_OCR_PAGE_SECONDS", 30.0))
    memory_mib: float = field(default_factory=lambda: _env_number("XXGK_FILE_MEMORY_MIB", 1536.0))


def _die_with_ingest() -> None:
    """End this worker the moment the ingest process that started it is gone, whatever the worker is doing.

    The worker's parent is the forkserver, which itself only exits once its children are gone, so the kernel's
    parent-death signal (``PR_SET_PDEATHSIG``, armed too) cannot be the whole answer: a watchdog thread waits on the
    pipe that only the ingest process holds open, and ends the process when it closes.
    """
    with contextlib.suppress(Exception):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    ingest_process = multiprocessing.parent_process()
    if ingest_process is None:
        return

    def watch() -> None:
        wait([ingest_process.sentinel])
        os._exit(1)

    threading.Thread(target=watch, name="xxgk-watchdog", daemon=True).start()


def _as_arguments(cls: type) -> Callable[[object], tuple[type, tuple[object, ...]]]:
    """A pickle reducer that rebuilds ``cls`` from its constructor arguments (every field, in field order)."""
    fields_of = operator.attrgetter(*(f.name for f in dataclasses.fields(cls) if f.init))
    return lambda obj: (cls, fields_of(obj))


def _register_reducers() -> None:
    """Facts and findings cross the pipe as constructor arguments rather than as slot dictionaries: a report has
    some 200 facts, and rebuilding them field by field was most of the parent's time per report."""
    ForkingPickler.register(Fact, _as_arguments(Fact))
    ForkingPickler.register(Finding, _as_arguments(Finding))


_register_reducers()


def _worker_main(conn: Connection) -> None:
    """Parse chunks of jobs sent over ``conn``; one message back per file: ("done", seq, outcome) or ("more",).

    Messages are pickled here and sent by a thread of their own: while the parent writes a batch (hundreds of
    milliseconds in which it reads nothing), a send would block as soon as two or three outcomes fill the socket's
    buffer, and the worker would stop parsing until the parent came back.  With the sender thread the worker
    parses everything it was sent meanwhile; what waits is at most :data:`QUEUED_CHUNKS` chunks of pickled outcomes."""
    _die_with_ingest()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    outbox: queue.SimpleQueue[memoryview | None] = queue.SimpleQueue()

    def send_all() -> None:
        while (message := outbox.get()) is not None:
            try:
                conn.send_bytes(message)
            except OSError:  # the parent is gone or closed the pipe: the watchdog ends this process
                return

    sender = threading.Thread(target=send_all, name="xxgk-sender", daemon=True)
    sender.start()
    limits.on_ocr_page = lambda: outbox.put(ForkingPickler.dumps(("more",)))
    try:
        while True:
            try:
                chunk: list[tuple[int, ParseJob]] = conn.recv()
            except (EOFError, OSError):
                return
            for seq, job in chunk:
                outbox.put(ForkingPickler.dumps(("done", seq, parse_one(job))))
    finally:
        outbox.put(None)
        sender.join(timeout=5.0)


def _context() -> multiprocessing.context.ForkServerContext:
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["pipeline.parse", "pipeline.ingest.warmup"])
    return ctx


@contextlib.contextmanager
def bare_main() -> Iterator[None]:
    """Start a worker as if ``__main__`` were empty.  multiprocessing re-runs the parent's main script in every
    child it starts (by path, or by module name); a worker needs nothing from it, and under Streamlit ``__main__`` is
    the page script that started the ingest (Streamlit runs each page as ``__main__``; AppTest a generated script),
    which must not run again, without its session, in each parse worker."""
    saved = sys.modules.get("__main__")
    sys.modules["__main__"] = types.ModuleType("__main__")  # no __spec__, no __file__: nothing to re-run
    try:
        yield
    finally:
        if saved is not None:
            sys.modules["__main__"] = saved


def start_forkserver() -> None:
    """Start the forkserver now, without waiting for it: it imports and warms up the parser in its own process while
    this one goes on (imports, opening the store), and the first worker forks from it at once.  On two cores this
    takes the parser's start-up (≈ 0.3 s) off a one-file ingest's wall time.  Idempotent; a failure here only means
    the forkserver starts when the first worker does."""
    from multiprocessing import forkserver

    with contextlib.suppress(Exception):
        _context()
        forkserver.ensure_running()


def _rss_mib(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/statm", "rb") as fh:
            return int(fh.read().split()[1]) * _PAGE / 2**20
    except (OSError, ValueError, IndexError):
        return 0.0


@dataclass
class _Worker:
    process: BaseProcess
    conn: Connection
    todo: deque[tuple[int, ParseJob]] = field(default_factory=deque)  # sent, not yet answered (first = running)
    started: float = 0.0  # when the running file started
    deadline: float = 0.0
    checked: float = 0.0  # when its liveness and memory were last looked at


class WorkerPool:
    """``workers`` parse processes under one :class:`Budget`; :meth:`parse` yields outcomes in input order."""

    def __init__(self, workers: int = 1, budget: Budget | None = None, chunk_size: int = 16) -> None:
        self.n_workers = max(1, workers)
        self.budget = budget or Budget()
        self.chunk_size = max(1, chunk_size)
        self._ctx = _context()
        self._workers: list[_Worker] = []
        self._done: dict[int, ParseOutcome] = {}  # answered, not yet yielded (by sequence number)
        self._retry: deque[tuple[int, ParseJob]] = deque()  # a killed worker's unanswered jobs, sent again first
        self.started = 0  # worker processes started so far (restarts after :meth:`rest` and kills included)

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        for w in self._workers:
            with contextlib.suppress(OSError):
                w.conn.close()
        for w in self._workers:
            w.process.join(timeout=1.0)
            if w.process.is_alive():
                w.process.kill()
                w.process.join(timeout=1.0)
        self._workers.clear()

    def rest(self) -> None:
        """Let the workers go until :meth:`parse` is resumed, which starts new ones from the forkserver.

        For a caller that stops taking outcomes for a while (a long ingest publishing a write session): the
        workers would sit idle holding their memory.  What they were sent is answered first (at most QUEUED_CHUNKS chunks
        each, parsed under the same budget), so nothing is parsed twice and the outcomes keep their order."""
        while any(w.todo for w in self._workers):
            busy = [w for w in self._workers if w.todo]
            ready = wait([w.conn for w in busy] + [w.process.sentinel for w in busy], timeout=POLL_S)
            for w in busy:
                self._collect(w, ready, self._done, self._retry)
        self.close()

    def _start(self) -> _Worker:
        parent_end, child_end = self._ctx.Pipe(duplex=True)
        process = self._ctx.Process(target=_worker_main, args=(child_end,), daemon=True)
        with bare_main():
            process.start()
        child_end.close()
        worker = _Worker(process, parent_end)
        self._workers.append(worker)
        self.started += 1
        return worker

    def _kill(self, worker: _Worker) -> None:
        with contextlib.suppress(Exception):
            worker.process.kill()
        worker.process.join(timeout=5.0)
        with contextlib.suppress(OSError):
            worker.conn.close()
        self._workers.remove(worker)

    def parse(self, jobs: Iterable[ParseJob]) -> Iterator[ParseOutcome]:
        """Parse ``jobs`` and yield one outcome per job, in input order; never raises for a file."""
        job_iter = iter(enumerate(jobs))
        retry, done = self._retry, self._done  # shared with rest(), which may run while this generator waits
        window = self.n_workers * self.chunk_size * (QUEUED_CHUNKS + 2)  # in flight or waiting to be yielded
        next_yield = 0
        next_seq = 0
        exhausted = False

        def take(n: int) -> list[tuple[int, ParseJob]]:
            nonlocal next_seq, exhausted
            out = [retry.popleft() for _ in range(min(n, len(retry)))]
            while len(out) < n and not exhausted and next_seq - next_yield < window:
                item = next(job_iter, None)
                if item is None:
                    exhausted = True
                    break
                next_seq = item[0] + 1
                if item[1].stored_report_id is not None:  # recognised as stored: answered here, in its place
                    done[item[0]] = ParseOutcome.stored(item[1])
                    continue
                out.append(item)
            return out

        while True:
            # keep every worker busy
            while len(self._workers) < self.n_workers and (retry or not exhausted):
                self._start()
            for w in list(self._workers):
                # the next chunk goes out while the worker is still on its last one, so it never waits for us
                while len(w.todo) <= self.chunk_size * (QUEUED_CHUNKS - 1):
                    chunk = take(self.chunk_size)
                    if not chunk:
                        break
                    if not w.todo:  # an idle worker starts on this chunk now
                        w.started = time.monotonic()
                        w.deadline = w.started + self.budget.seconds
                    w.todo.extend(chunk)
                    with contextlib.suppress(OSError):  # a dead worker: found below through its sentinel
                        w.conn.send(chunk)
            while next_yield in done:
                yield done.pop(next_yield)
                next_yield += 1
            busy = [w for w in self._workers if w.todo]
            if not busy:
                if exhausted and not retry:
                    return
                continue
            ready = wait([w.conn for w in busy] + [w.process.sentinel for w in busy], timeout=POLL_S)
            for w in busy:
                self._collect(w, ready, done, retry)
            while next_yield in done:
                yield done.pop(next_yield)
                next_yield += 1

    def _collect(self, w: _Worker, ready: list, done: dict[int, ParseOutcome], retry: deque) -> None:
        """Answers from ``w``; kill it if its running file is over budget or it died."""
        if w.conn in ready:
            try:
                while w.conn.poll():
                    message = w.conn.recv()
                    if message[0] == "more":
                        w.deadline += self.budget.ocr_page_seconds
                        continue
                    _, seq, outcome = message
                    w.todo.popleft()
                    done[seq] = outcome
                    w.started = time.monotonic()
                    w.deadline = w.started + self.budget.seconds
            except (EOFError, OSError):
                pass
        if not w.todo:
            return
        now = time.monotonic()
        if now <= w.deadline and now - w.checked < POLL_S and w.process.sentinel not in ready:
            return  # answers come much faster than the budget needs checking: liveness and memory every POLL_S
        w.checked = now
        reason = None
        if not w.process.is_alive():
            code = w.process.exitcode
            reason = f"解析进程异常退出（{'信号 ' + str(-code) if code and code < 0 else '退出码 ' + str(code)}）"
        elif now > w.deadline:
            reason = f"解析超时：超过每个文件的时间上限（{self.budget.seconds:g} 秒），已终止"
        elif _rss_mib(w.process.pid or 0) > self.budget.memory_mib:
            reason = f"解析占用内存超过上限（{self.budget.memory_mib:g} MiB），已终止"
        if reason is None:
            return
        seq, job = w.todo.popleft()
        retry.extendleft(reversed(w.todo))
        w.todo.clear()
        self._kill(w)
        done[seq] = ParseOutcome(job, None, reason, time.monotonic() - w.started, sha256_or_none(job.path))


def parse_stream(
    jobs: Iterable[ParseJob], workers: int = 1, chunk_size: int = 16, budget: Budget | None = None
) -> Iterator[ParseOutcome]:
    """Parse ``jobs`` in ``workers`` processes under ``budget``; outcomes in input order (see :class:`WorkerPool`)."""
    with WorkerPool(workers, budget, chunk_size) as pool:
        yield from pool.parse(jobs)


def parse_in_process(jobs: Iterable[ParseJob]) -> Iterator[ParseOutcome]:
    """Parse ``jobs`` here, without workers or a budget (profiling; trusted input only)."""
    for job in jobs:
        yield parse_one(job)
