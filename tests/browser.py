"""Drive the real dashboard in headless Chromium (Debian ``/usr/bin/chromium``): used by the browser test and the
page benchmark (a test/bench helper: product code never imports playwright).  Never calls ``playwright install``.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pipeline.dashboard.pages import available

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    # Chromium 15x builds a WebUI omnibox popup (its own renderer process, ≈ 0.4 s of CPU) for every new tab, even
    # headless where it is never shown: on 2 cores that competes with the page being measured or tested.
    "--disable-features=WebUIOmniboxPopup,WebUIOmniboxFullPopup,WebUIOmniboxAimPopup",
]
# (url path, page heading) in navigation order, from the page registry; the default page (总览) lives at "/" only.
# 导入 (upload) is left out: it has no data view to wait for.
PAGES = [(p.url_path, p.heading) for p in available() if p.key != "upload"]


def skip_module_without_browser() -> None:
    """Skip the calling test module (at import) where Debian chromium or the playwright package is missing."""
    import pytest

    if not CHROMIUM.exists():
        pytest.skip(
            "需要 Debian chromium（/usr/bin/chromium）：apt-get install chromium fonts-wqy-microhei，或运行 make install-test",
            allow_module_level=True,
        )
    pytest.importorskip("playwright.sync_api", reason="需要 playwright Python 包（dev 依赖）")


# A figure drawn by pipeline/dashboard/plotly_view.py (its box; plotly's own .main-svg etc. are inside).
CHART = '[data-testid="xxgkChart"]'
# 报告详情's clickable table block (pipeline/dashboard/cell_table.js): drawn once its box is in the component.
CELL_TABLE = '[data-testid="xxgkCellTable"]'
# A table drawn as static HTML (pipeline/dashboard/html_table.py).
HTML_TABLE = '[data-testid="xxgkTable"]'

# True once no visible element is a skeleton (the placeholder shown while an element's code loads).
_NO_SKELETON_JS = """() => !Array.from(document.querySelectorAll('[data-testid="stSkeleton"]'))
    .some((el) => el.offsetParent !== null)"""


def shot_name(path: str) -> str:
    return path or "overview"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def streamlit_server(
    db_path: str | os.PathLike[str], port: int | None = None, log: Path | None = None
) -> Iterator[str]:
    """Start ``streamlit run app.py`` against ``db_path`` on a free localhost port; yields the base URL."""
    port = port or free_port()
    env = {**os.environ, "XXGK_DB": str(db_path), "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false"}
    out = open(log, "wb") if log else subprocess.DEVNULL  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(REPO / "app.py"), "--server.port", str(port),
         "--server.address", "127.0.0.1", "--server.headless", "true", "--server.fileWatcherType", "none",
         "--browser.gatherUsageStats", "false"],
        cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=1) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"streamlit 未能启动（退出码 {proc.poll()}），见日志 {log}")
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        if log:
            out.close()


@contextlib.contextmanager
def chromium(viewport: tuple[int, int] = (1440, 1000)) -> Iterator[Any]:
    """A playwright browser context on Debian chromium, Chinese locale, downloads accepted."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        context = browser.new_context(
            viewport={"width": viewport[0], "height": viewport[1]}, locale="zh-CN", accept_downloads=True
        )
        try:
            yield context
        finally:
            context.close()
            browser.close()


@contextlib.contextmanager
def dashboard(
    db_path: str | os.PathLike[str], log: Path, viewport: tuple[int, int] = (1400, 1000)
) -> Iterator[tuple[str, Any]]:
    """The dashboard on ``db_path`` (its server's output in ``log``) and a browser context to open it in:
    ``(base URL, context)``."""
    with streamlit_server(db_path, log=log) as url, chromium(viewport=viewport) as context:
        yield url, context


def open_page(context: Any, url: str, path: str, title: str) -> Any:
    """A new tab on the page ``path``, rendered (its ``title`` shown) without an exception or a traceback."""
    page = context.new_page()
    page.goto(f"{url}/{path}")
    wait_rendered(page, title)
    assert page.locator('[data-testid="stException"]').count() == 0, path
    assert "Traceback" not in page.locator('[data-testid="stMain"]').inner_text()
    return page


def wait_rendered(page: Any, title: str, timeout_ms: int = 30_000) -> None:
    """Wait until the page's title is shown, the script run has finished and charts have drawn."""
    page.get_by_role("heading", name=title).first.wait_for(timeout=timeout_ms)
    page.wait_for_selector('[data-testid="stApp"][data-test-script-state="notRunning"]', timeout=timeout_ms)
    wait_drawn(page, timeout_ms)


