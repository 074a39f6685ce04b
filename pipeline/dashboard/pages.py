"""The dashboard's pages, in navigation order: the one list app.py, the tests, the benchmark and the docs use.

Page scripts live in ``views/`` (not ``pages/``): a folder named ``pages`` next to the entrypoint switches a
fresh Streamlit server into its legacy multipage mode, in which a shared link such as ``/requests?year=2024``
runs the page script alone — without app.py's sidebar filter.  With no ``pages/`` folder, ``st.navigation`` in
app.py routes every URL, the first one included.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

VIEWS_DIR = "views"
REPO = Path(__file__).resolve().parents[2]


@dataclass(frozen=True, slots=True)
class Page:
    key: str  # URL path and file stem: /requests → views/requests.py
    title: str  # navigation label
    heading: str  # the page's title (``st.title``)
    default: bool = False  # served at "/"

    @property
    def file(self) -> str:
        """Path of the page script relative to app.py (what ``st.Page`` and ``AppTest.switch_page`` take)."""
        return f"{VIEWS_DIR}/{self.key}.py"

    @property
    def url_path(self) -> str:
        """The path of the page's URL ('' for the default page)."""
        return "" if self.default else self.key

    def exists(self) -> bool:
        return (REPO / self.file).is_file()


PAGES: tuple[Page, ...] = (
    Page("overview", "总览", "总览", default=True),
    Page("publication", "主动公开", "主动公开（表二）"),
    Page("requests", "依申请公开", "依申请公开（表三）"),
    Page("litigation", "复议诉讼", "复议诉讼（表四）"),
    Page("compare", "机关对比", "机关对比"),
    Page("rollup", "地区汇总", "地区汇总与下钻"),
    Page("timeliness", "发布时效", "发布时效与缺报"),
    Page("card", "机关报告卡", "机关年度报告卡"),
    Page("explore", "数据浏览与导出", "数据浏览与导出"),
    Page("quality", "数据质量", "数据质量"),
    Page("about", "指标说明", "指标说明"),
    Page("report", "报告详情", "报告详情"),
    Page("search", "搜索", "搜索"),
    Page("upload", "导入", "导入报告"),
)
BY_KEY: dict[str, Page] = {p.key: p for p in PAGES}


def page(key: str) -> Page:
    return BY_KEY[key]


def available() -> list[Page]:
    """The pages whose script is present (导入 is optional)."""
    return [p for p in PAGES if p.exists()]
