"""报告详情: one report's three tables in the official layout with the source beside them — a click on a cell shows
where it came from (the text lines, or the PDF page with the cell boxed) — findings beside the cells they concern,
the six sections' text (copied sentences marked; ``?section=`` opens one) and earlier versions."""

from functools import partial
from pathlib import Path

import polars as pl
import streamlit as st

from pipeline.dashboard import cell_table, reuse_view, source, ui
from pipeline.dashboard.agency_picker import pick_agency
from pipeline.dashboard.data import query
from pipeline.dashboard.pages import page
from pipeline.dashboard.tables import OfficialGrid, official_table, suspect_keys
from pipeline.derive import METHOD_TEXT
from pipeline.labels import (
    REPORT_COLUMN_LABELS,
    SEVERITY_LABELS,
    STATUS_LABELS,
    TABLE_NAMES,
    edition_label,
    rule_label,
)
from pipeline.metrics import agency_reports, has_unnamed_reports, report_detail
from pipeline.readers import ReadError
from pipeline.registry import registry

CELL_PARAM = "cell"
UNNAMED = "（未识别机关）"  # the agency choice that lists the reports whose agency was not recognised
FINDING_LABELS = {"rule": "规则", "severity": "级别", "message": "说明", "expected": "应为", "actual": "实际"}


def _pick(grid_key: str) -> None:
    """A cell was clicked in the block drawn under ``grid_key``: it goes into the link before the page runs."""
    cell = cell_table.clicked_cell(grid_key)
    if cell:
        st.query_params[CELL_PARAM] = cell


def show_grid(block: OfficialGrid, grid_key: str, picked: str | None) -> str | None:
    """A table block whose cells are clickable; returns the registry key of the cell clicked in it (if any)."""
    return cell_table.clickable_block(block, grid_key, picked, on_click=partial(_pick, grid_key))


def show_provenance(key: str, facts: pl.DataFrame, derived: pl.DataFrame, r: dict) -> None:
    """Where one cell came from: its record, a derived value's parts, and the source itself."""
    f = registry()[key]
    st.text(f"{TABLE_NAMES[f.table]}「{f.label}」")
    fact = facts.filter(pl.col("key") == key)
    d = derived.filter(pl.col("key") == key)
    if fact.is_empty():
        st.text("这份报告的版式没有这个单元格。")
        return
    row = fact.row(0, named=True)
    items = [("字段键", key), ("原文", "（空白）" if row["raw"] == "" else str(row["raw"] if row["raw"] is not None else "—")),
             ("数值", "—" if row["value"] is None else f"{row['value']:g}"),
             ("状态", STATUS_LABELS.get(row["status"], row["status"])), ("位置", row["loc"] or "—")]  # fmt: skip
    if row["confidence"] is not None:
        items.append(("识别置信度", f"{row['confidence']:.2f}"))
    basis = None
    if not d.is_empty():
        dv = d.row(0, named=True)
        basis = " + ".join(registry()[k].label if registry()[k].row_key != f.row_key else registry()[k].col_label_short
                           for k in dv["sources"] if k in registry())  # fmt: skip
        items += [("推算值", f"{dv['value']:g}"), ("推算方法", METHOD_TEXT.get(dv["method"], dv["method"]))]
    ui.table(pl.DataFrame(items, schema=["项目", "内容"], orient="row"), fit=True)
    if basis:  # registry labels only (trusted text): wrapped in full
        st.caption(f"推算依据：{basis}")
    path = Path(r["source_path"])
    if r["format"] == "pdf" and row["page"] is not None and row["bbox"] is not None and path.is_file():
        try:
            png = source.crop_cell_png(path.read_bytes(), int(row["page"]), tuple(row["bbox"]))
        except (ReadError, OSError) as exc:
            st.text(f"无法显示原件位置：{exc}")
        else:
            st.image(png, caption=f"{f.label} · 第 {row['page']} 页")
        return
    line = source.line_number(row["loc"])
    lines = source.source_lines(path) if r["format"] in source.TEXT_FORMATS else None
    if lines and line and line <= len(lines):
        st.code(source.excerpt(lines, line), language=None)
        cells = source.line_cells(lines[line - 1])
        if len(cells) > 1:  # the marked line cell by cell: the pane is narrow, a table line is long
            at = source.cell_number(row["loc"])
            ui.table(
                pl.DataFrame([(f"{'▶ ' if i == at else ''}{i}", text or "（空白）") for i, text in enumerate(cells, 1)],
                             schema=["第几格", f"第 {line} 行的内容"], orient="row"),
                fit=True,
            )  # fmt: skip
    elif not path.is_file():
        st.text(f"原始文件不在本机：{r['source_path']}")


filters = ui.page_start("report")
if filters is None:
    st.stop()
reg = registry()
# a report is found through its agency (typed, searched in the database): no list of every report reaches the page
linked = st.query_params.get("report") if "report_agency" not in st.session_state else None
if linked is not None and linked.isdigit():  # a link to one report opens on its agency
    opened = query(report_detail, None, int(linked))
    if opened is not None:
        st.session_state["report_agency"] = opened["report"]["agency"] or UNNAMED
unnamed = (UNNAMED,) if query(has_unnamed_reports, filters) else ()
agency = pick_agency("机关（输入名称的一部分搜索）", "report_agency", filters, in_url=False, extra=unnamed)
choices = query(agency_reports, filters, None if agency in (None, UNNAMED) else agency) if agency else None
labels = {} if choices is None else {
    rid: f"#{rid} · {year or '未识别年度'}{'' if cur else ' · 已被替换的旧版本'}"
    for rid, _, year, cur in choices.iter_rows()
}  # fmt: skip
report_id = ui.synced(
    st.selectbox, "报告（年度 · 版本）", list(labels), key="report", default=next(iter(labels), None),
    keep_default=True, format_func=lambda rid: labels.get(rid, f"#{rid}"),
)  # fmt: skip
if report_id is None:
    st.info("没有可选的报告。")
    st.stop()
