"""OCR engines compared on the same scanned reports: speed per page and cells read exactly.

    .venv/bin/python bench/bench_ocr.py --engines rapidocr rapidocr-onnxruntime --docs 3

Generates scanned reports (``scan-pdf`` / ``scan-tiff``, noise 0–2, fixed seed) with the generator, then parses every
one with each engine in a fresh process (``XXGK_OCR_ENGINE``) and scores the cells against the truth.  Prints a
Markdown table; both engines must be installed (the project installs one).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _child(corpus: str) -> None:
    """Parse and score every document of ``corpus`` with the engine this process was given; print JSON."""
    from pipeline.generator.corpus import truth_path
    from pipeline.generator.scoring import score
    from pipeline.parse import parse_file
    from pipeline.readers.ocr_engine import engine

    out = []
    name = engine().name
    for doc in sorted(p for p in Path(corpus).rglob("*") if p.is_file() and p.suffix not in (".json", ".csv")):
        truth = json.loads(truth_path(doc).read_text(encoding="utf-8"))
        started = time.perf_counter()
        result = parse_file(doc)
        seconds = time.perf_counter() - started
        s = score(truth, result.to_json(), path=str(doc))
        pages = max((f.page or 1 for f in result.facts.values()), default=1)
        doubtful = sum(1 for f in result.findings if f.rule == "OCR")
        out.append({"doc": doc.name, "layout": s.layout, "noise": s.noise, "cells": s.cells, "correct": s.correct,
                    "silent": s.silent, "doubtful": doubtful, "seconds": seconds, "pages": pages})  # fmt: skip
    print(json.dumps({"engine": name, "docs": out}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--engines", nargs="+", default=["rapidocr", "rapidocr-onnxruntime"])
    ap.add_argument("--docs", type=int, default=3, help="documents per scan layout")
    ap.add_argument("--seed", type=int, default=20261130)
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        _child(args.child)
        return
    from pipeline.generator.corpus import CorpusConfig, write_corpus

    with tempfile.TemporaryDirectory(prefix="xxgk-ocr-") as tmp:
        for i, layout in enumerate(("scan-pdf", "scan-tiff")):
            config = CorpusConfig(size="large", seed=args.seed + i, limit=args.docs, layouts=(layout,),
                                  error_share=0.0, legacy_share=0.0, non_report_share=0.0, directory="shard")  # fmt: skip
            write_corpus(Path(tmp) / layout, config)
        rows = []
        for name in args.engines:
            env = {**os.environ, "XXGK_OCR_ENGINE": name}
            done = subprocess.run([sys.executable, __file__, "--child", tmp], env=env, capture_output=True, text=True,
                                  check=True)  # fmt: skip
            result = json.loads(done.stdout.strip().splitlines()[-1])
            docs = result["docs"]
            cells = sum(d["cells"] for d in docs)
            rows.append(
                f"| {result['engine']} | {len(docs)} | {cells} | {sum(d['correct'] for d in docs) / cells:.2%} "
                f"| {sum(d['silent'] for d in docs)} | {sum(d['doubtful'] for d in docs)} "
                f"| {sum(d['seconds'] for d in docs) / len(docs):.1f} | {sum(d['seconds'] for d in docs) / sum(d['pages'] for d in docs):.1f} |"
            )
            print(json.dumps(result, ensure_ascii=False), file=sys.stderr)
    print("| engine | documents | cells | cells exact | silent errors | doubtful cells flagged | s/document | s/page |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
