"""Report metadata from the text: agency (as in the title), statistics year, region, level, agency type,
the numbers the narrative states, and the text of sections 一 … 六."""

from __future__ import annotations

import csv
import re
from functools import cache
from importlib import resources

from pipeline.model import Document, Meta
from pipeline.normalize import compact
from pipeline.regions import Region, correct_ocr, most_mentioned, split_region, zone_host

_TITLE_YEAR = re.compile(
    r"(?P<year>(?:19|20)\d{2})年度?(?P<mid>.{0,30}?)(?:政府)?信息公开(?:工作)?(?:年度)?(?:工作)?报告"
)
_PERIOD_YEAR = re.compile(
    r"(?:统计期限|统计时限|统计期间|时间范围)?[为从自]?(?P<year>(?:19|20)\d{2})年1月1日(?:起)?至(?:(?P=year)年)?12月31日"
)
# a report named in its own text with its agency: "《河北省工业和信息化厅2019年度政府信息公开工作报告》", "附件：…"
_NAMED_REPORT = re.compile(
    r"(?P<name>[\u4e00-\u9fff（）()]{2,40})(?P<year>(?:19|20)\d{2})年度?政府信息公开(?:工作)?(?:年度)?报告"
)
_SELF_REFERENCE = re.compile(r"我(厅|局|委|办|院|署|区|县|市|镇|乡|街道|中心)")
_NARRATIVE_RECEIVED = re.compile(
    r"(?:共|累计|全年|总计)?(?:新?受理|收到|新收)(?:各类|各种|了)?(?:政府信息)?(?:公开)?申请(?:共|合计)?(?P<n>\d+)(?:件|个|条)"
)
_AGENCY_TAIL = re.compile(
    r"(人民政府办公室|人民政府办公厅|人民政府|办公室|办事处|委员会|管委会|局|厅|委|部|署|院|中心|政府|街道|镇|乡"
    r"|综合实验区|实验区|试验区|示范区|开发区|高新区|经开区|园区|新区|保税区|合作区)[)）]?$"
)
_NOT_A_NAME = re.compile(r"[，。；：:,;、！？!?《》“”]")  # a sentence, not an agency's name
AGENCY_MAX = 40  # characters: a longer "name" is a sentence
_SECTION_HEADS = (
    ("一", ("总体情况",)),
    ("二", ("主动公开",)),
    ("三", ("收到和处理", "依申请公开")),
    ("四", ("行政复议", "行政诉讼")),
    ("五", ("存在的主要问题", "问题及改进", "主要问题")),
    ("六", ("其他需要报告", "其他事项")),
)
_SECTION_MARKS = ("、", ".", "．", ",", "，")  # what follows a section's numeral


@cache
def _agency_types() -> list[tuple[tuple[str, ...], str]]:
    text = resources.files("pipeline").joinpath("spec/agency_types.csv").read_text(encoding="utf-8")
    return [(tuple(r["pattern"].split("|")), r["agency_type"]) for r in csv.DictReader(text.splitlines())]


def agency_type(rest: str) -> str | None:
    """Type of an agency from its name without the region prefix (``司法局`` → 司法行政); see spec/agency_types.csv."""
    for patterns, kind in _agency_types():
        if any(rest.endswith(p) for p in patterns):
            return kind
    return None


def _head_lines(doc: Document, limit: int = 12) -> list[str]:
    out = []
    for row in doc.rows:
        t = compact(row.text).lstrip("#*>")  # markdown headings and quotes from converters
        if t:
            out.append(t)
        if len(out) >= limit:
            break
    return out


def detect_title(doc: Document) -> tuple[str | None, int | None]:
    """(agency, year) from the report's title lines (or the HTML <title>)."""
    heads = _head_lines(doc)
    candidates = list(enumerate(heads))
    if doc.title:
        candidates.insert(0, (-1, compact(doc.title)))
    for i, line in candidates:
        m = _TITLE_YEAR.search(line)
        if not m and 0 <= i < len(heads) - 1:
            m = _TITLE_YEAR.search(line + heads[i + 1])  # a title wrapped onto the next line ("…年度报" / "告")
            if m and m.start() >= len(line):
                m = None
        if not m:
            continue
        year = int(m["year"])
        before = line[: m.start()].strip("：:_-—|")
        mid = m["mid"]
        agency = None
        if _is_agency(before):
            agency = before
        elif _is_agency(mid):
            agency = mid
        elif i > 0 and _is_agency(heads[i - 1]):
            agency = heads[i - 1]
        elif i == -1 and heads and _is_agency(heads[0]):
            agency = heads[0]
        if agency is None and i == -1:
            continue  # an HTML title without the agency: the body's own title may have it
        return agency, year
    return None, None


