"""HTML reader: decoding, report-body detection, rowspan/colspan grids, blanks, titles (no matcher involved)."""

from __future__ import annotations

import codecs
from pathlib import Path

import pytest

from pipeline.model import Document, Row
from pipeline.readers import ReadError, read_document
from pipeline.readers.html import decode_html, read

FIXTURES = Path(__file__).parent / "fixtures" / "html"
TITLE = "杭州市西湖区市场监督管理局2021年政府信息公开工作年度报告"


def _read(html: str, encoding: str = "utf-8", name: str = "page.html") -> Document:
    return read(name, html.encode(encoding))


def _tables(doc: Document) -> dict[int, list[Row]]:
    out: dict[int, list[Row]] = {}
    for row in doc.rows:
        if row.table is not None:
            out.setdefault(row.table, []).append(row)
    return out


def _grid(rows: list[Row]) -> list[list[str]]:
    return [[c.text for c in r.cells] for r in rows]


def _spans(rows: list[Row]) -> list[list[bool]]:
    return [[c.spanned for c in r.cells] for r in rows]


def _page(body: str, head: str = '<meta charset="utf-8">') -> str:
    return f"<!DOCTYPE html><html><head>{head}<title>{TITLE}</title></head><body>{body}</body></html>"


# ------------------------------------------------------------------------------------------------ grids


def test_rowspan_colspan_grid():
    doc = _read(
        _page(
            "<table>"
            '<tr><td rowspan="2">甲</td><td colspan="2">乙</td></tr>'
            "<tr><td>1</td><td>2</td></tr>"
            "<tr><td>丙</td><td>3</td><td>4</td></tr>"
            "</table>"
        )
    )
    (rows,) = _tables(doc).values()
    assert _grid(rows) == [["甲", "乙", "乙"], ["甲", "1", "2"], ["丙", "3", "4"]]
    assert _spans(rows) == [[False, False, True], [True, False, False], [False, False, False]]
    cell = rows[1].cells[2]
    assert (cell.x0, cell.x1) == (2.0, 3.0)
    assert cell.loc == "表格 1 第 2 行 第 3 列"
    assert all(r.table == 1 for r in rows)
    assert [r.line for r in rows] == sorted(r.line for r in rows)


def test_template_t3_header_spans():
    """The 表三 header: a 3×3 corner cell, 申请人情况 over 7 columns, 法人或其他组织 over 5."""
    doc = _read(
        _page(
            "<table>"
            '<tr><td colspan="3" rowspan="3">（本列数据的勾稽关系为：…）</td><td colspan="7">申请人情况</td></tr>'
            '<tr><td rowspan="2">自然人</td><td colspan="5">法人或其他组织</td><td rowspan="2">总计</td></tr>'
            "<tr><td>商业企业</td><td>科研机构</td><td>社会公益组织</td><td>法律服务机构</td><td>其他</td></tr>"
            '<tr><td colspan="3">一、本年新收政府信息公开申请数量</td>'
            + "".join(f"<td>{n}</td>" for n in (5, 1, 0, 0, 2, 0, 8))
            + "</tr></table>"
        )
    )
    (rows,) = _tables(doc).values()
    assert all(len(r.cells) == 10 for r in rows)
    assert _grid(rows)[2][3:] == [
        "自然人",
        "商业企业",
        "科研机构",
        "社会公益组织",
        "法律服务机构",
        "其他",
        "总计",
    ]
    assert _spans(rows)[2][3] is True and _spans(rows)[2][9] is True
    assert [c.text for c in rows[3].cells if not c.spanned] == [
        "一、本年新收政府信息公开申请数量",
        "5",
        "1",
        "0",
        "0",
        "2",
        "0",
        "8",
    ]


