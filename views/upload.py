"""导入: upload report files (web pages, text, PDF, scans, Word) and load them into the database.

The page only shows widgets and results: checking, keeping and ingesting the files is
:func:`pipeline.ingest.upload.ingest_uploads` (parsing runs in worker processes under the ingest's per-file budget).
File names and messages come from users and files: they are shown as plain text, never as Markdown or HTML.
"""

from __future__ import annotations

import polars as pl
import streamlit as st

from pipeline.dashboard.data import db_path
from pipeline.dashboard.pages import page
from pipeline.fetch.background import MAX_URLS, parse_url_box, run_fetch, time_budget
from pipeline.ingest.parsing import ParseOutcome
from pipeline.ingest.upload import REFUSED, UploadResult, ingest_uploads
from pipeline.labels import INGEST_STATUS_LABELS, SEVERITY_LABELS, rule_label
from pipeline.readers import MAX_MIB, supported_extensions
from pipeline.store import Database

EXTENSIONS = sorted(supported_extensions())
LABELS = {**INGEST_STATUS_LABELS, REFUSED: "未导入"}
# Streamlit's uploader prints its own English hints ("Upload", "… per file"); these rules show Chinese ones instead.
UPLOADER_CSS = f"""<style>
[data-testid="stFileUploaderDropzone"] button p {{ font-size: 0; }}
[data-testid="stFileUploaderDropzone"] button p::after {{ content: "选择文件"; font-size: 0.875rem; }}
[data-testid="stFileUploaderDropzoneInstructions"] span {{ display: none; }}
[data-testid="stFileUploaderDropzoneInstructions"] > div::after {{
  content: "拖入文件或点击“选择文件”（可多选）· 每个文件不超过 {MAX_MIB} MiB"; font-size: 0.875rem; }}
</style>"""

_MD_SPECIAL = str.maketrans({c: "\\" + c for c in "\\`*_{}[]()<>#+-.!|~$:"})


def plain(text: str) -> str:
    """User-supplied text (file names, messages) escaped for Markdown: shown as typed, never as links/HTML."""
    return text.translate(_MD_SPECIAL)


def show(result: UploadResult) -> None:
    st.subheader("导入结果")
    if result.error:
        st.error(result.error)
    counts = result.counts()
    if counts:
        table = pl.DataFrame([(LABELS.get(s, s), n) for s, n in counts.items()], schema=["状态", "数量"], orient="row")
        st.dataframe(table, hide_index=True)
    if result.cross_year_findings:
        st.info(f"数据库中共有跨年度核对提示 (XY-1/XY-2) {result.cross_year_findings} 条，见「数据质量」页。")
    for f in result.files:
        with st.container(border=True):
            state = LABELS.get(f.status, f.status)
            if f.report_id is not None:
                label = f"{plain(f.name)} → 报告 #{f.report_id}（{state}）"
                try:
                    st.page_link(page("report").file, label=label, query_params={"report": str(f.report_id)})
                except Exception:  # the page runs outside the app's navigation (tests, single-page run)
                    st.markdown(f"[{label}](/report?report={f.report_id})")
            else:
                st.text(f"{f.name}（{state}）")
            if f.message:
                (st.error if f.status in ("unreadable", REFUSED) else st.caption)(plain(f.message))
            for finding in f.findings:
                st.text(
                    f"{SEVERITY_LABELS.get(finding.severity, finding.severity)} [{rule_label(finding.rule)}] {finding.message}"
                )


st.title("导入报告")
st.write(
    "把政府信息公开工作年度报告文件拖到下面（可一次多个）。支持的格式："
    "网页（.html）、文本（.txt/.md）、PDF（有文字层的 PDF 与扫描件）、图片（.png/.jpg/.tif 等，OCR 识别）、"
    f"Word（.docx；.doc 需本机装有 LibreOffice）。单个文件上限 {MAX_MIB} MiB。"
)
st.caption(
    "扫描件和图片需要 OCR 识别，每页约需数秒到十余秒。文件按内容哈希保存，同一文件重复导入不会重复入库。"
    "每个文件在独立的解析进程中处理，超过时间或内存上限的文件会被终止并列出原因。"
)
st.html(UPLOADER_CSS)

