"""Metadata pieces: region resolution, agency types, values."""

from __future__ import annotations

from decimal import Decimal

import pytest

from pipeline.meta import agency_type
from pipeline.normalize import parse_value
from pipeline.regions import split_region


@pytest.mark.parametrize(
    ("name", "province", "city", "county", "rest"),
    [
        ("淮安市洪泽区人民政府", "江苏省", "淮安市", "洪泽区", "人民政府"),
        ("洪泽区人民政府", "江苏省", "淮安市", "洪泽区", "人民政府"),
        ("阜新市司法局", "辽宁省", "阜新市", None, "司法局"),
        ("辽宁省自然资源厅", "辽宁省", None, None, "自然资源厅"),
        ("上海市浦东新区市场监督管理局", "上海市", None, "浦东新区", "市场监督管理局"),
        ("广西壮族自治区南宁市青秀区人民政府", "广西壮族自治区", "南宁市", "青秀区", "人民政府"),
    ],
)
def test_split_region(name, province, city, county, rest):
    region, tail = split_region(name)
    assert (region.province, region.city, region.county, tail) == (province, city, county, rest)


def test_ambiguous_county_is_not_guessed_without_context():
    """朝阳区 is a district of 北京市 and of 长春市 (吉林省): without a hint in the text no region is given."""
    region, rest = split_region("朝阳区司法局", "")
    assert region is None and rest == "朝阳区司法局"
    beijing, _ = split_region("朝阳区司法局", "北京市朝阳区司法局 … 北京市")
    assert beijing is not None and (beijing.province, beijing.county) == ("北京市", "朝阳区")
    changchun, _ = split_region("朝阳区司法局", "长春市朝阳区 … 吉林省长春市")
    assert changchun is not None and (changchun.province, changchun.city) == ("吉林省", "长春市")


@pytest.mark.parametrize(
    ("name", "province", "city", "county", "rest"),
    [
        ("平潭综合实验区管委会", "福建省", "平潭综合实验区", None, "管委会"),  # a city-level zone (spec/zones.csv)
        ("苏州工业园区管委会", "江苏省", "苏州市", None, "工业园区管委会"),
        ("南京江北新区", "江苏省", "南京市", None, "江北新区"),
        ("天津经济技术开发区", "天津市", None, None, "经济技术开发区"),
        ("长沙经济技术开发区", "湖南省", "长沙市", None, "经济技术开发区"),  # 长沙市, not its 长沙县
    ],
)
def test_functional_zone_takes_its_host_division(name, province, city, county, rest):
    region, tail = split_region(name)
    assert (region.province, region.city, region.county, tail) == (province, city, county, rest)


@pytest.mark.parametrize(
    ("name", "corrected"),
    [
        ("沐阳县人民政府", "沭阳县人民政府"),
        ("毫州市财政局", "亳州市财政局"),
        ("沭阳县人民政府", "沭阳县人民政府"),
        ("木阳县人民政府", "木阳县人民政府"),
    ],  # no confusable pair makes 木阳 a division: left as written
)
def test_ocr_confusables_in_division_names(name, corrected):
    from pipeline.regions import correct_ocr

    assert correct_ocr(name) == corrected


def test_zone_whose_host_name_is_shared_is_not_guessed():
    # 西安市 (陕西) and 西安区 (辽源市, 吉林): the text decides, or nothing does
    assert split_region("西安高新区管委会")[0] is None
    region, _ = split_region("西安高新区管委会", "陕西省西安市 … 西安市")
    assert region is not None and region.city == "西安市"
    assert split_region("雄安新区")[0] is None  # named after no single division


def test_ministry_has_no_region():
    assert split_region("教育部") == (None, "教育部")


@pytest.mark.parametrize(
    ("rest", "kind"),
    [
        ("司法局", "司法行政"),
        ("人民政府", "人民政府"),
        ("人民政府办公室", "人民政府"),
        ("自然资源和规划局", "自然资源"),
        ("高良涧街道办事处", "乡镇街道"),
        ("卫生健康委员会", "卫生健康"),
        ("粮食和物资储备局", "粮食物资储备"),
        ("博物馆", None),
        ("综合实验区管委会", "人民政府"),
        ("经济技术开发区管理委员会", "人民政府"),
        ("工业园区财政局", "财政"),
        ("城市管理委员会", "其他部门"),
    ],
)
def test_agency_type(rest, kind):
    assert agency_type(rest) == kind


@pytest.mark.parametrize(
    ("raw", "kw", "expected"),
    [
        ("0", {}, (0, "ok")),
        ("3,985,758", {}, (3985758, "ok")),
        ("+2", {"signed": True}, (2, "ok")),
        ("-1", {"signed": True}, (-1, "ok")),
        ("/", {}, (None, "null_marker")),
        ("—", {}, (None, "null_marker")),
        ("无", {}, (None, "null_marker")),
        ("", {}, (None, "blank")),
        ("251000元", {"amount": True}, (Decimal("25.1"), "ok")),
        ("96171.6", {"amount": True}, (Decimal("96171.6"), "ok")),
        ("1.5", {}, (None, "invalid")),
    ],
)
def test_parse_value(raw, kw, expected):
    assert parse_value(raw, **kw) == expected
