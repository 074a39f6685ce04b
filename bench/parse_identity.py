"""Parse identity check: the parser's output for a fixed set of documents is byte-for-byte what a reference
version of the code gives (used to prove that a speed change changed no output).

    .venv/bin/python bench/parse_identity.py                 # this checkout against `main` (default)
    .venv/bin/python bench/parse_identity.py --ref HEAD~3    # … against any git revision
    .venv/bin/python bench/parse_identity.py record --out hashes.json   # only write this checkout's hashes
    .venv/bin/python bench/parse_identity.py check --baseline hashes.json

Documents: a generated corpus (``pipeline.generator``, seed 12, size national, every text/HTML layout —
pdftext-tabs, pdftext-layout, html, crawler-text, converter-md — every noise level; 1,200 documents by default)
and every real document in the repository and in ``../shared`` (tests/fixtures: real reports, crawler texts,
converter markdown, HTML pages, encoding variants, PDFs).

Per document two SHA-256 hashes: ``json`` — the exact ``xxgk parse FILE --json`` text (docs/parse-json.md); and
``full`` — every field of the :class:`~pipeline.model.ParseResult` the store writes (each fact's raw text,
location, status and page; sections; extra rows; narrative; finding details; the reader's format) — so a change
that keeps the public JSON but moves a fact's provenance is caught too.  Paths are made relative first, so the
hashes do not depend on where the corpus was written.

The reference is the ``--ref`` revision exported with ``git archive`` into a temp folder (no worktree is
created) and run with this interpreter; both sides parse the very same files.  Exit status 0 when every hash
matches, 1 otherwise (the differing documents are listed).
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
LAYOUTS = ("pdftext-tabs", "pdftext-layout", "html", "crawler-text", "converter-md")


def generate_corpus(out: Path, n: int, seed: int = 12) -> None:
    """The generated part: ``n`` documents, every text/HTML layout and noise level (deterministic)."""
    if (out / "manifest.csv").exists():
        return
    from pipeline.generator.corpus import CorpusConfig, write_corpus

    write_corpus(out, CorpusConfig(size="national", seed=seed, limit=n, layouts=LAYOUTS), truth_files=False)


def documents(corpus: Path) -> list[tuple[str, Path]]:
    """(stable name, path) of every document checked: the generated corpus, then the real ones."""
    from pipeline.ingest import iter_source_files

    docs = [(f"gen/{p.relative_to(corpus).as_posix()}", p) for p in iter_source_files([corpus])]
    for label, root in (("repo", ROOT / "tests" / "fixtures"), ("shared", SHARED)):
        if root.exists():
            docs += [(f"{label}/{p.relative_to(root).as_posix()}", p) for p in iter_source_files([root])]
    return [(name, p) for name, p in docs if p.suffix.lower() != ".csv"]


def _plain(obj: object) -> object:
    """A JSON-able, order-preserving form of a parse result (Decimals and dates as their exact text)."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: _plain(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, dict):
        return [[_plain(k), _plain(v)] for k, v in obj.items()]
    if isinstance(obj, list | tuple):
        return [_plain(v) for v in obj]
    if obj is None or isinstance(obj, bool | int | float | str):
        return obj
    return f"{type(obj).__name__}:{obj}"


def fingerprint(name: str, path: Path) -> dict[str, str]:
    """The two hashes of one document (a file that cannot be read: the hash of its error message)."""
    from pipeline.cli import _ordered_json
    from pipeline.parse import parse_file
    from pipeline.readers import ReadError

    try:
        result = parse_file(path)
    except ReadError as exc:
        h = hashlib.sha256(f"ReadError: {exc}".replace(str(path), name).encode()).hexdigest()
        return {"json": h, "full": h}
    result.path = name
    text = json.dumps(_ordered_json(result.to_json()), ensure_ascii=False, indent=1)
    full = json.dumps(_plain(result), ensure_ascii=False)
    return {
        "json": hashlib.sha256(text.encode()).hexdigest(),
        "full": hashlib.sha256(full.encode()).hexdigest(),
    }


