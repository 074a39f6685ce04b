"""指标说明: every metric's formula and denominator, the data dictionary, where the data came from, the checks."""

import polars as pl
import streamlit as st

from pipeline.dashboard import ui
from pipeline.dashboard.data import query
from pipeline.metrics import TABLE_NAMES, catalogue
from pipeline.registry import registry

ui.ensure_navigation()
st.title("指标说明")
reg = registry()

st.subheader("指标公式")
rates = [m for m in catalogue().values() if m.is_rate]
ui.table(
    pl.DataFrame(
        [(m.group, m.name, m.formula, m.denominator_text, m.key) for m in rates],
        schema=["类别", "指标", "公式", "分母", "指标键"],
        orient="row",
    )
)
st.markdown(
    "- **计数**：所选报告中该单元格的合计；空白或“/”单元格不计入，全部为空时显示为空，而不是 0。\n"
    "- **比率**：所选报告的分子合计 ÷ 分母合计（合并计算，不是各机关比率的平均），只计分母大于 0 的报告；"
    "分子中的空白单元格按 0 计（与模板自身的算术一致）。每个比率旁都给出分母和计入的报告数。\n"
    "- **同比**：与上一个自然年度的同一指标比较；上一年不在所选范围内时为空。\n"
    "- **同类机关排名**：机关类型与行政层级都相同的机关（不限地区）之间排名；分母小于设定值的比率不参与排名。"
)

st.subheader("数据字典（字段注册表）")
ui.table(
    pl.DataFrame(
        [
            (
                f.key,
                TABLE_NAMES[f.table],
                f.block,
                f.row_label,
                f.col_label_short,
                "、".join(f.editions),
                f.type,
                f.unit,
            )
            for f in reg.fields
        ],
        schema=["字段键", "表", "栏目", "行", "列", "适用版本", "类型", "单位"],
        orient="row",
    ),
    height=420,
)
ui.null_legend()

st.subheader("数据来源")
filters = ui.current_filters()
try:
    sources = query("sources_summary", filters)
except Exception as exc:  # missing database: still show the definitions above
    st.warning(str(exc))
    sources = None
if sources is not None:
    if sources.is_empty():
        st.info("当前筛选条件下没有报告。")
    else:
        n_syn = int(sources.filter(pl.col("synthetic"))["n_reports"].sum())
        if n_syn:
            st.warning(
                f"⚠ {ui.SYNTHETIC_NOTICE}：当前范围内有 {n_syn} 份报告是生成的示例数据（synthetic），不是任何机关的真实统计。"
            )
        ui.table(
            sources.with_columns(
                pl.when(pl.col("synthetic"))
                .then(pl.lit("示例数据"))
                .otherwise(pl.lit("真实报告"))
                .alias("synthetic")
            ),
            {"format": "文件格式", "synthetic": "来源", "n_reports": "报告数"},
        )
st.markdown(
    "报告文件（网页、PDF、Word、文本）经读取 → 表格定位 → 校验后入库；每个单元格保留原文和位置，"
    "可在「报告详情」查看。生成的示例数据在库中标记为 synthetic，凡视图包含示例数据都会提示。"
)

st.subheader("校验规则")
row = {r: lbl for r, lbl, _ in reg.rows("t3")}
t3c = {c: lbl for c, lbl in reg.columns("t3")}
t4 = {c: lbl for c, lbl in reg.columns("t4")}
t2 = {c: lbl for c, lbl in reg.columns("t2", "2021")}
st.markdown(
    "硬性规则（由模板算术推出，不通过记为错误）：\n"
    f"- **T3-1**：每一列「{row['new_received']}」+「{row['carried_over']}」=「{row['result_total']}」+「{row['carry_forward']}」。\n"
    f"- **T3-2**：每一列「{row['result_total']}」= 各项办理结果之和。\n"
    f"- **T3-3**：每一行「{t3c['total']}」= 六类申请人之和（{t3c['total']}为空白的行跳过）。\n"
    f"- **T4-1**：行政复议、两类行政诉讼各自「{t4['total']}」=「{t4['upheld']}」+「{t4['corrected']}」+「{t4['other']}」+「{t4['pending']}」。\n\n"
    f"软性规则（只警告）：跨年度「{row['carried_over']}」= 上一年度「{row['carry_forward']}」；"
    f"「{t2['in_force']}」= 上一年度「{t2['in_force']}」+「{t2['issued']}」−「{t2['repealed']}」；"
    f"正文所述申请数 =「{row['new_received']}」总计。"
)
