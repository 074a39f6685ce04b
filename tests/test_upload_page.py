"""导入 page: upload files in Streamlit AppTest, check storage by content hash, the summary and report links."""

from __future__ import annotations

import hashlib

from conftest import REAL
from streamlit.testing.v1 import AppTest


def _page_text(at: AppTest) -> str:
    parts = [m.value for m in at.markdown] + [e.value for e in at.error] + [w.value for w in at.warning]
    parts += [t.value for t in at.text] + [str(getattr(p, "label", "")) for p in at.get("page_link")]
    parts += [p.proto.label for p in at.get("page_link")]
    return "\n".join(parts)


def test_upload_stores_by_hash_ingests_and_links(tmp_path, monkeypatch, shared_dir):
    db = tmp_path / "db" / "x.duckdb"
    db.parent.mkdir()
    monkeypatch.setenv("XXGK_DB", str(db))
    pdf = (REAL / "02_huaian_szf_2024" / "source.pdf").read_bytes()
    at = AppTest.from_file("../views/upload.py", default_timeout=120).run()
    assert not at.exception
    uploader = at.file_uploader(key="upload_files")
    assert {".pdf", ".docx", ".png", ".html"} <= set(uploader.allowed_type)
    assert "50 MB" in _page_text(at)
    uploader.set_value([
        ("淮安 报告](javascript:alert(1)).pdf", pdf, "application/pdf"),
        ("empty.txt", b"   ", "text/plain"),
    ])
    at.run()
    at.button(key="upload_go").click().run()
    assert not at.exception, at.exception
    stored = db.parent / "uploads" / (hashlib.sha256(pdf).hexdigest() + ".pdf")
    assert stored.read_bytes() == pdf
    assert sorted(p.name for p in (db.parent / "uploads").iterdir()) == [stored.name]  # no user-chosen names
    text = _page_text(at)
    assert "未导入 empty" in text and "文件为空" in text
    assert "报告 #1 详情" in text
    markdown = "\n".join([m.value for m in at.markdown] + [p.proto.label for p in at.get("page_link")])
    assert "javascript" in markdown and "](javascript" not in markdown  # escaped: shown, never a live link
    summary = at.dataframe[0].value
    assert dict(zip(summary["状态"], summary["数量"], strict=True))["已入库 loaded"] == 1

    # the same file again: stored once, reported unchanged
    at.button(key="upload_go").click().run()
    summary = at.dataframe[0].value
    assert dict(zip(summary["状态"], summary["数量"], strict=True))["未变化 unchanged"] == 1
