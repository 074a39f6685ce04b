"""The validator: every finding about the numbers, one report at a time or across years.

- :mod:`~pipeline.validator.arithmetic`: the template's own arithmetic (T3-1, T3-2, T3-3, T4-1) and type rules
  (TYPE, OCR) over one report's facts;
- :mod:`~pipeline.validator.report`: the other findings about one report (LEGACY, MIXED_TEMPLATE, META, NARRATIVE,
  RANGE) and :func:`report_findings`, which runs them all;
- :mod:`~pipeline.validator.cross_year`: XY-1 and XY-2, in SQL over the store's current reports (imported by the
  store, not here: parsing never loads the database libraries).

The matcher's own findings (LAYOUT, EXTRA_ROW, …: where it could not place a value) stay with the matcher.
"""

from pipeline.validator.arithmetic import APPLICANT_COLUMNS, FLOW_ROWS, t3_outcome_rows, validate
from pipeline.validator.report import (
    LEGACY_LAST_YEAR,
    RULE_META,
    RULE_RANGE,
    is_legacy,
    is_storable,
    legacy_finding,
    meta_findings,
    narrative_findings,
    range_findings,
    report_findings,
)

__all__ = [
    "APPLICANT_COLUMNS",
    "FLOW_ROWS",
    "LEGACY_LAST_YEAR",
    "RULE_META",
    "RULE_RANGE",
    "is_legacy",
    "is_storable",
    "legacy_finding",
    "meta_findings",
    "narrative_findings",
    "range_findings",
    "report_findings",
    "t3_outcome_rows",
    "validate",
]
