"""Files uploaded on the 导入 page: checked, kept by content hash, ingested like ``xxgk ingest``.

Uploaded bytes are stored as ``<database folder>/uploads/<sha256><ext>``: the same file uploaded twice is stored once,
and no user-chosen name ever reaches the file system.  The original name is kept as data beside it
(``<sha256><ext>.json``) and comes back with every result.  Parsing runs in the ingest's worker processes, under the
same per-file budget as the command line, never in the web server's process.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

from pipeline.ingest.parsing import ParseOutcome
from pipeline.ingest.run import ingest
from pipeline.ingest.workers import Budget
from pipeline.model import Finding, Severity
from pipeline.readers import ReadError, check_size, supported_extensions
from pipeline.store import UNCHANGED, Database, IngestLockedError, WriteOutcome, queries

REFUSED = "refused"  # not stored: empty, too large or not a supported type


@dataclass
class FileResult:
    """One uploaded file: its original name and what happened to it."""

    name: str
    status: str  # an ingest_log status, or REFUSED
    message: str
    stored: str | None = None  # the kept copy (content-hash name)
    report_id: int | None = None
    findings: list[Finding] = field(default_factory=list)  # the file's own findings


@dataclass
class UploadResult:
    files: list[FileResult] = field(default_factory=list)
    cross_year_findings: int = 0
    seconds: float = 0.0
    error: str | None = None  # the whole upload could not be ingested (e.g. another ingest is running)

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for f in self.files:
            out[f.status] = out.get(f.status, 0) + 1
        return out


def uploads_dir(db: Database) -> Path:
    return db.file.parent / "uploads"


def stored_name(data: bytes, filename: str) -> str | None:
    """``<sha256><ext>`` for an upload, or None when its extension is not a supported format."""
    ext = Path(filename).suffix.lower()
    if ext not in supported_extensions():
        return None
    return hashlib.sha256(data).hexdigest() + ext


def original_name(stored: str | os.PathLike[str]) -> str | None:
    """The name a stored upload had on the user's machine (None for a file that was not uploaded)."""
    try:
        meta = json.loads(Path(f"{stored}.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    name = meta.get("original_name") if isinstance(meta, dict) else None
    return name if isinstance(name, str) else None


def _refusal(name: str, data: bytes) -> str | None:
    try:
        check_size(len(data))
    except ReadError as exc:
        return str(exc)
    if not data.strip():
        return "文件为空"
    if stored_name(data, name) is None:
        return f"不支持的文件类型（支持 {'、'.join(sorted(supported_extensions()))}）"
    return None


def _keep(folder: Path, name: str, data: bytes) -> Path:
    """Write the upload under its content-hash name (atomically), with its original name beside it."""
    path = folder / str(stored_name(data, name))
    if not path.exists():
        tmp = path.with_name(path.name + ".part")
        tmp.write_bytes(data)
        tmp.replace(path)
    meta = path.with_name(path.name + ".json")
    if not meta.exists():
        meta.write_text(
            json.dumps({"original_name": name, "uploaded_at": time.strftime("%Y-%m-%d %H:%M:%S")}, ensure_ascii=False),
            encoding="utf-8",
        )
    return path


def ingest_uploads(
    files: Iterable[tuple[str, bytes]],
    db: Database,
    *,
    budget: Budget | None = None,
    on_parsed: Callable[[ParseOutcome, str], None] | None = None,
) -> UploadResult:
    """Check, keep and ingest uploaded ``(original name, bytes)``; never raises for a file or a busy database.

    ``on_parsed(outcome, original name)`` reports progress file by file.
    """
    started = time.perf_counter()
    result = UploadResult()
    folder = uploads_dir(db)
    accepted: dict[str, FileResult] = {}  # stored path → result of the first upload with those bytes
    copies: list[FileResult] = []  # later uploads of the same bytes in this batch
    for name, data in files:
        reason = _refusal(name, data)
        if reason is not None:
            result.files.append(FileResult(name, REFUSED, reason))
            continue
        folder.mkdir(parents=True, exist_ok=True)
        path = str(_keep(folder, name, data))
        if path in accepted:
            entry = FileResult(name, UNCHANGED, f"与本次导入的「{accepted[path].name}」内容相同", path)
            copies.append(entry)
        else:
            entry = accepted[path] = FileResult(name, "", "", path)
        result.files.append(entry)
    if not accepted:
        result.seconds = time.perf_counter() - started
        return result

    def written(outcome: WriteOutcome) -> None:
        entry = accepted.get(outcome.source_path)
        if entry is not None:
            entry.status, entry.message, entry.report_id = outcome.status, outcome.message, outcome.report_id
            entry.findings = list(outcome.findings)

    def parsed(outcome: ParseOutcome) -> None:
        if on_parsed:
            entry = accepted.get(outcome.job.path)
            on_parsed(outcome, entry.name if entry else Path(outcome.job.path).name)

    try:
        summary = ingest(list(accepted), db=db, budget=budget, on_parsed=parsed, on_written=written)
    except IngestLockedError:
        result.error = (
            "另一个入库任务（如命令行 xxgk ingest）正在写入数据库，本次文件已保存但尚未入库，请稍后重新导入。"
        )
        for entry in accepted.values():
            entry.status, entry.message = REFUSED, "数据库正忙，未入库"
        result.seconds = time.perf_counter() - started
        return result
    result.cross_year_findings = summary.cross_year_findings
    for copy in copies:
        copy.report_id = accepted[str(copy.stored)].report_id
    for entry in accepted.values():
        if entry.status == UNCHANGED and entry.report_id is not None and not entry.findings:
            entry.findings = _stored_findings(db, entry.report_id)  # already in the store: show what it has
    result.seconds = time.perf_counter() - started
    return result


def _stored_findings(db: Database, report_id: int) -> list[Finding]:
    rows = db.query(queries.report_findings, report_id)
    return [Finding(rule, cast(Severity, severity), message) for rule, severity, message, _scope in rows]
