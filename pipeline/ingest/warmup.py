"""Warm the parser once in the forkserver, so every worker forked from it starts with warm caches.

Imported by the forkserver of :mod:`pipeline.ingest.workers` (``set_forkserver_preload``): it parses three tiny
reports (a tab-separated text, a text whose cells ran together, a web page), which loads the region index and the
readers' lazily imported modules, compiles the patterns and fills the registry and label caches.  Without it every
new worker pays that (≈ 0.2 s of CPU) on its first file — per worker and per ingest.  Nothing is written, and a
failure here only means cold workers: it never stops an ingest.
"""

from __future__ import annotations

import contextlib

_TEXT = """沈阳市司法局2023年政府信息公开工作年度报告
一、总体情况
二、主动公开政府信息情况
第二十条第（一）项
信息内容\t本年制发件数\t本年废止件数\t现行有效件数
规章\t0\t0\t0
行政规范性文件\t1\t0\t3
三、收到和处理政府信息公开申请情况
（本列数据的勾稽关系为：第一项加第二项之和，等于第三项加第四项之和）\t申请人情况
\t自然人\t法人或其他组织\t\t\t\t\t总计
\t\t商业企业\t科研机构\t社会公益组织\t法律服务机构\t其他
一、本年新收政府信息公开申请数量\t2\t0\t0\t0\t0\t0\t2
二、上年结转政府信息公开申请数量\t0\t0\t0\t0\t0\t0\t0
四、政府信息公开行政复议、行政诉讼情况
行政复议\t行政诉讼
结果维持\t结果纠正\t其他结果\t尚未审结\t总计
0\t0\t0\t0\t0\t0\t0\t0\t0\t0\t0\t0\t0\t0\t0
"""

_GLUED = """大连市公安局2022年政府信息公开工作年度报告
三、收到和处理政府信息公开申请情况
一、本年新收政府信息公开申请数量12000012
二、上年结转政府信息公开申请数量0000000
"""

_HTML = """<html><head><meta charset="utf-8"><title>鞍山市自然资源局2021年政府信息公开工作年度报告</title></head>
<body><h1>鞍山市自然资源局2021年政府信息公开工作年度报告</h1><p>二、主动公开政府信息情况</p>
<table><tr><td>信息内容</td><td>本年制发件数</td><td>本年废止件数</td><td>现行有效件数</td></tr>
<tr><td>规章</td><td>0</td><td>0</td><td>0</td></tr></table>
<p>三、收到和处理政府信息公开申请情况</p><table>
<tr><td colspan="2" rowspan="3">（本列数据的勾稽关系为：第一项加第二项之和，等于第三项加第四项之和）</td>
<td colspan="7">申请人情况</td></tr>
<tr><td rowspan="2">自然人</td><td colspan="5">法人或其他组织</td><td rowspan="2">总计</td></tr>
<tr><td>商业企业</td><td>科研机构</td><td>社会公益组织</td><td>法律服务机构</td><td>其他</td></tr>
<tr><td colspan="2">一、本年新收政府信息公开申请数量</td><td>3</td><td>0</td><td>0</td><td>0</td><td>0</td><td>0</td>
<td>3</td></tr></table></body></html>
"""


def warm_up() -> int:
    """Parse the three tiny reports; returns how many were parsed."""
    from pipeline.parse import parse_file

    docs = (("warmup/report.txt", _TEXT), ("warmup/glued.txt", _GLUED), ("warmup/report.html", _HTML))
    for name, text in docs:
        parse_file(name, text.encode("utf-8"))
    return len(docs)


with contextlib.suppress(Exception):  # a warm-up failure must never stop an ingest
    warm_up()
