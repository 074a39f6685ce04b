"""A polite HTTP client: robots.txt, a per-host gap, bounded retries with back-off, size and time limits.

Built on urllib3 (already installed with the dashboard's dependencies and released steadily; httpx has had no
release since 2024-12): its separate connect/read timeouts, streamed bodies and ``redirect=False`` let every
redirect hop be checked against robots.txt and the rate limit before it is requested.  Retries are a small loop
here rather than urllib3's ``Retry`` so that each attempt also waits its turn in the per-host throttle and is
counted and reported.

Every failure is a :class:`FetchError` whose ``str()`` is one line naming the URL.
"""

from __future__ import annotations

import time
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import urljoin, urlsplit, urlunsplit

import urllib3
from urllib3.exceptions import (
    HTTPError,
    LocationParseError,
    NameResolutionError,
    NewConnectionError,
    SSLError,
)
from urllib3.exceptions import TimeoutError as Urllib3Timeout

from pipeline.fetch.politeness import (
    ROBOTS_MAX_BYTES,
    HostThrottle,
    RobotsRules,
    host_key,
    origin,
    private_address,
    rules_from_response,
    user_agent,
)
from pipeline.readers import MAX_BYTES

REDIRECT_STATUSES = (301, 302, 303, 307, 308)
RETRY_STATUSES = (429, 500, 502, 503, 504)
MAX_BACKOFF = 30.0  # seconds: the longest wait between two attempts
MAX_RETRY_AFTER = 120.0  # a Retry-After longer than this is not waited for: the fetch fails instead
CHUNK = 64 * 1024


@dataclass(slots=True)
class FetchSettings:
    delay: float = 1.0  # seconds between two requests to one host (at least; robots Crawl-delay may raise it)
    retries: int = 3  # further attempts after a timeout, a connection error, 429 or 5xx
    timeout: float = 30.0  # seconds to connect, and to wait for each read
    backoff: float = 1.0  # the first wait before a retry; doubles each time (capped at MAX_BACKOFF)
    max_bytes: int = MAX_BYTES  # the same limit ingest applies to a file
    max_redirects: int = 5
    max_attachments: int = 10  # attachments followed from one page
    public_only: bool = False  # refuse hosts on loopback / private networks (fetching for dashboard visitors)

    @property
    def total_timeout(self) -> float:
        """The longest one download may take from request to last byte (a slow trickle is cut off)."""
        return max(10 * self.timeout, 60.0)


class FetchError(Exception):
    """A URL that could not be fetched; ``kind`` is robots / http / timeout / connection / too_large / url."""

    def __init__(self, url: str, kind: str, message: str, status: int | None = None, attempts: int = 0) -> None:
        super().__init__(f"{url}: {message}")
        self.url, self.kind, self.message, self.status, self.attempts = url, kind, message, status, attempts


@dataclass(slots=True)
class Response:
    url: str  # as requested
    final_url: str  # after redirects
    status: int
    content_type: str | None
    content_disposition: str | None  # only ever used to guess a type, never as a file name
    data: bytes
    fetched_at: datetime  # UTC, when the final response's headers arrived
    attempts: int  # HTTP attempts for the final hop (1 = no retry)
    redirects: list[str] = field(default_factory=list)  # the URLs redirected from, in order

    def provenance(self) -> dict[str, object]:
        return {
            "url": self.url,
            "final_url": self.final_url,
            "http_status": self.status,
            "content_type": self.content_type,
            "fetched_at": self.fetched_at.isoformat(timespec="seconds"),
            "attempts": self.attempts,
            "redirects": list(self.redirects),
        }


def check_url(url: str) -> str:
    """The URL without its fragment; raises :class:`FetchError` unless it is an absolute http(s) address."""
    url = url.strip()
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        raise FetchError(url, "url", f"不是有效的网址（{exc}）") from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise FetchError(url, "url", "不是 http:// 或 https:// 开头的完整网址")
    return urlunsplit((parts.scheme.lower(), parts.netloc, parts.path or "/", parts.query, ""))


@dataclass(slots=True)
class _Raw:
    status: int
    headers: dict[str, str]
    data: bytes
    at: datetime


