"""What keeps ``xxgk fetch`` a good citizen: the User-Agent, robots.txt rules and a per-host request gap.

robots.txt is parsed with Protego (RFC 9309 wildcards ``*`` / ``$`` and ``Crawl-delay``, which the standard
library's ``urllib.robotparser`` does not match).  Its fetch outcome follows RFC 9309 §2.3.1: a 4xx answer means
no rules (everything allowed); a 5xx answer or an unreachable server means "assume complete disallow" until the
next run.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from urllib.parse import urlsplit

from protego import Protego

ROBOTS_AGENT = "xxgk"  # the product token robots.txt groups are matched against
ROBOTS_MAX_BYTES = 512 * 1024  # RFC 9309: parse at least the first 500 KiB
MAX_CRAWL_DELAY = 60.0  # a robots.txt Crawl-delay is honoured up to this many seconds between requests


def user_agent() -> str:
    """``xxgk/<version> (+…)``: names the tool and what it does, as a site operator reading logs needs."""
    try:
        version = metadata.version("xxgk")
    except metadata.PackageNotFoundError:
        version = "dev"
    return f"{ROBOTS_AGENT}/{version} (government information disclosure annual report reader; obeys robots.txt)"


def origin(url: str) -> str:
    """``scheme://host[:port]`` of a URL (robots.txt applies per origin)."""
    parts = urlsplit(url)
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}"


def host_key(url: str) -> str:
    """The host the rate limit counts against (host and port, lower case)."""
    return urlsplit(url).netloc.lower()


@dataclass(slots=True)
class RobotsRules:
    """The rules of one origin's robots.txt, or a blanket decision when it could not be read."""

    parser: Protego | None
    # Set when robots.txt could not be read: RFC 9309 then means complete disallow.
    disallow_all_reason: str | None = None
    unreachable_kind: str | None = None  # "timeout" / "connection" when the server did not answer at all

    def allows(self, url: str) -> bool:
        if self.disallow_all_reason is not None:
            return False
        return self.parser is None or self.parser.can_fetch(url, ROBOTS_AGENT)

    def crawl_delay(self) -> float:
        if self.parser is None:
            return 0.0
        delay = self.parser.crawl_delay(ROBOTS_AGENT)
        return min(float(delay), MAX_CRAWL_DELAY) if delay else 0.0


def rules_from_response(
    status: int | None, body: bytes, error: str | None = None, error_kind: str | None = None
) -> RobotsRules:
    """Turn the answer to ``GET /robots.txt`` into rules (see the module docstring for the RFC 9309 cases).

    ``status`` is None when no answer came (``error`` / ``error_kind`` then say why: the site is unreachable).
    """
    if status is None:
        return RobotsRules(None, error or "无法连接到服务器", error_kind or "connection")
    if status >= 500:
        why = error or f"HTTP {status}"
        return RobotsRules(None, f"robots.txt 无法获取（{why}），按 robots 协议（RFC 9309）视为禁止抓取该网站")
    if status >= 400:
        return RobotsRules(None)
    text = body[:ROBOTS_MAX_BYTES].decode("utf-8", errors="replace").lstrip("\ufeff")
    return RobotsRules(Protego.parse(text))


class HostThrottle:
    """At least ``delay`` seconds (or the site's Crawl-delay, if longer) between request starts to one host."""

    def __init__(
        self,
        delay: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.delay = max(0.0, delay)
        self._clock = clock
        self._sleep = sleep
        self._last: dict[str, float] = {}

    def wait(self, host: str, min_gap: float = 0.0) -> None:
        gap = max(self.delay, min_gap)
        last = self._last.get(host)
        if last is not None:
            remaining = last + gap - self._clock()
            if remaining > 0:
                self._sleep(remaining)
        self._last[host] = self._clock()


def private_address(url: str) -> str | None:
    """The loopback / private / link-local address ``url``'s host resolves to, or None when all are public.

    Used when fetching on behalf of dashboard visitors: the server must not be made to read its own network.
    """
    host = urlsplit(url).hostname
    if not host:
        return None
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError:
        return None  # unresolvable: the request itself will fail with a clear message
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if not address.is_global:
            return str(address)
    return None
