"""Plausible Chinese prose for the report's sections 一…六, legacy reports and non-report pages.

Section headings follow the national template (spec: "Sections"), with the wording variants real reports use.
The only numbers that matter to the parser are stated through :class:`ReportTruth.narrative` ("共受理政府信息公开
申请N件"); the rest is filler drawn from phrase pools.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from pipeline.generator.numbers import ReportTruth
from pipeline.generator.universe import Agency

SECTION_HEADINGS: dict[str, tuple[str, ...]] = {
    "一": ("一、总体情况", "一、政府信息公开总体情况"),
    "二": ("二、主动公开政府信息情况", "二、行政机关主动公开政府信息情况"),
    "三": ("三、收到和处理政府信息公开申请情况",),
    "四": (
        "四、政府信息公开行政复议、行政诉讼情况",
        "四、因政府信息公开工作被申请行政复议、提起行政诉讼情况",
    ),
    "五": ("五、存在的主要问题及改进情况", "五、政府信息公开工作存在的主要问题及改进情况"),
    "六": ("六、其他需要报告的事项",),
}

_LEADS = (
    "在{boss}的坚强领导下，{who}认真贯彻落实《中华人民共和国政府信息公开条例》，坚持以公开为常态、不公开为例外，"
    "不断提高政务公开工作的透明度和公信力。",
    "{year}年，{who}以习近平新时代中国特色社会主义思想为指导，全面落实党中央、国务院关于全面推进政务公开工作的"
    "决策部署，扎实推进决策、执行、管理、服务、结果公开。",
    "{year}年，{who}紧紧围绕中心工作，持续深化政务公开，着力提升政府信息公开质量，切实保障人民群众的知情权、参与权、"
    "表达权和监督权。",
)
_ACTIVE = (
    "{year}年，{short}通过门户网站发布各类信息{posts}条，其中政务动态信息{news}条，通知公告{notices}条，"
    "政策解读{interp}篇。",
    "全年主动公开政府信息{posts}条，通过政务新媒体发布信息{media}条，召开新闻发布会{press}场。",
)
_MANAGE = (
    "严格落实信息发布审核制度，坚持“先审查、后公开”“一事一审”原则，切实把好信息政治关、法律关、政策关、保密关、"
    "文字关，确保发布内容规范、权威、准确。",
    "进一步规范政府信息公开属性源头认定，对已公开信息开展常态化梳理，及时更新主动公开目录。",
)
_PLATFORM = (
    "不断优化完善门户网站政府信息公开专栏设置，加强政务新媒体建设和规范管理，打造权威、及时、高效的信息发布平台。",
    "持续推进政府网站集约化建设，规范栏目设置，提升信息检索和互动回应能力。",
)
_SUPERVISE = (
    "将政务公开工作纳入年度目标考核，实行台账式管理，全面压实各方责任，推动政务公开工作规范化常态化。",
    "定期开展政务公开栏目自查，及时整改发现的问题，组织业务培训{train}次，不断提高工作人员业务能力。",
)
_PROBLEMS = (
    "{year}年，{short}政府信息公开工作取得一定成效，但对照上级要求仍存在差距：一是主动公开的深度和广度有待拓展；"
    "二是政策解读形式较为单一。下一步，将进一步完善工作机制，丰富解读形式，加强业务培训，持续提升政务公开水平。",
    "主要问题是公开内容的及时性还需提高，依申请公开办理的规范化水平有待提升。下一步将加强统筹协调，"
    "健全依申请公开工作流程，强化答复文书审核。",
)
_FEES = (
    "{year}年，{short}未收取政府信息公开信息处理费。",
    "{year}年，{short}严格落实《政府信息公开信息处理费管理办法》，全年收取信息处理费{fee}元。",
    "本年度无其他需要报告的事项。",
)


def _short(truth: ReportTruth) -> str:
    a = truth.agency
    if a.agency_type == "人民政府":
        return {"省级": "省政府", "市级": "市政府", "县级": "本级政府"}.get(a.level, "本机关")
    return "我局" if a.name.endswith("局") else "本机关"


def _fill(template: str, truth: ReportTruth, rng: random.Random) -> str:
    return template.format(
        year=truth.year,
        who=truth.agency.name,
        short=_short(truth),
        boss="市委、市政府" if truth.agency.level != "省级" else "省委、省政府",
        posts=rng.randint(40, 6000),
        news=rng.randint(20, 3000),
        notices=rng.randint(5, 300),
        interp=rng.randint(1, 80),
        media=rng.randint(10, 2000),
        press=rng.randint(0, 20),
        train=rng.randint(1, 6),
        fee=rng.choice([0, 0, 100, 250, 3940]),
    )


def title(truth: ReportTruth) -> str:
    return f"{truth.agency.name}{truth.year}年政府信息公开工作年度报告"


def preamble(truth: ReportTruth) -> str:
    return (
        f"本报告根据《中华人民共和国政府信息公开条例》（以下简称《条例》）规定编制。报告所列统计数据的期限为"
        f"{truth.year}年1月1日至{truth.year}年12月31日。"
    )


def section_heading(key: str, rng: random.Random) -> str:
    return rng.choice(SECTION_HEADINGS[key])


def section_one(truth: ReportTruth, rng: random.Random, short: bool = False) -> list[str]:
    """Paragraphs of section 一 (总体情况), including the sentence with the number of requests received."""
    if truth.prose is not None:
        return varied_section_one(truth)
    received = truth.narrative.get("received", 0)
    paras = [_fill(rng.choice(_LEADS), truth, rng)]
    paras.append("（一）主动公开")
    paras.append(_fill(rng.choice(_ACTIVE), truth, rng))
    paras.append("（二）依申请公开")
    paras.append(f"{truth.year}年，{_short(truth)}共受理政府信息公开申请{received}件，均在法定期限内予以答复。")
    if not short:
        paras += [
            "（三）政府信息管理",
            _fill(rng.choice(_MANAGE), truth, rng),
            "（四）政府信息公开平台建设",
            _fill(rng.choice(_PLATFORM), truth, rng),
            "（五）监督保障",
            _fill(rng.choice(_SUPERVISE), truth, rng),
        ]
    return paras


def section_five(truth: ReportTruth, rng: random.Random) -> list[str]:
    if truth.prose is not None:
        return varied_section_five(truth)
    return [_fill(rng.choice(_PROBLEMS), truth, rng)]


def section_six(truth: ReportTruth, rng: random.Random) -> list[str]:
    return [_fill(rng.choice(_FEES), truth, rng)]


# ---------------------------------------------------------------------------------------------------------------
# Legacy reports (2018 and earlier) and non-report pages: no template tables, the truth says so


def legacy_lines(truth: ReportTruth, rng: random.Random) -> list[str]:
    """An old-style report: figures in prose and a non-uniform local table (not the national template)."""
    received = truth.narrative.get("received", rng.randint(0, 50))
    granted = rng.randint(0, received)
    lines = [
        title(truth),
        "",
        f"本报告依据《中华人民共和国政府信息公开条例》编制，统计期限为{truth.year}年1月1日至12月31日。",
        "",
        "一、概述",
        _fill(rng.choice(_LEADS), truth, rng),
        "",
        "二、主动公开政府信息情况",
        f"{truth.year}年共主动公开政府信息{rng.randint(50, 3000)}条，其中规范性文件{rng.randint(0, 30)}件。",
        "",
        "三、依申请公开政府信息情况",
        f"全年共受理政府信息公开申请{received}件，其中当面申请{rng.randint(0, received)}件，"
        f"网上申请{rng.randint(0, received)}件；已答复{received}件，其中同意公开{granted}件。",
        "",
        "政府信息公开申请情况统计表",
        "项目\t单位\t数量",
        f"收到申请数\t件\t{received}",
        f"同意公开答复数\t件\t{granted}",
        f"信息不存在数\t件\t{received - granted}",
        "",
        "四、政府信息公开的收费及减免情况",
        "本年度未收取任何费用。",
        "",
        "五、因政府信息公开申请行政复议、提起行政诉讼的情况",
        f"全年发生政府信息公开行政复议案件{rng.randint(0, 3)}件，行政诉讼案件{rng.randint(0, 2)}件。",
        "",
        "六、存在的主要问题和改进措施",
        _fill(rng.choice(_PROBLEMS), truth, rng),
    ]
    return lines


_NON_REPORT_KINDS = (
    (
        "关于做好{year}年政府信息公开工作年度报告编制发布工作的通知",
        [
            "各有关单位：",
            "根据《中华人民共和国政府信息公开条例》规定，现就做好{year}年度政府信息公开工作年度报告编制和"
            "发布工作通知如下：",
            "一、各单位应于{next}年1月31日前向社会公布本单位年度报告。",
            "二、年度报告应严格按照国务院办公厅政府信息与政务公开办公室印发的格式编制，确保数据准确、勾稽关系正确。",
            "三、请各单位指定专人负责，按时报送。",
            "{who}",
            "{next}年1月5日",
        ],
    ),
    (
        "{who}召开{year}年政务公开工作推进会",
        [
            "近日，{who}召开政务公开工作推进会，总结{year}年政务公开工作，部署下一阶段重点任务。",
            "会议要求，各科室要进一步提高思想认识，严格落实政府信息公开条例，做好依申请公开答复工作，"
            "按时编制发布年度报告。",
            "会上还通报了政府网站和政务新媒体检查情况。",
        ],
    ),
    (
        "{who}政府信息公开指南",
        [
            "为了更好地提供政府信息公开服务，根据《中华人民共和国政府信息公开条例》，编制本指南。",
            "一、主动公开：公开的主要内容包括机构职能、政策文件、规划计划、财政预决算等。",
            "二、依申请公开：公民、法人或者其他组织可以通过网络、信函、当面等方式提出申请。",
            "三、收费标准：按照《政府信息公开信息处理费管理办法》执行。",
        ],
    ),
)


def non_report_lines(truth: ReportTruth, rng: random.Random) -> list[str]:
    head, body = rng.choice(_NON_REPORT_KINDS)
    values = {"year": truth.year, "next": truth.year + 1, "who": truth.agency.name}
    return [head.format(**values), ""] + [p.format(**values) for p in body]


# ---------------------------------------------------------------------------------------------------------------
# Varied prose with known copied passages (CorpusConfig.copy_share > 0)
#
# Each sentence of sections 一 and 五 fills a numbered *slot* and is drawn from large clause banks with its own
# generator seeded by (seed, agency, year, section, slot), so two reports rarely share a sentence by chance and
# any report's original sentence can be regenerated.  A report's :class:`ProsePlan` says which slots copy which
# slot of the same agency's previous report or of another agency's report of the same year; the copy changes what
# copiers change (the agency's name, the year) and nothing else.  The truth file lists every copied sentence.

_SUBJECTS = ("{year}年", "今年以来", "全年", "{year}年度", "一年来", "报告期内", "{year}年以来", "本年度")
_VERBS = ("健全", "完善", "规范", "优化", "强化", "深化", "推进", "落实", "加强", "拓展", "提升", "压实", "细化",
          "创新", "统筹", "夯实", "改进", "畅通", "延伸", "严格执行")  # fmt: skip
_OBJECTS = ("信息发布审核机制", "政策解读回应机制", "依申请公开办理流程", "政务新媒体管理制度", "公开目录动态调整",
            "网站栏目内容保障", "重大决策预公开工作", "基层政务公开标准化", "政务公开专区建设", "公开属性源头认定",
            "保密审查协调机制", "政府信息主动公开基本目录", "政务公开工作考核评估", "答复文书合法性审查",
            "人大代表建议和政协提案办理结果公开", "行政规范性文件清理", "公共企事业单位信息公开", "涉企政策集中公开",
            "政府开放日活动", "政务公开培训体系", "政策咨询服务窗口", "政策文件多渠道发布", "民生领域信息公开",
            "财政预决算信息公开", "重点领域信息公开", "行政执法信息公示", "政务服务事项办事指南", "公众参与渠道",
            "舆情回应处置机制", "政务信息资源共享")  # fmt: skip
_MODIFIERS = (
    "全面",
    "持续",
    "进一步",
    "扎实",
    "稳步",
    "着力",
    "大力",
    "不断",
    "切实",
    "积极",
    "有序",
    "加快",
)
_PURPOSES = ("确保公开内容准确规范", "切实保障群众知情权", "提升公开实效", "推动政务公开提质增效", "增强政府公信力",
             "做到应公开尽公开", "更好服务经济社会发展", "让群众看得懂、找得到、用得上", "提高答复质量和效率",
             "促进依法行政", "营造良好营商环境", "持续提升公众满意度")  # fmt: skip
_FORMS = ("通过图解、问答、短视频等形式", "依托门户网站和政务新媒体", "结合年度重点工作", "对照上级考核指标",
          "以问题为导向", "围绕群众关切", "坚持边查边改", "借助第三方评估")  # fmt: skip
SLOTS: dict[str, int] = {
    "一": 8,
    "五": 3,
}  # varied sentences per section (一: two under each of four headings)
_ONE_HEADINGS = ("（一）主动公开", "（二）依申请公开", "（三）政府信息管理", "（四）平台建设与监督保障")


@dataclass(frozen=True, slots=True)
class Copy:
    """A slot of this report that reprints a slot of another report (``kind``: previous / other)."""

    kind: str
    agency: Agency
    year: int
    slot: int


@dataclass(slots=True)
class ProsePlan:
    seed: int
    copies: dict[tuple[str, int], Copy] = field(default_factory=dict)

    def to_json(self, truth: ReportTruth) -> list[dict[str, object]]:
        return [{"section": sec, "slot": slot, "kind": c.kind, "text": slot_text(truth, sec, slot),
                 "source": {"agency": c.agency.name, "year": c.year, "slot": c.slot,
                            "doc_id": f"{c.agency.agency_id}_{c.year}"}}
                for (sec, slot), c in sorted(self.copies.items())]  # fmt: skip


def _original(seed: int, agency: Agency, year: int, section: str, slot: int) -> str:
    rng = random.Random(f"{seed}:{agency.agency_id}:{year}:{section}:{slot}:prose")
    n = rng.choice((3, 3, 4))
    objects, verbs, modifiers = rng.sample(_OBJECTS, n), rng.sample(_VERBS, n), rng.sample(_MODIFIERS, n)
    clauses = [f"{modifiers[i] if rng.random() < 0.7 else ''}{verbs[i]}{objects[i]}" for i in range(n)]
    head = rng.choice(_SUBJECTS).format(year=year)
    who = agency.name if rng.random() < 0.3 else ""
    form = rng.choice(_FORMS) if rng.random() < 0.6 else ""
    return f"{head}，{who}{form}{'，'.join(clauses)}，{rng.choice(_PURPOSES)}。"


def slot_text(truth: ReportTruth, section: str, slot: int) -> str:
    """The sentence printed in a slot: the agency's own, or a copy with the copier's name and year put in."""
    plan: ProsePlan = truth.prose
    copy = plan.copies.get((section, slot))
    if copy is None:
        return _original(plan.seed, truth.agency, truth.year, section, slot)
    text = _original(plan.seed, copy.agency, copy.year, section, copy.slot)
    return text.replace(copy.agency.name, truth.agency.name).replace(str(copy.year), str(truth.year))


def plan_copies(truth: ReportTruth, seed: int, share: float, previous: ProsePlan | None,
                other: tuple[Agency, ProsePlan] | None) -> ProsePlan:  # fmt: skip
    """Decide which slots of this report copy from its previous year (``previous``) or from ``other``'s report.

    Only slots the source wrote itself are copied, so every copied sentence has one known origin.
    """
    rng = random.Random(f"{seed}:{truth.agency.agency_id}:{truth.year}:copies")
    plan = ProsePlan(seed)
    sources = []
    if previous is not None and rng.random() < share:
        sources.append(("previous", truth.agency, truth.year - 1, previous))
    if other is not None and rng.random() < share:
        sources.append(("other", other[0], truth.year, other[1]))
    for kind, agency, year, source in sources:
        for section, n in SLOTS.items():
            for slot in range(n):
                if (section, slot) in plan.copies or (section, slot) in source.copies or rng.random() > 0.5:
                    continue
                plan.copies[(section, slot)] = Copy(kind, agency, year, slot)
    return plan


def varied_section_one(truth: ReportTruth) -> list[str]:
    received = truth.narrative.get("received", 0)
    paras = [f"{truth.year}年，{truth.agency.name}认真贯彻落实《中华人民共和国政府信息公开条例》，现将本年度政府信息"
             "公开工作情况报告如下。"]  # fmt: skip
    for i, heading in enumerate(_ONE_HEADINGS):
        paras.append(heading)
        paras.append(slot_text(truth, "一", 2 * i) + slot_text(truth, "一", 2 * i + 1))
        if i == 1:
            paras.append(f"{truth.year}年，{_short(truth)}共受理政府信息公开申请{received}件，均在法定期限内予以答复。")
    return paras


def varied_section_five(truth: ReportTruth) -> list[str]:
    return ["".join(slot_text(truth, "五", slot) for slot in range(SLOTS["五"]))]
