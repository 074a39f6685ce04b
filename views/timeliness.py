"""发布时效: on time / late / unknown per report against the legal deadline (31 January of the following year, 条例
第五十条), with the source of each date; and the agencies that have not (yet) published a year's report."""

from collections.abc import Callable

import plotly.express as px
import plotly.graph_objects as go
import polars as pl
import streamlit as st

from pipeline import export
from pipeline.dashboard import charts, ui
from pipeline.dashboard.data import db_path, query, run_query
from pipeline.labels import TIMELINESS_LABELS
from pipeline.metrics.timeliness import (
    MISSING_LABELS,
    REPORT_LABELS,
    dictionary,
    expected_years,
    for_people,
    not_published,
    not_published_page,
    timeliness_by_year,
    timeliness_page,
    timeliness_reports,
)

STATUS_COLOURS = {"按时": "#2e7d32", "逾期": "#c62828", "发布日期不详": "#9e9e9e"}


@charts.figure_cache
def status_figure(by_year: pl.DataFrame) -> go.Figure:
    long = by_year.unpivot(index="year", on=["on_time", "late", "unknown"], variable_name="status", value_name="n")
    long = long.with_columns(pl.col("status").replace_strict(TIMELINESS_LABELS))
    fig = px.bar(long, x="year", y="n", color="status", title="各年度报告是否按时发布（份）",
                 color_discrete_map=STATUS_COLOURS, category_orders={"status": list(STATUS_COLOURS)},
                 labels={"n": "份数", "status": ""})  # fmt: skip
    charts.year_axis(fig, by_year["year"].to_list())
    return charts.style(fig, height=340)


def downloads(whole: Callable[[], pl.DataFrame], labels: dict[str, str], kind: str, key: str) -> None:
    """Download buttons of a whole list; ``whole`` builds it when a button is clicked."""
    used = filters.describe()

    def xlsx() -> bytes:
        df = whole()
        return export.to_xlsx_bytes(for_people(df), labels, dictionary(df, labels), used)

    c1, c2 = st.columns(2)
    c1.download_button("下载 CSV（Excel 可直接打开）", lambda: export.to_csv_bytes(for_people(whole()), labels),
                       export.file_name(kind, filters.years, "csv"), mime="text/csv", key=f"{key}_csv",
                       on_click="ignore")  # fmt: skip
    c2.download_button("下载 XLSX（含说明与筛选条件）", xlsx,
                       export.file_name(kind, filters.years, "xlsx"),
                       mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", key=f"{key}_xlsx",
                       on_click="ignore")  # fmt: skip


filters = ui.page_start("timeliness")
if filters is None:
    st.stop()
st.caption(
    "法定期限：《政府信息公开条例》第五十条，每年 1 月 31 日前公布上一年度的年度报告。发布日期依次取自：清单登记、网页标注的"
    "发布时间（含网页元数据 PubDate）、文件属性的创建时间（PDF CreationDate / Word 创建时间）。文件创建时间只说明报告"
    "不早于该日发布：据此判为「逾期」是确定的，判为「按时」仅供参考。没有可信日期的报告记为「发布日期不详」，不作判断。"
)

st.subheader("按年度统计")
by_year = query(timeliness_by_year, filters)
if by_year.is_empty():
    st.info("所选范围内没有报告。")
else:
    charts.chart(status_figure(by_year))
    ui.table(
        by_year.with_columns(pl.when(pl.col("guarded")).then(None).otherwise(pl.col("on_time_share"))
                             .alias("on_time_share")).select(
            "year", "n_reports", "on_time", "late", "unknown", "on_time_share", "median_days_late", "from_manifest",
            "from_page", "from_document", "guarded"),
        {"year": "年度", "n_reports": "报告数", "on_time": "按时", "late": "逾期", "unknown": "发布日期不详",
         "on_time_share": "按时率（有日期的报告中）", "median_days_late": "逾期天数中位数", "from_manifest": "日期来自清单",
         "from_page": "日期来自网页", "from_document": "日期来自文件属性", "guarded": "小数字保护"},
        column_config={"按时率（有日期的报告中）": st.column_config.NumberColumn(format="percent")},
    )  # fmt: skip
    st.caption(f"按时率 = 按时 ÷（按时 + 逾期）；有日期的报告少于 {filters.min_n} 份时不显示（小数字保护）。")

st.subheader("各报告的发布日期")
status = ui.synced(st.segmented_control, "显示", ["late", "unknown", "on_time"], key="tl_status",
                   format_func=TIMELINESS_LABELS.get)  # fmt: skip
# read a page at a time (a national store lists a million reports); the downloads read the whole list
found = ui.listing(timeliness_page, filters, status, key="tl_reports")
page_shown = for_people(found.rows.select(list(REPORT_LABELS)))
ui.table(
    page_shown.with_columns(("card?card_agency=" + pl.col("agency").fill_null("") + "&card_year="
                        + pl.col("year").cast(pl.String)).alias("card")).select("card", *REPORT_LABELS),
    {**REPORT_LABELS, "card": "报告卡"},
    column_config={"报告卡": st.column_config.LinkColumn(display_text="报告卡"),
                   "发布日期": st.column_config.DateColumn(format="YYYY-MM-DD"),
                   "法定期限": st.column_config.DateColumn(format="YYYY-MM-DD")},
    height=380,
)  # fmt: skip
downloads(lambda: run_query(db_path(), timeliness_reports, filters, (status,)).select(list(REPORT_LABELS)),
          REPORT_LABELS, "发布时效", "tl_reports")  # fmt: skip

st.subheader("尚未发布（缺报）名单")
years = query(expected_years, filters)
if not years:
    st.info("所选范围内没有可比较的年度。")
    st.stop()
ui.checked_param("tl_year", "缺报年度", years)
year = st.selectbox("年度", years, key="tl_year", bind=ui.BIND)
st.caption(
    f"所选机关中，{year} 年之前有过报告、但没有 {year} 年报告的机关（不受左侧年度筛选限制；机关名称改变时按旧名称列出）。"
)
missing = ui.listing(not_published_page, filters, int(year), key="tl_missing")
if missing.total == 0:
    st.success(f"所选机关都已发布 {year} 年的报告。")
else:
    st.text(f"{missing.total:,} 个机关尚未发布 {year} 年报告。")
    ui.table(missing.rows.select(list(MISSING_LABELS)), MISSING_LABELS, height=380)
    downloads(lambda: run_query(db_path(), not_published, filters, (int(year),)).select(list(MISSING_LABELS)),
              MISSING_LABELS, f"缺报名单_{year}", "tl_missing")  # fmt: skip
