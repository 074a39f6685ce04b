"""Import by address: fetch report pages and their attachments politely, keep provenance, ingest as usual.

- :mod:`pipeline.fetch.politeness` — User-Agent, robots.txt rules, per-host gap;
- :mod:`pipeline.fetch.client` — the HTTP client (retries, back-off, redirects, size and time limits);
- :mod:`pipeline.fetch.links` — the attachments a page links to;
- :mod:`pipeline.fetch.documents` — bytes → typed file in the fetched folder, sidecar and manifest;
- :mod:`pipeline.fetch.run` — URLs → documents → :func:`pipeline.ingest.ingest` → one result per URL;
- :mod:`pipeline.fetch.cli` — ``xxgk fetch``.
"""

from pipeline.fetch.client import FetchError, FetchSettings
from pipeline.fetch.run import FetchRun, UrlResult, fetch_reports, read_url_list

__all__ = ["FetchError", "FetchRun", "FetchSettings", "UrlResult", "fetch_reports", "read_url_list"]
