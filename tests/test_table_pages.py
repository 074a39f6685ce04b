"""A long table is shown a page at a time (``ui.table`` / ``ui.page_of``): what reaches the browser is one page,
the page box walks through every row, and a short table has no page box."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest


def _long_table_script() -> None:
    import polars as pl
    import streamlit as st

    from pipeline.dashboard import ui

    n = int(st.query_params.get("n", "2500"))
    ui.table(pl.DataFrame({"row": list(range(1, n + 1)), "value": [None if i % 7 == 0 else i * 2 for i in range(n)]}),
             {"row": "序号", "value": "数值"}, page_rows=1000)  # fmt: skip


def test_long_table_sends_one_page_and_pages_through_every_row() -> None:
    at = AppTest.from_function(_long_table_script, default_timeout=60).run()
    assert not at.exception
    shown = at.dataframe[0].value
    assert list(shown.columns) == ["序号", "数值"]
    assert len(shown) == 1000 and shown["序号"].iloc[0] == 1 and shown["序号"].iloc[-1] == 1000
    box = at.number_input[0]
    assert "2,500" in box.label and box.max == 3
    seen = list(shown["序号"])
    for number in (2, 3):
        box.set_value(number).run()
        shown = at.dataframe[0].value
        seen += list(shown["序号"])
    assert len(shown) == 500 and shown["序号"].iloc[-1] == 2500
    assert seen == list(range(1, 2501))  # every row once, in order
    assert shown["数值"].isna().sum() > 0  # blanks stay blank on a later page


def test_short_table_has_no_page_box() -> None:
    at = AppTest.from_function(_long_table_script, default_timeout=60)
    at.query_params["n"] = "1000"
    at.run()
    assert not at.exception
    assert len(at.dataframe[0].value) == 1000
    assert not at.number_input
