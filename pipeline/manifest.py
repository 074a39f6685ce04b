"""The optional ingest manifest: a CSV that overrides detected metadata, file by file.

Columns (header required, all but ``path`` optional): ``path, agency, year, region, url, fetched_at, synthetic,
published, summary``.
``path`` is relative to the manifest's own folder (absolute paths work too).  Empty cells mean "keep what the
parser detected".  ``fetched_at`` is when the file was downloaded from ``url`` (ISO 8601; a time without an
offset is taken as UTC; ``xxgk fetch`` writes it).  ``synthetic`` (true/false, 1/0, 是/否) marks generated
reports, never a real agency's figures.  ``published`` is the date the report was published (ISO, 2024-01-25; it
wins over the dates the source states, see :mod:`pipeline.published`).  ``summary`` (true/false) marks a region's
summary report or overrides its recognition from the title (see :mod:`pipeline.summary`).
The overrides are applied once, by the parser (:func:`apply_overrides`), before the tables are matched: the year
decides the template edition.
"""

from __future__ import annotations

import csv
import os
import sqlite3
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from pipeline.model import Meta

COLUMNS = ("path", "agency", "year", "region", "url", "fetched_at", "synthetic", "published", "summary")
_TRUE = {"true", "1", "yes", "y", "t", "是"}
_FALSE = {"false", "0", "no", "n", "f", "否", ""}
SPILL_ROWS = 50_000  # a larger manifest is looked up on disk (:func:`open_manifest`)


class ManifestError(ValueError):
    """A manifest that cannot be used; the message names the file, line and column."""


@dataclass(frozen=True, slots=True)
class ManifestEntry:
    path: str  # resolved absolute path (a str, not a Path: a million-row manifest must stay small in memory)
    agency: str | None = None
    year: int | None = None
    region: str | None = None
    url: str | None = None
    fetched_at: datetime | None = None  # UTC, naive
    synthetic: bool = False
    published: str | None = None  # ISO date
    summary: bool | None = None  # None: recognised from the title

    def overrides(self) -> dict[str, object]:
        """The metadata to pass to ``parse_file(..., overrides=...)`` (only the cells that were filled)."""
        out: dict[str, object] = {}
        for name in ("agency", "year", "region", "url", "fetched_at", "published", "summary"):
            value = getattr(self, name)
            if value not in (None, ""):
                out[name] = value
        return out


def manifest_key(path: str | os.PathLike[str]) -> str:
    """The key a file is looked up by: its resolved absolute path as a string."""
    return os.path.realpath(path)


def load_manifest(csv_path: str | Path) -> dict[str, ManifestEntry]:
    """Read a whole manifest into a dict; keys are resolved absolute file paths (:func:`manifest_key`).

    One small record per row: string keys and interned agency / region names take ≈ 0.37 KB a row (100,000 rows:
    37 MB).  An ingest uses :func:`open_manifest`, which keeps a large manifest on disk instead.
    """
    return {entry.path: entry for entry in iter_manifest(csv_path)}


def open_manifest(csv_path: str | Path, spill_rows: int | None = None) -> Manifest:
    """Read a manifest for look-ups by :func:`manifest_key`; raises :class:`ManifestError` for a bad row now.

    Up to ``spill_rows`` (:data:`SPILL_ROWS`) rows are kept in a dict; a larger manifest goes into an on-disk SQLite
    table, so an ingest's memory does not grow with it (1,000,000 rows would take ≈ 370 MB as a dict).
    """
    spill_rows = SPILL_ROWS if spill_rows is None else spill_rows
    manifest = Manifest()
    for entry in iter_manifest(csv_path):
        manifest.put(entry)
        if len(manifest.entries) >= spill_rows:
            manifest.spill()
    manifest.flush()
    return manifest


