"""The three statistical tables of a report as neutral structures, labels taken from the field registry.

Renderers lay these out (tabs, spaces, HTML); nothing here spells an official label: rows, blocks and column
labels come from :func:`pipeline.registry.registry`.  :class:`LabelStyle` applies the typographic variants real
reports show (half-width brackets, "1、" enumerators, characters spaced apart).
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from functools import cache

from pipeline.generator.numbers import ReportTruth
from pipeline.registry import T3_COLUMNS_ORDER, T4_COLUMNS_ORDER, T4_GROUPS_ORDER, registry

# Header texts of 表三 / 表二 that are not field labels (they name no cell).
T3_NOTE = "（本列数据的勾稽关系为：第一项加第二项之和，等于第三项加第四项之和）"
T3_APPLICANTS = "申请人情况"
T3_LEGAL_PERSONS = "法人或其他组织"
T2_CONTENT = "信息内容"

_ENUM = re.compile(r"^(\d+)\.")


@dataclass(frozen=True, slots=True)
class T3Row:
    row_key: str
    label: str  # official row label
    top: str  # "三、本年度办理结果" for outcome rows, "" otherwise
    block: str  # sub-group label ("（三）不予公开"), "" when the row sits directly under ``top``
    keys: tuple[str, ...]  # seven keys in column order


@dataclass(frozen=True, slots=True)
class T2Block:
    heading: str  # 第二十条第（一）项
    columns: tuple[str, ...]  # column labels as printed in the edition
    rows: tuple[tuple[str, tuple[str, ...]], ...]  # (row label, keys)


@dataclass(frozen=True, slots=True)
class T4Group:
    top: str  # 行政复议 / 行政诉讼
    sub: str  # "" / 未经复议直接起诉 / 复议后起诉
    keys: tuple[str, ...]


@cache
def t3_columns() -> tuple[str, ...]:
    """Column labels of 表三 in order (自然人 … 其他, 总计)."""
    labels = dict(registry().columns("t3"))
    return tuple(labels[c] for c in T3_COLUMNS_ORDER)


def t3_rows(truth: ReportTruth) -> tuple[T3Row, ...]:
    return _t3_rows(truth.t3_layout or "2021")


@cache
def _t3_rows(t3_layout: str) -> tuple[T3Row, ...]:
    reg = registry()
    result_top = reg["t3.result_total.total"].block  # 三、本年度办理结果
    rows = []
    for row_key, label, block in reg.rows("t3", t3_layout):
        keys = tuple(f"t3.{row_key}.{c}" for c in T3_COLUMNS_ORDER)
        if not block:
            rows.append(T3Row(row_key, label, "", "", keys))
        elif block == result_top:
            rows.append(T3Row(row_key, label, result_top, "", keys))
        else:
            rows.append(T3Row(row_key, label, result_top, block, keys))
    return tuple(rows)


def t2_blocks(truth: ReportTruth) -> tuple[T2Block, ...]:
    return _t2_blocks(truth.edition or "2021")


@cache
def _t2_blocks(edition: str) -> tuple[T2Block, ...]:
    reg = registry()
    blocks: dict[str, list[tuple[str, tuple[str, ...]]]] = {}
    columns: dict[str, tuple[str, ...]] = {}
    for row_key, label, block in reg.rows("t2", edition):
        # the template prints 处理决定数量 after 上一年项目数量 / 本年增/减 (fields.csv lists it first)
        fields = sorted(
            (f for f in reg.select(edition, "t2") if f.row_key == row_key), key=lambda f: f.col_key == "decisions"
        )
        blocks.setdefault(block, []).append((label, tuple(f.key for f in fields)))
        cols = tuple(f.col_label_for(edition).split(" (", 1)[0] for f in fields)
        if len(cols) > len(columns.get(block, ())):
            columns[block] = cols

    def article_item(heading: str) -> int:  # 第二十条第（五）项 → 5: blocks print in item order
        m = re.search(r"[（(]([一二三四五六七八九十]+)[)）]", heading)
        return "一二三四五六七八九十".index(m.group(1)[-1]) if m else 99

    ordered = sorted(blocks, key=article_item)
    return tuple(T2Block(b, columns[b], tuple(blocks[b])) for b in ordered)


@cache
def t4_groups() -> tuple[T4Group, ...]:
    reg = registry()
    out = []
    for group in T4_GROUPS_ORDER:
        block = reg[f"t4.{group}.total"].block
        top, _, sub = block.partition("/")
        out.append(T4Group(top, sub, tuple(f"t4.{group}.{c}" for c in T4_COLUMNS_ORDER)))
    return tuple(out)


@cache
def t4_column_labels() -> tuple[str, ...]:
    labels = dict(registry().columns("t4"))
    return tuple(labels[c] for c in T4_COLUMNS_ORDER)


class LabelStyle:
    """One document's typographic habits, applied to registry labels."""

    def __init__(self, rng: random.Random, noise: int) -> None:
        self.noise = noise
        self.half_brackets = noise >= 1 and rng.random() < 0.5
        self.mixed_brackets = noise >= 2 and rng.random() < 0.5
        self.enum = "1." if noise == 0 else rng.choice(["1.", "1. ", "1、", "1．"])
        self.space_groups = noise >= 1 and rng.random() < 0.6
        self._rng = rng

    def brackets(self, text: str) -> str:
        if self.half_brackets or (self.mixed_brackets and self._rng.random() < 0.5):
            return text.replace("（", "(").replace("）", ")")
        return text

    def row(self, label: str) -> str:
        """A row label ("1.属于国家秘密" → "1、属于国家秘密" …)."""
        m = _ENUM.match(label)
        if m:
            label = self.enum.replace("1", m.group(1)) + label[m.end() :]
        return self.brackets(label)

    def group(self, label: str, spaced: bool | None = None) -> str:
        """A merged group label; PDF extraction often spaces its characters apart ("（三） 不 予 公 开")."""
        label = self.brackets(label)
        if spaced if spaced is not None else self.space_groups:
            m = re.match(r"^([（(][一二三四五六七八九十]+[)）]|[一二三四五六七八九十]+、)(.*)$", label)
            if m:
                return f"{m.group(1)} {' '.join(m.group(2))}"
            return " ".join(label)
        return label


def spaced(text: str) -> str:
    """Characters spaced apart, as PDF extraction renders justified cells ("结 果 维 持")."""
    return " ".join(text)
