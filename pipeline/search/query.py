"""Searching the index: query terms → SQL over the FTS5 tables, filters, highlighted passages.

A query is one or more terms separated by spaces (a quoted "…" term may contain spaces); a paragraph matches when
it contains every term as a substring (case-insensitive for Latin letters; the source's full-width letters and digits
are not folded).  Which table
answers depends on the terms:

- some term has ≥ 3 characters: the ``tri`` (trigram) table, all such terms in one MATCH;
- only 1–2-character terms: the ``grams`` table (distinct characters and pairs per paragraph);
- a term the tables cannot answer (one or two characters with punctuation in them): a scan with ``instr``.

Every other term is checked with ``instr`` on the candidate rows.  Hits come newest-indexed first (FTS5 walks
rowids backwards without sorting), and stop at ``limit``; the total is counted up to :data:`COUNT_CAP`.

Filters: when the dashboard's filter leaves few reports (≤ :data:`SELECTIVE_REPORTS`), the search starts from
those reports' paragraphs; otherwise it walks the posting list and checks each hit's report metadata (copied
into the index), so neither a common term nor a narrow filter makes the query slow.
"""

from __future__ import annotations

import re
import shlex
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.filters import Filters

COUNT_CAP = 1_000
SELECTIVE_REPORTS = 3_000
MAX_QUERY_CHARS = 200
MAX_TERMS = 8
EXCERPT_CHARS = 160


class QueryError(ValueError):
    """A query that cannot be run (empty, too long); the message is for people."""