def record(corpus: Path, n: int) -> dict[str, dict[str, str]]:
    generate_corpus(corpus, n)
    return {name: fingerprint(name, path) for name, path in documents(corpus)}


def compare(ours: dict[str, dict[str, str]], ref: dict[str, dict[str, str]]) -> list[str]:
    """Names of the documents whose hashes differ (or that only one side has)."""
    return sorted(name for name in ours.keys() | ref.keys() if ours.get(name) != ref.get(name))


def _run_reference(ref: str, corpus: Path, n: int, out: Path) -> None:
    """Export ``ref`` with ``git archive`` and record its hashes with it (same interpreter and packages)."""
    code = Path(tempfile.mkdtemp(prefix="xxgk-ref-"))
    try:
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", ref], check=True, capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", str(code)], input=archive, check=True)
        env = {**os.environ, "PYTHONPATH": str(code)}
        # this script from the current checkout, the pipeline package from the reference
        cmd = [sys.executable, str(Path(__file__).resolve()), "record", "--code", str(code),
               "--corpus", str(corpus), "--n", str(n), "--out", str(out)]  # fmt: skip
        subprocess.run(cmd, check=True, env=env, cwd=code)
    finally:
        shutil.rmtree(code, ignore_errors=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("mode", nargs="?", default="ref", choices=("ref", "record", "check"))
    ap.add_argument("--ref", default="main", help="git revision to compare with (mode ref)")
    ap.add_argument("--n", type=int, default=1200, help="generated documents")
    ap.add_argument("--corpus", type=Path, default=None, help="where the generated corpus is (re)used")
    ap.add_argument("--out", type=Path, default=None, help="record: where to write the hashes")
    ap.add_argument("--baseline", type=Path, default=None, help="check: hashes to compare with")
    ap.add_argument("--code", type=Path, default=None, help=argparse.SUPPRESS)  # record with this pipeline
    args = ap.parse_args()
    sys.path.insert(0, str(args.code or ROOT))
    if args.code:
        os.chdir(ROOT)  # the real documents are named relative to this checkout either way

    scratch = Path(tempfile.mkdtemp(prefix="xxgk-identity-"))
    corpus = args.corpus or scratch / "corpus"
    try:
        if args.mode == "record":
            started = time.perf_counter()
            hashes = record(corpus, args.n)
            out = args.out or ROOT / "bench" / "out" / "parse_identity.json"
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(json.dumps(hashes, indent=0, sort_keys=True), encoding="utf-8")
            print(f"{len(hashes)} documents hashed in {time.perf_counter() - started:.0f} s → {out}")
            return 0
        if args.mode == "check":
            if args.baseline is None:
                ap.error("check needs --baseline")
            ref_hashes = json.loads(args.baseline.read_text(encoding="utf-8"))
            label = str(args.baseline)
        else:
            ref_file = scratch / "reference.json"
            generate_corpus(corpus, args.n)
            _run_reference(args.ref, corpus, args.n, ref_file)
            ref_hashes = json.loads(ref_file.read_text(encoding="utf-8"))
            label = f"git {args.ref}"
        started = time.perf_counter()
        ours = record(corpus, args.n)
        differ = compare(ours, ref_hashes)
        n_gen = sum(1 for name in ours if name.startswith("gen/"))
        print(f"parse identity vs {label}: {len(ours)} documents ({n_gen} generated, {len(ours) - n_gen} real) "
              f"parsed in {time.perf_counter() - started:.0f} s")  # fmt: skip
        if differ:
            print(f"DIFFERENT: {len(differ)} documents")
            for name in differ[:50]:
                print(f"  {name}: ours {ours.get(name)} ref {ref_hashes.get(name)}")
            return 1
        print("identical: every parse-JSON and full-result hash matches")
        return 0
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
