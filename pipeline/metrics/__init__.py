"""Metrics: the catalogue of counts and rates, the SQL that computes them, and the queries pages call.

- :mod:`pipeline.metrics.catalogue` — what each metric is (formula and denominator from the registry's labels);
- :mod:`pipeline.metrics.sql` — building blocks: selection, per-report cell pivot with derived totals, panels;
- :mod:`pipeline.metrics.aggregate` — per report, aggregated, year over year, the small-number guard;
- :mod:`pipeline.metrics.queries` — the named queries of the pages and ``xxgk metric``;
- :mod:`pipeline.metrics.records` — explorer, findings, report detail;
- :mod:`pipeline.metrics.options` — what the filter widgets offer: distinct values, agencies found by typing.
- :mod:`pipeline.metrics.named` — the register of named queries (every query a page runs on the filters).

Every query takes an open DuckDB connection and a :class:`~pipeline.filters.Filters` and returns polars.
"""

from pipeline.metrics.aggregate import (
    aggregate,
    drop_leading_empty_years,
    guard,
    per_report,
    with_missing_years,
)
from pipeline.metrics.catalogue import Metric, catalogue, cell_name, metric, outcome_groups, rate_metrics
from pipeline.metrics.change import yoy
from pipeline.metrics.coverage import CoverageGrid, coverage_by_year, coverage_grid, coverage_matrix
from pipeline.metrics.explorer import (
    DERIVED_SUFFIX,
    EXPLORER_REPORT_COLUMNS,
    explorer_long,
    explorer_long_page,
    explorer_wide,
    explorer_wide_page,
)
from pipeline.metrics.listing import Listing, Window
from pipeline.metrics.options import (
    SEARCH_LIMIT,
    agency_reports,
    filter_options,
    has_unnamed_reports,
    known_agencies,
    search_agencies,
    selection_years,
)
from pipeline.metrics.queries import (
    BY_OPTIONS,
    HEADLINE_KEYS,
    agency_series,
    applicants_by_year,
    backlog_by_year,
    by_agency_type,
    by_region,
    chosen_reports,
    correction_rates_by_year,
    headline_by_year,
    headline_series,
    litigation_by_year,
    metric_table,
    outcome_shares_by_year,
    outcomes_by_year,
    overview_counts,
    panel_size,
    peer_groups,
    peer_ranking,
    publication_by_year,
    selected_reports,
    synthetic_share,
    top_agencies,
)
from pipeline.metrics.records import (
    failed_files,
    findings_by_rule,
    findings_list,
    report_choices,
    report_detail,
    sources_summary,
)
from pipeline.metrics.sql import REASONS

__all__ = [
    "BY_OPTIONS", "DERIVED_SUFFIX", "EXPLORER_REPORT_COLUMNS", "HEADLINE_KEYS", "REASONS", "SEARCH_LIMIT", "Metric", "agency_reports",
    "agency_series", "aggregate", "applicants_by_year", "backlog_by_year", "by_agency_type", "by_region", "chosen_reports",
    "CoverageGrid", "catalogue", "cell_name", "correction_rates_by_year", "coverage_by_year", "coverage_grid", "coverage_matrix", "drop_leading_empty_years",
    "explorer_long", "explorer_long_page", "explorer_wide", "explorer_wide_page", "Listing", "Window", "failed_files", "filter_options", "findings_by_rule", "findings_list",
    "guard", "has_unnamed_reports", "headline_by_year", "known_agencies", "headline_series", "litigation_by_year", "metric", "metric_table",
    "outcome_groups", "outcome_shares_by_year", "outcomes_by_year", "overview_counts", "panel_size",
    "peer_groups", "peer_ranking", "per_report", "publication_by_year", "rate_metrics", "report_choices",
    "report_detail", "search_agencies", "selected_reports", "selection_years", "sources_summary", "synthetic_share", "top_agencies",
    "with_missing_years", "yoy",
]  # fmt: skip