@pytest.mark.parametrize(
    ("table", "expected"),
    [
        # rowspan past the last row: cut at the table's end, no phantom rows
        ('<tr><td rowspan="9">A</td><td>1</td></tr><tr><td>2</td></tr>', [["A", "1"], ["A", "2"]]),
        # colspan past the widest row: cut at the table's width
        (
            '<tr><td colspan="12">标题</td></tr><tr><td>a</td><td>b</td><td>c</td></tr>',
            [["标题"] * 3, ["a", "b", "c"]],
        ),
        # rowspan="0" spans to the end; junk span values count as 1
        (
            '<tr><td rowspan="0">L</td><td colspan="x">1</td></tr><tr><td>2</td></tr><tr><td>3</td></tr>',
            [["L", "1"], ["L", "2"], ["L", "3"]],
        ),
        # missing cells: padded with blanks
        ("<tr><td>a</td><td>b</td><td>c</td></tr><tr><td>d</td></tr>", [["a", "b", "c"], ["d", "", ""]]),
        # overlapping spans: the first cell keeps the slot, the later cell moves right (and its colspan past
        # the last column any cell starts in is cut)
        (
            '<tr><td rowspan="2">A</td><td>1</td></tr><tr><td colspan="2">B</td></tr>',
            [["A", "1"], ["A", "B"]],
        ),
        (
            '<tr><td rowspan="3">A</td><td>1</td><td>2</td></tr><tr><td colspan="2">B</td></tr><tr><td>3</td></tr>',
            [["A", "1", "2"], ["A", "B", "B"], ["A", "3", ""]],
        ),
        # th cells, thead/tbody/tfoot sections
        (
            "<thead><tr><th>h1</th><th>h2</th></tr></thead><tbody><tr><td>1</td><td>2</td></tr></tbody>",
            [["h1", "h2"], ["1", "2"]],
        ),
    ],
)
def test_malformed_spans(table, expected):
    doc = _read(_page(f"<table>{table}</table>"))
    (rows,) = _tables(doc).values()
    assert _grid(rows) == expected


def test_blank_cells_and_null_markers():
    doc = _read(
        _page(
            "<table><tr>"
            "<td>&nbsp;</td><td>\u3000\u3000</td><td>  \n </td><td><p><span>&nbsp;</span></p></td>"
            "<td>/</td><td>—</td><td>无</td><td> 1 2 </td><td>0</td>"
            "</tr><tr><td>a</td><td>b</td></tr></table>"
        )
    )
    (rows,) = _tables(doc).values()
    assert _grid(rows)[0] == ["", "", "", "", "/", "—", "无", "1 2", "0"]


def test_cell_text_joins_inline_runs_and_keeps_multiline_cells():
    doc = _read(
        _page(
            "<table><tr><td><span>科研</span><span>机构</span></td><td><p>22</p><p>（其中修订16件）</p></td>"
            "<td>结果<br>维持</td></tr><tr><td>1</td><td>2</td><td>3</td></tr></table>"
        )
    )
    (rows,) = _tables(doc).values()
    assert _grid(rows)[0][0] == "科研机构"
    assert _grid(rows)[0][1].startswith("22") and "（其中修订16件）" in _grid(rows)[0][1]
    assert _grid(rows)[0][2] == "结果 维持"


def test_nested_table_is_its_own_table():
    doc = _read(
        _page(
            "<p>正文</p><table><tr><td>外1</td><td>外2<table><tr><td>内1</td><td>内2</td></tr>"
            "<tr><td>内3</td><td>内4</td></tr></table></td></tr><tr><td>外3</td><td>外4</td></tr></table>"
        )
    )
    tables = _tables(doc)
    assert len(tables) == 2
    outer, inner = tables[1], tables[2]
    assert _grid(outer) == [["外1", "外2"], ["外3", "外4"]]
    assert _grid(inner) == [["内1", "内2"], ["内3", "内4"]]
    assert "内1" not in " ".join(c.text for r in outer for c in r.cells)


def test_layout_table_is_read_as_text():
    """A page laid out with a table: its cells are text blocks, the data table inside is a grid."""
    doc = _read(
        _page(
            '<table width="100%"><tr><td>栏目导航</td><td>'
            f"<h2>{TITLE}</h2><p>{'本机关认真贯彻落实《条例》。' * 30}</p>"
            "<table><tr><td>信息内容</td><td>本年制发件数</td></tr><tr><td>规章</td><td>3</td></tr></table>"
            "<p>五、存在的主要问题及改进情况</p></td></tr></table>"
        )
    )
    tables = _tables(doc)
    assert len(tables) == 1
    assert _grid(next(iter(tables.values()))) == [["信息内容", "本年制发件数"], ["规章", "3"]]
    texts = [r.text for r in doc.rows if r.table is None]
    assert texts[0] == TITLE
    assert "五、存在的主要问题及改进情况" in texts
    assert "栏目导航" not in doc.text  # outside the report body


# ------------------------------------------------------------------------------------------------ text and body


