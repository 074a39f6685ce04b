"""End to end in headless Chromium (Debian /usr/bin/chromium): every page, a filter, a CSV download, screenshots.

Screenshots go to test-artifacts/screenshots/ (look at them: Chinese must render, nothing may overlap).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests import browser
from tests.dashboard_fixtures import build_db

pytestmark = pytest.mark.browser
SHOTS = Path(__file__).resolve().parents[1] / "test-artifacts" / "screenshots"

if not browser.CHROMIUM.exists():
    pytest.skip(
        "需要 Debian chromium（/usr/bin/chromium）：apt-get install chromium fonts-wqy-microhei，或运行 make install-test",
        allow_module_level=True,
    )
pytest.importorskip("playwright.sync_api", reason="需要 playwright Python 包（dev 依赖）")


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("browser")
    db = build_db(tmp / "hand.duckdb")
    with browser.streamlit_server(db, log=tmp / "streamlit.log") as url, browser.chromium() as context:
        yield url, context


def test_every_page_renders_with_chinese_and_no_errors(app):
    url, context = app
    page = context.new_page()
    for path, title in browser.PAGES:
        page.goto(f"{url}/{path}")
        browser.wait_rendered(page, title)
        assert page.locator('[data-testid="stException"]').count() == 0, path
        body = page.locator('[data-testid="stMain"]').inner_text()
        assert "lock" not in body.lower() and "Traceback" not in body
        shot = SHOTS / f"{browser.shot_name(path)}.png"
        browser.screenshot_full(page, shot)
        assert shot.stat().st_size > 10_000
        assert page.get_by_text("Page not found").count() == 0, path
    # the sidebar navigation shows the Chinese page titles (st.navigation, not the file names)
    nav = page.locator('[data-testid="stSidebarNav"]').inner_text()
    assert "依申请公开" in nav and "requests" not in nav
    page.close()


def test_filter_goes_into_the_url_and_a_reload_restores_it(app):
    url, context = app
    page = context.new_page()
    page.goto(f"{url}/requests")
    browser.wait_rendered(page, "依申请公开（表三）")
    assert page.get_by_text("示例数据，非真实机关统计").count() > 0
    browser.choose_in_selectbox(page, "省份", "辽宁省", page.locator('[data-testid="stSidebar"]'))
    page.wait_for_url("**province=*", timeout=20_000)
    browser.wait_rendered(page, "依申请公开（表三）")
    assert page.get_by_text("示例数据，非真实机关统计").count() == 0  # the synthetic report is in 江苏省
    link = page.url
    assert "/requests?" in link
    other = context.new_page()
    other.goto(link)  # a copied link reopens the same page with the same filter
    browser.wait_rendered(other, "依申请公开（表三）")
    sidebar = other.locator('[data-testid="stSidebar"]')
    province = sidebar.locator('[data-testid="stSelectbox"]').filter(has_text="省份").first
    assert province.get_by_role("combobox").first.input_value() == "辽宁省"
    assert other.get_by_text("示例数据，非真实机关统计").count() == 0
    browser.screenshot_full(other, SHOTS / "requests_filtered.png")
    other.close()
    page.close()


def test_csv_download(app, tmp_path):
    url, context = app
    page = context.new_page()
    page.goto(f"{url}/explore?year=2021")
    browser.wait_rendered(page, "数据浏览与导出")
    with page.expect_download(timeout=30_000) as info:
        page.get_by_role("button", name="下载 CSV（Excel 可直接打开）").click()
    download = info.value
    assert download.suggested_filename == "政府信息公开年报数据_宽表_2021-2021.csv"
    target = tmp_path / "export.csv"
    download.save_as(target)
    data = target.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    text = data.decode("utf-8-sig")
    assert "甲市司法局" in text and "丙市自然资源局" not in text  # only 2021 rows
    page.close()
