# xxgk — two commands on a fresh machine: `make run` and `make test`.
SHELL := /bin/bash
PY := .venv/bin/python
DB ?= data/xxgk.duckdb
PORT ?= 8501
export XXGK_DB ?= $(DB)

.PHONY: run test install install-test db demo-data bench bench-parse parse-identity bench-scale bench-ingest-scale bench-search bench-cluster accuracy fuzz docs lint typecheck clean

# uv installs the locked versions into .venv/ (installed with pip if missing): the product, the Dask extra (the
# cluster tests run on a real local Dask cluster; Ray stays opt-in: uv sync --extra ray) and the dev and bench groups
# (pyproject.toml says which package serves what).  Everything is compiled to bytecode once here: a process then
# starts in ≈ 0.8 s instead of ≈ 3.5 s where PYTHONDONTWRITEBYTECODE is set (as on this VM and in many containers),
# which every `xxgk` command, ingest worker and dashboard start would otherwise pay again.
install: .venv/.installed
.venv/.installed: pyproject.toml uv.lock
	@command -v uv >/dev/null 2>&1 || python3 -m pip install --quiet uv
	uv sync --frozen --extra dask --all-groups --compile-bytecode
	@$(PY) -m compileall -q pipeline app.py views >/dev/null
	@touch $@

# The demo database: the national synthetic corpus from its fixed seed (written to data/demo/, not committed) and
# every real report in the repository, read and parsed by the normal ingest.  Built when missing or out of date;
# a database not built by the demo is left alone.  See docs/generator.md.
db: install
	@$(PY) -m pipeline.generator.demo --db "$(DB)"

run: db
	$(PY) -m streamlit run app.py --server.port $(PORT) --server.headless true

# System packages the browser tests need: Debian chromium and a CJK font.
install-test: install
	@if ! command -v chromium >/dev/null 2>&1 || ! fc-list 2>/dev/null | grep -qi "wqy\|noto sans cjk"; then \
		echo "Installing chromium + CJK fonts (apt-get) …"; \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-wqy-microhei fonts-noto-color-emoji >/dev/null) \
		|| echo "WARNING: apt-get install failed; browser tests will be skipped"; \
	fi

test: install-test
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy
	$(PY) -m pytest -q -n 2 --dist loadfile

lint: install
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

typecheck: install
	$(PY) -m mypy

# 10,000 mutated reports through the parser, each under hard limits → docs/robustness.md (≈ 1 h on 2 cores).
fuzz: install
	$(PY) bench/fuzz.py -n 10000

# The command reference in docs/cli.md, generated from pipeline/cli.py.
docs: install
	$(PY) -m pipeline.cli_docs --write

bench: install-test
	$(PY) bench/bench_pipeline.py
	$(PY) bench/bench_pages.py --write docs/benchmarks.md

# Parse speed: reports/s in one process, --workers 1 and 2 (median of 3), the 2-worker speed-up; REF=main also
# measures that revision with the runs interleaved.  Writes the "解析速度 / parse speed" section of docs/benchmarks.md.
bench-parse: install
	$(PY) bench/bench_parse.py $(if $(REF),--ref $(REF))

# The parser's output is unchanged: parse-JSON hashes of 1,200 generated + every real document vs REF (main).
parse-identity: install
	$(PY) bench/parse_identity.py --ref $(or $(REF),main)

# Stores of 10 k, 100 k and 1 M reports (built in bulk from the demo store, under /tmp/xxgk-scale), every named
# query over three filter sets, every page's first render, a one-file ingest with the dashboard open: writes
# bench/out/scale.json and the scale section of docs/benchmarks.md.  The real parse + ingest rate at scale:
# bench-ingest-scale.
bench-scale: install-test db
	$(PY) bench/bench_scale.py --write

# The real ingest (parse workers + writer) of REPORTS generated text/HTML reports (default 100,000) into a new store:
# PSS, rate and CPU seconds at checkpoints up to 1 M.  The corpus goes under WORKDIR (default: the temp dir; 1 M
# reports: 7.5 GB, ≈ 9 GB on disk) and is deleted afterwards.  Writes the scale section of docs/benchmarks.md.
bench-ingest-scale: install
	$(PY) bench/bench_pipeline.py --scale $(if $(REPORTS),--scale-reports $(REPORTS)) $(if $(WORKDIR),--workdir $(WORKDIR)) $(if $(CORPUS),--corpus $(CORPUS)) $(if $(KEEP),--keep)

# Full-text search (SQLite FTS5 vs tantivy when installed) and copied-text detection on a 100,000-report store.
bench-search: install
	$(PY) bench/bench_search.py --reports 100000 --write

# Dask (and Ray, when installed: uv sync --extra dask --extra ray) against the embedded ingest → docs/benchmarks.md
bench-cluster: install
	$(PY) bench/bench_cluster.py

# Rebuild the demo database (and data/demo/) from scratch.
demo-data: install
	$(PY) -m pipeline.generator.demo --db "$(DB)" --force

# The sidebar's filter options and the type-to-search agency query on synthetic 10 k / 100 k / 1 M-report stores.
bench-filters: install
	$(PY) bench/bench_filters.py --reports 10000 --reports 100000 --reports 1000000 --write

accuracy: install
	$(PY) bench/accuracy.py

clean:
	rm -rf .venv .pytest_cache .ruff_cache test-artifacts bench/out