def test_blocks_and_br_become_lines():
    doc = _read(
        _page(
            f"<div><h1>{TITLE}</h1>前言<p>第一段<br>第二行</p>尾<div>块</div></div><table><tr><td>1</td><td>2</td></tr><tr><td>3</td><td>4</td></tr></table>"
        )
    )
    texts = [r.text for r in doc.rows if r.table is None]
    assert texts == [TITLE, "前言", "第一段", "第二行", "尾", "块"]
    assert doc.text.split("\n")[-2:] == ["1\t2", "3\t4"]
    assert all(r.cells[0].loc.startswith("第 ") for r in doc.rows if r.table is None)


def test_chrome_removed_and_title_found_on_real_page():
    doc = read_document(FIXTURES / "a_2021_xihu_scjg.html")
    assert doc.format == "html"
    assert doc.title == f"{TITLE}_杭州市西湖区人民政府"
    assert doc.rows[0].text == TITLE  # the body starts at the heading, not at the navigation
    for chrome in (
        "无障碍浏览",
        "当前位置",
        "政府信息公开指南",
        "网站标识码",
        "分享到",
        "相关信息",
        "document.write",
        "2020年政府信息公开工作年度报告",
        "请输入关键字",
        "浏览次数",
    ):
        assert chrome not in doc.text, chrome
    assert "六、其他需要报告的事项" in doc.text
    tables = _tables(doc)
    assert len(tables) == 3
    t2, t3, t4 = tables.values()
    assert len(t3) == 28 and all(len(r.cells) == 10 for r in t3)
    assert len(t4) == 4 and all(len(r.cells) == 15 for r in t4)
    # the rowspan group label is copied (spanned) onto every row of its group
    group = [r.cells[1] for r in t3 if r.cells[1].text == "（三）不予公开"]
    assert len(group) == 8 and [c.spanned for c in group] == [False] + [True] * 7
    # 表二's single-value rows: the value's colspan copies are marked spanned
    license_row = next(r for r in t2 if r.cells[0].text == "行政许可")
    assert [(c.text, c.spanned) for c in license_row.cells] == [
        ("行政许可", False),
        ("2856", False),
        ("2856", True),
        ("2856", True),
    ]


def test_report_title_beats_links_to_other_reports():
    related = "".join(
        f"<li><a href='#'>杭州市西湖区市场监督管理局{y}年政府信息公开工作年度报告</a></li>" for y in (2019, 2020)
    )
    html = (
        f"<html><head><meta charset='utf-8'></head><body><ul class='list'>{related}</ul>"
        f"<div><p class='bt'>{TITLE}</p><p>正文</p><table><tr><td>a</td><td>1</td></tr><tr><td>b</td><td>2</td></tr></table></div>"
        f"<div class='links'><ul>{related}</ul></div></body></html>"
    )
    doc = _read(html)
    assert doc.rows[0].text == TITLE
    assert "2019年" not in doc.text
    assert doc.title == TITLE  # no <title>: the report's own heading


def test_script_style_and_hidden_elements_ignored():
    doc = _read(
        _page(
            f"<h1>{TITLE}</h1><script>var t = '<p>脚本</p>';</script><style>p {{color: red}}</style>"
            "<noscript>请启用脚本</noscript><p style='display:none'>隐藏关键词</p><p>正文</p>"
            "<table><tr><td>a</td><td>1</td></tr><tr><td>b</td><td>2</td></tr></table>"
        )
    )
    assert [r.text for r in doc.rows if r.table is None] == [TITLE, "正文"]


def test_class_named_like_chrome_inside_table_is_kept():
    doc = _read(
        _page(
            f"<h1>{TITLE}</h1><table><tr><td class='header'>信息内容</td><td class='nav-cell'>本年制发件数</td></tr>"
            "<tr><td>规章</td><td>2</td></tr></table>"
        )
    )
    (rows,) = _tables(doc).values()
    assert _grid(rows) == [["信息内容", "本年制发件数"], ["规章", "2"]]


def test_whole_page_in_form_is_not_dropped():
    """ASP.NET pages wrap everything in <form>: chrome removal must keep the ancestors of the report."""
    doc = _read(
        _page(
            f"<form id='form1'><div class='nav'>首页</div><div class='content'><h1>{TITLE}</h1><p>正文</p>"
            "<table><tr><td>a</td><td>1</td></tr><tr><td>b</td><td>2</td></tr></table></div></form>"
        )
    )
    assert doc.rows[0].text == TITLE
    assert len(_tables(doc)) == 1
    assert "首页" not in doc.text


