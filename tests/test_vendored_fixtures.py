"""The vendored real reports (tests/fixtures/shared) are an exact copy of the live ../shared (skips without it)."""

from __future__ import annotations

from pathlib import Path

from conftest import SHARED


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_vendored_copy_matches_live_shared(live_shared_dir: Path) -> None:
    for part in ("seeds", "fixtures"):
        live, vendored = _files(live_shared_dir / part), _files(SHARED / part)
        assert sorted(vendored) == sorted(live), f"{part}: files differ (refresh tests/fixtures/shared)"
        changed = [name for name in live if live[name] != vendored[name]]
        assert not changed, f"{part}: contents differ: {changed}"
