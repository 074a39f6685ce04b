"""Chinese labels for the codes xxgk stores: fact statuses, finding rules and severities, editions, report columns.

The one place these words are written: the pages, the exports and the CLI read them from here (cell and row labels
come from the field registry, never from here).  Codes stay the stored values; a label is for people.  An unknown
code is shown as itself (:func:`label`), so a new rule never disappears from a table.
"""

from __future__ import annotations

from collections.abc import Mapping

TABLE_NAMES: dict[str, str] = {"t2": "表二", "t3": "表三", "t4": "表四"}

# facts.status (and the status of a derived value)
STATUS_LABELS: dict[str, str] = {
    "ok": "有值",
    "blank": "空白",
    "null_marker": "空值标记",
    "missing": "未找到",
    "not_in_layout": "本版式无此项",
    "ambiguous": "有歧义",
    "derived": "推算值",
}

SEVERITY_LABELS: dict[str, str] = {"error": "错误", "warning": "警告", "info": "提示"}
SCOPE_LABELS: dict[str, str] = {"report": "单份报告", "cross_year": "跨年度", "region": "地区汇总"}

# findings.rule → what the rule checks, in words a 政务公开办 reader uses
RULE_LABELS: dict[str, str] = {
    "T3-1": "表三收支平衡（新收 + 结转 = 办理 + 结转下年）",
    "T3-2": "表三办理结果合计",
    "T3-3": "表三总计列 = 六类申请人之和",
    "T4-1": "表四总计 = 各项结果之和",
    "TYPE": "数值类型（非负整数、有效金额）",
    "OCR": "扫描识别置信度低",
    "LAYOUT": "表格结构（行或表未能定位）",
    "EXTRA_ROW": "模板以外的行",
    "BLANK_ROW": "整行空白",
    "NARRATIVE": "正文数字与表格不一致",
    "MIXED_TEMPLATE": "新旧模板混用",
    "LEGACY": "2018 年及以前的旧格式",
    "META": "机关或年度未能识别",
    "EDITION": "报告格式版本未能判断",
    "NOT_REPORT": "不是年度报告",
    "DERIVED": "推算的总计",
    "XY-1": "跨年度：上年结转 = 上一年度结转下年度",
    "XY-2": "跨年度：现行有效件数衔接",
    "SUM-1": "地区汇总报告 = 区域内各机关报告之和",
}

# reports.published_source and the timeliness status (pipeline.published)
PUBLISHED_SOURCE_LABELS: dict[str, str] = {
    "manifest": "清单登记",
    "page": "网页标注的发布时间",
    "document": "文件属性（创建时间）",
}
TIMELINESS_LABELS: dict[str, str] = {"on_time": "按时", "late": "逾期", "unknown": "发布日期不详"}

EDITION_LABELS: dict[str, str] = {
    "2019": "2019 年版格式（国办公开办函〔2019〕60号）",
    "2021": "2021 年版格式（国办公开办函〔2021〕30号）",
    "legacy": "2018 年及以前的旧格式",
}
# short form for table cells
EDITION_SHORT: dict[str, str] = {"2019": "2019 年版", "2021": "2021 年版", "legacy": "旧格式（2018 年及以前）"}

# reports.* columns shown in tables and exports (key = column name, which is also the Parquet/CSV machine name)
REPORT_COLUMN_LABELS: dict[str, str] = {
    "report_id": "报告编号",
    "agency": "机关",
    "year": "年度",
    "edition": "格式版本",
    "t3_layout": "表三版式",
    "province": "省份",
    "city": "市（地区）",
    "county": "区县",
    "level": "行政层级",
    "agency_type": "机关类型",
    "synthetic": "示例数据",
    "n_errors": "错误数",
    "n_warnings": "警告数",
    "format": "文件格式",
    "source_path": "来源文件",
}

# ingest_log.status (pipeline.store's constants are these strings)
INGEST_STATUS_LABELS: dict[str, str] = {
    "loaded": "已入库",
    "unchanged": "未变化",
    "replaced": "已替换旧版本",
    "loaded_with_errors": "已入库但有错误",
    "not_report": "不是年报",
    "unreadable": "无法读取",
}

SYNTHETIC_LABELS: dict[bool, str] = {True: "示例数据", False: "真实报告"}

# why a report is not counted in a rate (pipeline.metrics: left_out reasons)
LEFT_OUT_LABELS: dict[str, str] = {
    "zero_denominator": "分母为 0",
    "not_derivable": "总计空白且无法由分项推算",
    "unusable": "单元格未找到或有歧义",
    "empty": "单元格空白或为空值标记",
    "not_in_panel": "不属于同一批机关（并非所选年度每年都有报告）",
    "no_table": "没有该表（旧格式或未识别）",
    "summary": "地区汇总报告（与下属机关数字重复）",
}


def label(labels: Mapping[str, str], code: object) -> str:
    """The label of ``code`` in ``labels``; the code itself when it has none ('' for None)."""
    if code is None:
        return ""
    return labels.get(str(code), str(code))


def rule_label(rule: str) -> str:
    """``T3-2 表三办理结果合计`` — the code (people quote it) followed by what it checks."""
    text = RULE_LABELS.get(rule)
    return f"{rule} {text}" if text else rule


def edition_label(edition: object) -> str:
    return label(EDITION_LABELS, edition)