class Manifest:
    """A loaded manifest: :meth:`get` by :func:`manifest_key`.  A later row for the same file wins, as in the dict.

    Rows live in :attr:`entries` until :meth:`spill` moves them to a private temporary SQLite database (SQLite's
    empty file name: on disk once its page cache is full, deleted when the connection closes).  SQLite rather than
    a sorted merge with the file walk: the walk's order (names sorted folder by folder, symlinks resolved) is not an
    order a CSV can be sorted into beforehand, while a B-tree look-up by key costs a few microseconds per file
    whatever the order of either side.  Rows are written in batches of :data:`_BATCH`.
    """

    def __init__(self) -> None:
        self.entries: dict[str, ManifestEntry] = {}
        self._db: sqlite3.Connection | None = None

    @property
    def on_disk(self) -> bool:
        return self._db is not None

    def __bool__(self) -> bool:
        return self._db is not None or bool(self.entries)

    def __len__(self) -> int:
        """The number of files listed (on disk: a count of the table, not for every look-up)."""
        if self._db is None:
            return len(self.entries)
        self.flush()
        return int(self._db.execute("SELECT count(*) FROM manifest").fetchone()[0])

    def put(self, entry: ManifestEntry) -> None:
        self.entries[entry.path] = entry
        if self._db is not None and len(self.entries) >= _BATCH:
            self.flush()

    def spill(self) -> None:
        """Keep the rows in the on-disk table from now on (the rows read so far are moved there)."""
        if self._db is None:
            db = sqlite3.connect("", check_same_thread=False)  # used by whichever thread walks the files
            db.execute(f"PRAGMA cache_size = -{_CACHE_KIB}")
            db.execute("PRAGMA journal_mode = OFF")
            db.execute("PRAGMA synchronous = OFF")
            db.execute(f"CREATE TABLE manifest (path TEXT PRIMARY KEY, {', '.join(_FIELDS)}) WITHOUT ROWID")
            self._db = db
        self.flush()

    def flush(self) -> None:
        """Write the rows held in memory to the on-disk table (nothing to do before :meth:`spill`)."""
        if self._db is None or not self.entries:
            return
        marks = ", ".join("?" * (len(_FIELDS) + 1))
        with self._db:
            self._db.executemany(f"INSERT OR REPLACE INTO manifest VALUES ({marks})", map(_row, self.entries.values()))
        self.entries = {}

    def get(self, key: str) -> ManifestEntry | None:
        if self._db is None:
            return self.entries.get(key)
        row = self._db.execute(f"SELECT {', '.join(_FIELDS)} FROM manifest WHERE path = ?", (key,)).fetchone()
        return None if row is None else _entry(key, row)

    def close(self) -> None:
        """Delete the on-disk table (a closed manifest looks up nothing)."""
        if self._db is not None:
            self._db.close()
            self._db = None
        self.entries = {}


_FIELDS = ("agency", "year", "region", "url", "fetched_at", "synthetic", "published", "summary")
_BATCH = 10_000
_CACHE_KIB = 8192  # SQLite's page cache for the on-disk table


def _row(e: ManifestEntry) -> tuple[object, ...]:
    fetched = e.fetched_at.isoformat() if e.fetched_at else None
    return (e.path, e.agency, e.year, e.region, e.url, fetched, int(e.synthetic), e.published,
            None if e.summary is None else int(e.summary))  # fmt: skip


def _entry(key: str, row: tuple[object, ...]) -> ManifestEntry:
    agency, year, region, url, fetched, synthetic, published, summary = row
    return ManifestEntry(
        path=key,
        agency=agency,  # type: ignore[arg-type]
        year=year,  # type: ignore[arg-type]
        region=region,  # type: ignore[arg-type]
        url=url,  # type: ignore[arg-type]
        fetched_at=datetime.fromisoformat(str(fetched)) if fetched else None,
        synthetic=bool(synthetic),
        published=published,  # type: ignore[arg-type]
        summary=None if summary is None else bool(summary),
    )


