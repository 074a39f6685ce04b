"""The distributed engines a cluster ingest can run on, behind one small interface (:class:`Engine`).

Dask (``pip install xxgk[dask]``, the recommended engine: see docs/cluster.md) and Ray (``xxgk[ray]``).  Each
either starts a local cluster of ``workers`` processes on this machine or connects to a running one (``address``:
a Dask scheduler ``tcp://host:8786`` or a Ray head ``host:6379``).  Workers that should take the OCR tasks (a GPU,
or simply the machines meant for scans) are started with the custom resource :data:`OCR_RESOURCE`; when the
cluster has such workers, OCR batches are sent only to them.
"""

from __future__ import annotations

import contextlib
import logging
import os
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any

OCR_RESOURCE = "ocr"
ENGINES = ("dask", "ray")


class ClusterError(RuntimeError):
    """A cluster ingest that cannot finish; the store is unchanged and finished shards are kept for a re-run."""


class EngineUnavailable(RuntimeError):
    """The engine's package is not installed, or its cluster cannot be reached (the message says which)."""


class Engine(ABC):
    """Submit a function call to the cluster, wait for the first results, read a result, close."""

    name: str

    @abstractmethod
    def submit(self, fn: Callable[[Any], Any], arg: Any, *, ocr: bool = False) -> Any:
        """Run ``fn(arg)`` on a worker (an OCR worker when ``ocr`` and :meth:`has_ocr_workers`); a handle."""

    @abstractmethod
    def wait(self, handles: list[Any], timeout: float) -> list[Any]:
        """The handles among ``handles`` that have finished (waits up to ``timeout`` seconds for one)."""

    @abstractmethod
    def result(self, handle: Any) -> Any:
        """The value of a finished call; raises the task's error when it failed (after the engine's retries)."""

    @abstractmethod
    def has_ocr_workers(self) -> bool:
        """Whether some worker offers :data:`OCR_RESOURCE`."""

    @abstractmethod
    def close(self) -> None:
        """Disconnect; a local cluster this object started is shut down."""

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _missing(name: str) -> EngineUnavailable:
    return EngineUnavailable(
        f"未安装 {name}：pip install 'xxgk[{name}]'（或 uv sync --extra {name}），见 docs/cluster.md"
    )


class DaskEngine(Engine):
    name = "dask"
    RETRIES = 2  # a task whose worker died (machine lost, killed) runs again elsewhere, twice at most

    def __init__(self, address: str | None = None, workers: int | None = None) -> None:
        try:
            import dask
            from distributed import Client, LocalCluster
        except ImportError:
            raise _missing("dask") from None
        self._route_ocr: bool | None = None
        self.cluster = None
        if address:
            try:
                self.client = Client(address, timeout="20s")
            except OSError as exc:
                raise EngineUnavailable(f"无法连接 Dask 调度器 {address}：{exc}") from None
            return
        # A task parses in a child process under the time budget: workers must be allowed to have children.
        with dask.config.set({"distributed.worker.daemon": False}):
            self.cluster = LocalCluster(
                n_workers=workers or os.cpu_count() or 1,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                silence_logs=logging.ERROR,
            )
        self.client = Client(self.cluster)

    def has_ocr_workers(self) -> bool:
        if self._route_ocr is None:
            workers = self.client.scheduler_info(n_workers=-1).get("workers", {}).values()
            self._route_ocr = any(w.get("resources", {}).get(OCR_RESOURCE) for w in workers)
        return self._route_ocr

    def submit(self, fn: Callable[[Any], Any], arg: Any, *, ocr: bool = False) -> Any:
        resources = {OCR_RESOURCE: 1} if ocr and self.has_ocr_workers() else None
        return self.client.submit(fn, arg, pure=False, resources=resources, retries=self.RETRIES)

    def wait(self, handles: list[Any], timeout: float) -> list[Any]:
        from distributed import wait

        if not handles:
            return []
        with contextlib.suppress(TimeoutError):
            wait(handles, timeout=timeout, return_when="FIRST_COMPLETED")
        return [h for h in handles if h.done()]

    def result(self, handle: Any) -> Any:
        return handle.result()

    def close(self) -> None:
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()


class RayEngine(Engine):
    name = "ray"
    RETRIES = 2

    def __init__(self, address: str | None = None, workers: int | None = None) -> None:
        try:
            import ray
        except ImportError:
            raise _missing("ray") from None
        self.ray = ray
        self._route_ocr: bool | None = None
        options: dict[str, Any] = {
            "include_dashboard": False,
            "log_to_driver": False,
            "logging_level": logging.ERROR,
        }
        try:
            if address:
                ray.init(address=address, **options)
            else:
                ray.init(num_cpus=workers or os.cpu_count() or 1, **options)
        except ConnectionError as exc:
            raise EngineUnavailable(f"无法连接 Ray 集群 {address}：{exc}") from None
        self._remotes: dict[Callable, Any] = {}

    def has_ocr_workers(self) -> bool:
        if self._route_ocr is None:
            self._route_ocr = self.ray.cluster_resources().get(OCR_RESOURCE, 0) > 0
        return self._route_ocr

    def submit(self, fn: Callable[[Any], Any], arg: Any, *, ocr: bool = False) -> Any:
        remote = self._remotes.get(fn)
        if remote is None:
            remote = self._remotes[fn] = self.ray.remote(fn)
        resources = {OCR_RESOURCE: 1} if ocr and self.has_ocr_workers() else {}
        return remote.options(num_cpus=1, resources=resources, max_retries=self.RETRIES).remote(arg)

    def wait(self, handles: list[Any], timeout: float) -> list[Any]:
        if not handles:
            return []
        ready, _ = self.ray.wait(handles, num_returns=1, timeout=timeout)
        if ready:  # collect everything else that is ready too, without waiting
            ready, _ = self.ray.wait(handles, num_returns=len(handles), timeout=0)
        return ready

    def result(self, handle: Any) -> Any:
        return self.ray.get(handle)

    def close(self) -> None:
        self.ray.shutdown()


def open_engine(name: str, address: str | None = None, workers: int | None = None) -> Engine:
    """The engine ``name`` ("dask" or "ray"), connected to ``address`` or on a local cluster of ``workers``."""
    if name == "dask":
        return DaskEngine(address, workers)
    if name == "ray":
        return RayEngine(address, workers)
    raise EngineUnavailable(f"未知的引擎 {name!r}：可选 {', '.join(ENGINES)}")
