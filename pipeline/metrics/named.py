"""The named queries: every query of :mod:`pipeline.metrics` that a page runs on the sidebar's filters.

A query registers itself where it is defined, with :func:`named_query`, together with the argument sets it is
called with (the page's own call first).  The register is what everything that must cover *every* query reads
instead of keeping a list of its own: the comparison of the stored sums with the scan
(``tests/test_metric_sums.py``), of the queries with the reference SQL over ``facts``
(``tests/test_store_scale.py``), and the timings of ``make bench-scale`` (``bench/bench_scale.py``).  A page
query that is not registered fails ``tests/test_named_queries.py``.

Arguments that depend on the store (a year it has, an agency it has) come from a :class:`Sample` of it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import duckdb

from pipeline.filters import Filters

Q = TypeVar("Q", bound=Callable[..., Any])


@dataclass(frozen=True)
class Sample:
    """What a query's arguments may take from the store: a year it has reports of and an agency it has."""

    year: int
    agency: str

    @classmethod
    def of(cls, con: duckdb.DuckDBPyConnection) -> Sample:
        """The latest year with reports and the first agency by name."""
        year, agency = con.execute(
            "SELECT (SELECT max(year) FROM reports), (SELECT min(agency) FROM reports WHERE agency IS NOT NULL)"
        ).fetchall()[0]
        return cls(int(year), str(agency))


# The extra arguments (after the connection and the filters) of each call a query is exercised with, by a label
# that is added to the query's name ("" for a query called one way).
Calls = Callable[[Sample], dict[str, tuple[Any, ...]]]


def _one_call(sample: Sample) -> dict[str, tuple[Any, ...]]:
    return {"": ()}


@dataclass(frozen=True)
class NamedQuery:
    name: str
    fn: Callable[..., Any]
    calls: Calls

    def bound(self, sample: Sample) -> dict[str, Callable[[duckdb.DuckDBPyConnection, Filters], Any]]:
        """Every call of this query as ``f(con, filters)``, by ``name`` or ``name label``; the page's call first."""
        return {f"{self.name} {label}".rstrip(): _bind(self.fn, args) for label, args in self.calls(sample).items()}


def _bind(fn: Callable[..., Any], args: tuple[Any, ...]) -> Callable[[duckdb.DuckDBPyConnection, Filters], Any]:
    return lambda con, filters: fn(con, filters, *args)


NAMED_QUERIES: dict[str, NamedQuery] = {}


def named_query(calls: Calls = _one_call) -> Callable[[Q], Q]:
    """Register the decorated query (returned unchanged) under its function name, with the calls it is
    exercised with: ``calls(sample)`` → {label: extra arguments}, the page's own call first."""

    def register(fn: Q) -> Q:
        if fn.__name__ in NAMED_QUERIES:
            raise ValueError(f"named query {fn.__name__!r} registered twice")
        NAMED_QUERIES[fn.__name__] = NamedQuery(fn.__name__, fn, calls)
        return fn

    return register


def named_queries() -> dict[str, NamedQuery]:
    """Every named query, its module imported (a module the package does not import registers on import)."""
    from pipeline.metrics import coverage, explorer, options, queries, records, regions, timeliness  # noqa: F401

    return dict(NAMED_QUERIES)


def page_calls(sample: Sample) -> dict[str, Callable[[duckdb.DuckDBPyConnection, Filters], Any]]:
    """The page's own call of every named query, by the query's name."""
    return {name: next(iter(q.bound(sample).values())) for name, q in named_queries().items()}


def every_call(sample: Sample) -> dict[str, Callable[[duckdb.DuckDBPyConnection, Filters], Any]]:
    """Every call of every named query, by ``name`` or ``name label``."""
    return {label: call for q in named_queries().values() for label, call in q.bound(sample).items()}
