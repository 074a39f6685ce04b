"""Invariants of the synthetic corpus generator (pipeline/generator): truth consistency, determinism, key sets,
cross-year carry-over and renderers' output readable by the real readers (the demo database: tests/test_demo.py)."""

from __future__ import annotations

import csv
import hashlib
import json
import random
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.generator.corpus import (
    CorpusConfig,
    iter_documents,
    iter_truths,
    write_corpus,
)
from pipeline.generator.numbers import APPLICANT_COLUMNS, ReportTruth
from pipeline.generator.renderers import layout_names, load_renderers
from pipeline.normalize import compact, parse_value
from pipeline.readers import read_document
from pipeline.registry import T3_COLUMNS_ORDER, T4_COLUMNS_ORDER, T4_GROUPS_ORDER, registry

ROOT = Path(__file__).resolve().parents[1]
FAST_LAYOUTS = ("pdftext-tabs", "pdftext-layout", "html")


def _v(facts: dict, key: str) -> int:
    value = facts.get(key)
    return 0 if value is None else value


def rule_failures(facts: dict, t3_layout: str) -> set[str]:
    """Keys involved in failing T3-1/T3-2/T3-3/T4-1 checks (null read as 0; T3-3 skips rows with a blank 总计)."""
    reg = registry()
    rows = [r for r, _l, _b in reg.rows("t3", t3_layout)]
    outcomes = [r for r in rows if r not in ("new_received", "carried_over", "result_total", "carry_forward")]
    bad: set[str] = set()
    for c in T3_COLUMNS_ORDER:
        k = {r: f"t3.{r}.{c}" for r in rows}
        if _v(facts, k["new_received"]) + _v(facts, k["carried_over"]) != _v(facts, k["result_total"]) + _v(
            facts, k["carry_forward"]
        ):
            bad |= {k["new_received"], k["carried_over"], k["result_total"], k["carry_forward"]}
        if c == "total" and any(facts.get(k[r]) is None for r in outcomes):
            continue  # 总计 column left blank on outcome rows: T3-2 cannot be read on it
        if sum(_v(facts, k[r]) for r in outcomes) != _v(facts, k["result_total"]):
            bad |= {k[r] for r in outcomes} | {k["result_total"]}
    for r in rows:
        total = facts.get(f"t3.{r}.total")
        if total is not None and total != sum(_v(facts, f"t3.{r}.{c}") for c in APPLICANT_COLUMNS):
            bad |= {f"t3.{r}.{c}" for c in T3_COLUMNS_ORDER}
    for g in T4_GROUPS_ORDER:
        keys = [f"t4.{g}.{c}" for c in T4_COLUMNS_ORDER]
        if sum(_v(facts, k) for k in keys[:-1]) != _v(facts, keys[-1]):
            bad |= set(keys)
    return bad


@pytest.fixture(scope="module")
def truths() -> list[ReportTruth]:
    config = CorpusConfig(
        size="demo", seed=11, layouts=FAST_LAYOUTS, error_share=0.3, legacy_share=0.2, non_report_share=0.2
    )
    return list(iter_truths(config))


def test_truth_consistent_except_injected_errors(truths: list[ReportTruth]) -> None:
    reports = [t for t in truths if t.kind == "report"]
    assert len(reports) > 1500
    injected = 0
    for t in reports:
        hard = [e for e in t.agency_errors if e["severity"] == "error"]
        bad = rule_failures(t.facts, t.t3_layout)
        if hard:
            injected += 1
            listed = {k for e in hard for k in e["keys"]}
            assert bad, f"{t.doc_id}: injected {hard} but every rule holds"
            assert listed & bad, f"{t.doc_id}: injected keys {listed} are not among the failing cells"
        else:
            assert not bad, f"{t.doc_id}: rules fail on {sorted(bad)[:5]} without an injected error"
    assert injected > 100  # error_share 0.3 → hundreds of injected errors


def test_key_sets_equal_layout_keys(truths: list[ReportTruth]) -> None:
    reg = registry()
    kinds = set()
    for t in truths:
        kinds.add((t.kind, t.edition, t.t3_layout))
        if t.kind == "report":
            assert list(t.facts) == reg.layout_keys(t.edition, t.t3_layout)
            data = t.to_json()
            assert list(data["facts"]) == reg.layout_keys(t.edition, t.t3_layout)
            assert data["synthetic"] is True and data["meta"]["edition"] == t.edition
        else:
            assert t.facts == {}
    # every edition, the mixed template, legacy and non-report documents occur
    assert {
        ("report", "2019", "2019"),
        ("report", "2021", "2021"),
        ("report", "2021", "2019"),
        ("legacy", "legacy", None),
        ("non_report", None, None),
    } <= kinds