def _region_led(text: str) -> str | None:
    """The longest tail of ``text`` that names an agency and starts with a region ("编写了河北省教育厅" → 河北省教育厅)."""
    for k in range(max(0, len(text) - AGENCY_MAX), len(text) - 1):
        candidate = text[k:]
        if _is_agency(candidate):
            region, rest = split_region(candidate)
            if region is not None and rest:
                return candidate
    return None


_ABBREVIATED = re.compile(r"(?P<level>省|市|县)(?P<rest>[\u4e00-\u9fff]{2,20})$")


def _abbreviated(text: str, full: str) -> str | None:
    """An agency written with its level only ("省工业和信息化厅", "市司法局"): qualified with the division of that
    level the text names most ("河北省工业和信息化厅")."""
    for k in range(max(0, len(text) - AGENCY_MAX), len(text) - 2):
        m = _ABBREVIATED.fullmatch(text[k:])
        if m and _is_agency(m["rest"]) and (k == 0 or text[k - 1] in "，。；、：,;:了的在年"):
            division = most_mentioned(full, m["level"])
            if division is not None:
                candidate = division + m["rest"]
                region, rest = split_region(candidate)
                if region is not None and rest == m["rest"]:
                    return candidate
    return None


def agency_from_body(full: str, year: int | None) -> str | None:
    """The agency of a report whose title is missing (a page saved without it): the report as the text names it
    ("《河北省工业和信息化厅2019年度政府信息公开工作报告》"), else the name the text calls itself by — "我厅" and the
    most frequent region-led name ending in 厅."""
    for m in _NAMED_REPORT.finditer(full):
        if year is None or int(m["year"]) == year:
            name = _region_led(m["name"])
            if name:
                return name
    tails: dict[str, int] = {}
    for m in _SELF_REFERENCE.finditer(full):
        tails[m.group(1)] = tails.get(m.group(1), 0) + 1
    for tail in sorted(tails, key=lambda t: -tails[t]):
        counts: dict[str, int] = {}
        start = full.find(tail)
        while start >= 0:
            run = re.search(r"[\u4e00-\u9fff（）()]{2,40}$", full[max(0, start - AGENCY_MAX) : start + len(tail)])
            name = (_region_led(run.group(0)) or _abbreviated(run.group(0), full)) if run else None
            if name and name.endswith(tail):
                counts[name] = counts.get(name, 0) + 1
            start = full.find(tail, start + len(tail))
        if counts:
            return max(counts.items(), key=lambda kv: (kv[1], len(kv[0])))[0]
    return _most_named(full[:BODY_NAME_REACH])


BODY_NAME_REACH = 3000  # characters of the body searched for the agency's own name when nothing else gives it
_TAIL_WORD = re.compile(r"人民政府|办公厅|办公室|委员会|管委会|办事处|政府|厅|局|委|院|署|中心")


def _most_named(text: str) -> str | None:
    """The region-led agency name the opening of the text uses most ("2023年，辽宁省公安厅紧紧围绕…"); None on a tie."""
    counts: dict[str, int] = {}
    first: dict[str, int] = {}
    for m in _TAIL_WORD.finditer(text):
        run = re.search(r"[\u4e00-\u9fff（）()]{2,40}$", text[max(0, m.end() - AGENCY_MAX) : m.end()])
        name = _region_led(run.group(0)) if run else None
        if name:
            counts[name] = counts.get(name, 0) + 1
            first.setdefault(name, m.start())
    ranked = sorted(counts, key=lambda n: (-counts[n], first[n]))
    if not ranked or (len(ranked) > 1 and counts[ranked[0]] == counts[ranked[1]] and first[ranked[0]] > 200):
        return None
    return ranked[0]


def _is_agency(text: str) -> bool:
    """A title fragment that names an agency: short, no sentence punctuation, ending as agencies' names end."""
    return bool(text) and len(text) <= AGENCY_MAX and not _NOT_A_NAME.search(text) and bool(_AGENCY_TAIL.search(text))


def qualify_agency(agency: str, text: str) -> str:
    """Prefer the fuller name the body itself uses: title "洪泽区人民政府", body "淮安市洪泽区人民政府办公室"; a department
    named without its region ("财政局") takes the region the body writes in front of it ("阜新市财政局")."""
    region, _rest = split_region(agency, text)
    if region is None:
        return _with_region_from_body(agency, text)
    for prefix in filter(
        None, ((region.province or "") + region.city if region.city else None, region.city, region.province)
    ):
        if not agency.startswith(prefix) and (prefix + agency) in text:
            return prefix + agency
    return agency


