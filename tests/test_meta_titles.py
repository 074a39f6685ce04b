"""Metadata from real titles: functional zones (综合实验区, 新区, 开发区, 园区), sub-district offices, departments
whose title names only the department, and reports saved without their title."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.parse import parse_file

TABS = Path(__file__).parent / "fixtures" / "variants" / "v1_pdf_tabs_spaced.txt"
TITLE = "营口市生态环境局 2022 年政府信息 公开工作年度报告"


def _with_title(tmp_path: Path, title: str, body_name: str | None = None):
    text = TABS.read_text(encoding="utf-8")
    assert text.startswith(TITLE)
    text = text.replace(TITLE, title, 1)
    text = text.replace("营口市生态环境局", body_name or "本机关")
    p = tmp_path / "r.txt"
    p.write_text(text, encoding="utf-8")
    return parse_file(p).meta


@pytest.mark.parametrize(
    ("title", "agency", "region", "level", "kind"),
    [
        (
            "平潭综合实验区2022年度政府信息公开工作年度报告",
            "平潭综合实验区",
            ("福建省", "平潭综合实验区", None),
            "市级",
            "人民政府",
        ),
        (
            "南京江北新区管理委员会2022年政府信息公开工作年度报告",
            "南京江北新区管理委员会",
            ("江苏省", "南京市", None),
            "市级",
            "人民政府",
        ),
        (
            "苏州工业园区管委会2022年政府信息公开工作年度报告",
            "苏州工业园区管委会",
            ("江苏省", "苏州市", None),
            "市级",
            "人民政府",
        ),
        (
            "淮安市洪泽区高良涧街道办事处2022年政府信息公开工作年度报告",
            "淮安市洪泽区高良涧街道办事处",
            ("江苏省", "淮安市", "洪泽区"),
            "乡镇",
            "乡镇街道",
        ),
        (
            "上海市浦东新区2022年政府信息公开工作年度报告",
            "上海市浦东新区",
            ("上海市", None, "浦东新区"),
            "县级",
            "人民政府",
        ),
    ],
)
def test_zone_and_township_titles(tmp_path, title, agency, region, level, kind):
    meta = _with_title(tmp_path, title)
    assert (meta.agency, (meta.province, meta.city, meta.county), meta.level, meta.agency_type) == (
        agency,
        region,
        level,
        kind,
    )
    assert meta.year == 2022


def test_department_title_qualified_from_the_body(tmp_path):
    """Title "财政局2022年…"; the body writes "阜新市财政局": the agency is 阜新市财政局, in 辽宁省阜新市."""
    meta = _with_title(tmp_path, "财政局2022年政府信息公开工作年度报告", body_name="阜新市财政局")
    assert (meta.agency, meta.province, meta.city, meta.agency_type) == ("阜新市财政局", "辽宁省", "阜新市", "财政")


def test_title_missing_agency_from_how_the_text_names_itself(tmp_path):
    text = TABS.read_text(encoding="utf-8").split("\n", 1)[1]
    text = text.replace(
        "如对本报告有疑问，请与营口市生态环境局办公室联系。", "我局认真贯彻营口市生态环境局年度工作部署。"
    )
    p = tmp_path / "r.txt"
    p.write_text(text, encoding="utf-8")
    meta = parse_file(p).meta
    assert (meta.agency, meta.year, meta.city) == ("营口市生态环境局", 2022, "营口市")


def test_ocr_misread_division_in_the_title(tmp_path):
    meta = _with_title(tmp_path, "沐阳县人民政府2022年政府信息公开工作年度报告")
    assert (meta.agency, meta.city, meta.county) == ("沭阳县人民政府", "宿迁市", "沭阳县")
