"""The corpus: agencies × years → documents in every layout, with ground truth and a manifest.

:func:`iter_documents` is a generator (the large corpus is never held in memory); :func:`write_corpus` streams it to
disk: ``<out>/<dir>/<agency_id>_<year>.<ext>``, ``<same>.truth.json`` beside each document (optional), and
``<out>/manifest.csv`` (path, agency, year, region, url, synthetic).  Same config and seed → byte-identical output.
"""

from __future__ import annotations

import csv
import json
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.generator.numbers import ReportTruth
from pipeline.generator.prose import ProsePlan, plan_copies
from pipeline.generator.regional import publication_date, with_summaries
from pipeline.generator.renderers import layout_names, render
from pipeline.generator.series import agency_series
from pipeline.generator.universe import Agency, iter_agencies

MANIFEST_COLUMNS = ("path", "agency", "year", "region", "url", "synthetic", "published")
# layouts whose document states its own publication date (web page: 发布时间; PDF / DOCX: file properties); the
# others carry it in the manifest's published column
SELF_DATED_LAYOUTS = ("html", "pdf-text", "docx")

DEFAULT_YEARS: dict[str, tuple[int, ...]] = {
    "tiny": (2019, 2020, 2021, 2023),
    "demo": (2019, 2020, 2021, 2022, 2023, 2024, 2025),
    "national": (2019, 2020, 2021, 2022, 2023, 2024, 2025),
    "large": (2019, 2020, 2021, 2022, 2023, 2024, 2025),
}


@dataclass
class CorpusConfig:
    size: str = "demo"
    seed: int = 0
    layouts: tuple[str, ...] | None = None  # None: every registered layout
    layout_weights: dict[str, float] = field(default_factory=dict)  # default weight 1
    noise_levels: tuple[int, ...] = (0, 1, 2)
    error_share: float = 0.05  # share of reports carrying an agency error
    mixed_share: float = 0.1  # share of agencies pairing the 2021 表二 with the 2019 （六）其他处理
    years: tuple[int, ...] | None = None
    coverage: float = 1.0  # share of (agency, year) reports that exist (real series have gaps)
    legacy_share: float = 0.05  # share of agencies that also published a legacy (2018) report
    non_report_share: float = 0.03  # share of agencies with one non-report page in the corpus
    limit: int | None = None  # stop after this many documents
    directory: str = "year"  # "year": <out>/<year>/…, "shard": <out>/<0000>/… (1000 documents each)
    compact: bool = False  # short prose in every report
    copy_share: float = 0.0  # > 0: varied prose; this share of reports copy sentences from last year / another agency
    dated: bool = True  # publication dates (some late, some missing): pipeline.generator.regional
    summary_share: float = 0.0  # share of regions publishing a summary report (汇总全市 …) every year
    summary_error_share: float = 0.3  # share of those summary-years that differ from the sum of their members

    def resolved_layouts(self) -> tuple[str, ...]:
        names = layout_names()
        chosen = self.layouts or tuple(names)
        unknown = [n for n in chosen if n not in names]
        if unknown:
            raise ValueError(f"未知版式: {', '.join(unknown)}；可用: {', '.join(names)}")
        return tuple(chosen)


@dataclass
class GeneratedDoc:
    relpath: str  # relative to the corpus root
    data: bytes
    truth: ReportTruth

    def manifest_row(self, prefix: str = "") -> dict[str, str]:
        t = self.truth
        is_report = t.kind != "non_report"
        return {
            "path": prefix + self.relpath,
            "agency": t.agency.name if is_report else "",
            "year": str(t.year) if is_report else "",
            "region": t.agency.region if is_report else "",
            "url": t.url,
            "synthetic": "true",
            "published": (t.published or "") if t.layout not in SELF_DATED_LAYOUTS else "",
        }


def _chooser(config: CorpusConfig):
    layouts = config.resolved_layouts()
    weights = [config.layout_weights.get(name, 1.0) for name in layouts]
    noises = config.noise_levels

    def choose(agency: Agency, year: int, rng: random.Random) -> tuple[str, int]:
        return rng.choices(layouts, weights=weights)[0], rng.choice(noises)

    return choose


