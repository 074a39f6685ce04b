"""Build large stores fast for the scale benchmark: the demo store replicated to N reports in bulk SQL.

    .venv/bin/python bench/bench_scale_build.py --src data/xxgk.duckdb --out /tmp/scale-1m.duckdb --reports 1000000

Every table the write path writes is written (reports, facts, findings, sections, derived, ingest_log, report_cells,
the cross-year findings), with rows copied from a store that the real ingest built (``make db``: every document read
and parsed), so values, statuses, findings and derived totals are real parser output.  Copy ``k`` of a report gets a
new id, hash and source path, and an agency name of its own — so the number of agencies grows with the store as in
the real country (~285 k agencies at 1 M reports): copies ``k % 4 == 2`` are renamed once (an agency reorganised in
2022), copies ``k % 4 == 3`` twice (2021 and 2023), the others keep one name for every year.  Cities and counties
get one of 5 and 23 variants, giving realistic region cardinalities (~310 cities, ~2,800 counties).  Cross-year
findings are then computed by the store's own rule SQL over the result, and ``report_cells`` is copied with the
facts it comes from.

The derived indexes beside the store are what the write path would have left, made by replication too
(:mod:`bench.scale_indexes`), so that a one-file ingest afterwards does only its own work: the copied-text band
index (``<store>.reuse/``: every source report's passages parsed and normalised once — as its copies' renamed
agencies normalise them — their band keys computed once, written for every copy as one sorted run and named in the
catalog's ``reuse_state``; byte for byte what the engine's rebuild of a lost index makes from the same store) and
the full-text index (``<store>.search.sqlite``: the source's paragraphs split once, every copy's rows generated
inside SQLite, the FTS5 tables filled by their 'rebuild' command; the rows a ``search.sync(rebuild=True)`` writes).
``--indexes-only`` adds them to a store built earlier without them.

    .venv/bin/python bench/bench_scale_build.py --out /tmp/scale-1m.duckdb --indexes-only [band|search]

This is how the benchmark gets 1 M reports in minutes; the real ingest (parse → write path) is timed separately.
"""

from __future__ import annotations

import argparse
import math
import resource
import sys
import time
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import scale_indexes  # noqa: E402
from pipeline.metrics import sums_build  # noqa: E402
from pipeline.store import Database  # noqa: E402
from pipeline.store import segment_files as segfiles  # noqa: E402
from pipeline.store import segments as seg  # noqa: E402
from pipeline.store.cells import REPORT_COLUMNS, report_column  # noqa: E402
from pipeline.validator.cross_year import refresh_cross_year  # noqa: E402

CITY_VARIANTS, COUNTY_VARIANTS = 5, 23


def _agency_sql(k: str, year: str) -> str:
    """The agency name of copy ``k`` (SQL over columns ``agency``, ``year``): reorganised agencies get a new name."""
    return f"""CASE WHEN agency IS NULL THEN NULL
        WHEN {k} % 4 = 2 THEN agency || '·' || {k} || CASE WHEN {year} >= 2022 THEN '（新）' ELSE '' END
        WHEN {k} % 4 = 3 THEN agency || '·' || {k}
             || CASE WHEN {year} >= 2023 THEN '（二）' WHEN {year} >= 2021 THEN '（一）' ELSE '' END
        ELSE agency || '·' || {k} END"""


def agency_of_copy(agency: str | None, k: int, year: int | None) -> str | None:
    """:func:`_agency_sql` in Python (the derived indexes normalise a copy's text as its agency's)."""
    if agency is None:
        return None
    suffix = ""
    if k % 4 == 2 and year is not None and year >= 2022:
        suffix = "（新）"
    elif k % 4 == 3 and year is not None:
        suffix = "（二）" if year >= 2023 else "（一）" if year >= 2021 else ""
    return f"{agency}·{k}{suffix}"


