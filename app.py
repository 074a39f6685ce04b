"""xxgk dashboard: ``streamlit run app.py`` (database: env XXGK_DB, default data/xxgk.duckdb).

The entrypoint draws the shared sidebar filter (bound to the URL query string) and runs the chosen page; the
page itself is the URL path, so a copied link reopens the same page with the same filters.  The page list is
:data:`pipeline.dashboard.pages.PAGES`.
"""

import streamlit as st

from pipeline.dashboard.pages import available
from pipeline.dashboard.sidebar import sidebar_filters

st.set_page_config(page_title="政府信息公开年报数据", layout="wide")
current = st.navigation(
    [st.Page(p.file, title=p.title, url_path=p.key, default=p.default) for p in available()], expanded=True
)
sidebar_filters()
current.run()
