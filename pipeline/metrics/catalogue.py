"""The metric catalogue: every count and rate the dashboard and ``xxgk metric`` show, defined once.

A :class:`Metric` is a sum of registry cells (a count) or a ratio of two such sums (a rate).  Its formula text is
built from the registry's official labels, so 指标说明, the captions beside charts and the SQL can never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Literal

from pipeline.derive import is_total
from pipeline.labels import TABLE_NAMES
from pipeline.registry import T4_GROUPS_ORDER, registry

RESULT_BLOCK = "三、本年度办理结果"  # the block whose direct rows are outcome groups of their own
# 表三 rows that are not outcomes (request counts and balances).
NON_OUTCOME_ROWS = ("new_received", "carried_over", "result_total", "carry_forward")

# the overview's headline metrics (queries.headline_by_year / headline_series; their year-over-year pairs are stored
# beside the sums: pipeline.metrics.sums)
HEADLINE_KEYS = (
    "count.t3.new_received.total",
    "count.t3.result_total.total",
    "rate.disclosure",
    "count.t4.review.total",
    "rate.correction.review",
)


def cell_name(key: str) -> str:
    """``表三「（一）予以公开 / 总计」`` — a registry cell named by its official labels."""
    f = registry()[key]
    return f"{TABLE_NAMES[f.table]}「{f.label}」"


@dataclass(frozen=True, slots=True)
class Metric:
    """A count (sum of cells) or a rate (numerator ÷ denominator) over registry cells."""

    key: str
    name: str
    kind: Literal["count", "rate"]
    numerator: tuple[str, ...]
    denominator: tuple[str, ...] = ()
    denominator_minus: tuple[str, ...] = ()
    unit: str = ""
    group: str = ""

    @property
    def is_rate(self) -> bool:
        return self.kind == "rate"

    @property
    def keys(self) -> tuple[str, ...]:
        return self.numerator + self.denominator + self.denominator_minus

    @property
    def uses_totals(self) -> bool:
        """True when a blank 总计 in its cells is derived (or, if underivable, takes the report out)."""
        return any(is_total(k) for k in self.keys)

    @property
    def numerator_text(self) -> str:
        return " + ".join(cell_name(k) for k in self.numerator)

    @property
    def denominator_text(self) -> str:
        """The denominator in words ('' for a count)."""
        if not self.is_rate:
            return ""
        text = " + ".join(cell_name(k) for k in self.denominator)
        if self.denominator_minus:
            text = f"{text} − " + " − ".join(cell_name(k) for k in self.denominator_minus)
        return text

    @property
    def formula(self) -> str:
        if not self.is_rate:
            return f"{self.name} = {self.numerator_text}"
        num = self.numerator_text
        num = f"（{num}）" if len(self.numerator) > 1 else num
        den = self.denominator_text
        den = f"（{den}）" if len(self.denominator) > 1 or self.denominator_minus else den
        return f"{self.name} = {num} ÷ {den}"


def outcome_groups() -> list[tuple[str, tuple[str, ...]]]:
    """表三 outcome groups in template order: (group label, its rows' 总计 keys), both editions merged.

    Rows directly under 三、本年度办理结果 are groups of their own (（一）予以公开 …); the rows of a sub-block such as
    （三）不予公开 form one group named by the block.  The 2019 single-row （六）其他处理 and the 2021 three sub-rows
    share the label （六）其他处理 and so the same group.
    """
    reg = registry()
    groups: dict[str, list[str]] = {}
    for row_key, row_label, block in reg.rows("t3"):
        if row_key in NON_OUTCOME_ROWS:
            continue
        label = row_label if block in ("", RESULT_BLOCK) else block
        groups.setdefault(label, []).append(reg.key_for("t3", row_key, "total"))
    return [(label, tuple(keys)) for label, keys in groups.items()]


def _slug(row_or_block: str, keys: tuple[str, ...]) -> str:
    if len(keys) == 1:
        return row_or_block
    # a block: name it by its rows' common prefix (denied_*, unable_*, not_processed_*, other_*)
    rows = [registry()[key].row_key for key in keys]
    if rows[0].startswith("not_processed"):
        return "not_processed"
    return rows[0].split("_", 1)[0]


@cache
def catalogue() -> dict[str, Metric]:
    """Every metric by key: the spec's rates, outcome and applicant shares, and a count per registry cell."""
    reg = registry()
    k = reg.key_for
    out: dict[str, Metric] = {}

    def add(m: Metric) -> None:
        out[m.key] = m

    result_total = (k("t3", "result_total", "total"),)
    add(
        Metric(
            "rate.disclosure",
            "公开率",
            "rate",
            (k("t3", "granted", "total"), k("t3", "partially_granted", "total")),
            result_total,
            group="依申请公开",
        )
    )
    for label, keys in outcome_groups():
        row_key = reg[keys[0]].row_key if len(keys) == 1 else reg[keys[0]].block
        add(Metric(f"share.{_slug(row_key, keys)}", f"{label}占比", "rate", keys, result_total, group="办理结果占比"))
    new_total = k("t3", "new_received", "total")
    for col_key, col_label in reg.columns("t3"):
        if col_key != "total":
            add(
                Metric(
                    f"share.applicant.{col_key}",
                    f"{col_label}申请占比",
                    "rate",
                    (k("t3", "new_received", col_key),),
                    (new_total,),
                    group="申请人类型",
                )
            )
    for group in T4_GROUPS_ORDER:
        add(
            Metric(
                f"rate.correction.{group}",
                f"{reg[k('t4', group, 'total')].row_label}纠错率",
                "rate",
                (k("t4", group, "corrected"),),
                (k("t4", group, "total"),),
                (k("t4", group, "pending"),),
                group="复议诉讼",
            )
        )
    for f in reg.fields:
        add(
            Metric(
                f"count.{f.key}", cell_name(f.key), "count", (f.key,), unit=f.unit or "件", group=TABLE_NAMES[f.table]
            )
        )
    return out


def metric(key: str) -> Metric:
    """Look a metric up by key (``KeyError`` with the key for an unknown one)."""
    return catalogue()[key]


def rate_metrics() -> list[Metric]:
    return [m for m in catalogue().values() if m.is_rate]
