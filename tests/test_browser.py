"""End to end in headless Chromium (Debian /usr/bin/chromium): every page, a filter, a CSV download, and the
walk-through of issue 9, each with a screenshot in test-artifacts/screenshots/ (look at them: Chinese must render,
nothing may overlap, the 表三 grid must show all seven columns at 1,400 px).
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from pipeline.dashboard import plotly_view
from tests import browser
from tests.dashboard_fixtures import SPARSE_AGENCY, report_id, shared_db

pytestmark = pytest.mark.browser
SHOTS = Path(__file__).resolve().parents[1] / "test-artifacts" / "screenshots"

browser.skip_module_without_browser()


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return shared_db(tmp_path_factory)


@pytest.fixture(scope="module")
def app(db, tmp_path_factory: pytest.TempPathFactory):
    log = tmp_path_factory.mktemp("browser") / "streamlit.log"
    with browser.dashboard(db, log) as served:
        yield served


def test_a_deep_link_on_a_fresh_server_shows_the_sidebar_filter(db, tmp_path):
    """The first request a new server sees is a shared link to a page: it runs inside app.py's navigation."""
    with browser.streamlit_server(db, log=tmp_path / "fresh.log") as url, browser.chromium() as context:
        page = browser.open_page(context, url, "requests?province=辽宁省&panel=all", "依申请公开（表三）")
        sidebar = page.locator('[data-testid="stSidebar"]')
        assert sidebar.get_by_text("筛选条件", exact=True).count() == 1
        province = sidebar.locator('[data-testid="stSelectbox"]').filter(has_text="省份").first
        assert province.get_by_role("combobox").first.input_value() == "辽宁省"
        assert "依申请公开" in page.locator('[data-testid="stSidebarNav"]').inner_text()
        browser.screenshot_full(page, SHOTS / "deep_link_fresh_server.png", width=1400)


def test_every_page_renders_with_chinese_and_no_errors(app):
    url, context = app
    for path, title in browser.PAGES:
        page = browser.open_page(context, url, path, title)
        shot = SHOTS / f"{browser.shot_name(path)}.png"
        browser.screenshot_full(page, shot, width=1400)
        assert shot.stat().st_size > 10_000
        assert page.get_by_text("Page not found").count() == 0, path
        nav = page.locator('[data-testid="stSidebarNav"]').inner_text()
        assert "依申请公开" in nav and "requests" not in nav  # Chinese page titles, not file names
        assert (
            "View" not in nav and "搜索" in nav and "导入" in nav
        )  # every page listed (no English "View N more" button)
        page.close()


def test_filter_goes_into_the_url_and_a_reload_restores_it(app):
    url, context = app
    page = browser.open_page(context, url, "requests", "依申请公开（表三）")
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
    province = other.locator('[data-testid="stSidebar"] [data-testid="stSelectbox"]').filter(has_text="省份").first
    assert province.get_by_role("combobox").first.input_value() == "辽宁省"
    browser.screenshot_full(other, SHOTS / "requests_filtered.png", width=1400)
    other.close()
    page.close()


def test_csv_download(app, tmp_path):
    url, context = app
    page = browser.open_page(context, url, "explore?year=2021", "数据浏览与导出")
    with page.expect_download(timeout=30_000) as info:
        page.get_by_role("button", name="下载 CSV（Excel 可直接打开）").click()
    download = info.value
    assert download.suggested_filename == "政府信息公开年报数据_宽表_2021-2021.csv"
    target = tmp_path / "export.csv"
    download.save_as(target)
    data = target.read_bytes()
    assert data.startswith(b"\xef\xbb\xbfreport_id,agency,year")  # machine names first, labels in row 2
    text = data.decode("utf-8-sig")
    assert "甲市司法局" in text and "丙市自然资源局" not in text and "报告编号,机关,年度" in text
    page.close()


# -- the walk-through ---------------------------------------------------------------------------------------------


def test_report_detail_source_beside_tables_and_all_seven_columns_at_1400(app, db):
    url, context = app
    rid = report_id(db, SPARSE_AGENCY, 2023)
    page = browser.open_page(context, url, f"report?report={rid}&cell=t3.granted.total", "报告详情")
    main = page.locator('[data-testid="stMain"]')
    assert main.get_by_text("原文").count() >= 1
    assert page.get_by_text("推算方法").count() == 1  # the provenance of the derived 予以公开 / 总计
    # every 表三 column is inside the table's visible width: no horizontal scrolling inside its box
    grid = page.locator(browser.HTML_TABLE).filter(has=page.get_by_text("自然人", exact=True)).first
    widths = grid.evaluate("(el) => [el.scrollWidth, el.clientWidth]")
    assert grid.locator("td.picked").first.inner_text() == "推 16"  # the cell of the link is marked
    browser.screenshot_full(page, SHOTS / "walk_report_detail.png", width=1400)
    assert widths[1] > 0 and widths[0] <= widths[1] + 2, f"表三 scrolls sideways: {widths[0]} px in {widths[1]} px"
    page.close()