def iter_manifest(csv_path: str | Path) -> Iterator[ManifestEntry]:
    """The manifest's rows, checked, one at a time (raises :class:`ManifestError` at the first bad row)."""
    csv_path = Path(csv_path)
    base = csv_path.resolve().parent
    try:
        fh = csv_path.open(encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise ManifestError(f"清单 {csv_path} 无法读取: {exc.strerror or exc}") from exc
    intern = sys.intern  # agency and region names repeat across rows: keep one copy of each
    with fh:
        reader = csv.DictReader(fh)
        header = [h.strip().lower() for h in (reader.fieldnames or [])]
        if "path" not in header:
            raise ManifestError(f"清单 {csv_path} 缺少 path 列（应有列: {', '.join(COLUMNS)}）")
        reader.fieldnames = header
        for line_no, row in enumerate(reader, start=2):
            cells = {k: (v or "").strip() for k, v in row.items() if k}
            if not cells.get("path"):
                continue
            year_text = cells.get("year", "")
            try:
                year = int(year_text) if year_text else None
            except ValueError:
                raise ManifestError(
                    f"清单 {csv_path} 第 {line_no} 行: year 应为整数年份，实际为「{year_text}」"
                ) from None
            try:
                fetched_at = _utc(cells.get("fetched_at", ""))
            except ValueError:
                raise ManifestError(
                    f"清单 {csv_path} 第 {line_no} 行: fetched_at 应为 ISO 8601 时间（如 2025-02-01T08:30:00+08:00），"
                    f"实际为「{cells['fetched_at']}」"
                ) from None
            flag = cells.get("synthetic", "").lower()
            if flag not in _TRUE | _FALSE:
                raise ManifestError(f"清单 {csv_path} 第 {line_no} 行: synthetic 应为 true/false，实际为「{flag}」")
            published_text = cells.get("published", "")
            try:
                published = date.fromisoformat(published_text).isoformat() if published_text else None
            except ValueError:
                raise ManifestError(
                    f"清单 {csv_path} 第 {line_no} 行: published 应为日期（如 2024-01-25），实际为「{published_text}」"
                ) from None
            summary_flag = cells.get("summary", "").lower()
            if summary_flag not in _TRUE | _FALSE:
                raise ManifestError(
                    f"清单 {csv_path} 第 {line_no} 行: summary 应为 true/false，实际为「{summary_flag}」"
                )
            key = manifest_key(os.path.join(base, cells["path"]))  # an absolute path stays as it is
            yield ManifestEntry(
                path=key,
                agency=intern(cells["agency"]) if cells.get("agency") else None,
                year=year,
                region=intern(cells["region"]) if cells.get("region") else None,
                url=cells.get("url") or None,
                fetched_at=fetched_at,
                synthetic=flag in _TRUE,
                published=published,
                summary=(summary_flag in _TRUE) if summary_flag else None,
            )


def apply_overrides(meta: Meta, overrides: Mapping[str, object] | None, context: str = "") -> None:
    """Make the manifest's values win over what the report's text says; ``context`` is the report text (it decides
    between regions that share a name)."""
    from pipeline.meta import apply_region  # the parser's modules, imported only when a manifest is used
    from pipeline.regions import parse_region_text

    if not overrides:
        return
    if overrides.get("year") is not None:
        meta.year = int(str(overrides["year"]))
    if overrides.get("url"):
        meta.url = str(overrides["url"])
    if isinstance(overrides.get("fetched_at"), datetime):
        meta.fetched_at = overrides["fetched_at"]  # type: ignore[assignment]
    if overrides.get("published"):
        meta.published, meta.published_source = str(overrides["published"]), "manifest"
    if overrides.get("agency"):
        meta.agency = str(overrides["agency"]).strip()
    region = parse_region_text(str(overrides["region"])) if overrides.get("region") else None
    if (overrides.get("agency") or region is not None) and meta.agency:
        apply_region(meta, meta.agency, context, region)


def _utc(text: str) -> datetime | None:
    """A manifest time as naive UTC (None when empty); raises ValueError when it is not ISO 8601."""
    if not text:
        return None
    value = datetime.fromisoformat(text)
    return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value