def test_traditional_and_pinyin_spam_cleaned():
    trad = _read(
        _page(
            "<h1>某區政府信息公開工作年度報告</h1><table><tr><td>結果維持</td><td>本年製發件數</td></tr><tr><td>1</td><td>2</td></tr></table>"
        )
    )
    assert trad.rows[0].text == "某区政府信息公开工作年度报告"
    assert _grid(next(iter(_tables(trad).values())))[0] == ["结果维持", "本年制发件数"]
    spam = _read(
        _page("<h1>某局政(zheng)府(fu)信(xin)息(xi)公(gong)开(kai)工作年(nian)度报(bao)告</h1><p>申(shen)请(qing)</p>")
    )
    assert [r.text for r in spam.rows] == ["某局政府信息公开工作年度报告", "申请"]


def test_not_a_report_and_empty_body_still_give_a_document():
    news = read_document(FIXTURES / "f_not_report_news.html")
    assert news.rows and "天河区召开2023年政务公开工作推进会" in news.text
    empty = _read("<html><head><title>空白页</title></head><body>  </body></html>")
    assert empty.rows == [] and empty.text == "" and empty.title == "空白页"
    frameset = _read("<html><head><title>框架</title></head><frameset><frame src='a.html'></frameset></html>")
    assert frameset.title == "框架"


# ------------------------------------------------------------------------------------------------ encodings

BODY = f"<h1>{TITLE}</h1><p>行政复议结果维持</p>"


def test_gbk_without_charset_decodes_as_gb18030():
    doc = read_document(FIXTURES / "b_2019_sichuan_zrzyt_gbk.html")
    assert doc.encoding == "gb18030"
    assert doc.rows[0].text == "四川省自然资源厅2020年政府信息公开工作年度报告"
    text, enc, _notes = decode_html(_page(BODY, head="").encode("gbk"))
    assert enc == "gb18030" and TITLE in text


@pytest.mark.parametrize(
    "head",
    [
        '<meta charset="gb2312">',
        '<meta http-equiv="Content-Type" content="text/html; charset=GBK">',
        "<meta http-equiv=content-type content='text/html;charset=gb18030'>",
    ],
)
def test_meta_charset_gb_family(head):
    html = _page(BODY + "<p>𠮷</p>", head=head)  # 𠮷: a four-byte GB18030 character, not in GBK
    doc = read("p.html", html.encode("gb18030"))
    assert doc.encoding == "gb18030"
    assert doc.rows[0].text == TITLE and doc.rows[-1].text == "𠮷"


def test_meta_charset_big5():
    html = '<html><head><meta charset="big5"></head><body><h1>某局政府資訊公開工作年度報告</h1></body></html>'
    doc = read("p.html", html.encode("big5"))
    assert doc.encoding == "big5hkscs"
    assert doc.rows[0].text == "某局政府资讯公开工作年度报告"


@pytest.mark.parametrize(
    ("bom_encoding", "expected"),
    [
        ("utf-8-sig", "utf-8-sig"),
        ("utf-16", "utf-16"),
        ("utf-16-le", "utf-16-le"),
        ("utf-16-be", "utf-16-be"),
    ],
)
def test_bom_and_utf16(bom_encoding, expected):
    data = _page(BODY).encode(bom_encoding)
    if bom_encoding == "utf-16-le":
        assert not data.startswith(codecs.BOM_UTF16_LE)
    doc = read("p.html", data)
    assert doc.encoding == expected
    assert doc.rows[0].text == TITLE
    assert "\ufeff" not in doc.text


def test_wrong_declarations():
    # a GB template header on a UTF-8 page: the bytes win
    doc = read("p.html", _page(BODY, head='<meta charset="gb2312">').encode("utf-8"))
    assert doc.encoding == "utf-8" and doc.rows[0].text == TITLE and doc.notes
    # a UTF-8 declaration on GBK bytes
    doc = read("p.html", _page(BODY, head='<meta charset="utf-8">').encode("gbk"))
    assert doc.encoding == "gb18030" and doc.rows[0].text == TITLE
    # a Western declaration on a Chinese page is a template mistake
    doc = read("p.html", _page(BODY, head='<meta charset="iso-8859-1">').encode("utf-8"))
    assert doc.encoding == "utf-8" and doc.rows[0].text == TITLE


def test_utf8_with_a_few_bad_bytes():
    data = _page(BODY).encode("utf-8").replace("行政复议".encode(), "行政复议".encode()[:-1] + b"\xff")
    doc = read("p.html", data)
    assert doc.encoding == "utf-8" and doc.rows[0].text == TITLE


def test_binary_junk_raises_read_error():
    junk = bytes(range(256)) * 40
    with pytest.raises(ReadError):
        read("junk.html", b"<html>" + junk)
