"""Addresses → fetched documents → the normal ingest → one result per address, with each report's findings.

For every URL: fetch it; a document (PDF, Word, WPS, image) is kept as it is; a web page is parsed with the
project's own parser first, and only when the parser finds no report in it (what ingest would log as
``not_report``) are its attachments followed (:mod:`pipeline.fetch.links`).  Everything kept goes through
:func:`pipeline.ingest.ingest` in one run, with the folder's manifest carrying each file's URL and fetch time.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from pipeline.fetch.client import FetchError, FetchSettings, PoliteClient, check_url
from pipeline.fetch.documents import SavedDocument, document_type, fetched_dir, record_in_manifest, save
from pipeline.fetch.links import find_attachments
from pipeline.ingest import ParseJob, ParseOutcome, WorkerPool, ingest
from pipeline.manifest import ManifestError
from pipeline.store import (
    LOADED,
    LOADED_WITH_ERRORS,
    REPLACED,
    UNCHANGED,
    Database,
    IngestLockedError,
    WriteOutcome,
    queries,
    resolve_db,
)

STORED_STATUSES = (LOADED, LOADED_WITH_ERRORS, REPLACED, UNCHANGED)
NEEDS_LIBREOFFICE = (".doc", ".wps")
PARALLEL_FROM = 64  # documents from which parsing uses every CPU


@dataclass(slots=True)
class DocumentResult:
    """One fetched document and what ingest made of it."""

    url: str  # the document's address after redirects
    role: str  # "page" (the address given) or "attachment" (found on that page)
    file: str
    sha256: str
    fetched_at: str
    http_status: int
    content_type: str | None
    status: str | None = None  # the ingest status (pipeline.store.LOADED …); None when not ingested
    message: str = ""
    report_id: int | None = None
    agency: str | None = None
    year: int | None = None
    findings: list[dict[str, str]] = field(default_factory=list)  # severity, rule, message


@dataclass(slots=True)
class UrlResult:
    url: str  # as given
    error: str | None = None  # one line naming the URL when nothing usable came of it
    problems: list[str] = field(default_factory=list)  # one line each: attachments that failed, notes
    documents: list[DocumentResult] = field(default_factory=list)
    saved: list[SavedDocument] = field(default_factory=list, repr=False)
    same_as: UrlResult | None = field(default=None, repr=False)  # an earlier entry with the same address

    @property
    def ok(self) -> bool:
        return self.error is None and any(d.status in STORED_STATUSES for d in self.documents)

    def to_json(self) -> dict:
        return {"url": self.url, "ok": self.ok, "error": self.error, "problems": self.problems,
                "documents": [asdict(d) for d in self.documents]}  # fmt: skip


@dataclass(slots=True)
class FetchRun:
    db: Path
    out_dir: Path
    results: list[UrlResult] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)  # ingest statuses of the documents
    ingest_error: str | None = None  # the ingest could not run (e.g. another ingest holds the database)
    requests: int = 0
    retries: int = 0
    seconds: float = 0.0

    @property
    def failed(self) -> list[UrlResult]:
        return [r for r in self.results if not r.ok]

    def to_json(self) -> dict:
        return {"db": str(self.db), "out_dir": str(self.out_dir), "counts": self.counts,
                "ingest_error": self.ingest_error, "requests": self.requests, "retries": self.retries,
                "seconds": round(self.seconds, 2), "urls": [r.to_json() for r in self.results]}  # fmt: skip


EventCallback = Callable[[str], None]


def read_url_list(path: str | Path) -> list[str]:
    """URLs from a text file: one a line; blank lines and lines starting with ``#`` are skipped."""
    lines = Path(path).read_text(encoding="utf-8-sig").splitlines()
    return [s for s in (line.strip() for line in lines) if s and not s.startswith("#")]


