"""The dashboard's demo database: a national synthetic corpus from a fixed seed, plus every real report we have.

    .venv/bin/python -m pipeline.generator.demo [--db data/xxgk.duckdb] [--workers N] [--force]

- **Synthetic** (``synthetic=true`` in the manifest, flagged 示例数据 everywhere): the ``national`` universe — all 31
  province-level divisions, every level (省级 / 市级 / 县级 / 乡镇), ~1,250 agencies — over 2019–2025 (plus a few
  2018 legacy reports and non-report pages), rendered as PDF-extracted text and web pages at every noise level
  from seed :data:`DEMO_SEED`.  Nothing generated is committed: the documents are written to ``data/demo/``
  (git-ignored) and every one of them is read and parsed by the normal ingest, like any report.
- **Real** (``synthetic=false``): ``data/reports/real/`` (metadata in ``data/reports/manifest.csv``), every
  ``tests/fixtures/real/*/source.*`` (metadata from its ``truth.facts.json`` and ``origin.json``) and the real PDFs
  vendored under ``tests/fixtures/shared/fixtures/real/``.

The database is rebuilt when it is missing or was built from another demo (a stamp file beside it records the seed,
the configuration and the real reports); a database that was not built here is never touched.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import shutil
import sys
import time
from dataclasses import asdict
from pathlib import Path

from pipeline.generator.corpus import MANIFEST_COLUMNS, CorpusConfig, write_corpus

REPO = Path(__file__).resolve().parents[2]
DEMO_SEED = 2025
DEMO_DIR = REPO / "data" / "demo"
REAL_MANIFEST = REPO / "data" / "reports" / "manifest.csv"  # rows for data/reports/real/ (paths relative to it)
REAL_CORPUS = REPO / "tests" / "fixtures" / "real"
REAL_VENDORED = REPO / "tests" / "fixtures" / "shared" / "fixtures" / "real"
SOURCE_PREFERENCE = (".html", ".htm", ".pdf", ".md", ".txt")  # one source per report folder: the richest form


def demo_config() -> CorpusConfig:
    """The national demo: 31 provinces, every level, 2019–2025, 90 % of agency-years reported; publication dates
    (some late, some missing); 15 % of regions publish a summary report (30 % of them differing from their members'
    sum)."""
    return CorpusConfig(
        size="national", seed=DEMO_SEED, layouts=("pdftext-tabs", "pdftext-layout", "html"),
        layout_weights={"pdftext-tabs": 8, "pdftext-layout": 1, "html": 0.6}, noise_levels=(0, 0, 1, 1, 2),
        years=(2019, 2020, 2021, 2022, 2023, 2024, 2025), coverage=0.9, compact=True, legacy_share=0.03,
        non_report_share=0.02, summary_share=0.15, summary_error_share=0.3,
    )  # fmt: skip


def _region(meta: dict) -> str:
    return meta.get("region") or "".join(meta.get(k) or "" for k in ("province", "city", "county"))


def real_reports() -> list[dict[str, str]]:
    """Manifest rows (absolute paths) of every real report in the repository, each marked synthetic=false."""
    rows: list[dict[str, str]] = []
    if REAL_MANIFEST.is_file():
        for row in csv.DictReader(REAL_MANIFEST.open(encoding="utf-8")):
            path = REAL_MANIFEST.parent / row["path"]
            if path.is_file() and row.get("synthetic", "").lower() != "true":
                rows.append({**row, "path": str(path), "synthetic": "false"})
    for root in (REAL_CORPUS, REAL_VENDORED):
        for folder in sorted(p for p in root.glob("*") if p.is_dir()) if root.is_dir() else []:
            sources = sorted(folder.glob("source.*"), key=lambda p: SOURCE_PREFERENCE.index(p.suffix)
                             if p.suffix in SOURCE_PREFERENCE else len(SOURCE_PREFERENCE))  # fmt: skip
            truth = folder / "truth.facts.json"
            if not sources or not truth.is_file():
                continue
            meta = json.loads(truth.read_text(encoding="utf-8")).get("meta", {})
            origin = folder / "origin.json"
            url = json.loads(origin.read_text(encoding="utf-8")).get("url", "") if origin.is_file() else ""
            rows.append({"path": str(sources[0]), "agency": meta.get("agency") or "", "year": str(meta.get("year") or ""),
                         "region": _region(meta), "url": url or "", "synthetic": "false"})  # fmt: skip
    return rows


def stamp() -> str:
    """What the demo database is built from: the generator's configuration, the real reports' bytes and the
    store's schema version (a new migration rebuilds the demo rather than leaving it half-migrated)."""
    from pipeline.store import SCHEMA_VERSION

    h = hashlib.sha256(json.dumps(asdict(demo_config()), sort_keys=True, default=str).encode())
    h.update(f"schema {SCHEMA_VERSION}".encode())
    for row in real_reports():
        h.update(row["path"].removeprefix(str(REPO)).encode())
        h.update(hashlib.sha256(Path(row["path"]).read_bytes()).digest())
    return h.hexdigest()[:16]


