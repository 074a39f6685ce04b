"""A local HTTP server for the fetch tests (127.0.0.1 only, never the internet).

Serves the pages under ``tests/fixtures/fetch/`` and ``tests/fixtures/html/`` plus generated PDF/DOCX reports, and
the awkward cases a real site produces: 404, a slow answer, 503 then 200, a redirect, robots.txt rules, an
oversized body.  Every request is logged with its arrival time (``time.monotonic()``), path and User-Agent, so
tests can measure what the client did from the server's side.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

FIXTURES = Path(__file__).resolve().parent / "fixtures"
FETCH = FIXTURES / "fetch"
HTML = FIXTURES / "html"

Reply = tuple[int, dict[str, str], bytes]


@dataclass(frozen=True, slots=True)
class Hit:
    at: float  # time.monotonic() when the request line arrived
    path: str
    user_agent: str


def _file(path: Path, content_type: str) -> Callable[[], Reply]:
    return lambda: (200, {"Content-Type": content_type}, path.read_bytes())


class FetchServer:
    """``with FetchServer(documents) as server: server.url("/report.html")``."""

    def __init__(self, documents: dict[str, tuple[bytes, dict[str, str]]] | None = None) -> None:
        self.hits: list[Hit] = []
        self._lock = threading.Lock()
        self._counts: dict[str, int] = {}
        self.slow_seconds = 3.0
        self.routes: dict[str, Callable[[], Reply]] = {
            "/robots.txt": _file(FETCH / "robots.txt", "text/plain"),
            # A report page in GBK with no charset in the header: the bytes must be kept as served.
            "/report.html": _file(HTML / "b_2019_sichuan_zrzyt_gbk.html", "text/html"),
            "/copy-of-report.html": _file(HTML / "b_2019_sichuan_zrzyt_gbk.html", "text/html"),
            "/private/report.html": _file(HTML / "c_2021_tianhe_szf_blank_totals.html", "text/html"),
            "/mixed.html": _file(HTML / "d_2021_mixed_t3_2019_chahe_town.html", "text/html"),
            "/news.html": _file(HTML / "f_not_report_news.html", "text/html; charset=utf-8"),
            "/index-pdf.html": _file(FETCH / "index_pdf.html", "text/html; charset=utf-8"),
            "/index-docx.html": _file(FETCH / "index_docx.html", "text/html; charset=utf-8"),
            "/index-viewer.html": _file(FETCH / "index_viewer.html", "text/html; charset=utf-8"),
            "/index-unsupported.html": _file(FETCH / "index_unsupported.html", "text/html; charset=utf-8"),
            "/old-address": lambda: (301, {"Location": "/report.html"}, b""),
            "/loop": lambda: (302, {"Location": "/loop"}, b""),
            "/missing.html": lambda: (404, {"Content-Type": "text/html"}, b"<h1>404</h1>"),
            "/flaky.html": self._flaky,
            "/slow.html": self._slow,
            "/huge.pdf": lambda: (200, {"Content-Type": "application/pdf", "X-Stream": "1"}, b""),
            "/declared-huge.pdf": lambda: (
                200,
                {"Content-Type": "application/pdf", "Content-Length": str(10**9)},
                b"",
            ),  # fmt: skip
        }
        for path, (data, headers) in (documents or {}).items():
            self.routes[path] = lambda data=data, headers=headers: (200, dict(headers), data)
        self.flaky_failures = 2
        self.stream_bytes = 0  # /huge.pdf sends this many bytes without a Content-Length
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    # -- lifecycle ------------------------------------------------------------------------------------------
    def __enter__(self) -> FetchServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    @property
    def base(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def url(self, path: str) -> str:
        return self.base + path

    def paths(self) -> list[str]:
        with self._lock:
            return [h.path for h in self.hits]

    def gaps(self) -> list[float]:
        """Seconds between consecutive request arrivals (all to this one host)."""
        with self._lock:
            times = [h.at for h in self.hits]
        return [b - a for a, b in zip(times, times[1:], strict=False)]

    # -- awkward endpoints ----------------------------------------------------------------------------------
    def _count(self, path: str) -> int:
        with self._lock:
            self._counts[path] = self._counts.get(path, 0) + 1
            return self._counts[path]

    def _flaky(self) -> Reply:
        if self._count("/flaky.html") <= self.flaky_failures:
            return 503, {"Content-Type": "text/html"}, b"<h1>503 Service Unavailable</h1>"
        return 200, {"Content-Type": "text/html"}, (HTML / "c_2021_tianhe_szf_blank_totals.html").read_bytes()

    def _slow(self) -> Reply:
        time.sleep(self.slow_seconds)
        return 200, {"Content-Type": "text/html"}, (HTML / "a_2021_xihu_scjg.html").read_bytes()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # noqa: N802 - the http.server API
                with server._lock:
                    server.hits.append(Hit(time.monotonic(), self.path, self.headers.get("User-Agent", "")))
                route = server.routes.get(self.path) or server.routes.get(self.path.split("?", 1)[0])
                status, headers, body = route() if route else (404, {"Content-Type": "text/html"}, b"not found")
                try:
                    self.send_response(status)
                    streamed = headers.pop("X-Stream", None)
                    for name, value in headers.items():
                        self.send_header(name, value)
                    if streamed:
                        self.send_header("Connection", "close")
                        self.end_headers()
                        chunk = b"%PDF-1.4\n" + b"0" * (1024 * 1024 - 9)
                        sent = 0
                        while sent < server.stream_bytes:
                            self.wfile.write(chunk)
                            sent += len(chunk)
                        self.close_connection = True
                        return
                    if "Content-Length" not in headers:
                        self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True  # the client hung up (a refused oversized body): fine

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the http.server API
                pass

        return Handler
