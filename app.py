"""xxgk dashboard: ``streamlit run app.py`` (database: env XXGK_DB, default data/xxgk.duckdb).

The entrypoint draws the shared sidebar filter (bound to the URL query string) and runs the chosen page; the
page itself is the URL path, so a copied link reopens the same page with the same filters.
"""

from pathlib import Path

import streamlit as st

from pipeline.dashboard.ui import sidebar_filters

HERE = Path(__file__).parent

PAGES = [
    ("pages/overview.py", "总览", "overview"),
    ("pages/publication.py", "主动公开", "publication"),
    ("pages/requests.py", "依申请公开", "requests"),
    ("pages/litigation.py", "复议诉讼", "litigation"),
    ("pages/compare.py", "机关对比", "compare"),
    ("pages/explore.py", "数据浏览与导出", "explore"),
    ("pages/quality.py", "数据质量", "quality"),
    ("pages/about.py", "指标说明", "about"),
    ("pages/report.py", "报告详情", "report"),
    ("pages/upload.py", "导入", "upload"),  # owned by the PDF/upload helper; listed only if present
]

st.set_page_config(page_title="政府信息公开年报数据", layout="wide")

pages = [
    st.Page(path, title=title, url_path=url, default=(i == 0))
    for i, (path, title, url) in enumerate(PAGES)
    if (HERE / path).exists()
]
current = st.navigation(pages)
sidebar_filters()
current.run()
