"""Shared test helpers: where the shared real reports live."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
SEED = SHARED / "seeds" / "000_b167490a9537da4f.txt"
SEED_TRUTH = SHARED / "seeds" / "000_b167490a9537da4f.truth.json"
REAL = SHARED / "fixtures" / "real"
REAL_CASES = ("02_huaian_szf_2024", "03_hongze_qzf_2023", "04_hongze_qzf_2024")


def load_truth(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not SHARED.is_dir():
        pytest.skip(f"shared/ not found next to the repository ({SHARED})")
    return SHARED
