"""Turn query results into the exact tables the pages show (and the explorer exports)."""

from __future__ import annotations

import re
from dataclasses import dataclass

import polars as pl

from pipeline.derive import is_total
from pipeline.labels import EDITION_SHORT, REPORT_COLUMN_LABELS, STATUS_LABELS, TABLE_NAMES
from pipeline.metrics import DERIVED_SUFFIX, EXPLORER_REPORT_COLUMNS, cell_name
from pipeline.metrics.explorer import LONG_SORTABLE
from pipeline.registry import registry

LONG_LABELS = {
    **REPORT_COLUMN_LABELS,
    "key": "字段键",
    "field": "字段",
    "value": "数值",
    "raw": "原文",
    "status": "状态",
    "derived_value": "推算值",
    "derived_from": "推算依据（字段键）",
}
COLUMN_NOTES = {
    "report_id": "报告在数据库中的编号（当前版本）",
    "edition": "报告所用的年度报告格式版本（2019 年版 / 2021 年版 / 旧格式）",
    "synthetic": "true = 生成的示例数据，不是任何机关的真实统计",
    "n_errors": "该报告未通过的硬性校验条数（> 0 时数字需核对）",
    "n_warnings": "该报告的警告条数",
    "key": "字段注册表中的键",
    "field": "官方表格中的行 / 列名称",
    "value": "数值；空 = 来源空白、空值标记或未找到，不等于 0",
    "raw": "来源中的原文（空白单元格为空字符串）",
    "status": "有值 / 空白 / 空值标记 / 未找到 / 有歧义",
    "derived_value": "原表空白的总计按模板算术由分项推算的值（原表仍为空白）",
    "derived_from": "推算所用的单元格（字段键）",
}


@dataclass(frozen=True)
class ShownTable:
    """A table as a page shows it: machine column names, and the Chinese header of each column."""

    frame: pl.DataFrame
    labels: dict[str, str]

    def for_display(self) -> pl.DataFrame:
        return self.frame.rename({c: self.labels.get(c, c) for c in self.frame.columns})


def field_header(key: str) -> str:
    """Column header of a registry cell in the wide table: ``表三·（一）予以公开 / 总计``."""
    f = registry()[key]
    return f"{TABLE_NAMES[f.table]}·{f.label}"


def explorer_labels(view: str, keys: list[str]) -> dict[str, str]:
    """Column → Chinese header of the explorer's ``view`` ("long" or "wide") for ``keys``, in column order."""
    report_cols = list(EXPLORER_REPORT_COLUMNS)
    if view == "long":
        cols = [*report_cols, "key", "field", "value", "raw", "status", "derived_value", "derived_from"]
        return {c: LONG_LABELS[c] for c in cols}
    labels = {c: REPORT_COLUMN_LABELS[c] for c in report_cols}
    for k in keys:
        labels[k] = field_header(k)
        if is_total(k):
            labels[k + DERIVED_SUFFIX] = field_header(k) + "（推算）"
    return labels


def explorer_sort_columns(view: str, keys: list[str]) -> dict[str, str]:
    """Header → the column a page of the explorer sorts by (the field's header sorts by the registry order of its
    key; the long table's source text, status and derivation are not offered: see
    :data:`pipeline.metrics.explorer.LONG_SORTABLE`)."""
    labels = explorer_labels(view, keys)
    if view == "long":
        sortable = {**{c: c for c in LONG_SORTABLE}, "field": "key"}
        return {label: sortable[c] for c, label in labels.items() if c in sortable and c != "key"}
    return {label: c for c, label in labels.items()}


def explorer_table(df: pl.DataFrame, view: str, keys: list[str]) -> ShownTable:
    """An ``explorer_long`` or ``explorer_wide`` result (whole or a page) as the shown (and exported) table."""
    labels = explorer_labels(view, keys)
    df = df.with_columns(pl.col("edition").replace_strict(EDITION_SHORT, default=pl.col("edition")))
    if view == "long":
        out = df.with_columns(
            pl.col("key").replace_strict({k: cell_name(k) for k in registry().by_key}, default=None).alias("field"),
            pl.col("status").replace_strict(STATUS_LABELS, default=pl.col("status")),
        )
        return ShownTable(out.select(list(labels)), labels)
    return ShownTable(df.select([c for c in labels if c in df.columns]), labels)


