"""The demo database's corpus (pipeline/generator/demo.py): the whole country from a fixed seed, every real report."""

from __future__ import annotations

import csv
from collections import Counter
from itertools import islice
from pathlib import Path

from pipeline.generator.corpus import iter_truths
from pipeline.generator.demo import REPO, build, demo_config, real_reports, write_demo
from pipeline.generator.universe import iter_agencies
from pipeline.store import Database


def test_the_demo_universe_spans_the_country():
    config = demo_config()
    agencies = list(iter_agencies(config.size, config.seed))
    assert len({a.province for a in agencies}) == 31  # every province-level division
    assert set(Counter(a.level for a in agencies)) == {"省级", "市级", "县级", "乡镇"}
    assert len(agencies) >= 1000
    assert len({a.name for a in agencies}) == len(agencies)  # a name is one agency (versioning keys on it)
    first = [(t.agency.name, t.year, t.kind) for t in islice(iter_truths(config), 300)]
    assert first == [(t.agency.name, t.year, t.kind) for t in islice(iter_truths(demo_config()), 300)]  # fixed seed
    assert set(config.years) == set(range(2019, 2026))


def test_every_real_report_is_in_the_demo_unmarked():
    rows = real_reports()
    paths = {Path(r["path"]) for r in rows}
    assert REPO / "data" / "reports" / "real" / "000_b167490a9537da4f.txt" in paths
    corpus = [p for p in (REPO / "tests" / "fixtures" / "real").glob("*") if p.is_dir() and list(p.glob("source.*"))]
    assert {p.parent for p in paths} >= set(corpus)  # one source from each folder of the real corpus
    assert all(r["synthetic"] == "false" and r["agency"] and r["year"].isdigit() for r in rows)


def test_demo_manifest_and_a_small_build(tmp_path, monkeypatch):
    """The manifest flags every generated document and none of the real ones; a build loads both kinds."""
    import pipeline.generator.demo as demo

    monkeypatch.setattr(demo, "demo_config", lambda: demo.CorpusConfig(
        size="tiny", seed=7, layouts=("pdftext-tabs",), years=(2023, 2024), compact=True))  # fmt: skip
    out = tmp_path / "demo"
    write_demo(out)
    rows = list(csv.DictReader((out / "manifest.csv").open(encoding="utf-8")))
    generated = [r for r in rows if not r["path"].startswith("..")]
    assert generated and all(r["synthetic"] == "true" for r in generated)
    assert all(r["synthetic"] == "false" for r in rows if r["path"].startswith(".."))
    db = tmp_path / "demo.duckdb"
    assert build(db, out=out, workers=1)
    assert not build(db, out=out, workers=1)  # up to date: nothing to do
    flags = dict(Database(db).execute("SELECT synthetic, count(*) FROM reports GROUP BY 1"))
    assert flags[True] >= 2 and flags[False] >= len(real_reports()) - 2  # real reports may share an agency-year