class PoliteClient:
    """Fetches URLs one at a time, politely (see the module docstring). Not thread-safe."""

    def __init__(self, settings: FetchSettings | None = None, on_event=None) -> None:  # noqa: ANN001
        self.settings = settings or FetchSettings()
        self.throttle = HostThrottle(self.settings.delay)
        self.requests = 0  # HTTP requests sent, robots.txt included
        self.retries = 0  # of which repeats after a failure
        self._robots: dict[str, RobotsRules] = {}
        self._pools: dict[str | None, urllib3.PoolManager] = {}
        self._on_event = on_event
        self._headers = {"User-Agent": user_agent(), "Accept": "*/*"}

    # -- public ---------------------------------------------------------------------------------------------
    def get(self, url: str) -> Response:
        """GET ``url`` following redirects; every hop is checked against robots.txt and throttled."""
        requested = check_url(url)
        current, redirects = requested, []
        for _ in range(self.settings.max_redirects + 1):
            self._check_allowed(current)
            raw, attempts = self._request(current, self.settings.max_bytes, self._rules(current).crawl_delay())
            location = raw.headers.get("location")
            if raw.status in REDIRECT_STATUSES and location:
                redirects.append(current)
                try:
                    current = check_url(urljoin(current, location))
                except FetchError as exc:
                    raise FetchError(requested, "url", f"重定向到无效地址 {location}（{exc.message}）") from None
                continue
            if raw.status >= 400:
                raise FetchError(current, "http", _status_text(raw.status), raw.status, attempts)
            return Response(
                requested, current, raw.status, raw.headers.get("content-type"),
                raw.headers.get("content-disposition"), raw.data, raw.at, attempts, redirects,
            )  # fmt: skip
        raise FetchError(requested, "redirects", f"重定向超过 {self.settings.max_redirects} 次（可能是循环）")

    def close(self) -> None:
        for pool in self._pools.values():
            pool.clear()
        self._pools.clear()

    # -- robots.txt -----------------------------------------------------------------------------------------
    def _check_allowed(self, url: str) -> None:
        if self.settings.public_only and (address := private_address(url)):
            raise FetchError(url, "refused", f"地址指向内网或本机（{address}），不予抓取")
        rules = self._rules(url)
        if rules.disallow_all_reason:
            raise FetchError(url, rules.unreachable_kind or "robots", rules.disallow_all_reason)
        if not rules.allows(url):
            raise FetchError(url, "robots", "网站的 robots.txt 不允许抓取此地址，已跳过")

    def _rules(self, url: str) -> RobotsRules:
        key = origin(url)
        if key not in self._robots:
            self._robots[key] = self._fetch_robots(key + "/robots.txt")
        return self._robots[key]

    def _fetch_robots(self, robots_url: str) -> RobotsRules:
        current = robots_url
        try:
            for _ in range(5):  # RFC 9309: follow at least five redirects
                raw, _attempts = self._request(current, ROBOTS_MAX_BYTES, truncate=True)
                location = raw.headers.get("location")
                if raw.status in REDIRECT_STATUSES and location:
                    current = check_url(urljoin(current, location))
                    continue
                return rules_from_response(raw.status, raw.data)
            return RobotsRules(None)  # RFC 9309: too many redirects → treat as "no rules" (like a 404)
        except FetchError as exc:
            if exc.kind == "url":  # a redirect to an unusable address: no rules, as for a 404
                return RobotsRules(None)
            return rules_from_response(exc.status, b"", exc.message, exc.kind)

    # -- one request with retries ---------------------------------------------------------------------------
    def _request(self, url: str, max_bytes: int, min_gap: float = 0.0, truncate: bool = False) -> tuple[_Raw, int]:
        """GET once, retrying timeouts, connection errors, 429 and 5xx; redirects are returned, not followed."""
        attempts = self.settings.retries + 1
        for attempt in range(1, attempts + 1):
            self.throttle.wait(host_key(url), min_gap)
            self.requests += 1
            if attempt > 1:
                self.retries += 1
            try:
                raw = self._once(url, max_bytes, truncate)
            except FetchError as exc:
                exc.attempts = attempt
                if exc.kind not in ("timeout", "connection") or attempt == attempts:
                    raise
                wait = self._backoff(attempt)
                self._event(f"{url}: {exc.message}，{wait:.1f} 秒后重试（第 {attempt + 1}/{attempts} 次）")
                time.sleep(wait)
                continue
            if raw.status not in RETRY_STATUSES:
                return raw, attempt
            retry_after = _retry_after(raw.headers.get("retry-after"))
            if attempt == attempts or (retry_after is not None and retry_after > MAX_RETRY_AFTER):
                why = f"，服务器要求 {retry_after:.0f} 秒后再试" if retry_after else ""
                raise FetchError(url, "http", f"{_status_text(raw.status)}（已尝试 {attempt} 次{why}）",
                                 raw.status, attempt)  # fmt: skip
            wait = max(self._backoff(attempt), retry_after or 0.0)
            self._event(f"{url}: {_status_text(raw.status)}，{wait:.1f} 秒后重试（第 {attempt + 1}/{attempts} 次）")
            time.sleep(wait)
        raise AssertionError("unreachable")  # the loop returns or raises

    def _backoff(self, attempt: int) -> float:
        return min(self.settings.backoff * 2 ** (attempt - 1), MAX_BACKOFF)

    def _once(self, url: str, max_bytes: int, truncate: bool) -> _Raw:
        s = self.settings
        try:
            resp = self._pool(url).request(
                "GET", url, headers=self._headers, preload_content=False, redirect=False, retries=False,
                timeout=urllib3.Timeout(connect=s.timeout, read=s.timeout),
            )  # fmt: skip
        except HTTPError as exc:
            raise _transport_error(url, exc, s.timeout) from None
        at = datetime.now(UTC)
        headers = {k.lower(): v for k, v in resp.headers.items()}
        try:
            if resp.status in REDIRECT_STATUSES or resp.status >= 400:
                return _Raw(resp.status, headers, b"", at)  # the body of an error or a redirect is not needed
            declared = _int_or_none(headers.get("content-length"))
            if declared is not None and declared > max_bytes and not truncate:
                raise FetchError(url, "too_large", _too_large(declared, max_bytes), resp.status)
            data = bytearray()
            deadline = time.monotonic() + s.total_timeout
            for chunk in resp.stream(CHUNK):
                data += chunk
                if len(data) > max_bytes:
                    if truncate:
                        del data[max_bytes:]
                        break
                    raise FetchError(url, "too_large", _too_large(None, max_bytes), resp.status)
                if time.monotonic() > deadline:
                    raise FetchError(url, "timeout", f"下载超时：{s.total_timeout:.0f} 秒内未传完", resp.status)
            return _Raw(resp.status, headers, bytes(data), at)
        except HTTPError as exc:
            raise _transport_error(url, exc, s.timeout) from None
        finally:
            resp.close()
            resp.release_conn()

    def _pool(self, url: str) -> urllib3.PoolManager:
        """A connection pool, through the proxy the environment names for this URL (HTTP(S)_PROXY, NO_PROXY)."""
        parts = urlsplit(url)
        proxy = urllib.request.getproxies().get(parts.scheme)
        if proxy and urllib.request.proxy_bypass(parts.hostname or ""):
            proxy = None
        if proxy not in self._pools:
            self._pools[proxy] = (
                urllib3.ProxyManager(proxy, num_pools=20) if proxy else urllib3.PoolManager(num_pools=20)
            )
        return self._pools[proxy]

    def _event(self, message: str) -> None:
        if self._on_event is not None:
            self._on_event(message)


