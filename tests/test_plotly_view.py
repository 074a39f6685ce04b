"""The dashboard's charts are drawn by its partial plotly.js bundle (pipeline/dashboard/plotly_view.py): every page's
figures fit the bundle and carry their own colours; a figure the bundle cannot draw goes to st.plotly_chart.
The browser side (the bundle served and drawing, hover, percent axes) is in tests/test_browser.py."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from pipeline.dashboard import plotly_view
from pipeline.dashboard.charts import CATEGORY_COLORS
from tests.dashboard_fixtures import figures, open_page, shared_db

FALLBACK_APP = Path(__file__).parent / "fixtures" / "dashboard" / "plotly_fallback_app.py"
# every page that draws a chart, with the link that opens each of its chart tabs
CHART_VIEWS = [
    ("overview", {"ov_trend": "申请与复议数量（图）"}),
    ("overview", {"ov_trend": "公开率与纠错率（图）", "ov_coverage": "各年度状态汇总（图）"}),
    ("publication", {}),
    ("publication", {"t2_rank": "按机关类型"}),
    ("requests", {}),
    ("requests", {"rq_outcomes": "结果层级（矩形树图）", "rq_shares": "公开率：按地区"}),
    ("litigation", {}),
    ("compare", {"cmp_agencies": ["甲市司法局", "乙县人民政府"], "year": "2021"}),
    ("quality", {"q_rules": "柱状图"}),
    ("timeliness", {}),
    ("rollup", {"ru_view": "矩形树图"}),
]


@pytest.fixture(scope="module")
def hand_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return shared_db(tmp_path_factory)


@pytest.mark.parametrize(("key", "query"), CHART_VIEWS)
def test_every_chart_is_drawn_by_the_partial_bundle(monkeypatch, hand_db, key, query):
    at = open_page(monkeypatch, hand_db, key, {"panel": "all", "min_n": "0", **query})
    drawn = figures(at)
    assert drawn, "the view draws a chart"
    assert not at.get("plotly_chart"), "no figure needs Streamlit's full plotly.js"
    for fig in drawn:
        assert {t.get("type", "scatter") for t in fig["data"]} <= plotly_view.BUNDLE_TRACES
        # the colours are the figure's own (Streamlit's "streamlit" template leaves placeholders such as #000001
        # for its own chart element to fill in; nothing fills them in here)
        text = json.dumps(fig)
        assert not re.search(r'"#0000[0-4]\d"', text), "a placeholder colour of Streamlit's template"
        assert fig["layout"]["template"]["layout"]["colorway"] == CATEGORY_COLORS


def test_a_trace_type_outside_the_bundle_goes_to_st_plotly_chart():
    at = AppTest.from_file(str(FALLBACK_APP)).run()
    assert not at.exception
    mounted = [e for e in at if e.type == "bidi_component"]
    assert [e.proto.component_name for e in mounted] == [plotly_view.COMPONENT]
    data = json.loads(mounted[0].proto.json)
    assert data["src"].startswith("/app/static/plotly/plotly-xxgk.min.js?v=")
    bar = json.loads(data["figure"])["data"][0]
    assert bar["type"] == "bar" and bar["y"] == [0, None]  # 0 and blank stay distinct on the way to the browser
    assert [json.loads(e.proto.spec)["data"][0]["type"] for e in at.get("plotly_chart")] == ["pie"]


def test_the_bundle_is_served_from_the_static_folder_with_its_license():
    """app.py's static/ folder is served (.streamlit/config.toml) and holds the bundle, its license and its build."""
    config = (plotly_view.REPO / ".streamlit" / "config.toml").read_text(encoding="utf-8")
    assert re.search(r"^enableStaticServing\s*=\s*true", config, re.M)
    assert plotly_view.BUNDLE.parent == plotly_view.REPO / "static" / "plotly"
    head = plotly_view.BUNDLE.read_text(encoding="utf-8")[:200]
    assert "plotly.js v4.1.1" in head and "scatter, bar, treemap" in head
    assert "MIT License" in (plotly_view.BUNDLE.parent / "LICENSE").read_text(encoding="utf-8")
    build = (plotly_view.BUNDLE.parent / "build.js").read_text(encoding="utf-8")
    assert "plotly.js/lib/bar" in build and "plotly.js/lib/treemap" in build
