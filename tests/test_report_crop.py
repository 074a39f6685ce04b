"""报告详情 shows a PDF cell cropped from its page, boxed, when the cell is clicked (the source beside the tables)."""

from __future__ import annotations

import shutil
from pathlib import Path

from pipeline.ingest import ingest
from tests import shown_tables
from tests.conftest import REAL
from tests.test_app import open_page


def click(at, grid: str, row: int, column: str):
    """Click the cell at (``row``, ``column``) of the clickable table ``grid`` (its registry key is on the cell)."""
    block = int(grid.rsplit("_", 1)[1])
    table = grid.split("_")[1]
    cells = [c for c in shown_tables.cell_keys(at) if c["key"].startswith(table + ".") and c["column"] == column]
    labels = list(dict.fromkeys(c["row"] for c in cells))
    del block  # the blocks of 表二 have different columns: (row, column) names one cell of them
    key = next(c["key"] for c in cells if c["row"] == labels[row])
    return shown_tables.click_cell(at, grid, key)


def captions(at) -> list[str]:
    return [cap for img in at.get("image") for cap in img.captions]


def test_pdf_cell_is_shown_in_its_page(shared_dir, tmp_path: Path, monkeypatch) -> None:
    pdf = tmp_path / "huaian_2024.pdf"
    shutil.copy(REAL / "02_huaian_szf_2024" / "source.pdf", pdf)
    db = tmp_path / "x.duckdb"
    ingest([pdf], db=db)
    at = open_page(monkeypatch, db, "report", {"report": "1"})
    assert not at.get("image")  # only once a cell is clicked
    click(at, "grid_t2_0", 0, "本年制发件数")
    assert not at.exception, [e.message for e in at.exception]
    assert captions(at) == ["规章 / 本年制发件数 · 第 3 页"]
    click(at, "grid_t3_0", 2, "总计")
    assert not at.exception
    assert captions(at) == ["（一）予以公开 / 总计 · 第 4 页"]
