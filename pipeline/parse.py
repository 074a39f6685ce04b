"""One file → :class:`ParseResult`: reader → matcher → validator, no database.

This is what ``xxgk parse`` prints and what ``xxgk ingest`` stores.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from pipeline.matcher import match, ordered_facts
from pipeline.meta import apply_region, detect_meta, sections
from pipeline.model import Finding, Meta, ParseResult
from pipeline.readers import read_document
from pipeline.regions import parse_region_text
from pipeline.validator import narrative_findings, validate

LEGACY_LAST_YEAR = 2018


def parse_file(path: str | Path, data: bytes | None = None, overrides: dict[str, Any] | None = None) -> ParseResult:
    """Parse one report. Raises :class:`pipeline.readers.ReadError` when the file cannot be read at all.

    ``overrides`` (from a manifest: agency, year, region, url) win over what the text says.
    """
    path = str(path)
    if data is None:
        data = Path(path).read_bytes()
    doc = read_document(path, data)
    meta, narrative = detect_meta(doc)
    _apply_overrides(meta, overrides or {}, doc.text)
    findings: list[Finding] = []
    facts = {}
    extra: list[str] = []
    if meta.year is not None and meta.year <= LEGACY_LAST_YEAR:
        meta.edition = "legacy"
        meta.edition_evidence = [f"报告年度 {meta.year} ≤ {LEGACY_LAST_YEAR}：旧格式"]
        findings.append(
            Finding("LEGACY", "warning", f"{meta.year} 年度报告使用 2019 年以前的旧格式，未提取表格数字", [])
        )
    else:
        result = match(doc, meta.year)
        meta.edition, meta.t3_layout, meta.edition_evidence = result.edition, result.t3_layout, result.evidence
        facts = ordered_facts(result)
        findings.extend(result.findings)
        if meta.edition is not None:
            findings.extend(validate(facts, meta.edition, meta.t3_layout))
            findings.extend(narrative_findings(facts, narrative))
        if meta.edition is not None and meta.t3_layout and meta.t3_layout != meta.edition:
            findings.append(
                Finding(
                    "MIXED_TEMPLATE",
                    "info",
                    f"表二为 {meta.edition} 版，表三（六）其他处理为 {meta.t3_layout} 版单行格式；三个分项记为空（非 0）",
                    [],
                )
            )
        extra = result.extra_rows
    if meta.edition is not None and meta.agency is None:
        findings.append(Finding("META", "warning", "未能从标题识别机关名称", []))
    if meta.edition is not None and meta.year is None:
        findings.append(Finding("META", "warning", "未能识别报告年度", []))
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
    )


def _apply_overrides(meta: Meta, overrides: dict[str, Any], context: str) -> None:
    if overrides.get("year"):
        meta.year = int(overrides["year"])
    if overrides.get("url"):
        meta.url = str(overrides["url"])
    if overrides.get("agency"):
        meta.agency = str(overrides["agency"]).strip()
    region = parse_region_text(str(overrides["region"])) if overrides.get("region") else None
    if (overrides.get("agency") or region is not None) and meta.agency:
        apply_region(meta, meta.agency, context, region)
