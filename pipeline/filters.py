"""The dashboard's global filter: one value object that maps to the URL query string and to a SQL WHERE clause.

The sidebar widgets are bound to the query string (``bind="query-params"``) under the names in :data:`PARAMS`,
so a copied link reopens the same view.  :class:`Filters` is the single place that knows how a filter turns into
SQL: every value is passed to DuckDB as a bound parameter (``$f_…``), never pasted into the query text.

Two settings travel with the selection without narrowing it: ``panel`` (trends and year-over-year changes over the
same agencies, or over all reports) and ``min_n`` (the small-number guard: a rate whose denominator is below it is
not shown as a number).  :func:`unrecognised` names the values of a link (or of ``xxgk metric`` options) that match
nothing, so a page can say what it ignored instead of silently showing national totals.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from typing import Any, Literal, cast

Quality = Literal["all", "pass", "fail"]
Panel = Literal["matched", "all"]

QUALITY_LABELS: dict[str, str] = {
    "all": "全部报告",
    "pass": "仅通过全部硬性校验的报告",
    "fail": "仅未通过硬性校验的报告",
}

PANEL_LABELS: dict[str, str] = {
    "matched": "同一批机关（逐年可比）",
    "all": "全部报告",
}
DEFAULT_MIN_N = 10
MAX_MIN_N = 1_000_000

# Filters attribute → query-string parameter (also the Streamlit widget key; bound widgets use their key).
PARAMS: dict[str, str] = {
    "years": "year",
    "province": "province",
    "city": "city",
    "county": "county",
    "levels": "level",
    "agency_types": "type",
    "agencies": "agency",
    "editions": "edition",
    "quality": "quality",
    "panel": "panel",
    "min_n": "min_n",
}

# Human labels of the filters (sidebar and the "filters used" sheet of exports).
LABELS: dict[str, str] = {
    "years": "年度",
    "province": "省份",
    "city": "市（地区）",
    "county": "区县",
    "levels": "行政层级",
    "agency_types": "机关类型",
    "agencies": "机关",
    "editions": "报告格式版本",
    "quality": "数据质量",
    "panel": "比较口径",
    "min_n": "最少分母（小数字保护）",
}


@dataclass(frozen=True, slots=True)
class Filters:
    """The global selection. Empty tuples / None mean "no restriction"."""

    years: tuple[int, ...] = ()
    province: str | None = None
    city: str | None = None
    county: str | None = None
    levels: tuple[str, ...] = ()
    agency_types: tuple[str, ...] = ()
    agencies: tuple[str, ...] = ()
    editions: tuple[str, ...] = ()
    quality: Quality = "all"
    panel: Panel = "matched"
    min_n: int = DEFAULT_MIN_N
    # A region's summary report (reports.is_summary) repeats its members' numbers, so every sum, rate, trend and
    # ranking leaves it out (a left-out reason of its own, pipeline.metrics.aggregate) unless this is set; lists of
    # reports show it whatever this says (Filters.where(for_sums=…)).  Not a sidebar filter and not in the URL.
    include_summaries: bool = False

    # -- construction ---------------------------------------------------------------------------------------
    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> Filters:
        """Build from widget values keyed by :data:`PARAMS` names (``st.session_state`` or a plain dict)."""

        def many(name: str) -> tuple[Any, ...]:
            value = state.get(PARAMS[name])
            if value is None or value == "":
                return ()
            if isinstance(value, str | int):
                value = [value]
            return tuple(value)

        def one(name: str) -> str | None:
            value = state.get(PARAMS[name])
            return str(value) if value not in (None, "") else None

        quality = str(state.get(PARAMS["quality"]) or "all")
        panel = str(state.get(PARAMS["panel"]) or "matched")
        min_n = parse_min_n(state.get(PARAMS["min_n"]))
        return cls(
            years=tuple(sorted({int(y) for y in many("years") if _is_year(y)})),
            province=one("province"),
            city=one("city"),
            county=one("county"),
            levels=tuple(str(v) for v in many("levels")),
            agency_types=tuple(str(v) for v in many("agency_types")),
            agencies=tuple(str(v) for v in many("agencies")),
            editions=tuple(str(v) for v in many("editions")),
            quality=cast(Quality, quality if quality in QUALITY_LABELS else "all"),
            panel=cast(Panel, panel if panel in PANEL_LABELS else "matched"),
            min_n=DEFAULT_MIN_N if min_n is None else min_n,
        )

    @classmethod
    def from_query(cls, query: Mapping[str, str | Iterable[str]]) -> Filters:
        """Parse a query-string mapping (values a string or a list of repeated values)."""
        state: dict[str, Any] = {}
        for name, param in PARAMS.items():
            if param not in query:
                continue
            raw = query[param]
            given = [v for v in ([raw] if isinstance(raw, str) else list(raw)) if v != ""]
            values: list[Any] = [int(v) for v in given if _is_year(v)] if name == "years" else given
            state[param] = values if _is_multi(name) else (values[-1] if values else None)
        return cls.from_state(state)

    # -- output ---------------------------------------------------------------------------------------------
    def to_query(self) -> dict[str, list[str]]:
        """The query-string form (only non-default filters), as repeated values."""
        out: dict[str, list[str]] = {}
        for name, param in PARAMS.items():
            value = getattr(self, name)
            if name == "quality":
                if value != "all":
                    out[param] = [value]
            elif name == "panel":
                if value != "matched":
                    out[param] = [value]
            elif name == "min_n":
                if value != DEFAULT_MIN_N:
                    out[param] = [str(value)]
            elif _is_multi(name):
                if value:
                    out[param] = [str(v) for v in value]
            elif value is not None:
                out[param] = [value]
        return out

    def describe(self) -> list[tuple[str, str]]:
        """(label, value) pairs in Chinese for the 'filters used' sheet and captions."""
        rows = []
        for name in PARAMS:
            value = getattr(self, name)
            if name == "quality":
                text = QUALITY_LABELS[value]
            elif name == "panel":
                text = PANEL_LABELS[value]
            elif name == "min_n":
                text = f"比率的分母小于 {value} 时不显示比率"
            elif _is_multi(name):
                text = "、".join(str(v) for v in value) if value else "全部"
            else:
                text = value if value is not None else "全部"
            rows.append((LABELS[name], text))
        return rows

    @property
    def key(self) -> tuple[Any, ...]:
        """A hashable, order-stable key for caches."""
        return tuple(getattr(self, f.name) for f in fields(self))

    def where(self, alias: str = "r", current_only: bool = True, for_sums: bool = False) -> tuple[str, dict[str, Any]]:
        """SQL condition on the ``reports`` table (aliased ``alias``) and its bound parameters.

        Restricted to current report versions unless ``current_only`` is false: replaced versions are history,
        shown on 报告详情 only.  ``for_sums``: the reports a sum is taken over — summary reports left out unless
        :attr:`include_summaries` (a list of reports shows them).
        """
        a = alias
        clauses = [f"{a}.is_current" if current_only else "true"]
        params: dict[str, Any] = {}
        if self.years:
            clauses.append(f"list_contains($f_years, {a}.year)")
            params["f_years"] = list(self.years)
        for name, column in (("province", "province"), ("city", "city"), ("county", "county")):
            value = getattr(self, name)
            if value is not None:
                clauses.append(f"{a}.{column} = $f_{name}")
                params[f"f_{name}"] = value
        for name, column in (
            ("levels", "level"),
            ("agency_types", "agency_type"),
            ("agencies", "agency"),
            ("editions", "edition"),
        ):
            value = getattr(self, name)
            if value:
                clauses.append(f"list_contains($f_{name}, {a}.{column})")
                params[f"f_{name}"] = list(value)
        if for_sums and not self.include_summaries:
            clauses.append(f"NOT coalesce({a}.is_summary, false)")
        if self.quality == "pass":
            clauses.append(f"{a}.n_errors = 0")
        elif self.quality == "fail":
            clauses.append(f"{a}.n_errors > 0")
        return " AND ".join(clauses), params


def _is_year(value: Any) -> bool:
    """A plausible statistical year (four digits): anything else in a link is ignored, never sent to SQL."""
    text = str(value).strip()
    return text.isascii() and text.isdigit() and len(text) == 4


def _is_multi(name: str) -> bool:
    return name in ("years", "levels", "agency_types", "agencies", "editions")


def parse_min_n(value: Any) -> int | None:
    """The guard from a link or a widget: a whole number 0 … 10⁶, else None ("inf", "-1", "abc", "1e400")."""
    if value is None or value == "":
        return None
    if isinstance(value, list | tuple):
        value = value[-1] if value else None
    try:
        number = float(str(value).strip())
    except ValueError:
        return None
    if number != number or number in (float("inf"), float("-inf")) or not 0 <= number <= MAX_MIN_N:
        return None
    return int(number) if float(int(number)) == number else None


def unrecognised(query: Mapping[str, str | Iterable[str]], options: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(filter label, value) for every value in ``query`` (URL parameters) that matches no known option.

    ``options`` is :func:`pipeline.metrics.filter_options`: the years, provinces, levels, agency types and editions
    of the current reports, their (province, city, county) triples and, of the agencies, those of ``query`` that
    exist (never the list of every agency).  A city or county is checked against the chosen province / city.
    """

    def values(param: str) -> list[str]:
        raw = query.get(param)
        if raw is None:
            return []
        return [str(v) for v in ([raw] if isinstance(raw, str) else list(raw)) if str(v) != ""]

    out: list[tuple[str, str]] = []
    known_years = {str(y) for y in options.get("year", [])}
    out += [(LABELS["years"], v) for v in values("year") if v not in known_years]
    regions = options.get("regions", [])
    province = next(reversed(values("province")), None)
    city = next(reversed(values("city")), None)
    if province is not None and province not in set(options.get("province", [])):
        out.append((LABELS["province"], province))
    if city is not None and not any(p == province and c == city for p, c, _ in regions):
        out.append((LABELS["city"], city))
    for county in values("county")[-1:]:
        if not any(p == province and c == city and co == county for p, c, co in regions):
            out.append((LABELS["county"], county))
    for name, option in (("levels", "level"), ("agency_types", "agency_type"), ("agencies", "agency"),
                         ("editions", "edition")):  # fmt: skip
        known = {str(v) for v in options.get(option, [])}
        out += [(LABELS[name], v) for v in values(PARAMS[name]) if v not in known]
    out += [(LABELS["quality"], v) for v in values("quality")[-1:] if v not in QUALITY_LABELS]
    out += [(LABELS["panel"], v) for v in values("panel")[-1:] if v not in PANEL_LABELS]
    out += [(LABELS["min_n"], v) for v in values("min_n")[-1:] if parse_min_n(v) is None]
    return out
