"""报告详情 shows a PDF cell cropped from its page when the raw-source view is on."""

from __future__ import annotations

import shutil
from pathlib import Path

from pipeline.ingest import ingest
from tests.conftest import REAL
from tests.test_app import open_page


def test_pdf_cell_is_shown_in_its_page(shared_dir, tmp_path: Path, monkeypatch) -> None:
    pdf = tmp_path / "huaian_2024.pdf"
    shutil.copy(REAL / "02_huaian_szf_2024" / "source.pdf", pdf)
    db = tmp_path / "x.duckdb"
    ingest([pdf], db=db)
    at = open_page(monkeypatch, db, "report", {"report": "1"})
    assert not at.get("image")  # only on demand
    at.toggle(key="raw").set_value(True).run()
    assert not at.exception, [e.message for e in at.exception]
    captions = [cap for img in at.get("image") for cap in img.captions]
    assert len(captions) == 3, captions  # one crop per table
    assert "规章 / 本年制发件数 · 第 3 页" in captions
    table3 = at.selectbox(key="crop_t3")
    table3.set_value("t3.granted.total").run()
    assert not at.exception
    assert "（一）予以公开 / 总计 · 第 4 页" in [cap for img in at.get("image") for cap in img.captions]