def test_carried_over_equals_last_years_carry_forward(truths: list[ReportTruth]) -> None:
    by_agency: dict[str, list[ReportTruth]] = {}
    for t in truths:
        if t.kind == "report":
            by_agency.setdefault(t.agency.agency_id, []).append(t)
    checked = mismatches = 0
    for series in by_agency.values():
        for prev, cur in zip(series, series[1:], strict=False):
            if cur.year != prev.year + 1:
                continue
            touched = {k for e in prev.agency_errors + cur.agency_errors if e["severity"] == "error" for k in e["keys"]}
            carry_error = any(e["kind"] == "carry_mismatch" for e in cur.agency_errors)
            for c in T3_COLUMNS_ORDER:
                before, now = f"t3.carry_forward.{c}", f"t3.carried_over.{c}"
                if before in touched or now in touched:
                    continue
                checked += 1
                if prev.facts[before] != cur.facts[now]:
                    mismatches += 1
                    assert carry_error, f"{cur.doc_id}: {now}={cur.facts[now]} ≠ {prev.doc_id} {before}"
    assert checked > 5000
    assert mismatches > 0  # some carry mismatches were injected (error_share 0.3)


def test_stocks_evolve_and_volumes_are_heavy_tailed(truths: list[ReportTruth]) -> None:
    received = sorted(t.facts["t3.new_received.total"] for t in truths if t.kind == "report")
    median = received[len(received) // 2]
    assert median <= 20 and received[-1] >= 500  # most bureaus get few requests, governments many
    natural = sum(t.facts["t3.new_received.natural_person"] for t in truths if t.kind == "report")
    assert natural > 0.7 * sum(received)
    breaks = sum(1 for t in truths for e in t.agency_errors if e["kind"] == "stock_mismatch")
    assert breaks > 0
    fees = [t.facts.get("t2.admin_fees.amount_wan_yuan") for t in truths if t.edition == "2021"]
    assert sum(1 for f in fees if not f) > len(fees) / 2  # fees mostly 0


def test_amount_written_in_yuan_reads_back_as_wan_yuan(truths: list[ReportTruth]) -> None:
    key = "t2.central_procurement.total_amount_wan_yuan"
    yuan = [t for t in truths if t.texts.get(key, "").endswith("元")]
    assert yuan
    for t in yuan:
        value, status = parse_value(t.texts[key], amount=True)
        assert status == "ok" and value == t.facts[key]


def _corpus_digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_same_seed_same_bytes(tmp_path: Path) -> None:
    config = CorpusConfig(size="tiny", seed=5, layouts=FAST_LAYOUTS, legacy_share=0.5, non_report_share=0.5)
    write_corpus(tmp_path / "a", config)
    write_corpus(tmp_path / "b", config)
    a, b = _corpus_digest(tmp_path / "a"), _corpus_digest(tmp_path / "b")
    assert a == b and len(a) > 30
    write_corpus(tmp_path / "c", CorpusConfig(size="tiny", seed=6, layouts=FAST_LAYOUTS))
    assert _corpus_digest(tmp_path / "c") != a
    rows = list(csv.DictReader((tmp_path / "a" / "manifest.csv").open(encoding="utf-8")))
    assert list(rows[0]) == ["path", "agency", "year", "region", "url", "synthetic", "published"]
    assert all(r["synthetic"] == "true" and (tmp_path / "a" / r["path"]).is_file() for r in rows)
    for r in rows:
        truth = json.loads((tmp_path / "a" / r["path"]).with_suffix(".truth.json").read_text(encoding="utf-8"))
        assert truth["synthetic"] is True
        assert r["agency"] == (truth["meta"]["agency"] or "")


def test_labels_come_from_the_registry() -> None:
    """A clean tab rendering carries every official row label of its edition, character for character."""
    reg = registry()
    config = CorpusConfig(
        size="tiny", seed=1, layouts=("pdftext-tabs",), noise_levels=(0,), legacy_share=0, non_report_share=0
    )
    for doc in iter_documents(config):
        text = compact(doc.data.decode("utf-8"))
        t = doc.truth
        for _key, label, _block in reg.rows("t3", t.t3_layout) + reg.rows("t2", t.edition):
            assert compact(label) in text, (doc.relpath, label)


@pytest.mark.parametrize("layout", [name for name in layout_names() if not name.startswith("scan")])
def test_every_renderer_output_is_readable(layout: str, tmp_path: Path) -> None:
    config = CorpusConfig(size="tiny", seed=2, layouts=(layout,), noise_levels=(2,), limit=1)
    (doc,) = list(iter_documents(config))
    path = tmp_path / Path(doc.relpath).name
    path.write_bytes(doc.data)
    read = read_document(path)
    assert compact(doc.truth.agency.name) in compact(read.text)


def test_scan_renderers_write_images() -> None:
    scans = [name for name in layout_names() if name.startswith("scan")]
    renderers = load_renderers()
    truth = next(iter_truths(CorpusConfig(size="tiny", seed=2, layouts=FAST_LAYOUTS)))
    for name in scans:
        data, ext = renderers[name](truth, random.Random(0), 0)
        assert data[:4] in (b"%PDF", b"II*\x00", b"MM\x00*"), name


def test_cli_writes_a_corpus(tmp_path: Path) -> None:
    out = tmp_path / "corpus"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pipeline.generator",
            "--size",
            "tiny",
            "--out",
            str(out),
            "--seed",
            "3",
            "--layouts",
            "pdftext-tabs",
            "--layouts",
            "html",
            "--error-share",
            "0.5",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "已生成" in proc.stdout
    assert (out / "manifest.csv").is_file() and list(out.rglob("*.truth.json"))
    bad = subprocess.run(
        [sys.executable, "-m", "pipeline.generator", "--size", "huge", "--out", str(out)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert bad.returncode != 0 and "未知规模" in bad.stderr