def fetch_reports(
    urls: Iterable[str],
    db: str | Path | None = None,
    out: str | Path | None = None,
    settings: FetchSettings | None = None,
    on_event: EventCallback | None = None,
) -> FetchRun:
    """Fetch every URL and ingest what was found (see the module docstring). Never raises for a bad URL."""
    started = time.perf_counter()
    db_path = resolve_db(db)
    run = FetchRun(db_path, Path(out).resolve() if out else fetched_dir(db_path))
    client = PoliteClient(settings, on_event)
    pool = WorkerPool(1)  # parses fetched pages to decide whether to follow their attachments
    say = on_event or (lambda _message: None)
    seen: dict[str, UrlResult] = {}
    try:
        for given in urls:
            result = UrlResult(given.strip())
            run.results.append(result)
            try:
                url = check_url(given)
            except FetchError as exc:
                result.error = str(exc)
                continue
            if url in seen:
                result.same_as = seen[url]
                result.problems.append(f"{url}: 与前面的网址相同，只抓取一次")
                continue
            seen[url] = result
            say(f"抓取 {url}")
            _fetch_one(client, pool, url, result, run.out_dir, say)
    finally:
        client.close()
        pool.close()
    run.requests, run.retries = client.requests, client.retries
    _ingest(run, say)
    run.seconds = time.perf_counter() - started
    return run


def _fetch_one(
    client: PoliteClient, pool: WorkerPool, url: str, result: UrlResult, out_dir: Path, say: EventCallback
) -> None:
    try:
        resp = client.get(url)
    except FetchError as exc:
        result.error = str(exc)
        return
    ext, why = document_type(resp)
    if ext is None:
        result.error = f"{resp.final_url}: {why}"
        return
    doc = save(out_dir, resp, ext, url)
    if ext != ".html":
        _keep(result, doc)
        return
    reason = _not_a_report(pool, doc.path)
    if reason is None:
        _keep(result, doc)
        return
    attachments = find_attachments(resp.data, resp.final_url)
    for a in attachments:
        if a.unsupported:
            result.problems.append(f"{a.url}: 附件「{a.text or '无标题'}」的格式不受支持，未下载")
    wanted = [a for a in attachments if not a.unsupported]
    if not wanted:
        result.error = f"{resp.final_url}: 不是年报页面（{reason}），页面上也没有 PDF/Word/WPS 附件"
        return
    limit = client.settings.max_attachments
    if len(wanted) > limit:
        result.problems.append(f"{url}: 页面有 {len(wanted)} 个附件，只取前 {limit} 个")
    say(f"{url}: 页面本身没有年报表格，跟随 {min(len(wanted), limit)} 个附件")
    for a in wanted[:limit]:
        try:
            got = client.get(a.url)
        except FetchError as exc:
            result.problems.append(str(exc))
            continue
        ext, why = document_type(got)
        if ext is None:
            result.problems.append(f"{got.final_url}: {why}")
            continue
        _keep(result, save(out_dir, got, ext, url))
    if not result.saved:
        result.error = f"{url}: 页面没有年报表格，附件都未能下载或不是可读的文件"


def _keep(result: UrlResult, doc: SavedDocument) -> None:
    """Queue a document for ingest, unless it is a Word/WPS binary and LibreOffice is missing."""
    if doc.ext in NEEDS_LIBREOFFICE and not (shutil.which("soffice") or shutil.which("libreoffice")):
        result.problems.append(
            f"{doc.fetched.final_url}: {doc.ext} 文件需要 LibreOffice 才能读取，本机未安装"
            f"（apt-get install libreoffice-writer）；已保存为 {doc.path}，安装后可用 xxgk ingest 导入"
        )
        return
    result.saved.append(doc)


def _not_a_report(pool: WorkerPool, path: Path) -> str | None:
    """None when the project's parser finds a report in the page, else why not (what ingest would log).

    The page is parsed in a worker under ingest's per-file budget: a hostile page cannot hold this process.
    """
    (outcome,) = list(pool.parse([ParseJob(str(path))]))
    if outcome.result is None:
        return outcome.error or "无法读取"
    if outcome.result.meta.edition is not None:
        return None
    errors = (f.message for f in outcome.result.findings if f.severity == "error")
    return next(errors, "未找到表二、表三等年报表格")


