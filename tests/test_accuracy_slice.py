"""A fixed-seed slice of the accuracy benchmark (bench/accuracy.py): ~70 generated documents in every fast layout
and noise level go through the real parser; any *silent error* fails the test — a report with a wrong or missing
cell, or an injected agency error, that no hard finding flags — and so does any *unnamed wrong cell*: a cell whose
value is wrong while no error finding names it in its keys."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.generator.corpus import CorpusConfig, iter_documents
from pipeline.generator.renderers import layout_names
from pipeline.generator.scoring import DocScore, score

# documents per noise level; scans (OCR, seconds each) are left to the benchmark
PER_NOISE = {
    "pdftext-tabs": 5,
    "pdftext-layout": 5,
    "html": 5,
    "pdf-text": 3,
    "docx": 1,
    "crawler-text": 5,
    "converter-md": 5,
}
SEED = 424242


def _slice() -> list[tuple[str, int]]:
    return [(layout, noise) for layout in layout_names() if not layout.startswith("scan") for noise in (0, 1, 2)]


@pytest.mark.parametrize(("layout", "noise"), _slice())
def test_no_silent_errors(layout: str, noise: int, tmp_path: Path) -> None:
    from pipeline.parse import parse_file

    config = CorpusConfig(
        size="large",
        seed=SEED + noise,
        layouts=(layout,),
        noise_levels=(noise,),
        error_share=0.25,
        mixed_share=0.3,
        legacy_share=0.1,
        non_report_share=0.1,
        limit=PER_NOISE.get(layout, 2),
        directory="shard",
    )
    scores: list[DocScore] = []
    for doc in iter_documents(config):
        path = tmp_path / Path(doc.relpath).name
        path.write_bytes(doc.data)
        scores.append(score(doc.truth.to_json(), parse_file(path).to_json(), path=doc.relpath))
    assert scores
    silent = [s for s in scores if s.silent]
    assert not silent, "静默错误: " + "; ".join(f"{s.path}: {s.wrong[:3] or '机关错误未被标记'}" for s in silent)
    unnamed = [(s.path, s.unnamed[:3]) for s in scores if s.unnamed]
    assert not unnamed, f"wrong cells no error names: {unnamed}"