def replicate(con: duckdb.DuckDBPyConnection, n_reports: int, log=print) -> None:
    """Fill the (migrated, empty) store of ``con`` with ``n_reports`` copies of the reports of attached ``src``."""
    n_src, stride = con.execute("SELECT count(*), max(report_id) + 1 FROM src.reports").fetchall()[0]
    copies = math.ceil(n_reports / n_src)
    con.execute(
        f"""CREATE TEMP TABLE m AS
            SELECT r.report_id AS src_id, c.k, CAST(c.k * {stride} + r.report_id AS INTEGER) AS rid
            FROM src.reports r CROSS JOIN range({copies}) c(k)
            ORDER BY c.k, r.report_id LIMIT {int(n_reports)}"""
    )
    t = time.perf_counter()
    con.execute(
        f"""INSERT INTO reports SELECT m.rid, r.sha256 || '-' || m.k, r.source_path || '#' || m.k, r.source_url,
                r.format, r.size_bytes, {_agency_sql("m.k", "r.year")}, r.year, r.edition, r.t3_layout,
                r.edition_evidence, r.province,
                CASE WHEN r.city IS NOT NULL THEN r.city || '·' || (m.k % {CITY_VARIANTS}) END,
                CASE WHEN r.county IS NOT NULL THEN r.county || '·' || (m.k % {COUNTY_VARIANTS}) END,
                r.level, r.agency_type, r.synthetic, r.n_errors, r.n_warnings, r.is_current,
                CASE WHEN r.replaced_by IS NOT NULL THEN m.k * {stride} + r.replaced_by END, r.loaded_at, r.fetched_at,
                r.published, r.published_source, r.is_summary
            FROM m JOIN src.reports r ON r.report_id = m.src_id ORDER BY m.rid"""
    )
    log(f"reports: {time.perf_counter() - t:.0f} s")
    for table, cols in (
        ("facts", "key, value, raw, blank, status, loc, confidence, page, bbox"),
        ("derived", "key, value, sources, method"),
        ("sections", "section, heading, text"),
    ):
        t = time.perf_counter()
        src_cols = ", ".join(f"x.{c.strip()}" for c in cols.split(","))
        con.execute(f"""INSERT INTO {table} (report_id, {cols}) SELECT m.rid, {src_cols}
                        FROM m JOIN src.{table} x ON x.report_id = m.src_id ORDER BY m.rid""")
        log(f"{table}: {time.perf_counter() - t:.0f} s")
    t = time.perf_counter()
    cells = [c for (c,) in con.execute(
        "SELECT column_name FROM duckdb_columns() WHERE database_name = 'src' AND table_name = 'report_cells'"
        " AND column_name LIKE '_\\_\\_%' ESCAPE '\\' ORDER BY column_index").fetchall()]  # fmt: skip
    head = ", ".join(report_column(c, "r") for c in REPORT_COLUMNS)
    con.execute(f"""INSERT INTO report_cells SELECT {head}, {", ".join(f"x.{c}" for c in cells)}
                    FROM m JOIN src.report_cells x ON x.report_id = m.src_id JOIN reports r ON r.report_id = m.rid
                    ORDER BY m.rid""")
    log(f"report_cells: {time.perf_counter() - t:.0f} s")
    t = time.perf_counter()
    con.execute(
        """INSERT INTO findings SELECT m.rid, x.rule, x.severity, x.message, x.keys, x.expected, x.actual,
                  x.suspect_key, x.scope
           FROM m JOIN src.findings x ON x.report_id = m.src_id WHERE x.scope = 'report' ORDER BY m.rid"""
    )
    con.execute(
        """INSERT INTO ingest_log SELECT x."at", x.source_path || '#' || m.k, x.sha256 || '-' || m.k, x.status,
                  x.message, m.rid, x.seconds
           FROM m JOIN src.ingest_log x ON x.report_id = m.src_id ORDER BY m.rid"""
    )
    log(f"findings, ingest_log: {time.perf_counter() - t:.0f} s")


# the copied-text tables (pipeline.reuse, kept in the catalog) and which of their columns are report ids; the band
# index beside the store (<store>.reuse/) and reuse_state, which names it, are written by scale_indexes
REUSE_IDS = {"reuse_reports": ("report_id", "previous_id", "top_source_id"), "reuse_passages": ("report_id",),
             "reuse_matches": ("report_id", "source_id"), "reuse_common": (),
             "reuse_schema": ()}  # fmt: skip


def replicate_reuse(src: Path, out: Path, log=print) -> None:
    """Copy the source catalog's copied-text tables into the catalog at ``out``, every report id mapped as its copy's
    (``k * stride + id``; rows of reports the store does not have are dropped), as if copied-text detection had run
    over the replicated store: a write then processes only its own new reports, and pays for copying a catalog of
    the size it would have."""
    stride, top = (_max_id(p) + 1 for p in (src, out))  # as replicate() numbered the copies
    con = seg.connect(memory_limit="4GB")
    try:
        con.execute(f"ATTACH {seg.quote(src)} AS srccat (READ_ONLY)")
        con.execute(f"ATTACH {seg.quote(out)} AS cat")
        for table, ids in REUSE_IDS.items():
            if not con.execute("SELECT count(*) FROM duckdb_tables() WHERE database_name = 'srccat' AND table_name = ?",
                               [table]).fetchall()[0][0]:  # fmt: skip
                continue
            con.execute(f"DROP TABLE IF EXISTS cat.main.{table}")
            if not ids or table == "reuse_schema":
                con.execute(f"CREATE TABLE cat.main.{table} AS SELECT * FROM srccat.main.{table}")
                continue
            mapped = ", ".join(f"CASE WHEN x.{c} IS NOT NULL THEN CAST(k.k * {stride} + x.{c} AS INTEGER) END AS {c}"
                               for c in ids)  # fmt: skip
            con.execute(f"""CREATE TABLE cat.main.{table} AS
                SELECT x.* REPLACE ({mapped}) FROM srccat.main.{table} x
                CROSS JOIN range(CAST(ceil({top} / {stride}) AS BIGINT)) k(k)
                WHERE k.k * {stride} + x.report_id < {top} ORDER BY ALL""")
        con.execute("CHECKPOINT cat")
    finally:
        con.close()
    log("copied-text tables replicated")


