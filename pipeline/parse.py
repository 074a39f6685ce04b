"""One file → :class:`ParseResult`: reader → matcher → validator, no database.

This is what ``xxgk parse`` prints and what ``xxgk ingest`` stores.
"""

from __future__ import annotations

import hashlib
import os
from typing import Any

from pipeline.derive import derive, derived_finding
from pipeline.manifest import apply_overrides
from pipeline.matcher import match, ordered_facts
from pipeline.meta import detect_meta, sections
from pipeline.model import Fact, Finding, ParseResult
from pipeline.published import SOURCE_MANIFEST, publication
from pipeline.readers import read_document, read_source
from pipeline.summary import mark, title_marker
from pipeline.validator import LEGACY_LAST_YEAR, is_legacy, report_findings


def parse_file(
    path: str | os.PathLike[str], data: bytes | None = None, overrides: dict[str, Any] | None = None
) -> ParseResult:
    """Parse one report. Raises :class:`pipeline.readers.ReadError` when the file cannot be read at all.

    ``overrides`` (from a manifest: agency, year, region, url) win over what the text says.
    """
    path = str(path)
    if data is None:
        data = read_source(path)
    doc = read_document(path, data)
    doc, title_mark = title_marker(doc)
    meta, narrative = detect_meta(doc)
    apply_overrides(meta, overrides, doc.text)
    if meta.published_source != SOURCE_MANIFEST:
        meta.published, meta.published_source = publication(doc, meta.year)
    flag = (overrides or {}).get("summary")
    mark(meta, title_mark, flag if isinstance(flag, bool) else None)
    findings: list[Finding] = []
    facts: dict[str, Fact] = {}
    derived = {}
    extra: list[str] = []
    if is_legacy(meta.year):
        meta.edition = "legacy"
        meta.edition_evidence = [f"报告年度 {meta.year} ≤ {LEGACY_LAST_YEAR}：旧格式"]
    else:
        result = match(doc, meta.year)
        meta.edition, meta.t3_layout, meta.edition_evidence = result.edition, result.t3_layout, result.evidence
        facts = ordered_facts(result)
        findings.extend(result.findings)
        extra = result.extra_rows
        derived = derive(facts, meta.edition, meta.t3_layout)
    findings.extend(report_findings(meta, facts, narrative))
    note = derived_finding(derived)
    if note is not None:
        findings.append(note)
    return ParseResult(
        path=path,
        sha256=hashlib.sha256(data).hexdigest(),
        format=doc.format,
        meta=meta,
        facts=facts,
        findings=findings,
        sections=sections(doc),
        extra_rows=extra,
        narrative=narrative,
        size_bytes=len(data),
        derived=derived,
    )