def _transport_error(url: str, exc: HTTPError, timeout: float) -> FetchError:
    if isinstance(exc, NameResolutionError):
        return FetchError(url, "connection", "域名无法解析（网址拼错，或本机无法访问该网站）")
    if isinstance(exc, NewConnectionError):
        return FetchError(url, "connection", "无法连接到服务器（连接被拒绝或网络不通）")
    if isinstance(exc, Urllib3Timeout):
        return FetchError(url, "timeout", f"超时：{timeout:g} 秒内没有响应")
    if isinstance(exc, SSLError):
        return FetchError(url, "tls", f"HTTPS 证书或加密握手失败（{exc}）")
    if isinstance(exc, LocationParseError):
        return FetchError(url, "url", f"不是有效的网址（{exc}）")
    return FetchError(url, "connection", f"连接中断（{type(exc).__name__}）")


def _status_text(status: int) -> str:
    names = {404: "网页不存在", 403: "禁止访问", 401: "需要登录", 410: "网页已删除", 429: "请求过于频繁",
             500: "服务器内部错误", 502: "网关错误", 503: "服务暂不可用", 504: "网关超时"}  # fmt: skip
    return f"HTTP {status} {names.get(status, '请求失败')}"


def _too_large(declared: int | None, limit: int) -> str:
    size = f"{declared / 1024 / 1024:.1f} MB，" if declared is not None else ""
    return f"文件过大：{size}超过上限 {limit // 1024 // 1024} MB，未下载"


def _int_or_none(text: str | None) -> int | None:
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None


def _retry_after(text: str | None) -> float | None:
    """Seconds from a Retry-After header given in seconds (an HTTP date is ignored: the back-off applies)."""
    value = _int_or_none(text.strip() if text else None)
    return float(value) if value is not None and value >= 0 else None