def _max_id(catalog: Path) -> int:
    reader = seg.open_reader(catalog)
    try:
        return int(reader.execute("SELECT max(report_id) FROM reports").fetchall()[0][0])
    finally:
        reader.close()


def build(src: Path, out: Path, n_reports: int, log=print) -> Path:
    """Write a store of ``n_reports`` replicated reports at ``out`` (replacing one there); returns ``out``.

    The result is the store's own layout (:mod:`pipeline.store.segments`): one segment holding every report, a
    catalog listing it, the cross-year findings computed by the store's rule SQL over the whole store.
    """
    database = Database(src)
    database.compact(full=True)  # the source as one segment, at the current schema
    Database.close_all()
    source = seg.segment_dir(database.file) / sorted(segfiles.referenced(database.file) or [])[0]
    started = time.perf_counter()
    segfiles.remove_store(out)
    folder = seg.segment_dir(out)
    folder.mkdir(parents=True)
    path = folder / seg.segment_name(1)
    seg.new_segment_file(path)
    con = seg.connect(path, memory_limit="4GB")
    try:
        con.execute(f"ATTACH {seg.quote(source)} AS src (READ_ONLY)")
        replicate(con, n_reports, log)
        con.execute("DETACH src")
        con.execute("CHECKPOINT")
        n, next_id = con.execute("SELECT count(*), max(report_id) + 1 FROM reports").fetchall()[0]
    finally:
        con.close()
    seg.write_catalog(out, start_id=next_id)
    con = seg.connect(memory_limit="4GB")
    try:
        con.execute(f"ATTACH {seg.quote(out)} AS cat")
        segment = seg.Segment(1, path.name, n, 0, segfiles.file_size(path))
        seg.record(con, segment)
        seg.create_views(con, seg.attach_segments(con, folder, [segment]), [])
        t = time.perf_counter()
        refresh_cross_year(con, None, table=f"cat.main.{seg.STORE_FINDINGS}")
        log(f"cross-year findings: {time.perf_counter() - t:.0f} s")
        con.execute("CHECKPOINT cat")
    finally:
        con.close()
    replicate_reuse(Database(src).file, out, log)
    add_indexes(Database(src).file, out, log, which="band,search,sums")
    log(f"built {n_reports:,} reports in {time.perf_counter() - started:.0f} s: {out}")
    return out


def add_indexes(src: Path, out: Path, log=print, which: str | None = None) -> None:
    """The derived indexes of the built store at ``out`` — copied-text band index, full-text index — replicated
    from the source catalog ``src`` (:mod:`bench.scale_indexes`), as the write path would have left them, and its
    stored metric sums (:mod:`pipeline.metrics.sums`, computed from the store).  ``which``: the ones to make (default:
    those the store lacks)."""
    steps = {"band": scale_indexes.build_band_index, "search": scale_indexes.build_search,
             "sums": lambda _src, db, _log: sums_build.build(Database(db).file)}  # fmt: skip
    which = scale_indexes.missing_indexes(out) if which is None else which
    for name in filter(None, which.split(",")):
        t = time.perf_counter()
        steps[name](src, out, log)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        log(f"{name}: {time.perf_counter() - t:.0f} s, peak RSS of the process so far {peak:,.0f} MB")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--src", type=Path, default=ROOT / "data" / "xxgk.duckdb")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--reports", type=int, default=1_000_000)
    ap.add_argument("--reuse-only", action="store_true", help="only copy the copied-text tables into --out")
    ap.add_argument("--indexes-only", nargs="?", const="", metavar="band,search,sums",
                    help="only add the derived indexes (band index, full-text index, stored metric sums) to the store"
                         " built at --out (default: those it lacks)")  # fmt: skip
    args = ap.parse_args()
    if args.reuse_only:
        replicate_reuse(Database(args.src).file, args.out)
    elif args.indexes_only is not None:
        try:
            add_indexes(Database(args.src).file, args.out, which=args.indexes_only or None)
        except scale_indexes.IngestedAfterBuild as exc:
            sys.exit(str(exc))
    else:
        build(args.src, args.out, args.reports)


if __name__ == "__main__":
    main()
