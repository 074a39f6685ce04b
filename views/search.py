"""搜索: full-text search of the reports' narrative sections (一 … 六) within the sidebar filters.

Hits are escaped report text with the matches marked (``hit_html``); each links to 报告详情 at its section.  The
page only reads the index beside the database; ingest (or ``xxgk search --rebuild``) writes it.
"""

import streamlit as st

from pipeline import search
from pipeline.dashboard import ui
from pipeline.dashboard.data import db_path, db_version
from pipeline.filters import Filters
from pipeline.search.export import HIT_LABELS, hit_html, hits_frame, safe_csv_bytes

LIMITS = [50, 200, 1000]


@st.cache_data(max_entries=256, show_spinner=False)
def run_search(
    path: str, version: str, query: str, filters: Filters, limit: int, current_only: bool
) -> search.SearchResult:
    return search.run(path, query, filters, limit=limit, current_only=current_only)


@st.cache_data(max_entries=16, show_spinner=False)
def index_lag(path: str, store_version: str, version: str) -> int | None:
    return search.lag(path)


filters = ui.page_start("search")
if filters is None:
    st.stop()
path = db_path()
version = search.version(path)
if not version:
    st.warning("全文检索索引尚未建立：运行 xxgk search --rebuild（之后每次入库会自动更新）。")
    st.stop()
behind = index_lag(path, db_version(path), version)
if behind:
    st.warning(f"全文检索索引还缺 {behind} 份新入库的报告：运行 xxgk search --rebuild 补齐。")

query = st.text_input(
    "检索词",
    key="q",
    bind=ui.BIND,
    max_chars=200,
    placeholder='例如：信息处理费。多个词用空格分隔（同时包含）；"带引号的短语"整体匹配',
)
c1, c2 = st.columns([1, 2], vertical_alignment="bottom")
with c1:
    limit = ui.synced(st.selectbox, "最多显示段落数", LIMITS, key="limit", default=LIMITS[0])
with c2:
    all_versions = st.toggle("也检索已被替换的旧版本", key="versions", bind=ui.BIND)
if not query or not query.strip():
    st.info("在报告正文（一至六部分的文字，不含统计表）中查找：任意长度的词语，例如「信息处理费」「复议」「费」。")
    st.stop()
try:
    result = run_search(path, version, query, filters, int(limit or LIMITS[0]), not all_versions)
except search.QueryError as exc:
    st.warning(str(exc))
    st.stop()

more = "以上" if result.capped else ""
st.caption(
    f"共 {result.total:,} 个段落{more}包含「{'」「'.join(result.terms)}」，显示 {len(result.hits)} 个"
    f"（按入库先后，新的在前；用时 {result.seconds * 1000:.0f} 毫秒）。"
)
if not result.hits:
    st.info("没有找到。可减少检索词，或放宽左侧的筛选条件。")
    st.stop()
frame = hits_frame(result)
st.download_button(
    "下载检索结果 CSV（Excel 可直接打开）",
    lambda: safe_csv_bytes(frame.rename(HIT_LABELS)),
    "全文检索结果.csv",
    mime="text/csv",
    key="dl_search",
    on_click="ignore",
)
st.html("".join(hit_html(hit) for hit in result.hits))
