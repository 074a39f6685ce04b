"""The register of named queries (:mod:`pipeline.metrics.named`) holds every query of :mod:`pipeline.metrics` that a
page runs on the filters, so that what must cover every query — the stored sums against the scan
(``tests/test_metric_sums.py``), the queries against the reference SQL (``tests/test_store_scale.py``) and the
timings of ``make bench-scale`` — picks up a new one without a list to extend by hand."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path
from typing import Any

import pytest

from pipeline.filters import Filters
from pipeline.metrics import named
from tests.dashboard_fixtures import shared_db

ROOT = Path(__file__).resolve().parents[1]
PAGE_SOURCES = sorted(
    [*(ROOT / "views").glob("*.py"), *(ROOT / "pipeline" / "dashboard").glob("*.py"), ROOT / "app.py"]
)


def _imported(tree: ast.Module) -> dict[str, Any]:
    """The names a page module imports with ``from … import``, resolved to the objects."""
    out: dict[str, Any] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("pipeline"):
            module = importlib.import_module(node.module)
            for alias in node.names:
                found = getattr(module, alias.name, None)  # a function, or a submodule not imported yet
                out[alias.asname or alias.name] = found or importlib.import_module(f"{node.module}.{alias.name}")
    return out


def _functions(expr: ast.expr) -> list[str]:
    """The function names ``query``'s first argument may be (``a if c else b`` is both)."""
    if isinstance(expr, ast.IfExp):
        return _functions(expr.body) + _functions(expr.orelse)
    return [expr.id] if isinstance(expr, ast.Name) else []


def _called(func: ast.expr) -> str | None:
    """The name of a called function: ``query`` for ``query(…)``, ``listing`` for ``ui.listing(…)``."""
    if isinstance(func, ast.Name):
        return func.id
    return func.attr if isinstance(func, ast.Attribute) else None


def page_queries() -> dict[str, Any]:
    """Every function of :mod:`pipeline.metrics` a page passes to ``query(fn, filters, …)`` or to
    ``ui.listing(fn, filters, …)`` (a list read a page at a time) with filters (not ``None``), by ``module:name``."""
    found: dict[str, Any] = {}
    for path in PAGE_SOURCES:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        names = _imported(tree)
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and _called(node.func) in ("query", "listing")):
                continue
            if len(node.args) < 2 or (isinstance(node.args[1], ast.Constant) and node.args[1].value is None):
                continue  # no filters: one report by id, the failed files
            for name in _functions(node.args[0]):
                fn = names.get(name)
                if fn is not None and getattr(fn, "__module__", "").startswith("pipeline.metrics"):
                    found[f"{path.relative_to(ROOT)}:{name}"] = fn
    return found


def test_every_query_a_page_runs_on_the_filters_is_a_named_query() -> None:
    registered = {id(q.fn) for q in named.named_queries().values()}
    pages = page_queries()
    assert len(pages) >= 35  # the scan found the pages' calls (38 on writing this)
    missing = sorted(where for where, fn in pages.items() if id(fn) not in registered)
    assert not missing, f"page queries not registered with @named_query: {missing}"


def test_the_register_names_each_query_by_its_function_and_calls_it_as_the_page_does_first(
        tmp_path_factory: pytest.TempPathFactory) -> None:  # fmt: skip
    from pipeline.store import Database

    queries = named.named_queries()
    assert all(name == q.fn.__name__ for name, q in queries.items())
    db = shared_db(tmp_path_factory)
    with Database(db).cursor() as con:
        sample = named.Sample.of(con)
        calls = named.every_call(sample)
        first = named.page_calls(sample)
        assert set(first) == set(queries)
        for name, q in queries.items():
            own = list(q.bound(sample))
            assert own[0].split(" ")[0] == name and set(own) <= set(calls)
        # a call runs on a real store (the comparisons elsewhere check what it returns)
        assert first["headline_series"](con, Filters()).height > 0
    with pytest.raises(ValueError, match="registered twice"):
        named.named_query()(queries["headline_series"].fn)


def test_bench_scale_times_every_named_query() -> None:
    from bench import bench_scale

    assert set(bench_scale.named_queries(named.Sample(2023, "某局"))) == set(named.named_queries())
