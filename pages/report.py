"""报告详情: one report's three tables rebuilt in the official layout, raw source text on demand, findings beside
the cells they concern, the six sections' text (plain text only) and earlier versions."""

from pathlib import Path

import polars as pl
import streamlit as st

from pipeline.dashboard import ui
from pipeline.dashboard.data import query
from pipeline.dashboard.tables import official_table, suspect_keys
from pipeline.metrics import REPORT_COLUMN_LABELS, STATUS_LABELS, TABLE_NAMES
from pipeline.readers import ReadError
from pipeline.readers.pdf import crop_cell_png
from pipeline.registry import registry

filters = ui.page_start("报告详情")


def _cell_crop(table: str, facts: pl.DataFrame, source_path: str) -> None:
    """Show a PDF cell in its page: the source file is read from disk (never rendered as HTML)."""
    located = facts.filter(pl.col("key").str.starts_with(table + ".") & pl.col("page").is_not_null())
    source = Path(source_path)
    if located.is_empty() or not source.is_file():
        return
    labels = {k: registry()[k].label for k in located["key"]}
    key = st.selectbox(f"在原件中查看{TABLE_NAMES[table]}的单元格", list(labels), format_func=labels.get,
                       key=f"crop_{table}")  # fmt: skip
    row = located.filter(pl.col("key") == key).row(0, named=True)
    try:
        png = crop_cell_png(source.read_bytes(), int(row["page"]), tuple(row["bbox"]))
    except (ReadError, OSError) as exc:
        st.text(f"无法显示原件位置：{exc}")
        return
    st.image(png, caption=f"{labels[key]} · 第 {row['page']} 页")
if filters is None:
    st.stop()
reg = registry()
choices = query("report_choices", filters)
labels = {
    rid: f"#{rid} · {agency or '（未识别机关）'} · {year or '未识别年度'}{'' if cur else ' · 已被替换的旧版本'}"
    for rid, agency, year, cur in choices.iter_rows()
}
report_id = ui.synced(
    st.selectbox,
    "选择报告（可输入机关名称搜索）",
    list(labels),
    key="report",
    default=next(iter(labels), None),
    keep_default=True,
    format_func=lambda rid: labels.get(rid, f"#{rid}"),
)
if report_id is None:
    st.info("没有可选的报告。")
    st.stop()
detail = query("report_detail", None, int(report_id))
if detail is None:
    st.error(f"报告 #{report_id} 不存在。")
    st.stop()
r = detail["report"]
if r["synthetic"]:
    st.warning(f"⚠ {ui.SYNTHETIC_NOTICE}：这份报告是生成的示例数据。")
if not r["is_current"]:
    st.warning(f"这是已被替换的旧版本，当前版本为 #{r['replaced_by']}。")

meta_cols = ["agency", "year", "edition", "t3_layout", "province", "city", "county", "level", "agency_type",
             "format", "source_path", "n_errors", "n_warnings"]  # fmt: skip
meta = pl.DataFrame(
    [(REPORT_COLUMN_LABELS[c], "" if r[c] is None else str(r[c])) for c in meta_cols]
    + [("内容哈希", r["sha256"]), ("来源网址", r["source_url"] or ""), ("入库时间", str(r["loaded_at"]))]
    + ([("抓取时间（UTC）", str(r["fetched_at"]))] if r.get("fetched_at") else []),
    schema=["项目", "内容"],
    orient="row",
)
with st.expander("报告信息", expanded=True):
    ui.table(meta, fit=True)

facts = detail["facts"]
findings = detail["findings"]
if r["edition"] not in ("2019", "2021") or facts.is_empty():
    st.info("这份报告使用 2018 年及以前的旧格式（或未能识别格式），未提取表格数值；正文见下方。")
else:
    show_raw = st.toggle("显示每个单元格的原文和位置", key="raw", bind=ui.BIND)
    suspects = suspect_keys(findings)
    st.caption(
        "单元格：数字 = 来源数值；「空白」= 来源留空；「/」等 = 来源写的空值标记（都不等于 0）；"
        "「未找到」= 未能定位；「—」= 该版式没有此格；⚠ = 校验发现指向的单元格。"
    )
    for table in ("t2", "t3", "t4"):
        st.subheader(f"{TABLE_NAMES[table]}")
        grids = official_table(table, r["edition"], r["t3_layout"], facts, suspects)
        if table == "t2":  # small per-block grids: two side by side
            cols = st.columns(2)
            for i, (title, grid) in enumerate(grids):
                with cols[i % 2]:
                    st.text(title)
                    ui.table(grid, fit=True)
        else:
            for _, grid in grids:
                ui.table(
                    grid,
                    fit=True,
                    column_config={
                        "栏目": st.column_config.TextColumn(width="medium"),
                        "项目": st.column_config.TextColumn(width="large"),
                    },
                )
        related = findings.filter(
            pl.col("keys").list.eval(pl.element().str.starts_with(table + ".")).list.any()
            | pl.col("suspect_key").fill_null("").str.starts_with(table + ".")
        )
        if related.is_empty():
            st.text(f"{TABLE_NAMES[table]}没有校验发现。")
        else:
            st.text(f"{TABLE_NAMES[table]}的校验发现（⚠ 标出所涉单元格）：")
            ui.table(
                related.select("rule", "severity", "message", "expected", "actual"),
                {"rule": "规则", "severity": "级别", "message": "说明", "expected": "应为", "actual": "实际"},
            )
        if show_raw:
            keys = {f.key: f for f in reg.select(table=table)}
            raw = facts.filter(pl.col("key").is_in(list(keys))).with_columns(
                pl.col("key")
                .replace_strict({k: f.label for k, f in keys.items()}, default=None)
                .alias("单元格"),
                pl.col("status").replace_strict(STATUS_LABELS, default=pl.col("status")),
            )
            with st.expander(f"{TABLE_NAMES[table]}各单元格的原文和位置", expanded=True):
                ui.table(
                    raw.select("单元格", "value", "raw", "loc", "status", "confidence", "key"),
                    {
                        "value": "数值",
                        "raw": "原文",
                        "loc": "位置",
                        "status": "状态",
                        "confidence": "置信度",
                        "key": "字段键",
                    },
                )
        if show_raw and r["format"] == "pdf":
            _cell_crop(table, facts, r["source_path"])
    other = findings.filter(pl.col("keys").list.len() == 0)
    if not other.is_empty():
        st.subheader("其他校验发现")
        ui.table(
            other.select("rule", "severity", "message"),
            {"rule": "规则", "severity": "级别", "message": "说明"},
        )

st.subheader("报告正文")
sections = detail["sections"]
if sections.is_empty():
    st.text("没有提取到正文。")
for numeral in ("一", "二", "三", "四", "五", "六"):
    sec = sections.filter(pl.col("section") == numeral)
    if sec.is_empty():
        continue
    with st.expander(f"第{numeral}部分"):
        st.text(sec["text"][0] or "")

st.subheader("版本")
ui.table(
    detail["versions"].with_columns(
        pl.col("is_current").replace_strict({True: "当前版本", False: "已被替换"})
    ),
    {
        "report_id": "报告编号",
        "is_current": "状态",
        "replaced_by": "被替换为",
        "source_path": "来源文件",
        "sha256": "内容哈希",
        "loaded_at": "入库时间",
        "n_errors": "错误数",
        "n_warnings": "警告数",
    },
)
