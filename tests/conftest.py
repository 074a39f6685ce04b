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
