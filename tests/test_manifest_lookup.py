"""The manifest's look-up for large ingests (:func:`pipeline.manifest.open_manifest`): a manifest past the threshold
is kept in an on-disk SQLite table and must answer exactly as the in-memory dict (:func:`load_manifest`) does."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import REAL as REAL_DIR
from conftest import SEED

from pipeline import manifest as manifest_module
from pipeline.generator.corpus import CorpusConfig, write_corpus
from pipeline.ingest import ingest
from pipeline.manifest import ManifestError, load_manifest, manifest_key, open_manifest
from pipeline.store import Database

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.usefixtures("close_cached_readers")


def _fetch_style(folder: Path) -> Path:
    """A manifest as ``xxgk fetch`` and a user write it: times with offsets, dates, flags, a repeated path (the
    later row wins), an absolute path and empty cells."""
    folder.mkdir(parents=True, exist_ok=True)
    manifest = folder / "manifest.csv"
    manifest.write_text(
        "Path,agency,year,region,url,fetched_at,synthetic,published,summary\n"
        "a.pdf,甲市司法局,2023,辽宁省阜新市,https://x.cn/a.pdf,2025-02-01T08:30:00+08:00,false,2024-01-25,\n"
        "b/b.html,,,,https://x.cn/b.html,2025-02-01T08:31:00,是,,true\n"
        f"{folder / 'c.txt'},乙县人民政府,2021,,,,0,,否\n"
        "a.pdf,甲市司法局办公室,2022,,,,,,\n"
        "d.docx,,,,,,,,\n",
        encoding="utf-8",
    )
    return manifest


def _manifests(tmp_path: Path) -> list[Path]:
    generated = tmp_path / "generated"
    write_corpus(
        generated,
        CorpusConfig(size="demo", limit=120, directory="shard", layouts=("html", "pdftext-tabs")),
        truth_files=False,
    )
    return [ROOT / "data" / "reports" / "manifest.csv", generated / "manifest.csv", _fetch_style(tmp_path / "fetch")]


@pytest.mark.parametrize("spill_rows", [1, 3, 1_000_000])
def test_on_disk_lookup_answers_as_the_dict(tmp_path: Path, spill_rows: int) -> None:
    for csv_path in _manifests(tmp_path):
        expected = load_manifest(csv_path)
        found = open_manifest(csv_path, spill_rows=spill_rows)
        try:
            assert found.on_disk == (len(expected) >= spill_rows), csv_path
            assert len(found) == len(expected) and len(expected) > 0
            for key, entry in expected.items():
                assert found.get(key) == entry, (csv_path, key)
                assert found.get(key).overrides() == entry.overrides()  # type: ignore[union-attr]
            assert found.get(manifest_key(tmp_path / "not-listed.txt")) is None
        finally:
            found.close()
    fetch = load_manifest(tmp_path / "fetch" / "manifest.csv")
    assert fetch[manifest_key(tmp_path / "fetch" / "a.pdf")].agency == "甲市司法局办公室"  # the later row won


def test_a_bad_row_fails_before_anything_is_parsed(tmp_path: Path) -> None:
    bad = tmp_path / "m.csv"
    bad.write_text("path,year\n" + "".join(f"f{i}.txt,2023\n" for i in range(10)) + "f10.txt,去年\n", encoding="utf-8")
    with pytest.raises(ManifestError, match="第 12 行: year"):
        open_manifest(bad, spill_rows=3)


def test_ingest_with_a_manifest_past_the_threshold_applies_every_override(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Six copies of real reports, every one renamed, re-dated and placed by the manifest, which the ingest keeps
    on disk (threshold 2 rows): each stored report carries its own row's values."""
    root = tmp_path / "reports"
    sources = [SEED, *sorted(REAL_DIR.glob("*/source.txt"))]
    rows = ["path,agency,year,region,url,synthetic"]
    expected = set()
    for i in range(6):
        src = sources[i % len(sources)]
        rel = f"{i // 3}/r{i}.txt"
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(src, root / rel)
        with (root / rel).open("a", encoding="utf-8") as fh:
            fh.write(f"\n（副本 {i}）\n")  # a distinct file each time
        agency, year, url = f"清单测试{i}号局", 2021 + i % 3, f"https://example.gov.cn/{i}.html"
        rows.append(f"{rel},{agency},{year},辽宁省阜新市,{url},true")
        expected.add((agency, year, url, True, "辽宁省", "阜新市"))
    manifest = root / "manifest.csv"
    manifest.write_text("\n".join(rows) + "\n", encoding="utf-8")
    monkeypatch.setattr(manifest_module, "SPILL_ROWS", 2)
    db = tmp_path / "x.duckdb"
    summary = ingest([root], db=db, manifest=manifest)
    assert summary.n_files == 6 and summary.unreadable == 0
    stored = Database(db).execute("SELECT agency, year, source_url, synthetic, province, city FROM reports")
    assert set(stored) == expected
