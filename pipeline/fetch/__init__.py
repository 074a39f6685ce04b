"""Import by address: fetch report pages and their attachments politely, keep provenance, ingest as usual.

- :mod:`pipeline.fetch.politeness` — User-Agent, robots.txt rules, per-host gap;
- :mod:`pipeline.fetch.client` — the HTTP client (retries, back-off, redirects, size and time limits);
- :mod:`pipeline.fetch.links` — the attachments a page links to;
- :mod:`pipeline.fetch.documents` — bytes → typed file in the fetched folder, sidecar and manifest;
- :mod:`pipeline.fetch.run` — URLs → documents → :func:`pipeline.ingest.ingest` → one result per URL;
- :mod:`pipeline.fetch.cli` — ``xxgk fetch``.
"""

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pipeline.fetch.client import FetchError, FetchSettings
    from pipeline.fetch.run import FetchRun, UrlResult, fetch_reports, read_url_list

_FROM = {"FetchError": "client", "FetchSettings": "client", "FetchRun": "run", "UrlResult": "run",
         "fetch_reports": "run", "read_url_list": "run"}  # fmt: skip


def __getattr__(name: str) -> Any:
    """The HTTP client (urllib, ssl) loads on first use: every ``xxgk`` command imports ``pipeline.fetch.cli`` to
    register ``xxgk fetch``, and most of them never fetch (≈ 80 ms of start-up)."""
    if name in _FROM:
        import importlib

        return getattr(importlib.import_module(f"pipeline.fetch.{_FROM[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["FetchError", "FetchRun", "FetchSettings", "UrlResult", "fetch_reports", "read_url_list"]
