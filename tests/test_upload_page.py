"""导入 page in Streamlit AppTest, and the upload logic behind it (pipeline.ingest.upload) on real reports."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from conftest import REAL
from streamlit.testing.v1 import AppTest

from pipeline.ingest.upload import REFUSED, ingest_uploads, original_name
from pipeline.readers import MAX_BYTES
from pipeline.store import LOADED, LOADED_WITH_ERRORS, UNCHANGED, Database
from pipeline.store import swap as swap_module

pytestmark = pytest.mark.usefixtures("close_cached_readers")
HUAIAN = REAL / "02_huaian_szf_2024" / "source.pdf"
HONGZE_WRONG = REAL / "03_hongze_qzf_2023" / "source.txt"  # its 表四 is wrong as published: T4-1 errors


def _page_text(at: AppTest) -> str:
    parts = [m.value for m in at.markdown] + [e.value for e in at.error] + [w.value for w in at.warning]
    parts += [t.value for t in at.text] + [c.value for c in at.caption] + [i.value for i in at.info]
    parts += [p.proto.label for p in at.get("page_link")]
    return "\n".join(parts)


def _open(monkeypatch: pytest.MonkeyPatch, db: Path) -> AppTest:
    monkeypatch.setenv("XXGK_DB", str(db))
    at = AppTest.from_file("../views/upload.py", default_timeout=120).run()
    assert not at.exception
    return at


def test_upload_stores_by_hash_ingests_and_lists_each_files_own_findings(tmp_path, monkeypatch):
    db = tmp_path / "db" / "x.duckdb"
    db.parent.mkdir()
    pdf = HUAIAN.read_bytes()
    wrong = HONGZE_WRONG.read_bytes()
    at = _open(monkeypatch, db)
    uploader = at.file_uploader(key="upload_files")
    assert {".pdf", ".docx", ".png", ".html"} <= set(uploader.allowed_type)
    text = _page_text(at)
    assert "50 MiB" in text and "50 MB" not in text  # one limit, in the unit the CLI uses
    uploader.set_value([
        ("淮安 报告](javascript:alert(1)).pdf", pdf, "application/pdf"),
        ("洪泽区2023年报（有误）.txt", wrong, "text/plain"),
        ("empty.txt", b"   ", "text/plain"),
    ])  # fmt: skip
    at.run()
    at.button(key="upload_go").click().run()
    assert not at.exception, at.exception
    stored = db.parent / "uploads" / (hashlib.sha256(pdf).hexdigest() + ".pdf")
    assert stored.read_bytes() == pdf
    names = sorted(p.name for p in (db.parent / "uploads").iterdir())
    assert all(n.split(".")[0] in (hashlib.sha256(pdf).hexdigest(), hashlib.sha256(wrong).hexdigest()) for n in names)
    assert original_name(stored) == "淮安 报告](javascript:alert(1)).pdf"  # kept as data, never as a file name
    text = _page_text(at)
    assert "empty.txt" in text and "文件为空" in text
    assert "洪泽区2023年报（有误）.txt → 报告 #2" in text.replace("\\", "")  # the original name, linked
    assert "[T4-1 表四总计 = 各项结果之和]" in text and "表四“行政复议”" in text  # this file's own findings
    markdown = "\n".join([m.value for m in at.markdown] + [p.proto.label for p in at.get("page_link")])
    assert "javascript" in markdown and "](javascript" not in markdown  # escaped: shown, never a live link
    counts = dict(zip(at.dataframe[0].value["状态"], at.dataframe[0].value["数量"], strict=True))
    assert counts["已入库"] == 1 and counts["已入库但有错误"] == 1

    # the same files again: stored once, reported unchanged, with the findings the store has for them
    at.button(key="upload_go").click().run()
    counts = dict(zip(at.dataframe[0].value["状态"], at.dataframe[0].value["数量"], strict=True))
    assert counts["未变化"] == 2
    assert "[T4-1 表四总计 = 各项结果之和]" in _page_text(at)


def test_upload_while_another_ingest_holds_the_lock_shows_a_message(tmp_path, monkeypatch):
    db = tmp_path / "x.duckdb"
    monkeypatch.setattr(swap_module, "LOCK_WAIT_S", 0.1)
    at = _open(monkeypatch, db)
    at.file_uploader(key="upload_files").set_value([("a.pdf", HUAIAN.read_bytes(), "application/pdf")])
    at.run()
    with Database(db).write():  # a command-line ingest is running
        at.button(key="upload_go").click().run()
    assert not at.exception, at.exception
    assert "另一个入库任务" in "\n".join(e.value for e in at.error)
    assert (db.parent / "uploads" / (hashlib.sha256(HUAIAN.read_bytes()).hexdigest() + ".pdf")).exists()


def test_ingest_uploads_refuses_what_the_cli_refuses_and_names_copies(tmp_path):
    db = Database(tmp_path / "x.duckdb")
    seed = HONGZE_WRONG.read_bytes()
    result = ingest_uploads(
        [("a.txt", seed), ("b.txt", seed), ("big.txt", b"x" * (MAX_BYTES + 1)), ("x.exe", b"MZ..")], db
    )
    by_name = {f.name: f for f in result.files}
    assert by_name["a.txt"].status == LOADED_WITH_ERRORS and by_name["a.txt"].report_id == 1
    assert by_name["b.txt"].status == UNCHANGED and "a.txt" in by_name["b.txt"].message
    assert by_name["b.txt"].report_id == 1
    assert by_name["big.txt"].status == REFUSED and "50 MiB" in by_name["big.txt"].message
    assert by_name["x.exe"].status == REFUSED and "不支持" in by_name["x.exe"].message
    meta = json.loads((tmp_path / "uploads" / (hashlib.sha256(seed).hexdigest() + ".txt.json")).read_text("utf-8"))
    assert meta["original_name"] == "a.txt"
    assert db.execute("SELECT count(*) FROM reports") == [(1,)]
    assert LOADED not in result.counts()