def write_demo(out: Path = DEMO_DIR) -> dict[str, float]:
    """(Re)write the synthetic documents under ``out`` and ``out/manifest.csv`` (synthetic rows + the real ones)."""
    if out.exists():
        shutil.rmtree(out)
    manifest = out / "manifest.csv"
    stats = write_corpus(out, demo_config(), truth_files=False, manifest=manifest)
    with manifest.open("a", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=MANIFEST_COLUMNS, lineterminator="\n")
        for row in real_reports():
            writer.writerow({**row, "path": os.path.relpath(row["path"], out)})
    (out / ".stamp").write_text(stamp(), encoding="utf-8")
    return stats


def build(db: Path, out: Path = DEMO_DIR, workers: int | None = None, force: bool = False) -> bool:
    """Build the demo database at ``db`` unless it is already the current demo; returns whether it was built."""
    from pipeline.ingest import ingest

    marker = db.with_name(db.name + ".demo")
    current = stamp()
    if not force and db.exists():
        if not marker.is_file():
            print(f"{db} 不是由示例数据构建的，保留不动（--force 重建）", file=sys.stderr)
            return False
        if marker.read_text(encoding="utf-8") == current:
            return False
    started = time.perf_counter()
    if force or not (out / ".stamp").is_file() or (out / ".stamp").read_text(encoding="utf-8") != current:
        stats = write_demo(out)
        print(f"示例数据：生成 {stats['documents']:,.0f} 份文档（{stats['seconds']:.1f} 秒）→ {out}", file=sys.stderr)
    for path in (db, marker):
        path.unlink(missing_ok=True)
    real = [Path(r["path"]) for r in real_reports()]
    summary = ingest([out, *real], db=db, manifest=out / "manifest.csv", workers=workers or os.cpu_count() or 1)
    marker.write_text(current, encoding="utf-8")
    counts = summary.as_dict()
    print(
        f"示例数据库 {db}：{summary.n_files:,} 个文件，入库 {counts.get('loaded', 0) + counts.get('loaded_with_errors', 0):,} 份"
        f"（其中有错误 {counts.get('loaded_with_errors', 0)}），不是年报 {counts.get('not_report', 0)}，"
        f"无法读取 {counts.get('unreadable', 0)}；共 {time.perf_counter() - started:.1f} 秒",
        file=sys.stderr,
    )
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline.generator.demo", description="构建看板示例数据库")
    parser.add_argument("--db", default=os.environ.get("XXGK_DB", "data/xxgk.duckdb"), help="数据库文件")
    parser.add_argument("--workers", type=int, default=None, help="解析进程数（默认全部 CPU）")
    parser.add_argument("--force", action="store_true", help="无论是否最新都重建")
    args = parser.parse_args(argv)
    build(Path(args.db), workers=args.workers, force=args.force)
    return 0


if __name__ == "__main__":  # pragma: no cover - entry point
    raise SystemExit(main())
