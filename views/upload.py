"""导入: upload report files (web pages, text, PDF, scans, Word) and load them into the database.

Uploaded bytes are stored under ``<database folder>/uploads/<sha256><ext>`` (content-hash names: the same file
uploaded twice is stored once, and no user-chosen name ever reaches the file system) and then loaded with
:func:`pipeline.ingest.ingest`, exactly like ``xxgk ingest``.  Files are only ever read as data: nothing uploaded
is executed, and names and messages are shown as plain text, never as HTML.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import polars as pl
import streamlit as st

from pipeline.cli import STATUS_LABELS
from pipeline.dashboard.data import db_path
from pipeline.fetch.background import MAX_URLS, parse_url_box, run_fetch, time_budget
from pipeline.ingest import ingest
from pipeline.readers import MAX_BYTES, supported_extensions
from pipeline.store import Database, queries

MAX_MB = MAX_BYTES // 1024 // 1024
EXTENSIONS = sorted(supported_extensions())


def uploads_dir(db: str) -> Path:
    return Path(db).resolve().parent / "uploads"


def stored_name(data: bytes, filename: str) -> str | None:
    """``<sha256><ext>`` for an upload, or None when its extension is not a supported format."""
    ext = Path(filename).suffix.lower()
    if ext not in EXTENSIONS:
        return None
    return hashlib.sha256(data).hexdigest() + ext


_MD_SPECIAL = str.maketrans({c: "\\" + c for c in "\\`*_{}[]()<>#+-.!|~$:"})


def plain(text: str) -> str:
    """User-supplied text (file names, messages) escaped for Markdown: shown as typed, never as links/HTML."""
    return text.translate(_MD_SPECIAL)


def report_ids(db: str, hashes: list[str]) -> dict[str, int]:
    """sha256 → report id of the stored reports among ``hashes``."""
    database = Database(db)
    if not hashes or not database.exists():
        return {}
    return database.query(queries.report_ids, hashes)


st.title("导入报告")
st.write(
    "把政府信息公开工作年度报告文件拖到下面（可一次多个）。支持的格式："
    "网页（.html）、文本（.txt/.md）、PDF（有文字层的 PDF 与扫描件）、图片（.png/.jpg/.tif 等，OCR 识别）、"
    f"Word（.docx；.doc 需本机装有 LibreOffice）。单个文件上限 {MAX_MB} MB。"
)
st.caption("扫描件和图片需要 OCR 识别，每页约需数秒到十余秒。文件按内容哈希保存，同一文件重复导入不会重复入库。")

files = st.file_uploader(
    f"选择或拖入文件（每个不超过 {MAX_MB} MB）",
    type=[e.lstrip(".") for e in EXTENSIONS],
    accept_multiple_files=True,
    key="upload_files",
    max_upload_size=MAX_MB,
)

if files and st.button(f"导入 {len(files)} 个文件", type="primary", key="upload_go"):
    db = db_path()
    target = uploads_dir(db)
    target.mkdir(parents=True, exist_ok=True)
    accepted: dict[str, str] = {}  # stored path → original name
    rejected: list[tuple[str, str]] = []
    for f in files:
        data = f.getvalue()
        if len(data) > MAX_BYTES:
            rejected.append((f.name, f"文件过大（{len(data) / 1024 / 1024:.1f} MB，上限 {MAX_MB} MB）"))
            continue
        if not data.strip():
            rejected.append((f.name, "文件为空"))
            continue
        name = stored_name(data, f.name)
        if name is None:
            rejected.append((f.name, f"不支持的文件类型（支持 {'、'.join(EXTENSIONS)}）"))
            continue
        path = target / name
        if not path.exists():
            tmp = path.with_suffix(path.suffix + ".part")
            tmp.write_bytes(data)
            tmp.replace(path)
        accepted.setdefault(str(path), f.name)

    outcomes: dict[str, tuple[str, str | None]] = {}  # stored path → (parse status text, sha256)
    if accepted:
        bar = st.progress(0.0, text="开始解析…")
        counter = {"done": 0}

        def on_parsed(outcome) -> None:  # noqa: ANN001 - pipeline.ingest.ParseOutcome
            counter["done"] += 1
            done = counter["done"]
            name = accepted.get(outcome.job.path, Path(outcome.job.path).name)
            state = "已解析" if outcome.result is not None else f"无法读取：{outcome.error or ''}"
            sha = outcome.result.sha256 if outcome.result is not None else outcome.sha256
            outcomes[outcome.job.path] = (state, sha)
            bar.progress(done / len(accepted), text=plain(f"{done}/{len(accepted)} {name}：{state}"))

        with st.spinner("正在解析并写入数据库…"):
            summary = ingest(list(accepted), db=db, on_parsed=on_parsed)
        bar.progress(1.0, text=f"完成：{summary.n_files} 个文件，{summary.seconds:.1f} 秒")
        st.session_state["upload_result"] = {
            "db": db,
            "counts": summary.as_dict(),
            "cross_year": summary.cross_year_findings,
            "problems": [(accepted.get(p.source_path, Path(p.source_path).name), p.status, p.message)
                         for p in summary.problems],
            "files": [(orig, path, *outcomes.get(path, ("未处理", None))) for path, orig in accepted.items()],
            "rejected": rejected,
            "seconds": summary.seconds,
        }
    else:
        st.session_state["upload_result"] = {"db": db, "counts": {}, "cross_year": 0, "problems": [],
                                             "files": [], "rejected": rejected, "seconds": 0.0}

result = st.session_state.get("upload_result")
if result:
    st.subheader("导入结果")
    if result["counts"]:
        counts = pl.DataFrame(
            [(STATUS_LABELS[s], n) for s, n in result["counts"].items()], schema=["状态", "数量"], orient="row"
        )
        st.dataframe(counts, hide_index=True)
    if result["cross_year"]:
        st.info(f"跨年度核对提示 (XY-1/XY-2)：{result['cross_year']} 条，见「数据质量」页。")
    for name, reason in result["rejected"]:
        st.error(f"未导入 {plain(name)}：{plain(reason)}")
    for name, status, message in result["problems"]:
        (st.error if status == "unreadable" else st.warning)(f"{plain(name)}：{plain(message)}")
    ids = report_ids(result["db"], [sha for *_, sha in result["files"] if sha])
    for orig, _path, state, sha in result["files"]:
        rid = ids.get(sha or "")
        if rid is None:
            st.text(f"{orig}：{state}")
            continue
        try:
            st.page_link("pages/report.py", label=f"{plain(orig)} → 报告 #{rid} 详情", query_params={"report": str(rid)})
        except Exception:  # the page is run outside the app's navigation (tests, single-page run)
            st.markdown(f"[{plain(orig)} → 报告 #{rid} 详情](/report?report={rid})")


# ---------------------------------------------------------------------------------------------------------------
# 按网址导入: the fetch runs in its own process under a time budget (pipeline.fetch.background), never in here.

SEVERITY_LABELS = {"error": "错误", "warning": "警告", "info": "提示"}

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
                    st.page_link("pages/report.py", label=plain(label), query_params={"report": str(doc["report_id"])})
                except Exception:  # the page is run outside the app's navigation (tests, single-page run)
                    st.markdown(f"[{plain(label)}](/report?report={doc['report_id']})")
            source = "附件 `" + doc["url"].replace("`", "") + "`" if doc["role"] == "attachment" else "网页本身"
            status = STATUS_LABELS.get(doc["status"] or "", "未入库")
            st.caption(f"{source}：{status}。{plain(doc['message'])}")
            if doc["findings"]:
                st.markdown("\n".join(
                    f"- {SEVERITY_LABELS.get(f['severity'], plain(f['severity']))} "
                    f"\\[{plain(f['rule'])}\\] {plain(f['message'])}"
                    for f in doc["findings"]
                ))  # fmt: skip
        for problem in item["problems"]:
            st.warning(plain(problem))
