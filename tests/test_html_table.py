"""The static HTML tables every page shows (pipeline.dashboard.html_table): a cell reads as what it is — NULL as the
legend's placeholder, "" as blank, "/" as "/", 0 as 0 — untrusted text is escaped, links are only http(s) or
relative, numbers are right-aligned, and 报告详情's cells carry their registry key."""

from __future__ import annotations

import datetime as dt

import polars as pl
import streamlit as st

from pipeline.dashboard import html_table
from pipeline.dashboard.cell_table import block_html
from pipeline.dashboard.tables import official_table
from tests import shown_tables

EVIL = '<script>alert("x")</script><img src=x onerror=alert(1)>&amp;'


def one_table(body: str) -> dict:
    tables = shown_tables.parse(body)
    assert len(tables) == 1
    return tables[0]


def test_null_blank_slash_and_zero_stay_distinct() -> None:
    df = pl.DataFrame({"原文": [None, "", "/", "0"], "数值": [None, 0.0, 0.0, 0.0], "件数": [None, 0, 3, 12]})
    table = one_table(html_table.render(df))
    rows = table["rows"][1:]
    assert [c["text"] for c in rows[0]] == [html_table.NULL_TEXT] * 3
    assert all("null" in c["class"] for c in rows[0])
    assert [c["text"] for c in rows[1]] == ["", "0", "0"] and not any("null" in c["class"] for c in rows[1])
    assert rows[2][0]["text"] == "/" and rows[3][0]["text"] == "0"
    back = shown_tables.frame(table)
    assert back["原文"].to_list() == [None, "", "/", "0"]
    assert shown_tables.same_cells(back, df)
    # the placeholder is never a number: a NULL number and a 0 read differently
    assert back["件数"].to_list() == [None, "0", "3", "12"]


def test_untrusted_text_is_escaped_in_cells_and_headers() -> None:
    df = pl.DataFrame({EVIL: [EVIL], "机关": ["甲<b>乙</b>"]})
    body = html_table.render(df)
    assert "<script>" not in body and "<img" not in body and "<b>" not in body
    assert "&lt;script&gt;" in body and "&amp;amp;" in body
    back = shown_tables.frame(one_table(body))
    assert back.columns == [EVIL, "机关"]  # the text reads exactly as typed
    assert back.row(0) == (EVIL, "甲<b>乙</b>")


def test_links_are_safe_and_show_their_display_text() -> None:
    df = pl.DataFrame({"报告详情": ["report?report=12", "javascript:alert(1)", None],
                       "来源": ["https://example.gov.cn/a?b=1&c=2", "data:text/html,<x>", "/report?report=3"]})  # fmt: skip
    config = {"报告详情": st.column_config.LinkColumn(display_text=r"report=(\d+)$"),
              "来源": st.column_config.LinkColumn(display_text="查看")}  # fmt: skip
    table = one_table(html_table.render(df, config))
    rows = table["rows"][1:]
    assert (rows[0][0]["href"], rows[0][0]["text"]) == ("report?report=12", "12")
    assert rows[1][0]["href"] is None and rows[1][0]["text"] == "javascript:alert(1)"  # shown as text, not a link
    assert rows[2][0]["text"] == html_table.NULL_TEXT
    assert (rows[0][1]["href"], rows[0][1]["text"]) == ("https://example.gov.cn/a?b=1&c=2", "查看")
    assert rows[1][1]["href"] is None
    assert rows[2][1]["href"] == "/report?report=3"


def test_formats_and_alignment() -> None:
    df = pl.DataFrame({"年度": [2021], "公开率": [0.4], "比值": [1 / 3], "日期": [dt.date(2022, 1, 31)],
                       "按时": [True], "说明": ["文字"]})  # fmt: skip
    config = {"公开率": st.column_config.NumberColumn(format="percent")}
    table = one_table(html_table.render(df, config))
    header, row = table["rows"]
    assert [c["text"] for c in row] == ["2021", "40.0%", "0.3333", "2022-01-31", "true", "文字"]
    right = [h["text"] for h in header if "n" in h["class"].split()]
    assert right == ["年度", "公开率", "比值"]  # numbers right-aligned, text left


def test_official_block_cells_carry_their_key_and_the_picked_one_is_marked() -> None:
    facts = pl.DataFrame(
        {"key": ["t3.granted.natural_person", "t3.granted.commercial_enterprise", "t3.granted.total"],
         "value": [0.0, None, None], "raw": ["0", "/", ""], "status": ["ok", "null_marker", "blank"]}
    )  # fmt: skip
    (block,) = official_table("t3", "2021", None, facts, suspects=set(), derived={"t3.granted.total": 5.0})
    table = one_table(block_html(block, picked="t3.granted.total"))
    header, *rows = table["rows"]
    assert header[0]["text"] == "项目" and "总计" in [h["text"] for h in header]
    granted = next(r for r in rows if r[0]["text"] == "（一）予以公开")
    by_key = {c["key"]: c for c in granted if c["key"]}
    assert by_key["t3.granted.natural_person"]["text"] == "0"  # 0 is 0
    assert by_key["t3.granted.commercial_enterprise"]["text"] == "/"  # the null marker as printed
    assert by_key["t3.granted.total"]["text"] == "推 5"  # derived, and says so
    assert [k for k, c in by_key.items() if "picked" in c["class"]] == ["t3.granted.total"]
    assert all("n" in c["class"].split() for c in granted[1:])  # cell texts right-aligned
    blank = next(r for r in rows if r[0]["text"].startswith("（二）"))
    assert "空白" in [c["text"] for c in blank] or "未找到" in [c["text"] for c in blank]
