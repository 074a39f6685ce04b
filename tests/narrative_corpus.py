"""A generated corpus with known copied sentences, ingested through the real ingest path (search and reuse tests).

``build(tmp)`` writes ~150 text/HTML reports (demo universe, 2022–2024, varied prose, 30 % of reports copying
sentences from their previous year or from the agency before them) and ingests them into ``tmp/x.duckdb``; ingest
itself updates the copied-text tables and the full-text index.  ``truth`` maps (agency, year) to the truth file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from pipeline.generator.corpus import CorpusConfig, write_corpus
from pipeline.ingest import ingest

CONFIG = CorpusConfig(
    size="demo", seed=11, layouts=("pdftext-tabs", "html"), years=(2022, 2023, 2024), copy_share=0.3, limit=150,
    legacy_share=0.0, non_report_share=0.0, error_share=0.0, coverage=1.0,
)  # fmt: skip


@dataclass
class Corpus:
    root: Path
    db: Path
    truth: dict[tuple[str, int], dict]


def build(tmp: Path, config: CorpusConfig = CONFIG) -> Corpus:
    docs = tmp / "corpus"
    write_corpus(docs, config)
    db = tmp / "x.duckdb"
    summary = ingest([docs], db=db, manifest=docs / "manifest.csv")
    assert summary.counts["loaded"] == config.limit, summary.as_dict()
    truth = {}
    for path in docs.rglob("*.truth.json"):
        data = json.loads(path.read_text(encoding="utf-8"))
        truth[(data["meta"]["agency"], data["meta"]["year"])] = data
    return Corpus(docs, db, truth)
