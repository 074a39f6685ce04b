"""数据质量: findings by rule, an agency × year status matrix, cross-year checks, files that failed to load."""

import plotly.express as px
import plotly.graph_objects as go
import polars as pl
import streamlit as st

from pipeline.dashboard import charts, reuse_view, ui
from pipeline.dashboard.data import query
from pipeline.dashboard.pages import page
from pipeline.labels import SCOPE_LABELS, SEVERITY_LABELS, rule_label
from pipeline.metrics import coverage_grid, failed_files, findings_by_rule, findings_list
from pipeline.registry import registry


@charts.figure_cache
def rules_figure(rules: pl.DataFrame) -> go.Figure:
    fig = px.bar(
        rules,
        x="rule",
        y="n_findings",
        color="severity",
        title="各规则的发现数",
        color_discrete_map={"错误": "#c62828", "警告": "#f9a825", "提示": "#1565c0"},
        labels={"rule": "规则", "n_findings": "条数", "severity": "级别"},
    )
    return charts.style(fig, height=360)


filters = ui.page_start("quality")
if filters is None:
    st.stop()
SEVERITY, SCOPE = SEVERITY_LABELS, SCOPE_LABELS
reg = registry()
STATUS_MARKS = {"通过": "🟢", "有警告": "🟡", "有错误": "🔴", "缺报": "⚪"}
# rows per page of the agency × year grid and of the findings (whose page the 打开报告详情 choice offers): a national
# store's lists run to thousands of rows — 1,000 findings were ≈ 500 KB sent to the browser on every first render;
# the page boxes walk through the rest
FINDING_ROWS = 100

st.subheader("按规则统计")
rules = query(findings_by_rule, filters)
if rules.is_empty():
    st.success("所选报告没有任何校验发现。")
else:
    rules = rules.with_columns(
        pl.col("rule").map_elements(rule_label, return_dtype=pl.String),
        pl.col("severity").replace_strict(SEVERITY, default=pl.col("severity")),
        pl.col("scope").replace_strict(SCOPE, default=pl.col("scope")),
    )
    table_tab, chart_tab = ui.lazy_tabs(["各规则发现数（表）", "柱状图"], key="q_rules")
    if table_tab.open:
        with table_tab:
            ui.table(
                rules,
                {
                    "rule": "规则",
                    "severity": "级别",
                    "scope": "范围",
                    "n_findings": "发现条数",
                    "n_reports": "涉及报告数",
                },
            )
    if chart_tab.open:
        charts.chart(rules_figure(rules), where=chart_tab)
st.caption(
    "硬性规则（T3-1、T3-2、T3-3、T4-1 等）由模板的算术关系推出，不通过即为错误；跨年度核对（XY-*）和地区汇总报告与成员之和的"
    "核对（SUM-1，逐格明细见「地区汇总」）只作警告。详见「指标说明」。"
)

st.subheader("机关 × 年度 状态")
coverage = query(coverage_grid, filters)
# colour by a status mark in the text (a pandas Styler on hundreds of agencies is slow to send and draw)
years = [c for c in coverage.grid.columns if c != "agency"]
grid = (
    ui.page_of(coverage.grid, FINDING_ROWS, key="q_grid")
    .with_columns((pl.col(c).replace_strict(STATUS_MARKS) + " " + pl.col(c)).alias(c) for c in years)
    .rename({"agency": "机关"})
)
ui.table(grid, height=380)
ui.grid_note(coverage)
st.caption("🟢 通过全部硬性校验；🟡 有警告；🔴 有错误；⚪ 缺报（所选年度内没有当前版本的报告）。")

st.subheader("校验发现明细")
scope = ui.synced(
    st.segmented_control, "范围", ["report", "cross_year", "region"], key="q_scope", format_func=SCOPE.get
)
found = query(findings_list, filters, scope)
if found.is_empty():
    st.info("没有符合条件的校验发现。")
else:
    found = ui.page_of(found, FINDING_ROWS, key="q_findings").with_columns(
        pl.col("rule").map_elements(rule_label, return_dtype=pl.String),
        pl.col("suspect_key").replace_strict(
            {k: f.label for k, f in reg.by_key.items()}, default=pl.col("suspect_key")
        ),
        pl.col("severity").replace_strict(SEVERITY, default=pl.col("severity")),
        pl.col("scope").replace_strict(SCOPE, default=pl.col("scope")),
        ("report?report=" + pl.col("report_id").cast(pl.String)).alias("link"),
    )
    ui.table(
        found.select(
            "link",
            "agency",
            "year",
            "rule",
            "severity",
            "scope",
            "message",
            "expected",
            "actual",
            "suspect_key",
        ),
        {
            "link": "报告详情",
            "agency": "机关",
            "year": "年度",
            "rule": "规则",
            "severity": "级别",
            "scope": "范围",
            "message": "说明",
            "expected": "应为",
            "actual": "实际",
            "suspect_key": "可疑单元格",
        },
        column_config={"报告详情": st.column_config.LinkColumn(display_text=r"report=(\d+)$")},
        height=380,
    )
    pick = st.selectbox(
        "打开报告详情",
        found["report_id"].unique(maintain_order=True).to_list(),
        index=None,
        placeholder="选择报告编号",
        key="q_open",
    )
    if pick is not None:
        st.page_link(page("report").file, label=f"查看报告 #{pick} 的详情", query_params={"report": str(pick)})

st.subheader("未能读取的文件")
failed = query(failed_files)
if failed.is_empty():
    st.success("没有读取失败的文件。")
else:
    ui.table(failed, {"at": "时间", "source_path": "文件", "message": "原因"})

reuse_view.quality_view(filters)
