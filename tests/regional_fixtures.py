"""A small national-style corpus for the roll-up, summary-report, timeliness and report-card tests: 2 provinces ×
2 cities × 1 county, governments and departments at every level, 2022–2024, every region publishing a summary
report (some equal to the sum of their members, some not), publication dates (some late, some missing), a few
agency-years not published — generated, written to disk and loaded by the real ingest into a real DuckDB file."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pipeline.generator.corpus import CorpusConfig, iter_truths, write_corpus
from pipeline.generator.numbers import ReportTruth
from pipeline.generator.universe import UniverseSize
from pipeline.ingest import ingest

SIZE = UniverseSize(provinces=2, cities_per_province=2, counties_per_city=1, departments=(2, 2), townships=(0, 0),
                    province_departments=(1, 1))  # fmt: skip
YEARS = (2022, 2023, 2024)


def config() -> CorpusConfig:
    return CorpusConfig(
        size=SIZE, seed=7, layouts=("pdftext-tabs", "html"), noise_levels=(0,), error_share=0.0, mixed_share=0.0,
        years=YEARS, coverage=0.85, legacy_share=0.0, non_report_share=0.0, summary_share=1.0,
        summary_error_share=0.4,
    )  # type: ignore[arg-type]  # fmt: skip


@dataclass
class RegionalCorpus:
    db: Path
    root: Path
    truths: list[ReportTruth]

    @property
    def reports(self) -> list[ReportTruth]:
        return [t for t in self.truths if t.kind == "report"]

    @property
    def summaries(self) -> list[ReportTruth]:
        return [t for t in self.reports if t.agency.agency_type == "地区汇总"]

    @property
    def members(self) -> list[ReportTruth]:
        return [t for t in self.reports if t.agency.agency_type != "地区汇总"]


def build_regional(root: Path) -> RegionalCorpus:
    corpus = root / "corpus"
    write_corpus(corpus, config(), truth_files=False)
    db = root / "regional.duckdb"
    ingest([corpus], db=db, manifest=corpus / "manifest.csv", workers=1)
    return RegionalCorpus(db, corpus, list(iter_truths(config())))