def _ingest(run: FetchRun, say: EventCallback) -> None:
    """Ingest every kept document once (the same bytes from two addresses are one file) and map the outcomes back."""
    unique: dict[str, SavedDocument] = {}
    for result in run.results:
        for doc in result.saved:
            unique.setdefault(doc.sha256, doc)
    if not unique:
        _copy_duplicates(run)
        return
    manifest = record_in_manifest(run.out_dir, list(unique.values()))
    paths = [str(d.path) for d in unique.values()]
    say(f"解析入库 {len(paths)} 个文件 → {run.db}")
    written: dict[str, WriteOutcome] = {}
    parsed: dict[str, tuple[str | None, int | None]] = {}  # path → (agency, year) as the parser read them

    def on_parsed(outcome: ParseOutcome) -> None:
        if outcome.result is not None:
            parsed[outcome.job.path] = (outcome.result.meta.agency, outcome.result.meta.year)
        elif outcome.stored_report_id is not None:  # already stored, not parsed: as the store has it
            parsed[outcome.job.path] = _stored_meta(run.db, outcome.stored_report_id)

    workers = 1 if len(paths) < PARALLEL_FROM else (os.cpu_count() or 1)  # as `xxgk ingest` decides
    try:
        summary = ingest(
            paths, db=run.db, manifest=manifest, workers=workers, on_parsed=on_parsed,
            on_written=lambda o: written.__setitem__(o.source_path, o),
        )  # fmt: skip
        run.counts = {k: v for k, v in summary.as_dict().items() if v}
    except (IngestLockedError, ManifestError) as exc:
        run.ingest_error = (
            f"{exc}；已下载的文件保存在 {run.out_dir}，稍后可运行 xxgk ingest {run.out_dir} --manifest {manifest}"
        )
    findings = _findings(run.db, {o.report_id for o in written.values() if o.report_id is not None})
    for result in run.results:
        for doc in result.saved:
            fetched = doc.fetched
            item = DocumentResult(
                fetched.final_url, "attachment" if doc.is_attachment else "page", str(doc.path), doc.sha256,
                fetched.fetched_at.isoformat(timespec="seconds"), fetched.status, fetched.content_type,
                message=run.ingest_error or "未入库",
            )  # fmt: skip
            outcome = written.get(str(doc.path))
            if outcome is not None:
                item.status, item.message, item.report_id = outcome.status, outcome.message, outcome.report_id
                item.agency, item.year = parsed.get(str(doc.path), (None, None))
                item.findings = findings.get(outcome.report_id, []) if outcome.report_id is not None else []
            result.documents.append(item)
        if result.error is None and result.documents and not result.ok:
            first = result.documents[0]
            result.error = f"{first.url}: {first.message or '未入库'}"
    _copy_duplicates(run)


def _copy_duplicates(run: FetchRun) -> None:
    """An address given twice shares the outcome of its first occurrence."""
    for result in run.results:
        if result.same_as is not None:
            result.error, result.documents = result.same_as.error, list(result.same_as.documents)


def _stored_meta(db: Path, report_id: int) -> tuple[str | None, int | None]:
    """(agency, year) of a stored report."""
    rows = Database(db).execute("SELECT agency, year FROM reports WHERE report_id = ?", [report_id])
    return (rows[0][0], rows[0][1]) if rows else (None, None)


def _findings(db: Path, report_ids: set[int]) -> dict[int, list[dict[str, str]]]:
    """Each stored report's findings as the database holds them (an unchanged report's too), errors first."""
    database = Database(db)
    if not report_ids or not database.exists():
        return {}
    return {
        rid: [{"severity": sev, "rule": rule, "message": msg} for rule, sev, msg, _scope in
              database.query(queries.report_findings, rid)]
        for rid in sorted(report_ids)
    }  # fmt: skip
