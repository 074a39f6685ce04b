"""指标说明: every metric's formula and denominator, how figures are aggregated, the data dictionary, where the data
came from and the checks."""

import polars as pl
import streamlit as st

from pipeline.dashboard import ui
from pipeline.dashboard.data import DatabaseUnavailable, query
from pipeline.derive import METHOD_TEXT
from pipeline.labels import RULE_LABELS, SYNTHETIC_LABELS, TABLE_NAMES
from pipeline.metrics import rate_metrics, sources_summary
from pipeline.registry import registry

st.title("指标说明")
ui.ignored_notice()
reg = registry()

st.subheader("指标公式")
# st.table wraps long cells: a formula of a dozen official labels is read in full, never cut off
st.table(
    pl.DataFrame(
        [(m.group, m.name, m.formula, m.key) for m in rate_metrics()], schema=["类别", "指标", "公式", "指标键"],
        orient="row",
    )
)  # fmt: skip
st.markdown(
    "- **计数**：所选报告中该单元格的合计；空白或“/”单元格不计入，全部为空时显示为空，而不是 0。\n"
    "- **推算的总计**：原表「总计」留空而分项有数时（不少机关只在一、二、（七）、四行填写表三总计），"
    "分析时按模板算术推算：" + "；".join(f"{v}" for v in METHOD_TEXT.values()) + "。推算值单独保存、单独标记"
    "（报告详情与导出中与原值并列），原表单元格仍为空白。\n"
    "- **比率**：所选报告的分子合计 ÷ 分母合计（合并计算，不是各机关比率的平均）。只计能算出比率的报告；"
    "总计空白且无法推算、单元格未找到或分母为 0 的报告，既不进分子也不进分母。每个图表下写明计入和未计入的报告数及原因。\n"
    "- **同一批机关（默认口径）**：趋势线只用所选年度每年都有报告的机关；同比变化只比较两年都有数值的机关，"
    "并给出两年各自的机关数和两年都有的机关数。左侧可切换为「全部报告」。折线不会跨过缺少数据的年份。\n"
    "- **小数字保护**：比率的分母小于左侧设定值（默认 10）时，不显示为数值：图中为灰色空心点或灰色短条并标出分母，"
    "排名中不参与排名。\n"
    "- **同类机关排名**：机关类型与行政层级都相同的机关（不限地区）之间排名。"
)

st.subheader("数据字典（字段注册表）")
ui.table(
    pl.DataFrame(
        [(f.row_label, f.col_label_short, TABLE_NAMES[f.table], f.block, "、".join(f.editions), f.unit or "件", f.key)
         for f in reg.fields],
        schema=["行", "列", "表", "栏目", "适用版本", "单位", "字段键"], orient="row",
    ),
    height=420,
)  # fmt: skip
ui.null_legend()

st.subheader("数据来源")
filters = ui.current_filters()
try:
    sources = query(sources_summary, filters)
except DatabaseUnavailable as exc:  # missing database: still show the definitions above
    st.warning(str(exc))
    sources = None
if sources is not None:
    if sources.is_empty():
        st.info("当前筛选条件下没有报告。")
    else:
        n_syn = int(sources.filter(pl.col("synthetic"))["n_reports"].sum())
        if n_syn:
            st.warning(
                f"⚠ {ui.SYNTHETIC_NOTICE}：当前范围内有 {n_syn} 份报告是生成的示例数据，不是任何机关的真实统计。"
            )
        ui.table(
            sources.with_columns(pl.col("synthetic").replace_strict(SYNTHETIC_LABELS)),
            {"format": "文件格式", "synthetic": "来源", "n_reports": "报告数"},
        )
st.markdown(
    "报告文件（网页、PDF、Word、文本）经读取 → 表格定位 → 校验后入库；每个单元格保留原文和位置，"
    "可在「报告详情」查看。生成的示例数据在库中标记为示例数据，凡视图包含示例数据都会提示。"
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
    f"正文所述申请数 =「{row['new_received']}」总计；**SUM-1** 地区汇总报告的每个单元格 = 区域内其他机关报告之和。\n\n"
    "**地区汇总报告**：只认报告自己写明的——标题或机关名称中有「（汇总全区）」「（全市汇总）」「（全县）」等括注、标题中有「汇总」、"
    "或「全市」「全区」等紧接「政府信息公开」，或清单 summary 列为 true；人民政府自身的年度报告不算汇总报告。汇总报告不计入地区合计。\n\n"
    "**发布时效**：法定期限为次年 1 月 31 日（《条例》第五十条）。发布日期依次取自清单、网页标注的发布时间、文件属性的创建时间；"
    "取自文件创建时间时，判为逾期是确定的，判为按时仅供参考；没有可信日期的报告记为「发布日期不详」。"
)
st.caption("全部规则代码：")
st.table(pl.DataFrame(list(RULE_LABELS.items()), schema=["规则代码", "含义"], orient="row"))
