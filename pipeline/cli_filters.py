"""The dashboard's filters as command-line options, shared by the subcommands that take them (search, reuse)."""

from __future__ import annotations

from typing import Annotated

import typer

from pipeline.filters import QUALITY_LABELS, Filters

YearOpt = Annotated[list[int] | None, typer.Option("--year", help="年度（可重复）")]
ProvinceOpt = Annotated[str | None, typer.Option("--province", help="省份")]
CityOpt = Annotated[str | None, typer.Option("--city", help="市（地区）")]
CountyOpt = Annotated[str | None, typer.Option("--county", help="区县")]
LevelOpt = Annotated[list[str] | None, typer.Option("--level", help="行政层级（可重复）")]
TypeOpt = Annotated[list[str] | None, typer.Option("--type", help="机关类型（可重复）")]
AgencyOpt = Annotated[list[str] | None, typer.Option("--agency", help="机关（可重复）")]
EditionOpt = Annotated[list[str] | None, typer.Option("--edition", help="报告格式版本 2019 / 2021 / legacy（可重复）")]
QualityOpt = Annotated[str, typer.Option("--quality", help="all / pass / fail")]
FormatOpt = Annotated[str, typer.Option("--format", help="table / csv / json")]
FORMATS = ("table", "csv", "json")


def make_filters(
    year: list[int] | None, province: str | None, city: str | None, county: str | None, level: list[str] | None,
    agency_type: list[str] | None, agency: list[str] | None, edition: list[str] | None, quality: str,
) -> Filters:  # fmt: skip
    """A :class:`Filters` from the options (unknown quality or format values are a usage error)."""
    if quality not in QUALITY_LABELS:
        raise typer.BadParameter(f"--quality 应为 {' / '.join(QUALITY_LABELS)}")
    return Filters(
        years=tuple(sorted(set(year or ()))), province=province, city=city, county=county,
        levels=tuple(level or ()), agency_types=tuple(agency_type or ()), agencies=tuple(agency or ()),
        editions=tuple(edition or ()), quality=quality,  # type: ignore[arg-type]
    )  # fmt: skip


def check_format(fmt: str) -> str:
    if fmt not in FORMATS:
        raise typer.BadParameter(f"--format 应为 {' / '.join(FORMATS)}")
    return fmt
