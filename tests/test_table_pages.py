"""A long table is shown a page at a time (``ui.table`` / ``ui.page_of``): what reaches the browser is one page,
the page box walks through every row, and a short table has no page box."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from tests import shown_tables


def _long_table_script() -> None:
    import polars as pl
    import streamlit as st

    from pipeline.dashboard import ui

    n = int(st.query_params.get("n", "2500"))
    rows = {} if st.query_params.get("default") else {"page_rows": 1000}
    ui.table(pl.DataFrame({"row": list(range(1, n + 1)), "value": [None if i % 7 == 0 else i * 2 for i in range(n)]}),
             {"row": "序号", "value": "数值"}, **rows)  # fmt: skip


def test_long_table_sends_one_page_and_pages_through_every_row() -> None:
    at = AppTest.from_function(_long_table_script, default_timeout=60).run()
    assert not at.exception
    shown = shown_tables.tables(at)[0]
    assert shown.columns == ["序号", "数值"]
    assert len(shown) == 1000 and shown["序号"][0] == "1" and shown["序号"][-1] == "1000"
    box = at.number_input[0]
    assert "2,500" in box.label and box.max == 3
    seen = list(shown["序号"])
    for number in (2, 3):
        box.set_value(number).run()
        shown = shown_tables.tables(at)[0]
        seen += list(shown["序号"])
    assert len(shown) == 500 and shown["序号"][-1] == "2500"
    assert seen == [str(i) for i in range(1, 2501)]  # every row once, in order
    assert shown["数值"].null_count() > 0  # blanks stay blank on a later page


def test_short_table_has_no_page_box() -> None:
    at = AppTest.from_function(_long_table_script, default_timeout=60)
    at.query_params["n"] = "1000"
    at.run()
    assert not at.exception
    assert len(shown_tables.tables(at)[0]) == 1000
    assert not at.number_input


def test_default_page_is_100_rows() -> None:
    """Without ``page_rows`` a static table shows 100 rows a page: a page's HTML costs the browser in proportion."""
    at = AppTest.from_function(_long_table_script, default_timeout=60)
    at.query_params["n"] = "250"
    at.query_params["default"] = "1"
    at.run()
    assert not at.exception
    assert len(shown_tables.tables(at)[0]) == 100 and at.number_input[0].max == 3


def test_the_explorer_pages_through_the_whole_long_table_in_the_order_chosen(monkeypatch, generated) -> None:
    """数据浏览与导出 reads one page of the long table at a time (:func:`pipeline.dashboard.ui.listing`): its page
    box walks through exactly the rows of the whole table — what the downloads hold — in the order chosen."""
    from pipeline.dashboard.tables import explorer_table
    from pipeline.filters import Filters
    from pipeline.metrics.explorer import explorer_long, sort_whole
    from pipeline.metrics.listing import Window
    from pipeline.store import Database
    from tests.dashboard_fixtures import open_page

    at = open_page(monkeypatch, generated, "explore", {"view": "long", "sort": "数值"})
    keys = at.multiselect(key="fields").value
    with Database(generated).cursor() as con:
        whole = explorer_table(sort_whole(explorer_long(con, Filters(), keys), Window(sort="value")), "long", keys)
    box = at.number_input[0]
    pages = int(box.max)
    assert f"{whole.frame.height:,}" in box.label and pages == -(-whole.frame.height // 100) > 2
    seen: list[tuple[str, str]] = []
    for number in range(1, pages + 1):
        if number > 1:
            at.number_input[0].set_value(number).run()
        shown = shown_tables.tables(at)[0]
        assert len(shown) == (100 if number < pages else whole.frame.height - 100 * (pages - 1))
        seen += list(zip(shown["报告编号"], shown["字段键"], strict=True))
    assert seen == [(str(r), k) for r, k in whole.frame.select("report_id", "key").iter_rows()]
