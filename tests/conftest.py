"""Shared test helpers: the real reports the tests read.

The real reports come from ``tests/fixtures/shared/``, a vendored copy of the team's ``../shared`` seeds and
fixtures, so the suite runs on a clone with nothing beside it.  ``live_shared_dir`` is for the few checks that
need the live ``../shared`` itself; they skip when it is absent.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from pipeline.generator.corpus import CorpusConfig, write_corpus
from pipeline.generator.universe import UniverseSize
from pipeline.ingest import ingest

REPO = Path(__file__).resolve().parents[1]
LIVE_SHARED = REPO.parent / "shared"
SHARED = REPO / "tests" / "fixtures" / "shared"  # vendored copy (see its ORIGIN.md)
SEED = SHARED / "seeds" / "000_b167490a9537da4f.txt"
SEED_TRUTH = SHARED / "seeds" / "000_b167490a9537da4f.truth.json"
REAL = SHARED / "fixtures" / "real"
REAL_CASES = ("02_huaian_szf_2024", "03_hongze_qzf_2023", "04_hongze_qzf_2024")
CRAWLER = SHARED / "fixtures" / "crawler"


def load_truth(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The real reports (vendored, always present)."""
    return SHARED


@pytest.fixture(scope="session")
def live_shared_dir() -> Path:
    """The live ``../shared`` beside the repository; tests using it skip when it is absent."""
    if not LIVE_SHARED.is_dir():
        pytest.skip(f"../shared not found next to the repository ({LIVE_SHARED})")
    return LIVE_SHARED


@pytest.fixture
def close_cached_readers():
    """Leaves no cached read connection behind (for modules whose databases are deleted after each test)."""
    yield
    from pipeline.store import Database

    Database.close_all()


@pytest.fixture
def four_reports(tmp_path: Path) -> Path:
    """A folder of the seed and the three real reports (four agencies' reports): ``a-seed.txt``, ``b-<case>.txt``."""
    root = tmp_path / "reports"
    root.mkdir()
    shutil.copy(SEED, root / "a-seed.txt")
    for src in sorted(REAL.glob("*/source.txt")):
        shutil.copy(src, root / f"b-{src.parent.name}.txt")
    return root


SMALL = UniverseSize(provinces=2, cities_per_province=2, counties_per_city=1, departments=(2, 3), townships=(1, 1),
                     province_departments=(1, 2))  # fmt: skip


@pytest.fixture(scope="session")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """~200 generated reports (blank cells, null markers, totals printed on some rows only, agency errors,
    legacy and non-report documents, gaps in the series) ingested in three write sessions: three segments."""
    root = tmp_path_factory.mktemp("generated")
    config = CorpusConfig(size=SMALL, seed=11, layouts=("pdftext-tabs", "html"), years=tuple(range(2019, 2026)),
                          coverage=0.85, compact=True, error_share=0.1)  # fmt: skip
    corpus = root / "corpus"
    write_corpus(corpus, config, truth_files=False)
    db = root / "generated.duckdb"
    years = sorted(p for p in corpus.iterdir() if p.is_dir())
    for part in (years[:3], years[3:5], years[5:]):
        ingest(part, db=db, manifest=corpus / "manifest.csv")
    return db