files = st.file_uploader(
    f"选择或拖入文件（每个不超过 {MAX_MIB} MiB）",
    type=[e.lstrip(".") for e in EXTENSIONS],
    accept_multiple_files=True,
    key="upload_files",
    max_upload_size=MAX_MIB,
)

if files and st.button(f"导入 {len(files)} 个文件", type="primary", key="upload_go"):
    bar = st.progress(0.0, text="开始解析…")
    done = {"n": 0}

    def progress(outcome: ParseOutcome, name: str) -> None:
        done["n"] += 1
        if outcome.result is not None:
            state = "已解析"
        elif outcome.stored_report_id is not None:
            state = f"与已入库报告 #{outcome.stored_report_id} 相同"
        else:
            state = f"无法读取：{outcome.error or ''}"
        bar.progress(min(1.0, done["n"] / len(files)), text=plain(f"{done['n']}/{len(files)} {name}：{state}"))

    with st.spinner("正在解析并写入数据库…"):
        result = ingest_uploads(((f.name, f.getvalue()) for f in files), Database(db_path()), on_parsed=progress)
    bar.progress(1.0, text=f"完成：{len(result.files)} 个文件，{result.seconds:.1f} 秒")
    st.session_state["upload_result"] = result

if "upload_result" in st.session_state:
    show(st.session_state["upload_result"])


# ---------------------------------------------------------------------------------------------------------------
# 按网址导入: the fetch runs in its own process under a time budget (pipeline.fetch.background), never in here.

st.divider()
st.subheader("按网址导入")
st.write(
    f"粘贴报告网页或 PDF/Word 文件的网址，每行一个（一次最多 {MAX_URLS} 个）。网页本身没有年报表格时，"
    "会自动下载页面上的附件（PDF、Word、WPS）。抓取遵守网站的 robots.txt，对同一网站每秒最多请求一次。"
)
url_text = st.text_area("报告网址", key="fetch_urls", placeholder="https://www.example.gov.cn/art/2024/1/20/art_1.html")
if st.button("抓取并导入", key="fetch_go"):
    urls = parse_url_box(url_text)
    if not urls:
        st.warning("请先填写至少一个网址。")
    elif len(urls) > MAX_URLS:
        st.error(f"一次最多 {MAX_URLS} 个网址（填写了 {len(urls)} 个）；更多网址请用命令行 xxgk fetch --list。")
    else:
        with st.spinner(f"正在抓取 {len(urls)} 个网址并入库（最长 {time_budget(len(urls)):.0f} 秒）…"):
            st.session_state["fetch_result"] = run_fetch(urls, db_path())

fetched = st.session_state.get("fetch_result")
if fetched:
    st.subheader("抓取结果")
    if fetched.get("error") or fetched.get("ingest_error"):
        st.error(plain(fetched.get("error") or fetched["ingest_error"]))
    for item in fetched.get("urls", []):
        (st.success if item["ok"] else st.error)(plain(item["url"] if item["ok"] else item["error"] or item["url"]))
        for doc in item["documents"]:
            who = " ".join(str(x) for x in (doc["agency"], doc["year"]) if x) or "未识别机关/年度"
            if doc["report_id"] is not None:
                label = f"报告 #{doc['report_id']} {who} 详情"
                try:
                    st.page_link(
                        page("report").file, label=plain(label), query_params={"report": str(doc["report_id"])}
                    )
                except Exception:  # the page is run outside the app's navigation (tests, single-page run)
                    st.markdown(f"[{plain(label)}](/report?report={doc['report_id']})")
            source = "附件 `" + doc["url"].replace("`", "") + "`" if doc["role"] == "attachment" else "网页本身"
            status = LABELS.get(doc["status"] or "", "未入库")
            st.caption(f"{source}：{status}。{plain(doc['message'])}")
            if doc["findings"]:
                st.markdown("\n".join(
                    f"- {SEVERITY_LABELS.get(f['severity'], plain(f['severity']))} "
                    f"\\[{plain(f['rule'])}\\] {plain(f['message'])}"
                    for f in doc["findings"]
                ))  # fmt: skip
        for problem in item["problems"]:
            st.warning(plain(problem))
