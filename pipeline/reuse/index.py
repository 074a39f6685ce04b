"""The copied-text index beside the store: LSH band keys → passages, and each passage's normalised text.

Both live in ``<store>.reuse/`` as immutable *runs* (one per batch of compared reports), each a set of flat
little-endian files a lookup memory-maps and binary-searches:

- ``<run>.band`` (int64 band keys, sorted) and ``<run>.bpid`` (int64 passage ids, in the same order);
- ``<run>.tpid`` (int64 passage ids, sorted), ``<run>.toff`` (int64 offsets) and ``<run>.text`` (UTF-8): the
  normalised text of every passage, so candidates and previous-year reports are compared without reading and
  re-parsing their sections.

A passage id is ``report_id << 16 | pno``.  A lookup of k keys costs O(k · log n) per run, whatever the size of the
store: nothing is scanned.  Runs are merged as they accumulate (a new run is merged with the one before it while
that one is at most :data:`MERGE_FACTOR` times larger), so there are O(log n) runs and every entry is rewritten
O(log n) times over its life; a merge streams key ranges of :data:`MERGE_CHUNK` entries, so its memory is bounded.
Entries of retired buckets (common wording) and of reports that stopped being current are dropped by lookups and
left out of merges.

**Consistency with the store.**  The list of runs is a manifest file, ``manifest-<version>.json``, written next to
the runs and never changed; the store records the version it goes with (``reuse_state``, written in the same
transaction as the copied-text tables), with a *token*: a digest chained over every entry and text ever added (so the
same reports compared in the same order give the same token, and another store's state never passes for this
one's).  So the store names the index state it was published with: a session that
is never published (an error, ``kill -9``) leaves a newer manifest the store does not name, which the next writer
deletes together with every run file the named manifest does not list.  A store whose named manifest is missing
(a copied file, a deleted folder) gets its index rebuilt from its own tables and sections.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import duckdb
import numpy as np

from pipeline.reuse.signature import ranges

MERGE_FACTOR = 2
MERGE_CHUNK = 1 << 19  # band entries of the largest run, or passages, per merge step (bounds a merge's memory)
COPY_BYTES = 1 << 24  # text bytes copied at a time
SUFFIX = ".reuse"
_COPY = re.compile(r"^\.(?P<name>.+)\.ingest-\d+\.tmp$")  # a write session's copy of the store (pipeline.store.swap)


def passage_ids(report_ids: np.ndarray, pnos: np.ndarray) -> np.ndarray:
    return (report_ids.astype(np.int64) << 16) | pnos.astype(np.int64)


def split_ids(pids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return (pids >> 16).astype(np.int64), (pids & 0xFFFF).astype(np.int64)


def folder_of(con: duckdb.DuckDBPyConnection) -> Path | None:
    """``<store>.reuse`` for the store ``con`` writes (the live file's name when ``con`` is a write session's copy);
    None for an in-memory database."""
    rows = con.execute(
        "SELECT database_name, path FROM duckdb_databases() WHERE path IS NOT NULL AND NOT internal"
        " AND database_name IN (current_database(), 'cat') ORDER BY database_name = 'cat' DESC"
    ).fetchall()
    if not rows:
        return None
    path = Path(os.path.realpath(rows[0][1]))
    copy = _COPY.match(path.name)
    if copy:
        path = path.with_name(copy["name"])
    return path.with_name(path.name + SUFFIX)


@dataclass
class Run:
    name: str
    bands: int  # entries in .band/.bpid
    texts: int  # passages in .tpid/.toff/.text
    lo: int  # lowest and highest passage id of the texts (-1 when none)
    hi: int


@dataclass
class Manifest:
    token: (
        str  # a digest chained over everything ever added: the same reports compared in the same order, the same token
    )
    version: int = 0
    seq: int = 0  # the last run number used
    runs: list[Run] = field(default_factory=list)
    dead: list[int] = field(default_factory=list)  # reports whose entries are ignored (no longer current)


class BandIndex:
    """The index of one store (see the module docstring); only the store's writer opens it."""

    def __init__(self, folder: Path, manifest: Manifest) -> None:
        self.folder = folder
        self.m = manifest
        self._dead = np.array(sorted(manifest.dead), dtype=np.int64)
        self._pinned = {r.name for r in manifest.runs}  # runs the published store may name: kept this session

    # -- opening ------------------------------------------------------------------------------------------------
    @classmethod
    def open(cls, folder: Path, token: str | None, version: int | None) -> BandIndex | None:
        """The index state the store names (``token``, ``version``), with everything else in the folder deleted;
        None when that state is not on disk (the caller rebuilds it)."""
        path = folder / f"manifest-{version}.json"
        if not token or version is None or not path.is_file():
            return None
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("token") != token:
            return None
        manifest = Manifest(data["token"], data["version"], data["seq"], [Run(**r) for r in data["runs"]],
                            data["dead"])  # fmt: skip
        index = cls(folder, manifest)
        index._collect_garbage()
        return index

    @classmethod
    def create(cls, folder: Path) -> BandIndex:
        """An empty index (the files of any earlier one are deleted)."""
        folder.mkdir(parents=True, exist_ok=True)
        index = cls(folder, Manifest(""))
        index._collect_garbage()
        return index

    def _collect_garbage(self) -> None:
        keep = {f"manifest-{self.m.version}.json"} | {f"{r.name}.{ext}" for r in self.m.runs
                                                        for ext in ("band", "bpid", "tpid", "toff", "text")}  # fmt: skip
        for p in self.folder.iterdir():
            if p.name not in keep:
                p.unlink(missing_ok=True)

    # -- reading ------------------------------------------------------------------------------------------------
    def _map(self, run: Run, ext: str, dtype: type = np.int64) -> np.ndarray:
        path = self.folder / f"{run.name}.{ext}"
        if path.stat().st_size == 0:
            return np.zeros(0, dtype=dtype)
        return np.memmap(path, dtype=dtype, mode="r")

    def _read(self, run: Run, ext: str, start: int, stop: int, dtype: type = np.int64) -> np.ndarray:
        """Elements [start, stop) of a run file, read into memory."""
        size = np.dtype(dtype).itemsize
        return np.fromfile(
            self.folder / f"{run.name}.{ext}", dtype=dtype, count=max(stop - start, 0), offset=start * size
        )

    def lookup(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(key, passage id) of every live entry whose key is in ``keys`` (sorted, unique int64)."""
        found_k, found_p = [], []
        for run in self.m.runs:
            if not run.bands:
                continue
            band, bpid = self._map(run, "band"), self._map(run, "bpid")
            lo = np.searchsorted(band, keys, "left")
            n = np.searchsorted(band, keys, "right") - lo
            found_k.append(np.repeat(keys, n))
            found_p.append(np.asarray(bpid[ranges(lo, n)]))
            del band, bpid
        if not found_k:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        k, p = np.concatenate(found_k), np.concatenate(found_p)
        live = ~np.isin(p >> 16, self._dead) if len(self._dead) else np.ones(len(p), dtype=bool)
        return k[live], p[live]

    def texts(self, pids: Iterable[int]) -> dict[int, str]:
        """The normalised text of each of the passages (those the index holds)."""
        want = np.unique(np.fromiter(pids, dtype=np.int64))
        return {pid: text for pid, text in self._texts(want, want + 1)}

    def report_texts(self, report_ids: Iterable[int]) -> dict[int, list[tuple[int, str]]]:
        """(pno, normalised text) of every passage of the given reports (those the index holds), in order."""
        reports = np.unique(np.fromiter(report_ids, dtype=np.int64))
        out: dict[int, list[tuple[int, str]]] = {}
        for pid, text in sorted(self._texts(reports << 16, (reports + 1) << 16)):
            out.setdefault(pid >> 16, []).append((pid & 0xFFFF, text))
        return out

    def _texts(self, lo: np.ndarray, hi: np.ndarray) -> Iterable[tuple[int, str]]:
        """(passage id, text) of the live passages with ids in any of the sorted, disjoint ranges [lo, hi)."""
        if not len(lo):
            return
        for run in self.m.runs:
            if not run.texts or run.hi < lo[0] or run.lo >= hi[-1]:
                continue
            tpid = self._map(run, "tpid")
            start = np.searchsorted(tpid, lo, "left")
            n = np.searchsorted(tpid, hi, "left") - start
            at = ranges(start, n)
            if not len(at):
                continue
            toff, text = self._map(run, "toff"), self._map(run, "text", np.uint8)
            pids = np.asarray(tpid[at])
            live = ~np.isin(pids >> 16, self._dead) if len(self._dead) else np.ones(len(at), dtype=bool)
            for pid, i in zip(pids[live].tolist(), at[live].tolist(), strict=True):
                yield pid, bytes(text[toff[i] : toff[i + 1]]).decode("utf-8")
            del tpid, toff, text

    # -- writing ------------------------------------------------------------------------------------------------
    def add(self, keys: np.ndarray, pids: np.ndarray, text_pids: np.ndarray, texts: list[str]) -> None:
        """A new run: band entries (any order) and passage texts (``text_pids`` unique)."""
        if not len(keys) and not len(text_pids):
            return
        order = np.lexsort((pids, keys))
        torder = np.argsort(text_pids, kind="stable")
        blobs = [texts[i].encode("utf-8") for i in torder.tolist()]
        offsets = np.zeros(len(blobs) + 1, dtype=np.int64)
        offsets[1:] = np.cumsum([len(b) for b in blobs])
        tp = text_pids[torder].astype(np.int64)
        digest = hashlib.sha256(self.m.token.encode())
        for part in (keys[order].astype(np.int64), pids[order].astype(np.int64), tp, *blobs):
            digest.update(part if isinstance(part, bytes) else part.tobytes())
        self.m.token = digest.hexdigest()
        self.m.seq += 1
        run = Run(f"r{self.m.seq:06d}", len(keys), len(tp), int(tp[0]) if len(tp) else -1,
                  int(tp[-1]) if len(tp) else -1)  # fmt: skip
        self._write(run, "band", keys[order].astype(np.int64).tobytes())
        self._write(run, "bpid", pids[order].astype(np.int64).tobytes())
        self._write(run, "tpid", tp.tobytes())
        self._write(run, "toff", offsets.tobytes())
        self._write(run, "text", b"".join(blobs))
        self.m.runs.append(run)

    def add_sorted(
        self, bands: Iterable[tuple[np.ndarray, np.ndarray]], texts: Iterable[tuple[np.ndarray, np.ndarray, bytes]]
    ) -> None:
        """A new run written from chunks already in order, as they come (a bulk build's memory stays bounded):
        ``bands`` yields (keys, pids) sorted by (key, pid) across chunks, ``texts`` yields (pids, byte lengths,
        UTF-8 bytes) in increasing passage-id order.  The same files and token as :meth:`add` with the chunks
        concatenated (the token is chained over the written files, read back)."""
        self.m.seq += 1
        run = Run(f"r{self.m.seq:06d}", 0, 0, -1, -1)
        last_k = last_p = None
        with open(self.folder / f"{run.name}.band", "wb") as fk, open(self.folder / f"{run.name}.bpid", "wb") as fp:
            for keys, pids in bands:
                if not len(keys):
                    continue
                k, p = keys.astype(np.int64), pids.astype(np.int64)
                step = (k[1:] > k[:-1]) | ((k[1:] == k[:-1]) & (p[1:] >= p[:-1]))
                if not step.all() or (last_k is not None and (k[0], p[0]) < (last_k, last_p)):
                    raise ValueError("band entries are not sorted by (key, passage id)")
                last_k, last_p = int(k[-1]), int(p[-1])
                fk.write(k.tobytes())
                fp.write(p.tobytes())
                run.bands += len(k)
        size = 0
        with (open(self.folder / f"{run.name}.tpid", "wb") as fp, open(self.folder / f"{run.name}.toff", "wb") as fo,
              open(self.folder / f"{run.name}.text", "wb") as ft):  # fmt: skip
            fo.write(np.zeros(1, np.int64).tobytes())
            for pids, lengths, blob in texts:
                if not len(pids):
                    continue
                p = pids.astype(np.int64)
                if (np.diff(p) <= 0).any() or p[0] <= run.hi:
                    raise ValueError("passage texts are not in increasing passage-id order")
                fp.write(p.tobytes())
                fo.write((size + np.cumsum(lengths)).astype(np.int64).tobytes())
                ft.write(blob)
                size += int(np.sum(lengths))
                run.lo = int(p[0]) if run.lo < 0 else run.lo
                run.hi = int(p[-1])
                run.texts += len(p)
        digest = hashlib.sha256(self.m.token.encode())
        for ext in ("band", "bpid", "tpid", "text"):  # as add() hashes keys, pids, text pids and texts
            with open(self.folder / f"{run.name}.{ext}", "rb") as fh:
                while chunk := fh.read(COPY_BYTES):
                    digest.update(chunk)
        self.m.token = digest.hexdigest()
        self.m.runs.append(run)

    def _write(self, run: Run, ext: str, data: bytes | Iterable[bytes]) -> None:
        with open(self.folder / f"{run.name}.{ext}", "wb") as fh:
            if isinstance(data, bytes):
                fh.write(data)
            else:
                for chunk in data:
                    fh.write(chunk)

    def drop_reports(self, report_ids: Iterable[int]) -> None:
        self.m.dead = sorted(set(self.m.dead) | {int(r) for r in report_ids})
        self.m.token = hashlib.sha256(f"{self.m.token} dead {self.m.dead}".encode()).hexdigest()
        self._dead = np.array(self.m.dead, dtype=np.int64)

    def publish(self, retired: np.ndarray) -> int:
        """Merge runs as the size tiers call for, write the next manifest; returns its version (for the store).

        ``retired``: the retired bucket keys (sorted), whose entries merges leave out.
        """
        gone: list[Run] = []
        while len(self.m.runs) >= 2 and self.m.runs[-2].bands <= MERGE_FACTOR * max(self.m.runs[-1].bands, 1):
            gone += self.m.runs[-2:]
            self.m.runs[-2:] = [self._merge(self.m.runs[-2:], retired)]
        self.m.version += 1
        path = self.folder / f"manifest-{self.m.version}.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(self.m)), encoding="utf-8")
        os.replace(tmp, path)
        for run in gone:  # runs of this session that a merge replaced: no published store names them
            if run.name not in self._pinned:
                for ext in ("band", "bpid", "tpid", "toff", "text"):
                    (self.folder / f"{run.name}.{ext}").unlink(missing_ok=True)
        return self.m.version

    def _merge(self, runs: list[Run], retired: np.ndarray) -> Run:
        """One run with the live entries of ``runs`` (band entries merged by key in bounded chunks; texts in
        passage-id order).  The inputs stay on disk until the next writer's garbage collection: the published
        manifest still lists them."""
        self.m.seq += 1
        out = Run(f"r{self.m.seq:06d}", 0, 0, -1, -1)
        bands = [(self._map(r, "band"), self._map(r, "bpid")) for r in runs]
        largest = max(bands, key=lambda b: len(b[0]))[0]
        bounds = np.unique(np.asarray(largest[::MERGE_CHUNK])) if len(largest) else np.zeros(0, np.int64)
        edges = [None, *bounds[1:].tolist(), None]
        with (
            open(self.folder / f"{out.name}.band", "wb") as fk,
            open(self.folder / f"{out.name}.bpid", "wb") as fp,
        ):
            for lo, hi in zip(edges[:-1], edges[1:], strict=True):  # one key range of every run at a time
                ks, ps = [], []
                for run, (band, _) in zip(runs, bands, strict=True):
                    a = 0 if lo is None else int(np.searchsorted(band, lo, "left"))
                    b = len(band) if hi is None else int(np.searchsorted(band, hi, "left"))
                    ks.append(self._read(run, "band", a, b))  # read, not mapped: mapped pages would stay resident
                    ps.append(self._read(run, "bpid", a, b))
                k, p = np.concatenate(ks), np.concatenate(ps)
                keep = ~np.isin(k, retired) & ~np.isin(p >> 16, self._dead)
                k, p = k[keep], p[keep]
                order = np.lexsort((p, k))
                fk.write(k[order].tobytes())
                fp.write(p[order].tobytes())
                out.bands += len(k)
        del bands, largest
        # texts: runs hold increasing passage ids (reports are compared in id order), so a streamed concatenation
        tp = sorted(((self._map(r, "tpid"), self._map(r, "toff"), self._map(r, "text", np.uint8), r)
                     for r in runs if r.texts), key=lambda t: t[3].lo)  # fmt: skip
        if all(x[3].hi < y[3].lo for x, y in zip(tp, tp[1:], strict=False)):
            self._concat_texts(out, tp)
        else:  # a report compared after a higher id (rare): sort the merged texts in memory
            self._sort_texts(out, tp)
        del tp
        return out

    def _concat_texts(self, out: Run, parts: list) -> None:  # noqa: ANN001
        size = 0
        with (open(self.folder / f"{out.name}.tpid", "wb") as fp, open(self.folder / f"{out.name}.toff", "wb") as fo,
              open(self.folder / f"{out.name}.text", "wb") as ft):  # fmt: skip
            fo.write(np.zeros(1, np.int64).tobytes())
            for tpid, _, _, run in parts:
                for start in range(0, len(tpid), MERGE_CHUNK):
                    pids = self._read(run, "tpid", start, min(start + MERGE_CHUNK, len(tpid)))
                    offs = self._read(run, "toff", start, start + len(pids) + 1)
                    live = ~np.isin(pids >> 16, self._dead)
                    # the live passages' bytes, copied as contiguous blocks (dead reports are rare)
                    edges = np.flatnonzero(np.diff(np.concatenate([[False], live, [False]]).astype(np.int8)))
                    for first, stop in zip(edges[0::2].tolist(), edges[1::2].tolist(), strict=True):
                        for at in range(int(offs[first]), int(offs[stop]), COPY_BYTES):
                            ft.write(
                                self._read(run, "text", at, min(at + COPY_BYTES, int(offs[stop])), np.uint8).tobytes()
                            )
                    lengths = np.diff(offs)[live]
                    fp.write(pids[live].tobytes())
                    fo.write((size + np.cumsum(lengths)).astype(np.int64).tobytes())
                    size += int(lengths.sum())
                    if live.any():
                        out.lo = int(pids[live][0]) if out.lo < 0 else out.lo
                        out.hi = int(pids[live][-1])
                    out.texts += int(live.sum())

    def _sort_texts(self, out: Run, parts: list) -> None:  # noqa: ANN001
        texts: dict[int, bytes] = {}
        for tpid, toff, text, _ in parts:
            for i, pid in enumerate(np.asarray(tpid).tolist()):
                if not len(self._dead) or not np.isin(pid >> 16, self._dead):
                    texts[pid] = bytes(text[toff[i] : toff[i + 1]])
        pids = np.array(sorted(texts), dtype=np.int64)
        blobs = [texts[p] for p in pids.tolist()]
        offs = np.zeros(len(blobs) + 1, np.int64)
        offs[1:] = np.cumsum([len(b) for b in blobs])
        out.texts, out.lo, out.hi = (
            len(pids),
            int(pids[0]) if len(pids) else -1,
            int(pids[-1]) if len(pids) else -1,
        )
        self._write(out, "tpid", pids.tobytes())
        self._write(out, "toff", offs.tobytes())
        self._write(out, "text", b"".join(blobs))

    def disk_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.folder.iterdir() if p.is_file())
