"""地区汇总, 发布时效 and 机关报告卡 in headless Chromium on the regional corpus, with screenshots in
test-artifacts/screenshots/ (regional_*.png: look at them — Chinese must render, the treemap must be drawn)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests import browser
from tests.regional_fixtures import RegionalCorpus, build_regional

pytestmark = pytest.mark.browser
SHOTS = Path(__file__).resolve().parents[1] / "test-artifacts" / "screenshots"

browser.skip_module_without_browser()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> RegionalCorpus:
    return build_regional(tmp_path_factory.mktemp("regional_browser"))


@pytest.fixture(scope="module")
def app(corpus: RegionalCorpus, tmp_path_factory: pytest.TempPathFactory):
    log = tmp_path_factory.mktemp("browser") / "streamlit.log"
    with browser.dashboard(corpus.db, log) as served:
        yield served


def test_rollup_table_treemap_and_summary_check(app, corpus: RegionalCorpus) -> None:
    url, context = app
    province = corpus.members[0].agency.province
    page = browser.open_page(context, url, f"rollup?province={province}", "地区汇总与下钻")
    main = page.locator('[data-testid="stMain"]')
    assert main.get_by_text("地区汇总报告核对（SUM-1）").count() == 1
    browser.screenshot_full(page, SHOTS / "regional_rollup_table.png", width=1400)
    page.close()
    page = browser.open_page(context, url, f"rollup?province={province}&ru_view=矩形树图", "地区汇总与下钻")
    page.wait_for_selector(f"{browser.CHART} .treemap", timeout=30_000)
    browser.screenshot_full(page, SHOTS / "regional_rollup_treemap.png", width=1400)
    page.close()


def test_timeliness_page(app) -> None:
    url, context = app
    page = browser.open_page(context, url, "timeliness?tl_status=late&tl_year=2024", "发布时效与缺报")
    browser.wait_drawn(page)
    assert page.locator('[data-testid="stMain"]').get_by_text("尚未发布（缺报）名单").count() == 1
    browser.screenshot_full(page, SHOTS / "regional_timeliness.png", width=1400)
    page.close()


def test_report_card_page(app, corpus: RegionalCorpus) -> None:
    url, context = app
    truth = next(t for t in corpus.members if t.year == 2023)
    page = browser.open_page(context, url, f"card?card_agency={truth.agency.name}&card_year=2023", "机关年度报告卡")
    browser.wait_drawn(page)
    main = page.locator('[data-testid="stMain"]')
    assert main.get_by_text("下载 PDF（A4，可打印）").count() == 1
    assert main.get_by_text("全部单元格及其来源").count() == 1
    browser.screenshot_full(page, SHOTS / "regional_card.png", width=1400)
    page.close()
