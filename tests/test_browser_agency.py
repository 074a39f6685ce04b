"""The sidebar's agency search in headless Chromium (Debian /usr/bin/chromium): typing part of a name offers the
matching agencies, picking one filters the page and goes into the link.  Screenshots in
test-artifacts/screenshots/agency_search_*.png (look at them: Chinese renders, the list sits under the box)."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests import browser
from tests.dashboard_fixtures import shared_db

pytestmark = pytest.mark.browser
SHOTS = Path(__file__).resolve().parents[1] / "test-artifacts" / "screenshots"

browser.skip_module_without_browser()


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory):
    db = shared_db(tmp_path_factory)
    log = tmp_path_factory.mktemp("browser_agency") / "streamlit.log"
    with browser.dashboard(db, log) as served:
        yield served


def test_sidebar_agency_search_in_use(app):
    url, context = app
    page = context.new_page()
    page.goto(f"{url}/requests?panel=all")
    browser.wait_rendered(page, "依申请公开（表三）")
    sidebar = page.locator('[data-testid="stSidebar"]')
    search = sidebar.get_by_placeholder("输入机关名称的一部分，如：沈阳 司法")
    search.scroll_into_view_if_needed()
    search.fill("司法")
    # the live search asks the database after a pause in typing; the choice under it then offers the match only
    chooser = sidebar.locator('[data-testid="stMultiSelect"]').filter(has_text="从搜索结果中选择")
    for _ in range(50):
        chooser.get_by_role("combobox").first.click()
        options = page.get_by_role("option")
        texts = options.all_inner_texts()
        if texts == ["甲市司法局"]:
            break
        page.keyboard.press("Escape")
        page.wait_for_timeout(200)
    assert texts == ["甲市司法局"], texts
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "agency_search_typed.png"), clip={"x": 0, "y": 0, "width": 900, "height": 1000})
    options.first.click()
    page.wait_for_url("**agency=*", timeout=20_000)
    page.keyboard.press("Escape")  # the open list makes the rest of the page inert (hidden from role queries)
    browser.wait_rendered(page, "依申请公开（表三）")
    assert "agency=%E7%94%B2%E5%B8%82%E5%8F%B8%E6%B3%95%E5%B1%80" in page.url  # agency=甲市司法局
    assert sidebar.locator('[data-testid="stMultiSelect"]').get_by_text("甲市司法局").count() == 1
    # the URL changes before the page has run again with the choice: wait for the rerun to drop the banner
    expect(page.get_by_text("示例数据，非真实机关统计")).to_have_count(
        0, timeout=20_000
    )  # 甲 is real; 丙's is synthetic
    browser.screenshot_full(page, SHOTS / "agency_search_chosen.png", width=1400)
    other = context.new_page()
    other.goto(page.url)  # the copied link reopens with the agency chosen, no list needed
    browser.wait_rendered(other, "依申请公开（表三）")
    chosen = other.locator('[data-testid="stSidebar"] [data-testid="stMultiSelect"]').get_by_text("甲市司法局")
    assert chosen.count() == 1
    other.close()
    page.close()