@dataclass(slots=True)
class Hit:
    """One matching paragraph and where it is."""

    report_id: int
    agency: str | None
    year: int | None
    section: str
    paragraph: int
    text: str  # the whole paragraph
    spans: list[tuple[int, int]]  # matches in ``text``

    def excerpt(self, width: int = EXCERPT_CHARS) -> tuple[str, list[tuple[int, int]], bool, bool]:
        """A window of ``text`` around the first match: (text, match spans in it, cut at start, cut at end)."""
        if len(self.text) <= width or not self.spans:
            return self.text[:width], [s for s in self.spans if s[1] <= width], False, len(self.text) > width
        first = self.spans[0][0]
        start = max(0, min(first - width // 3, len(self.text) - width))
        stop = start + width
        spans = [(a - start, b - start) for a, b in self.spans if a >= start and b <= stop]
        return self.text[start:stop], spans, start > 0, stop < len(self.text)

    def marked(self, left: str = "【", right: str = "】", width: int = EXCERPT_CHARS) -> str:
        """The excerpt as plain text with every match between ``left`` and ``right`` (tables, CSV, terminal)."""
        text, spans, cut_start, cut_end = self.excerpt(width)
        out, pos = [], 0
        for a, b in spans:
            out += [text[pos:a], left, text[a:b], right]
            pos = b
        out.append(text[pos:])
        return ("…" if cut_start else "") + "".join(out) + ("…" if cut_end else "")


@dataclass(slots=True)
class SearchResult:
    query: str
    terms: list[str]
    hits: list[Hit] = field(default_factory=list)
    total: int = 0  # matching paragraphs, counted up to COUNT_CAP
    capped: bool = False
    seconds: float = 0.0


def parse_query(query: str) -> list[str]:
    """Terms of a query: split on spaces, "quoted phrases" kept whole, normalised, duplicates dropped."""
    query = (query or "").strip().lower()  # the index keeps the source's characters: no width folding
    if not query:
        raise QueryError("请输入检索词")
    if len(query) > MAX_QUERY_CHARS:
        raise QueryError(f"检索词过长（{len(query)} 个字符，上限 {MAX_QUERY_CHARS}）")
    try:
        parts = shlex.split(query, posix=True)
    except ValueError:  # an unbalanced quote: take the words as they are
        parts = query.replace('"', " ").split()
    terms = list(dict.fromkeys(t.strip() for t in parts if t.strip()))
    if not terms:
        raise QueryError("请输入检索词")
    if len(terms) > MAX_TERMS:
        raise QueryError(f"检索词过多（{len(terms)} 个，上限 {MAX_TERMS}）")
    return terms


def filter_sql(filters: Filters | None, current_only: bool = True, alias: str = "r") -> tuple[str, list[Any]]:
    """The SQLite condition on the index's ``reports`` table for the dashboard's filter (as ``Filters.where``)."""
    f = filters or Filters()
    clauses = [f"{alias}.is_current = 1"] if current_only else []
    params: list[Any] = []

    def among(column: str, values: tuple[Any, ...]) -> None:
        if values:
            clauses.append(f"{alias}.{column} IN ({','.join('?' * len(values))})")
            params.extend(values)

    among("year", f.years)
    for name in ("province", "city", "county"):
        value = getattr(f, name)
        if value is not None:
            clauses.append(f"{alias}.{name} = ?")
            params.append(value)
    among("level", f.levels)
    among("agency_type", f.agency_types)
    among("agency", f.agencies)
    among("edition", f.editions)
    if f.quality == "pass":
        clauses.append(f"{alias}.n_errors = 0")
    elif f.quality == "fail":
        clauses.append(f"{alias}.n_errors > 0")
    return " AND ".join(clauses) or "1", params


def _fts_phrase(term: str) -> str:
    return '"' + term.replace('"', '""') + '"'


def _gram_ok(term: str) -> bool:
    return len(term) <= 2 and all(ch.isalnum() for ch in term)


def _plan(terms: list[str]) -> tuple[str | None, str | None, list[str]]:
    """(FTS table, MATCH expression, terms left for instr) for the terms."""
    long_terms = [t for t in terms if len(t) >= 3]
    if long_terms:
        return "tri", " AND ".join(map(_fts_phrase, long_terms)), [t for t in terms if len(t) < 3]
    short = [t for t in terms if _gram_ok(t)]
    if short:
        return "grams", " AND ".join(map(_fts_phrase, short)), [t for t in terms if not _gram_ok(t)]
    return None, None, terms


def search(
    con: sqlite3.Connection,
    query: str,
    filters: Filters | None = None,
    *,
    limit: int = 50,
    offset: int = 0,
    current_only: bool = True,
    count: bool = True,
) -> SearchResult:
    """Matching paragraphs (newest indexed first) with their report and highlighted spans."""
    started = time.perf_counter()
    terms = parse_query(query)
    result = SearchResult(query=query, terms=terms)
    where, params = filter_sql(filters, current_only)
    table, match, rest = _plan(terms)
    cols = "p.report_id, r.agency, r.year, p.section, p.para, p.text"
    if table is None or _few_reports(con, where, params):
        # few reports (or terms no table answers): check every term on the selected reports' paragraphs
        base = f"FROM reports r JOIN passages p ON p.report_id = r.report_id WHERE {where}"
        base += "".join(" AND instr(lower(p.text), ?) > 0" for _ in terms)
        args: list[Any] = [*params, *terms]
        order = "ORDER BY p.pid DESC"
    else:
        checks = "".join(" AND instr(lower(p.text), ?) > 0" for _ in rest)
        base = (
            f"FROM {table} JOIN passages p ON p.pid = {table}.rowid JOIN reports r ON r.report_id = p.report_id"
            f" WHERE {table} MATCH ? AND {where}{checks}"
        )
        args = [match, *params, *rest]
        order = f"ORDER BY {table}.rowid DESC"
    rows = con.execute(f"SELECT {cols} {base} {order} LIMIT ? OFFSET ?", [*args, int(limit), int(offset)]).fetchall()
    result.hits = [
        Hit(rid, agency, year, sec, para, text, spans(text, terms)) for rid, agency, year, sec, para, text in rows
    ]
    if count:
        result.total = con.execute(
            f"SELECT count(*) FROM (SELECT 1 {base} LIMIT ?)", [*args, COUNT_CAP + 1]
        ).fetchone()[0]
        result.capped = result.total > COUNT_CAP
        result.total = min(result.total, COUNT_CAP)
    else:
        result.total = offset + len(result.hits)
    result.seconds = time.perf_counter() - started
    return result


def _few_reports(con: sqlite3.Connection, where: str, params: list[Any]) -> bool:
    if where in ("1", "r.is_current = 1"):
        return False
    n = con.execute(
        f"SELECT count(*) FROM (SELECT 1 FROM reports r WHERE {where} LIMIT ?)",
        [*params, SELECTIVE_REPORTS + 1],
    ).fetchone()[0]
    return n <= SELECTIVE_REPORTS


def spans(text: str, terms: list[str]) -> list[tuple[int, int]]:
    """Where the terms occur in ``text`` (case-insensitive), merged, in order."""
    found: list[tuple[int, int]] = []
    for term in terms:
        found += [m.span() for m in re.finditer(re.escape(term), text, flags=re.IGNORECASE)]
    merged: list[tuple[int, int]] = []
    for a, b in sorted(found):
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(b, merged[-1][1]))
        else:
            merged.append((a, b))
    return merged


def run(db: str | Path | None, query: str, filters: Filters | None = None, **kwargs: Any) -> SearchResult:
    """Open the index beside ``db``, search, close (the dashboard caches the result, not the connection)."""
    from pipeline.search.index import connect, index_path

    con = connect(index_path(db))
    try:
        return search(con, query, filters, **kwargs)
    finally:
        con.close()
