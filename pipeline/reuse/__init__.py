"""Copied text: how much of each report's narrative repeats the agency's previous report or other agencies'
reports of the same year (MinHash LSH over sentence passages; see docs/search.md).

``update(con)`` runs inside the store's write transaction (ingest calls it); ``queries`` reads the results.
"""

from pipeline.reuse.engine import ReuseUpdate, ensure_schema, update

__all__ = ["ReuseUpdate", "ensure_schema", "update"]