def wait_drawn(page: Any, timeout_ms: int = 30_000) -> None:
    """No element is still a loading placeholder, every chart has drawn and every dataframe has its grid.

    Streamlit loads the code of charts, dataframes and some widgets on first use and shows a skeleton in their
    place meanwhile: until the skeletons are gone, chart elements do not exist yet, so counting the charts before
    that would miss them.  A chart drawn by the dashboard's plotly component (``CHART``) is done when its box says
    so (``data-drawn="1"``, after plotly.js has drawn it); one drawn by ``st.plotly_chart`` when it has its SVG.  The
    same component kind (``stBidiComponentRegular``) also holds 报告详情's clickable tables (``CELL_TABLE``).
    """
    page.wait_for_function(_NO_SKELETON_JS, timeout=timeout_ms)
    mounts = page.locator('[data-testid="stBidiComponentRegular"]')
    for i in range(mounts.count()):
        if mounts.nth(i).is_visible():
            mounts.nth(i).locator(f'{CHART}[data-drawn="1"], {CELL_TABLE}').first.wait_for(
                state="attached", timeout=timeout_ms
            )
    charts = page.locator('[data-testid="stPlotlyChart"]')
    for i in range(charts.count()):
        if not charts.nth(i).is_visible():
            continue
        charts.nth(i).locator(".main-svg").first.wait_for(timeout=timeout_ms)
    frames = page.locator('[data-testid="stDataFrame"]')
    for i in range(frames.count()):
        if not frames.nth(i).is_visible():  # inside a collapsed expander: drawn only when opened
            continue
        frames.nth(i).locator('[data-testid="data-grid-canvas"]').first.wait_for(state="attached", timeout=timeout_ms)
        # the grid paints its canvas first and fills the cells' accessible text (what get_by_text reads) a frame
        # or more later
        page.wait_for_function(
            "(el) => el.textContent.trim().length > 0", arg=frames.nth(i).element_handle(), timeout=timeout_ms
        )


class RunWatch:
    """The script runs the server reports to one tab, seen in its websocket frames (Streamlit's ``ForwardMsg``).

    Create it before the tab navigates.  The app root's ``data-test-script-state`` attribute is no reliable sign
    of a run: when the browser is busy, React may apply "running" and "finished" in one render, and the attribute
    never changes.  The ``script_finished`` message the server sends is always there.
    """

    def __init__(self, page: Any) -> None:
        self.finished: list[float] = []  # time.perf_counter() of every script_finished received
        page.on("websocket", lambda ws: ws.on("framereceived", self._frame))

    def _frame(self, payload: str | bytes) -> None:
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

        if isinstance(payload, bytes) and ForwardMsg.FromString(payload).WhichOneof("type") == "script_finished":
            self.finished.append(time.perf_counter())

    def wait_finished(self, page: Any, since: float, timeout_ms: int = 30_000) -> float:
        """Wait for a run that finishes after ``since`` (``time.perf_counter()``); returns when it finished."""
        deadline = since + timeout_ms / 1000
        while time.perf_counter() < deadline:
            done = [t for t in self.finished if t >= since]
            if done:
                return done[0]
            page.wait_for_timeout(20)  # lets playwright deliver the frames
        raise TimeoutError(f"no script run finished within {timeout_ms} ms")


def screenshot_full(page: Any, path: Path, width: int = 1440, max_height: int = 6000) -> None:
    """Screenshot the whole page: Streamlit scrolls inside its main container, so grow the viewport to fit."""
    height = page.evaluate(
        "Math.max(document.querySelector('[data-testid=\"stMain\"]')?.scrollHeight || 0, window.innerHeight)"
    )
    old = page.viewport_size
    page.set_viewport_size({"width": width, "height": min(int(height), max_height)})
    page.wait_for_timeout(300)  # let plotly re-layout to the new size
    wait_drawn(page)
    page.wait_for_timeout(200)
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path))
    page.set_viewport_size(old)


def open_selectbox(page: Any, label: str, container: Any = None) -> Any:
    """Open the selectbox labelled ``label``; returns the locator of its options."""
    scope = container or page
    box = scope.locator('[data-testid="stSelectbox"]').filter(has_text=label).first
    options = page.get_by_role("option")
    for _ in range(20):  # a list left open makes the rest of the page inert: close it first
        if not options.count():
            break
        page.keyboard.press("Escape")
        page.wait_for_timeout(100)
    box.get_by_role("combobox").first.click()
    for _ in range(20):  # with a value set, a click may only focus the box: ArrowDown opens the list
        if options.count():
            break
        page.keyboard.press("ArrowDown")
        page.wait_for_timeout(100)
    return options


def choose_in_selectbox(page: Any, label: str, option: str, container: Any = None) -> None:
    """Open the selectbox labelled ``label`` and click ``option``."""
    open_selectbox(page, label, container).filter(has_text=option).first.click()
