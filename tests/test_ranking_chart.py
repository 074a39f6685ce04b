"""A peer group of a national store holds thousands of agencies (one bar each would be a chart metres tall that the
browser takes seconds to draw): the ranking chart draws the best-ranked and every chosen agency."""

from __future__ import annotations

import polars as pl

from pipeline.dashboard.charts import top_ranked


def test_the_chart_keeps_the_best_ranked_and_every_chosen_agency() -> None:
    ranking = pl.DataFrame(
        {
            "agency": [f"机关{i}" for i in range(1, 8)],
            "rank": [3, 1, None, 1, 2, 5, None],  # ties share a rank; a guarded agency has none
            "value": [0.5, 0.9, 0.4, 0.8, 0.7, 0.1, None],
            "chosen": [False, False, False, False, False, True, True],
        }
    )
    shown = top_ranked(ranking, 3)
    assert shown["agency"].to_list() == ["机关2", "机关4", "机关5", "机关6", "机关7"]
    assert top_ranked(ranking, 10).height == 7  # a small group: every row, each once
    assert top_ranked(ranking.with_columns(chosen=pl.lit(False)), 2)["agency"].to_list() == ["机关2", "机关4"]
