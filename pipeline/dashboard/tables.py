"""Turn query results into the exact tables the pages show (and the explorer exports)."""

from __future__ import annotations

import polars as pl

from pipeline.metrics import REPORT_COLUMN_LABELS, STATUS_LABELS, TABLE_NAMES, cell_name
from pipeline.registry import registry

LONG_LABELS = {
    **REPORT_COLUMN_LABELS,
    "key": "字段键",
    "field": "字段",
    "value": "数值",
    "raw": "原文",
    "status": "状态",
}


def field_header(key: str) -> str:
    """Column header of a registry cell in the wide table: ``表三·（一）予以公开 / 总计``."""
    f = registry()[key]
    return f"{TABLE_NAMES[f.table]}·{f.label}"


def explorer_table(df: pl.DataFrame, view: str, keys: list[str]) -> pl.DataFrame:
    """Rename / reshape an ``explorer_long`` or ``explorer_wide`` result into the shown table (Chinese headers)."""
    if view == "long":
        out = df.with_columns(
            pl.col("key")
            .replace_strict({k: cell_name(k) for k in registry().by_key}, default=None)
            .alias("field"),
            pl.col("status").replace_strict(STATUS_LABELS, default=pl.col("status")),
        )
        cols = ["report_id", "agency", "year", "edition", "province", "city", "county", "level", "agency_type",
                "key", "field", "value", "raw", "status"]  # fmt: skip
        return out.select(cols).rename({c: LONG_LABELS[c] for c in cols})
    base = ["report_id", "agency", "year", "edition", "province", "city", "county", "level", "agency_type"]
    rename = {c: REPORT_COLUMN_LABELS[c] for c in base}
    rename.update({k: field_header(k) for k in keys if k in df.columns})
    return df.select([*base, *[k for k in keys if k in df.columns]]).rename(rename)


def data_dictionary(shown: pl.DataFrame, view: str, keys: list[str]) -> pl.DataFrame:
    """One row per shown column: header, what it is, registry key, unit (the XLSX 2nd sheet)."""
    reg = registry()
    by_header = {field_header(k): k for k in keys}
    rows = []
    reverse = {v: k for k, v in LONG_LABELS.items()}
    for header in shown.columns:
        key = by_header.get(header)
        if key:
            f = reg[key]
            editions = "、".join(f"{e} 年版" for e in f.editions)
            rows.append((header, f"{cell_name(key)}（适用：{editions}）", key, f.unit or "件"))
        else:
            rows.append((header, _column_note(reverse.get(header, "")), reverse.get(header, ""), ""))
    return pl.DataFrame(rows, schema=["列名", "含义", "字段键", "单位"], orient="row")


def _column_note(col: str) -> str:
    notes = {
        "report_id": "报告在数据库中的编号（当前版本）",
        "edition": "报告所用的年度报告格式版本（2019 / 2021 / legacy）",
        "key": "字段注册表中的键",
        "field": "官方表格中的行 / 列名称",
        "value": "数值；空 = 来源空白、空值标记或未找到，不等于 0",
        "raw": "来源中的原文（空白单元格为空字符串）",
        "status": "有值 / 空白 / 空值标记 / 未找到 / 有歧义",
    }
    return notes.get(col, LONG_LABELS.get(col, col))


CELL_TEXT = {"blank": "空白", "missing": "未找到", "ambiguous": "有歧义", "not_in_layout": "—"}


def cell_text(value: float | None, raw: str | None, status: str) -> str:
    """How a cell reads in the rebuilt official table: the number, or what stood there instead."""
    if status == "ok" and value is not None:
        return str(int(value)) if float(value).is_integer() else f"{value:g}"
    if status == "null_marker":
        return raw or "/"
    return CELL_TEXT.get(status, raw or "")


def suspect_keys(findings: pl.DataFrame) -> set[str]:
    """Cells that error findings point at (their suspect cell, else every key they name)."""
    out: set[str] = set()
    for row in findings.filter(pl.col("severity") == "error").iter_rows(named=True):
        if row["suspect_key"]:
            out.add(row["suspect_key"])
        else:
            out.update(row["keys"] or [])
    return out


def official_table(
    table: str, edition: str, t3_layout: str | None, facts: pl.DataFrame, suspects: set[str]
) -> list[tuple[str, pl.DataFrame]]:
    """A table rebuilt in the official layout: [(block title, grid)], cells as text (see :func:`cell_text`).

    表二 is one small grid per 第二十条 block with that block's columns (as printed); 表三 is rows × the seven
    applicant columns; 表四 is the three groups × five results.
    """
    reg = registry()
    layout = t3_layout or edition if table == "t3" else edition
    by_key = {row["key"]: row for row in facts.iter_rows(named=True)}

    def text(key: str) -> str:
        if key not in reg or layout not in reg[key].editions:
            return "—"
        row = by_key.get(key)
        shown = "未找到" if row is None else cell_text(row["value"], row["raw"], row["status"])
        return f"⚠ {shown}" if key in suspects else shown

    fields = reg.select(layout, table)
    if table == "t2":
        out = []
        for block in dict.fromkeys(f.block for f in fields):
            in_block = [f for f in fields if f.block == block]
            cols = list(dict.fromkeys((f.col_key, f.col_label_for(edition)) for f in in_block))
            rows = list(dict.fromkeys((f.row_key, f.row_label) for f in in_block))
            data = {"事项": [label for _, label in rows]}
            for col_key, col_label in cols:
                data[col_label] = [text(reg.key_for("t2", rk, col_key)) for rk, _ in rows]
            out.append((block, pl.DataFrame(data)))
        return out
    cols = reg.columns(table, layout)
    rows = reg.rows(table, layout)
    # the block label only on a group's first row, like the merged vertical cell of the printed table
    blocks = [b if i == 0 or b != rows[i - 1][2] else "" for i, (_, _, b) in enumerate(rows)]
    data: dict[str, list[str]] = {"栏目": blocks, "项目": [label for _, label, _ in rows]}
    for col_key, col_label in cols:
        data[col_label] = [text(reg.key_for(table, rk, col_key)) for rk, _, _ in rows]
    grid = pl.DataFrame(data)
    if table == "t4":
        grid = grid.drop("栏目")
    return [("", grid)]