def data_dictionary(table: ShownTable, keys: list[str]) -> pl.DataFrame:
    """One row per shown column: header, what it is, machine name, unit (the XLSX 2nd sheet)."""
    reg = registry()
    rows = []
    for column in table.frame.columns:
        header = table.labels.get(column, column)
        key = column.removesuffix(DERIVED_SUFFIX)
        if key in reg:
            f = reg[key]
            editions = "、".join(f"{e} 年版" for e in f.editions)
            what = f"{cell_name(key)}（适用：{editions}）"
            if column.endswith(DERIVED_SUFFIX):
                what = f"{cell_name(key)} 原表空白时按分项推算的值（原表列仍为空白）"
            rows.append((header, what, column, f.unit or "件"))
        else:
            rows.append((header, COLUMN_NOTES.get(column, header), column, ""))
    return pl.DataFrame(rows, schema=["列名", "含义", "机器列名（字段键）", "单位"], orient="row")


CELL_TEXT = {"blank": "空白", "missing": "未找到", "ambiguous": "有歧义", "not_in_layout": "—"}


def cell_text(value: float | None, raw: str | None, status: str, derived: float | None = None) -> str:
    """How a cell reads in the rebuilt official table: the number, or what stood there instead — or, for a blank
    总计 derived from its parts, ``推 12`` (short enough for the seven 表三 columns; the click says the rest)."""
    if status == "ok" and value is not None:
        return _num(value)
    if derived is not None:
        return f"推 {_num(derived)}"
    return (raw or "/") if status == "null_marker" else CELL_TEXT.get(status, raw or "")


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def suspect_keys(findings: pl.DataFrame) -> set[str]:
    """Cells that error findings point at (their suspect cell, else every key they name)."""
    out: set[str] = set()
    for row in findings.filter(pl.col("severity") == "error").iter_rows(named=True):
        if row["suspect_key"]:
            out.add(row["suspect_key"])
        else:
            out.update(row["keys"] or [])
    return out


@dataclass(frozen=True)
class OfficialGrid:
    """One block of a table in the official layout: cell texts, and the registry key behind each cell."""

    title: str
    grid: pl.DataFrame
    keys: dict[tuple[int, str], str]  # (row position, column header) → registry key


def official_table(
    table: str, edition: str, t3_layout: str | None, facts: pl.DataFrame, suspects: set[str],
    derived: dict[str, float] | None = None,
) -> list[OfficialGrid]:  # fmt: skip
    """A table rebuilt in the official layout, cells as text (see :func:`cell_text`).

    表二 is one small grid per 第二十条 block with that block's columns (as printed); 表三 is rows × the seven
    applicant columns (the block folded into the row label); 表四 is the three groups × five results.
    """
    reg = registry()
    derived = derived or {}
    layout = t3_layout or edition if table == "t3" else edition
    by_key = {row["key"]: row for row in facts.iter_rows(named=True)}

    def text(key: str) -> str:
        if key not in reg or layout not in reg[key].editions:
            return "—"
        row = by_key.get(key)
        shown = "未找到" if row is None else cell_text(row["value"], row["raw"], row["status"], derived.get(key))
        return f"⚠ {shown}" if key in suspects else shown

    def build(title: str, first: str, rows: list[tuple[str, str]], cols: list[tuple[str, str]]) -> OfficialGrid:
        data: dict[str, list[str]] = {first: [label for _, label in rows]}
        keys: dict[tuple[int, str], str] = {}
        for col_key, col_label in cols:
            data[col_label] = [text(reg.key_for(table, rk, col_key)) for rk, _ in rows]
            for i, (rk, _) in enumerate(rows):
                keys[(i, col_label)] = reg.key_for(table, rk, col_key)
        return OfficialGrid(title, pl.DataFrame(data), keys)

    fields = reg.select(layout, table)
    if table == "t2":
        out = []
        for block in dict.fromkeys(f.block for f in fields):
            in_block = [f for f in fields if f.block == block]
            cols = list(dict.fromkeys((f.col_key, f.col_label_for(edition)) for f in in_block))
            rows = list(dict.fromkeys((f.row_key, f.row_label) for f in in_block))
            out.append(build(block, "事项", rows, cols))
        return out
    # a sub-row carries its block's numeral, like the merged cell beside it in print: （三）1.属于国家秘密
    labelled = [(rk, f"{_numeral(block)}{label}" if table == "t3" and _numeral(block) else label)
                for rk, label, block in reg.rows(table, layout)]  # fmt: skip
    return [build("", "项目", labelled, reg.columns(table, layout))]


def _numeral(block: str) -> str:
    match = re.match(r"^（[一二三四五六七八九十]+）", block)
    return match.group(0) if match else ""