def test_report_detail_click_on_a_cell_shows_its_source(app, db):
    """报告详情's tables are static HTML: a click on a cell still shows where it came from, and the link names it."""
    url, context = app
    rid = report_id(db, SPARSE_AGENCY, 2023)
    page = context.new_page()
    runs = browser.RunWatch(page)  # sees the script runs of the tab's websocket: made before the tab opens it
    page.goto(f"{url}/report?report={rid}")
    browser.wait_rendered(page, "报告详情")
    assert page.get_by_text("推算方法").count() == 0
    assert page.locator('[data-testid="stDataFrame"]').count() == 0  # no interactive grid on the first show
    table = page.locator(browser.CELL_TABLE).filter(has=page.get_by_text("自然人", exact=True)).first
    cell = table.locator('td[data-key="t3.granted.total"]')
    assert cell.inner_text() == "推 16"
    since = time.perf_counter()
    cell.click()
    runs.wait_finished(page, since)
    page.get_by_text("推算方法").first.wait_for()
    browser.wait_rendered(page, "报告详情")
    assert "cell=t3.granted.total" in page.url
    assert page.locator('td.picked[data-key="t3.granted.total"]').count() == 1
    # another cell: the choice moves (one marked cell on the page), the source pane follows
    other = page.locator(browser.CELL_TABLE).locator('td[data-key="t3.new_received.natural_person"]')
    since = time.perf_counter()
    other.click()
    runs.wait_finished(page, since)
    page.wait_for_function("() => location.search.includes('cell=t3.new_received.natural_person')")
    browser.wait_rendered(page, "报告详情")
    assert page.locator("td.picked").count() == 1
    assert page.get_by_text("推算方法").count() == 0  # a printed number has no derivation
    browser.screenshot_full(page, SHOTS / "walk_report_click.png", width=1400)
    page.close()


def test_compare_default_peer_group_highlight_and_one_point_axis(app):
    url, context = app
    page = browser.open_page(context, url,
                     "compare?cmp_agencies=甲市司法局&cmp_agencies=乙县人民政府&year=2021&panel=all&min_n=0",
                     "机关对比")  # fmt: skip
    assert page.get_by_text("所选机关").count() >= 1  # the highlighted bar's legend
    assert page.locator(browser.CHART).count() == 2
    browser.screenshot_full(page, SHOTS / "walk_compare.png", width=1400)
    page.close()


def test_charts_drawn_by_the_partial_bundle_with_hover_and_percent_axis(app):
    """Charts come from static/plotly (never Streamlit's 4.7 MB plotly chunk), keep their hover values and the
    percent axis of a rate."""
    url, context = app
    page = browser.open_page(context, url, "litigation?panel=all&min_n=0", "复议诉讼（表四）")
    loaded = page.evaluate("performance.getEntriesByType('resource').map((entry) => entry.name)")
    assert any("/app/static/plotly/plotly-xxgk.min.js" in u for u in loaded)
    assert not any("PlotlyChart" in u for u in loaded)
    assert page.locator('[data-testid="stPlotlyChart"]').count() == 0
    traces = set(page.evaluate("Object.keys(window.Plotly.PlotSchema.get().traces)"))
    assert traces >= plotly_view.BUNDLE_TRACES and "scattergl" not in traces
    cases, rates = page.locator(browser.CHART).all()
    assert any(t.strip().endswith("%") for t in rates.locator(".ytick text").all_text_contents())
    assert "复议" in (cases.text_content() or "")  # Chinese labels
    rates.scroll_into_view_if_needed()
    point = rates.locator(".scatterlayer .point").first.bounding_box()
    page.mouse.move(point["x"] + point["width"] / 2 + 1, point["y"] + point["height"] / 2 + 1, steps=3)
    hover = rates.locator(".hoverlayer .hovertext").first
    hover.wait_for(timeout=10_000)
    assert re.search(r"\d", hover.text_content() or ""), hover.text_content()
    browser.screenshot_full(page, SHOTS / "walk_litigation_hover.png", width=1400)
    page.close()


def test_publication_bars_labelled_without_empty_panels(app):
    url, context = app
    page = browser.open_page(
        context, url, "publication?panel=all&t2_field=count.t2.regulations.issued", "主动公开（表二）"
    )
    assert page.locator(".bartext").count() > 0  # value labels on the bars
    browser.screenshot_full(page, SHOTS / "walk_publication.png", width=1400)
    page.close()


def test_unknown_link_values_are_named(app):
    url, context = app
    page = browser.open_page(context, url, "requests?province=火星省&year=1999", "依申请公开（表三）")
    assert page.get_by_text("已忽略：年度「1999」、省份「火星省」", exact=False).count() == 1
    browser.screenshot_full(page, SHOTS / "walk_unknown_link.png", width=1400)
    page.close()
    page = browser.open_page(context, url, "compare?min_n=inf", "机关对比")
    assert page.get_by_text("最少分母（小数字保护）「inf」", exact=False).count() == 1
    browser.screenshot_full(page, SHOTS / "walk_min_n_inf.png", width=1400)
    page.close()


def test_chinese_rule_codes_and_field_picker(app):
    url, context = app
    page = browser.open_page(context, url, "quality?q_rules=各规则发现数（表）", "数据质量")
    browser.screenshot_full(page, SHOTS / "walk_quality_rules.png", width=1400)
    table = page.locator(browser.HTML_TABLE).first.text_content()
    assert "T3-2 表三办理结果合计" in table and "DERIVED 推算的总计" in table
    page.close()
    page = browser.open_page(context, url, "explore", "数据浏览与导出")
    assert page.get_by_text("（一）予以公开 / 总计（t3.granted.total）").count() >= 1  # label first, key second
    browser.screenshot_full(page, SHOTS / "walk_explore_picker.png", width=1400)
    page.close()


def test_about_formulas_are_not_cut_off(app):
    url, context = app
    page = browser.open_page(context, url, "about", "指标说明")
    cell = page.locator('[data-testid="stTable"] td').filter(has_text="（六）其他处理占比 =").first
    assert cell.evaluate("(el) => el.scrollWidth <= el.clientWidth + 1")  # wrapped, not clipped
    assert cell.inner_text().endswith("」")  # the whole formula, to its last label
    browser.screenshot_full(page, SHOTS / "walk_about_formulas.png", width=1400)
    page.close()