detail = query(report_detail, None, int(report_id))
if detail is None:
    st.error(f"报告 #{report_id} 不存在。")
    st.stop()
r = detail["report"]
if r["synthetic"]:
    st.warning(f"⚠ {ui.SYNTHETIC_NOTICE}：这份报告是生成的示例数据。")
if not r["is_current"]:
    st.warning(f"这是已被替换的旧版本，当前版本为 #{r['replaced_by']}。")

meta_cols = ["agency", "year", "t3_layout", "province", "city", "county", "level", "agency_type", "format",
             "source_path", "n_errors", "n_warnings"]  # fmt: skip
meta = pl.DataFrame(
    [(REPORT_COLUMN_LABELS["edition"], edition_label(r["edition"]))]
    + [(REPORT_COLUMN_LABELS[c], "" if r[c] is None else str(r[c])) for c in meta_cols]
    + [("内容哈希", r["sha256"]), ("来源网址", r["source_url"] or ""), ("入库时间", str(r["loaded_at"]))]
    + ([("抓取时间（UTC）", str(r["fetched_at"]))] if r.get("fetched_at") else []),
    schema=["项目", "内容"], orient="row",
)  # fmt: skip
with st.expander("报告信息", expanded=False):
    ui.table(meta, fit=True)
if r["agency"] and r["year"] is not None and r["is_current"]:
    st.page_link(page("card").file, label=f"机关报告卡：{r['agency']} {r['year']} 年（可下载 PDF / Word）",
                 query_params={"card_agency": r["agency"], "card_year": str(r["year"])})  # fmt: skip

facts, derived, findings = detail["facts"], detail["derived"], detail["findings"]
findings = findings.with_columns(
    pl.col("rule").map_elements(rule_label, return_dtype=pl.String),
    pl.col("severity").replace_strict(SEVERITY_LABELS, default=pl.col("severity")),
)
if r["edition"] not in ("2019", "2021") or facts.is_empty():
    st.info("这份报告使用 2018 年及以前的旧格式（或未能识别格式），未提取表格数值；正文见下方。")
else:
    st.caption(
        "单元格：数字 = 来源数值；「空白」= 来源留空；「/」等 = 来源写的空值标记（都不等于 0）；「推 n」= 原表空白的"
        "总计按分项推算为 n（原值仍为空白）；「未找到」= 未能定位；「—」= 该版式没有此格；⚠ = 校验发现指向的单元格。"
        "点击任一单元格，右侧显示它在原文中的位置。"
    )
    ui.checked_param(CELL_PARAM, "单元格", list(reg.by_key))
    suspects = suspect_keys(detail["findings"])
    derived_values = dict(derived.select("key", "value").iter_rows())
    tables_col, source_col = st.columns([7, 3], gap="small")
    clicked: str | None = None
    shown_cell = st.query_params.get(CELL_PARAM)
    with tables_col:
        for table in ("t2", "t3", "t4"):
            st.subheader(TABLE_NAMES[table])
            blocks = official_table(table, r["edition"], r["t3_layout"], facts, suspects, derived_values)
            for i, block in enumerate(blocks):
                if block.title:
                    st.text(block.title)
                picked = show_grid(block, f"grid_{table}_{i}", shown_cell)
                clicked = picked or clicked
            related = findings.filter(
                pl.col("keys").list.eval(pl.element().str.starts_with(table + ".")).list.any()
                | pl.col("suspect_key").fill_null("").str.starts_with(table + ".")
            )
            if related.is_empty():
                st.text(f"{TABLE_NAMES[table]}没有校验发现。")
            else:
                st.text(f"{TABLE_NAMES[table]}的校验发现（⚠ 标出所涉单元格）：")
                ui.table(related.select(list(FINDING_LABELS)), FINDING_LABELS)
    if clicked:
        st.query_params[CELL_PARAM] = clicked
    selected = clicked or st.query_params.get(CELL_PARAM)
    with source_col:
        st.subheader("原文")
        if selected in reg:
            show_provenance(selected, facts, derived, r)
        else:
            st.info("点击左侧表格中的任一单元格，这里显示它的原文、位置和（若为推算值）推算依据。")
            lines = source.source_lines(r["source_path"]) if r["format"] in source.TEXT_FORMATS else None
            if lines:
                with st.container(height=560):
                    st.code("\n".join(lines), language=None)
    other = findings.filter(pl.col("keys").list.len() == 0)
    if not other.is_empty():
        st.subheader("其他校验发现")
        ui.table(other.select("rule", "severity", "message"), FINDING_LABELS)

st.subheader("报告正文")
sections = detail["sections"]
if sections.is_empty():
    st.text("没有提取到正文。")
reuse_view.report_sections(int(report_id), sections, st.query_params.get("section"))

st.subheader("版本")
ui.table(
    detail["versions"].with_columns(pl.col("is_current").replace_strict({True: "当前版本", False: "已被替换"})),
    {"report_id": "报告编号", "is_current": "状态", "replaced_by": "被替换为", "source_path": "来源文件",
     "sha256": "内容哈希", "loaded_at": "入库时间", "n_errors": "错误数", "n_warnings": "警告数"},
)  # fmt: skip