_REGION_BEFORE = re.compile(r"[\u4e00-\u9fff]{2,14}$")


def _with_region_from_body(agency: str, text: str) -> str:
    """The most frequent "<region><agency>" the body writes, when the region is a real division chain."""
    if len(agency) < 2 or zone_host(agency)[0] is not None:
        return agency
    counts: dict[str, int] = {}
    start = text.find(agency)
    while start >= 0 and len(counts) < 50:
        m = _REGION_BEFORE.search(text, max(0, start - 14), start)
        if m:
            prefix = m.group(0)
            for k in range(len(prefix)):  # the longest tail of what precedes that is a whole region
                region, rest = split_region(prefix[k:] + agency)
                if region is not None and rest == agency:
                    counts[prefix[k:] + agency] = counts.get(prefix[k:] + agency, 0) + 1
                    break
        start = text.find(agency, start + len(agency))
    if not counts:
        return agency
    best = max(counts.items(), key=lambda kv: (kv[1], len(kv[0])))
    return best[0]


def detect_year(doc: Document, full: str) -> int | None:
    m = _PERIOD_YEAR.search(full)
    return int(m["year"]) if m else None


def narrative_numbers(full: str) -> dict[str, int]:
    m = _NARRATIVE_RECEIVED.search(full)
    return {"received": int(m["n"])} if m else {}


def sections(doc: Document) -> dict[str, str]:
    """Text of sections 一 … 六, found by numeral + key phrase, in order."""
    heads: list[tuple[int, str]] = []
    want = 0
    for i, row in enumerate(doc.rows):
        if want >= len(_SECTION_HEADS):
            break
        if not row.cells or row.cells[0].text.lstrip()[:1] not in "一二三四五六":
            continue
        t = compact(row.text)
        for k in range(want, len(_SECTION_HEADS)):
            numeral, phrases = _SECTION_HEADS[k]
            if t[:1] == numeral and t[1:2] in _SECTION_MARKS and any(p in t[:40] for p in phrases) and len(t) < 60:
                heads.append((i, numeral))
                want = k + 1
                break
    out = {}
    for n, (i, numeral) in enumerate(heads):
        end = heads[n + 1][0] if n + 1 < len(heads) else len(doc.rows)
        body = "\n".join(t for t in (r.text for r in doc.rows[i:end]) if t.strip())
        out[numeral] = body.strip()
    return out


_DATE = re.compile(r"(?P<y>(?:19|20)\d{2})\s*[-/.年]\s*(?P<m>\d{1,2})\s*[-/.月]\s*(?P<d>\d{1,2})")


def published_date(text: str | None) -> str | None:
    """An ISO date from a page header's 发布时间 ("2022-02-08 16:34", "2022年2月8日")."""
    m = _DATE.search(text or "")
    if not m:
        return None
    y, mo, d = int(m["y"]), int(m["m"]), int(m["d"])
    return f"{y:04d}-{mo:02d}-{d:02d}" if 1 <= mo <= 12 and 1 <= d <= 31 else None


def detect_meta(doc: Document) -> tuple[Meta, dict[str, int]]:
    full = compact(doc.text)
    agency, year = detect_title(doc)
    if year is None:
        year = detect_year(doc, full)
    publisher = compact(doc.header.get("发布机构", ""))
    if agency is None and _is_agency(publisher):
        agency = publisher  # a saved page's 发布机构 when the title does not name the agency
    if agency is None:
        agency = agency_from_body(full, year)
    if agency:
        agency = qualify_agency(correct_ocr(agency), full)
    meta = Meta(agency=agency, year=year)
    meta.published = published_date(doc.header.get("发布时间") or doc.header.get("发布日期"))
    meta.url = doc.header.get("原文链接") or doc.header.get("原文地址") or None
    if agency:
        apply_region(meta, agency, full)
    return meta, narrative_numbers(full)


def apply_region(meta: Meta, agency: str, context: str = "", region: Region | None = None) -> None:
    found, rest = split_region(agency, context)
    region = region or found
    if region is not None:
        meta.province, meta.city, meta.county = region.province, region.city, region.county
        meta.level = region.level
    kind = agency_type(rest if found is not None else agency)
    if found is not None and not rest:
        kind = "人民政府"  # the name is the region itself ("平潭综合实验区", "上海市浦东新区"): its government's own report
    meta.agency_type = kind
    if kind == "乡镇街道":
        meta.level = "乡镇"
    elif region is None and kind is not None:
        meta.level = "国家级"