def _agency_truths(config: CorpusConfig) -> Iterator[tuple[Agency, list[ReportTruth]]]:
    """Each agency with its documents' truths (years ascending), in universe order."""
    years = list(config.years or DEFAULT_YEARS[config.size])
    choose = _chooser(config)
    plans: dict[int, ProsePlan] = {}  # this agency's prose plans by year
    other: tuple[Agency, dict[int, ProsePlan]] | None = None  # the agency before it, the source of "other" copies
    for agency in iter_agencies(config.size, config.seed):
        rng = random.Random(f"{config.seed}:{agency.agency_id}:corpus")
        chosen = [y for y in years if rng.random() < config.coverage] or [rng.choice(years)]
        if rng.random() < config.legacy_share:
            chosen.insert(0, min(years) - 1)
        truths = list(agency_series(agency, chosen, config.seed, choose, config.error_share, config.mixed_share))
        for truth in truths:
            truth.doc_id = f"{agency.agency_id}_{truth.year}"
            if config.copy_share > 0 and truth.kind == "report":
                source = (other[0], other[1][truth.year]) if other and truth.year in other[1] else None
                truth.prose = plans[truth.year] = plan_copies(
                    truth, config.seed, config.copy_share, plans.get(truth.year - 1), source
                )
        if plans:
            other, plans = (agency, plans), {}
        if rng.random() < config.non_report_share:
            year = rng.choice(years)
            layout, noise = choose(agency, year, rng)
            truths.append(
                ReportTruth(
                    agency,
                    year,
                    "non_report",
                    None,
                    None,
                    layout=layout,
                    noise=noise,
                    doc_id=f"{agency.agency_id}_{year}_notice",
                )
            )
        yield agency, truths


def iter_truths(config: CorpusConfig) -> Iterator[ReportTruth]:
    """Every document's truth in corpus order (agency by agency, years ascending; a region's summary report right
    after the region's last agency)."""
    layout = config.resolved_layouts()[0]
    truths = with_summaries(_agency_truths(config), config.seed, config.summary_share, config.summary_error_share,
                            layout)  # fmt: skip
    for truth in truths:
        if config.dated:
            truth.published = publication_date(truth, config.seed)
        yield truth


def _render_one(job: tuple[int, ReportTruth, CorpusConfig]) -> GeneratedDoc:
    n, truth, config = job
    truth.compact = config.compact
    rng = random.Random(f"{config.seed}:{truth.doc_id}:render")
    data, ext = render(truth, rng)
    folder = f"{n // 1000:04d}" if config.directory == "shard" else str(truth.year)
    return GeneratedDoc(f"{folder}/{truth.doc_id}.{ext.lstrip('.')}", data, truth)


def _jobs(config: CorpusConfig) -> Iterator[tuple[int, ReportTruth, CorpusConfig]]:
    for n, truth in enumerate(iter_truths(config)):
        if config.limit is not None and n >= config.limit:
            return
        yield n, truth, config


def iter_documents(config: CorpusConfig, workers: int = 1) -> Iterator[GeneratedDoc]:
    """Rendered documents with their truth, streamed in corpus order.

    With ``workers > 1`` rendering (slow for PDF/DOCX/scans) runs in a process pool, batch by batch so memory
    stays bounded; the output is identical to the sequential one.
    """
    if workers <= 1:
        yield from map(_render_one, _jobs(config))
        return
    from multiprocessing import get_context

    with get_context("fork").Pool(workers) as pool:
        batch: list[tuple[int, ReportTruth, CorpusConfig]] = []
        for job in _jobs(config):
            batch.append(job)
            if len(batch) >= 64 * workers:
                yield from pool.map(_render_one, batch, chunksize=8)
                batch = []
        if batch:
            yield from pool.map(_render_one, batch, chunksize=8)


def truth_path(doc_path: Path) -> Path:
    """``a/b.txt`` → ``a/b.truth.json``."""
    return doc_path.with_name(doc_path.stem + ".truth.json")


def write_corpus(
    out: str | Path,
    config: CorpusConfig,
    *,
    truth_files: bool = True,
    manifest: str | Path | None = None,
    path_prefix: str = "",
    workers: int = 1,
) -> dict[str, float]:
    """Write the corpus under ``out`` and its manifest; returns counts, bytes and seconds."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    manifest_path = Path(manifest) if manifest else out / "manifest.csv"
    started = time.perf_counter()
    count = size = 0
    with manifest_path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=MANIFEST_COLUMNS, lineterminator="\n")
        writer.writeheader()
        for doc in iter_documents(config, workers):
            path = out / doc.relpath
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(doc.data)
            size += len(doc.data)
            if truth_files:
                text = json.dumps(doc.truth.to_json(), ensure_ascii=False, indent=1)
                truth_path(path).write_text(text + "\n", encoding="utf-8")
            writer.writerow(doc.manifest_row(path_prefix))
            count += 1
    return {"documents": count, "bytes": size, "seconds": round(time.perf_counter() - started, 2)}
