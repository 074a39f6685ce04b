"""Files of a segment store as a whole: copying it (as segments, or flattened into one plain DuckDB file), removing
it, and finding the segment files no catalog lists any more (left by a killed write)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from pipeline.store.segments import (
    _SEGMENT_RE,
    RETIRED,
    SEGMENT_TABLES,
    _ident,
    catalog_extras,
    connect,
    is_catalog,
    new_segment_file,
    open_reader,
    quote,
    read_segments,
    remove_paths,
    segment_dir,
)


def copy_store(src: Path, dst: Path) -> None:
    """Copy the store whose catalog is ``src`` to ``dst``: the catalog and the segments it lists (a single-file store
    is copied as it is).  The segments are immutable and the catalog is copied first, so the copy is one published
    state even while a writer publishes the next; the caller holds the ingest lock so no merge deletes a listed
    segment meanwhile."""
    remove_store(dst)
    shutil.copyfile(src, dst)
    listed = referenced(dst)
    if listed is None:
        return
    folder = segment_dir(dst)
    folder.mkdir(parents=True)
    for name in sorted(listed):
        shutil.copyfile(segment_dir(src) / name, folder / name)


def flatten(src: Path, dst: Path) -> None:
    """Write the store whose catalog is ``src`` as one single-file DuckDB database at ``dst`` (the layout before
    segments: every table in one file, replacements applied, the catalog's tables beside them) — for a colleague,
    a plain ``duckdb`` session or a test that changes rows in place.  A write to ``dst`` through
    :class:`pipeline.store.Database` turns it back into a segmented store."""
    remove_store(dst)
    new_segment_file(dst)
    con = open_reader(src)
    try:
        con.execute(f"ATTACH {quote(dst)} AS flat")
        for table in SEGMENT_TABLES:
            con.execute(f"INSERT INTO flat.main.{table} SELECT * FROM {table}")
        extras = catalog_extras(con) if is_catalog(con, "cat") else []
        for name in extras:
            con.execute(f"CREATE TABLE flat.main.{_ident(name)} AS SELECT * FROM {_ident(name)}")
        con.execute(f"DROP TABLE flat.main.{RETIRED}")
        con.execute("CHECKPOINT flat")
    finally:
        con.close()


def remove_store(catalog: Path) -> list[Path]:
    """Delete the store whose catalog is ``catalog``: the catalog, its WAL, its segment folder and its stored
    metric sums (not the search index or other files beside it)."""
    return remove_paths(
        [
            catalog,
            catalog.with_name(catalog.name + ".wal"),
            segment_dir(catalog),
            catalog.with_name(catalog.name + ".sums.duckdb"),
        ]
    )


def referenced(catalog: Path) -> set[str] | None:
    """Segment file names the catalog at ``catalog`` lists (None: no catalog, or a single-file store)."""
    if not catalog.is_file():
        return None
    con = connect()
    try:
        con.execute(f"ATTACH {quote(catalog)} AS cat (READ_ONLY)")
        if not is_catalog(con, "cat"):
            return None
        return {s.name for s in read_segments(con)}
    finally:
        con.close()


def unlisted(folder: Path, listed: set[str]) -> list[Path]:
    """Files in a segment folder that are not the ``listed`` segments (a killed writer's segment or temporary
    files, segments a merge replaced).  Only delete them while holding the ingest lock: a running writer's new
    segment is not listed yet either."""
    if not folder.is_dir():
        return []
    out = []
    for p in folder.iterdir():
        is_segment = _SEGMENT_RE.match(p.name) and p.name.removesuffix(".wal") not in listed
        if is_segment or p.name.startswith((".tmp-", ".template-")):
            out.append(p)
    return sorted(out)


def stale_segments(catalog: Path) -> list[Path]:
    """:func:`unlisted` files of the live catalog's folder."""
    folder = segment_dir(catalog)
    if not folder.is_dir():
        return []
    return unlisted(folder, referenced(catalog) or set())


def file_size(path: Path) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return 0
