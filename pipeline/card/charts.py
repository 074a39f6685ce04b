"""The report card's charts for print, drawn with matplotlib (Agg, offline) as PNG at 200 dpi.

Plotly's static export (kaleido 1.x) needs a Chrome and took 5.7–8.1 s per figure here (Debian chromium); matplotlib
needs no browser and draws a chart in ≈ 0.4 s (docs/dashboard.md has the figures).  Both files (Word and PDF) get
the same PNGs.
"""

from __future__ import annotations

import io

import polars as pl

from pipeline.card.data import CHART_RATE, CardData
from pipeline.card.fonts import matplotlib_font
from pipeline.metrics.catalogue import metric

DPI = 200
GUARD_COLOR = "#b0b0b0"


def _figure(width: float = 6.6, height: float = 2.7):  # noqa: ANN202 - matplotlib types
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams["font.family"] = matplotlib_font()
    plt.rcParams["axes.unicode_minus"] = False
    fig, ax = plt.subplots(figsize=(width, height), dpi=DPI)
    ax.spines[["top", "right"]].set_visible(False)
    return plt, fig, ax


def _png(plt, fig) -> bytes:  # noqa: ANN001
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png", dpi=DPI)
    plt.close(fig)
    return buf.getvalue()


def rate_chart(card: CardData) -> bytes:
    """The agency's 公开率 by year against its peer group's pooled rate; a guarded year is a hollow grey point."""
    plt, fig, ax = _figure()
    row = next(r for r in card.rates if r.key == CHART_RATE)
    years = sorted(row.history)
    shown = [(y, v) for y in years for v, _n, _d, g in [row.history[y]] if v is not None and not g]
    guarded = [(y, v) for y in years for v, _n, _d, g in [row.history[y]] if v is not None and g]
    peers = card.peer_series.filter(pl.col("value").is_not_null()).sort("year")
    if shown:
        ax.plot([y for y, _ in shown], [v for _, v in shown], marker="o", color="#1f77b4", label=card.agency[:18])
    if guarded:
        ax.scatter([y for y, _ in guarded], [v for _, v in guarded], facecolors="none", edgecolors=GUARD_COLOR,
                   label=f"分母不足 {card.filters.min_n}（不作比较）")  # fmt: skip
    peer_ok = peers.filter(pl.col("denominator") >= card.filters.min_n)
    if not peer_ok.is_empty():
        ax.plot(peer_ok["year"].to_list(), peer_ok["value"].to_list(), linestyle="--", marker="s", color="#ff7f0e",
                label="同类机关（合计）")  # fmt: skip
    ax.set_title(f"{metric(CHART_RATE).name}：本机关与同类机关", fontsize=10)
    ax.yaxis.set_major_formatter(lambda v, _pos: f"{v:.0%}")
    all_years = sorted({*years, *peer_ok["year"].to_list()})
    if all_years:
        ax.set_xticks(all_years)
    ax.set_ylim(bottom=0)
    ax.legend(fontsize=7, frameon=False)
    if not shown and not guarded and peer_ok.is_empty():
        ax.text(0.5, 0.5, "没有可计算的数值", ha="center", va="center", transform=ax.transAxes)
    return _png(plt, fig)


def counts_chart(card: CardData) -> bytes:
    """The agency's headline counts by year (grouped bars; a missing year or a blank cell has no bar, never 0)."""
    plt, fig, ax = _figure()
    df = card.counts.filter(pl.col("value").is_not_null() & pl.col("year").is_not_null())
    keys = [k for k in ("count.t3.new_received.total", "count.t4.review.total", "count.t4.suit_direct.total")
            if k in df["metric"].to_list()]  # fmt: skip
    years = sorted(set(df["year"].to_list()))
    width = 0.8 / max(len(keys), 1)
    for i, key in enumerate(keys):
        part = dict(df.filter(pl.col("metric") == key).select("year", "value").iter_rows())
        xs = [y + (i - (len(keys) - 1) / 2) * width for y in years if y in part]
        ax.bar(xs, [part[y] for y in years if y in part], width=width,
               label=metric(key).name.split("「", 1)[-1].rstrip("」").replace(" / 总计", ""))  # fmt: skip
    ax.set_title("主要数量（件）", fontsize=10)
    from matplotlib.ticker import MaxNLocator

    ax.yaxis.set_major_locator(MaxNLocator(integer=True))  # counts: whole numbers on the axis
    if years:
        ax.set_xticks(years)
    ax.legend(fontsize=7, frameon=False)
    return _png(plt, fig)
