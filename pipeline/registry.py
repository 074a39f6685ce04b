"""The field registry: every statistical cell of the national template, read once from ``spec/fields.csv``.

Every key, label, edition, type and unit used anywhere in xxgk comes from here; nothing else spells them out.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache
from importlib import resources

EDITIONS = ("2019", "2021")
T3_COLUMNS_ORDER = (
    "natural_person",
    "commercial_enterprise",
    "research_institution",
    "public_interest_org",
    "legal_service_org",
    "other_org",
    "total",
)
T4_GROUPS_ORDER = ("review", "suit_direct", "suit_after_review")
T4_COLUMNS_ORDER = ("upheld", "corrected", "other", "pending", "total")


@dataclass(frozen=True, slots=True)
class Field:
    """One cell of the template, as ``fields.csv`` describes it."""

    key: str
    editions: tuple[str, ...]
    table: str
    block: str
    row_key: str
    row_label: str
    col_key: str
    col_label: str
    type: str
    unit: str

    @property
    def label(self) -> str:
        """Official row / column label, for display (e.g. ``一、本年新收政府信息公开申请数量 / 自然人``)."""
        return f"{self.row_label} / {self.col_label_short}"

    @property
    def col_label_short(self) -> str:
        """Column label without the parenthesised editorial note of fields.csv."""
        return self.col_label.split(" (", 1)[0]

    def col_label_for(self, edition: str) -> str:
        """The column label as printed in the given edition (fields.csv notes 2019 variants in brackets)."""
        if "(2019: " in self.col_label and edition == "2019":
            return self.col_label.split("(2019: ", 1)[1].rstrip(")")
        return self.col_label_short

    @property
    def is_amount(self) -> bool:
        return self.type == "decimal"

    @property
    def signed(self) -> bool:
        return self.type == "signed_int"


class Registry:
    """All template fields, with lookups by key."""

    def __init__(self, fields: tuple[Field, ...]) -> None:
        self.fields = fields
        self.by_key: dict[str, Field] = {f.key: f for f in fields}
        # selections are asked for once per report and never change: memoised, handed out as fresh lists
        self._memo: dict[tuple[str | None, ...], tuple] = {}

    def _memoised(self, name: str, args: tuple[str | None, ...], build: Callable[[], Iterable]) -> tuple:
        key = (name, *args)
        hit = self._memo.get(key)
        if hit is None:
            hit = self._memo[key] = tuple(build())
        return hit

    def __getitem__(self, key: str) -> Field:
        return self.by_key[key]

    def __contains__(self, key: object) -> bool:
        return key in self.by_key

    def keys(self, edition: str | None = None, table: str | None = None) -> list[str]:
        return [f.key for f in self.select(edition, table)]

    def select(self, edition: str | None = None, table: str | None = None) -> list[Field]:
        return list(
            self._memoised(
                "select",
                (edition, table),
                lambda: (
                    f
                    for f in self.fields
                    if (edition is None or edition in f.editions) and (table is None or f.table == table)
                ),
            )
        )

    def rows(self, table: str, edition: str | None = None) -> list[tuple[str, str, str]]:
        """Distinct (row_key, row_label, block) of a table in template order."""

        def build() -> list[tuple[str, str, str]]:
            seen: dict[str, tuple[str, str, str]] = {}
            for f in self.select(edition, table):
                seen.setdefault(f.row_key, (f.row_key, f.row_label, f.block))
            return list(seen.values())

        return list(self._memoised("rows", (table, edition), build))

    def columns(self, table: str, edition: str | None = None) -> list[tuple[str, str]]:
        """Distinct (col_key, col_label) of a table in template order."""
        seen: dict[str, tuple[str, str]] = {}
        for f in self.select(edition, table):
            seen.setdefault(f.col_key, (f.col_key, f.col_label_short))
        return list(seen.values())

    def key_for(self, table: str, row_key: str, col_key: str) -> str:
        return f"{table}.{row_key}.{col_key}"

    def layout_keys(self, edition: str, t3_layout: str | None = None) -> list[str]:
        """Keys a report of ``edition`` carries when its 表三 follows ``t3_layout`` (mixed templates).

        A 2021 report whose 表三 still has the 2019 single-row （六）其他处理 carries ``t3.other_handling.*``
        instead of the three ``t3.other_*`` sub-rows.
        """
        t3_layout = t3_layout or edition
        return list(
            self._memoised(
                "layout_keys",
                (edition, t3_layout),
                lambda: (f.key for f in self.fields if (t3_layout if f.table == "t3" else edition) in f.editions),
            )
        )


@cache
def registry() -> Registry:
    """The registry built from the packaged copy of ``fields.csv``."""
    text = resources.files("pipeline").joinpath("spec/fields.csv").read_text(encoding="utf-8")
    fields = tuple(
        Field(
            key=r["key"],
            editions=tuple(r["editions"].split()),
            table=r["table"],
            block=r["block"],
            row_key=r["row_key"],
            row_label=r["row_label"],
            col_key=r["col_key"],
            col_label=r["col_label"],
            type=r["type"],
            unit=r["unit"],
        )
        for r in csv.DictReader(text.splitlines())
    )
    return Registry(fields)
