"""The simulated city's service catalogue, its population and the portal's accounts.

The portal family is measured against these registry lists: the catalogue (政务服务事项:
items, kinds, owning departments, online-capable or not, since when the unified portal
covers them), population per district on two bases (常住 resident, 户籍 household) as the
statistics bureau and the police publish them at each year's end, and the portal's
registered accounts at each month's end. They draw from random streams of their own, so
the rest of the city is the same with or without them.
"""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta

from schemas.registry import Population, PortalAccounts, ServiceItem

# The catalogue's kinds, after the national list's categories of matters.
KINDS: tuple[str, ...] = (
    "licensing",        # 行政许可
    "confirmation",     # 行政确认
    "benefit",          # 行政给付
    "levy",             # 行政征收
    "certificate",      # 证明开具
    "public_service",   # 公共服务
)

# department → (English name, Chinese name, kind) of the matters it offers. Each is
# repeated per stage of its life (new, change, renewal, ...) to fill the catalogue.
ITEMS: dict[str, tuple[tuple[str, str, str], ...]] = {
    "dept-bigdata": (
        ("E-licence issuance", "电子证照签发", "certificate"),
        ("Public data access request", "公共数据开放申请", "public_service"),
        ("Citizen Cloud account service", "市民云账户服务", "public_service"),
    ),
    "dept-police": (
        ("Household registration transfer", "户口迁移", "confirmation"),
        ("Resident ID card", "居民身份证办理", "certificate"),
        ("Residence permit", "居住证办理", "certificate"),
        ("Vehicle registration", "机动车登记", "confirmation"),
        ("Driving licence", "机动车驾驶证", "licensing"),
        ("Exit-entry permit", "出入境证件办理", "licensing"),
        ("Traffic violation handling", "交通违法处理", "public_service"),
    ),
    "dept-transport": (
        ("Road transport operating permit", "道路运输经营许可", "licensing"),
        ("Taxi operator permit", "出租汽车经营许可", "licensing"),
        ("Transport card service", "公交卡服务", "public_service"),
    ),
    "dept-urban": (
        ("Outdoor advertising permit", "户外广告设置许可", "licensing"),
        ("Road occupation permit", "城市道路占用许可", "licensing"),
        ("Construction waste disposal permit", "建筑垃圾处置核准", "licensing"),
    ),
    "dept-ecology": (
        ("Environmental impact approval", "建设项目环境影响评价审批", "licensing"),
        ("Pollutant discharge permit", "排污许可", "licensing"),
        ("Environmental protection tax filing", "环境保护税申报", "levy"),
    ),
    "dept-water": (
        ("Water abstraction permit", "取水许可", "licensing"),
        ("Water supply account", "供水业务办理", "public_service"),
        ("Drainage permit", "城镇污水排入排水管网许可", "licensing"),
    ),
    "dept-health": (
        ("Birth medical certificate", "出生医学证明", "certificate"),
        ("Medical practitioner registration", "医师执业注册", "licensing"),
        ("Medical appointment", "预约挂号", "public_service"),
        ("Family planning subsidy", "计划生育家庭奖励扶助", "benefit"),
    ),
    "dept-emergency": (
        ("Hazardous chemicals business permit", "危险化学品经营许可", "licensing"),
        ("Safety training certificate", "安全生产培训合格证", "certificate"),
    ),
    "dept-education": (
        ("School enrolment", "义务教育入学报名", "public_service"),
        ("Teacher qualification", "教师资格认定", "confirmation"),
        ("Student financial aid", "学生资助", "benefit"),
        ("Private school permit", "民办学校办学许可", "licensing"),
    ),
    "dept-housing": (
        ("Construction permit", "建筑工程施工许可", "licensing"),
        ("Housing fund withdrawal", "住房公积金提取", "benefit"),
        ("Commercial housing pre-sale permit", "商品房预售许可", "licensing"),
        ("Housing fund contribution", "住房公积金缴存", "levy"),
    ),
    "dept-market": (
        ("Business registration", "市场主体登记", "licensing"),
        ("Food business licence", "食品经营许可", "licensing"),
        ("Trademark pledge registration", "商标专用权质押登记", "confirmation"),
        ("Industrial product production licence", "工业产品生产许可", "licensing"),
    ),
    "dept-hrss": (
        ("Social insurance registration", "社会保险登记", "confirmation"),
        ("Unemployment benefit", "失业保险金申领", "benefit"),
        ("Pension entitlement", "基本养老保险待遇申领", "benefit"),
        ("Social security card", "社会保障卡办理", "certificate"),
        ("Vocational skill subsidy", "职业技能提升补贴", "benefit"),
    ),
    "dept-civil": (
        ("Marriage registration", "婚姻登记", "confirmation"),
        ("Subsistence allowance", "最低生活保障", "benefit"),
        ("Disability subsidy", "残疾人两项补贴", "benefit"),
        ("Social organisation registration", "社会团体登记", "licensing"),
    ),
    "dept-resources": (
        ("Real estate registration", "不动产登记", "confirmation"),
        ("Construction land planning permit", "建设用地规划许可", "licensing"),
        ("Mining rights registration", "采矿权登记", "licensing"),
    ),
    "dept-tax": (
        ("Individual income tax filing", "个人所得税申报", "levy"),
        ("Invoice issuance", "发票领用", "public_service"),
        ("Tax payment certificate", "完税证明开具", "certificate"),
        ("Vehicle and vessel tax", "车船税缴纳", "levy"),
    ),
    "dept-culture": (
        ("Entertainment venue licence", "娱乐场所经营许可", "licensing"),
        ("Travel agency permit", "旅行社业务经营许可", "licensing"),
        ("Sports venue booking", "公共体育场馆预约", "public_service"),
    ),
}
# For numbered offices a small config adds beyond the named departments.
GENERIC: tuple[tuple[str, str, str], ...] = (
    ("Administrative permit", "行政许可事项", "licensing"),
    ("Certificate issuance", "证明开具", "certificate"),
    ("Public enquiry", "政务咨询服务", "public_service"),
)
# The stages of a matter's life that the catalogue lists as items of their own.
STAGES: tuple[tuple[str, str], ...] = (
    ("new", "新办"), ("change", "变更"), ("renewal", "延续"), ("cancellation", "注销"),
    ("reissue", "补办"), ("enquiry", "查询"),
)

ONLINE_CAPABLE = 0.9      # of the catalogue, can be handled online
PORTAL_COVERED = 0.85     # of the online-capable, covered by the unified portal
# Resident population per district at scale 1, the centre the largest (people).
DISTRICT_RESIDENTS = (620_000, 480_000, 350_000, 410_000, 260_000, 180_000, 150_000, 220_000)
RESIDENT_SOURCE = "市统计局《{year}年国民经济和社会发展统计公报》"
HOUSEHOLD_SOURCE = "市公安局户籍人口统计（{year}年末）"
ACCOUNTS_SOURCE = "市民云账号系统月报（{year}年{month}月）"
ACCOUNT_MONTHS = 3        # month-end account figures before the window
MONTHLY_ACCOUNT_GROWTH = 0.015

# The one item the portal starts covering inside the window (as late-registered assets:
# a fixed offset inside any window of four hours or more).
COVERED_LATE_AFTER = timedelta(hours=2)


def service_items(department_ids: list[str], count: int, start: datetime,
                  seed: int) -> list[ServiceItem]:
    """``count`` catalogue items spread over the departments in turn.

    All are registered before ``start``; about nine in ten can be handled online and
    about 85 % of those are covered by the portal before ``start``. The last item is
    covered at ``start + COVERED_LATE_AFTER`` and the second last was retired before
    ``start``, so "at the window's end" and "active" both matter.
    """
    rng = random.Random(f"{seed}:services")
    out: list[ServiceItem] = []
    for n in range(count):
        dept = department_ids[n % len(department_ids)]
        matters = ITEMS.get(dept, GENERIC)
        turn = n // len(department_ids)
        name, name_zh, kind = matters[turn % len(matters)]
        stage = turn // len(matters)
        stage_en, stage_zh = STAGES[stage % len(STAGES)]
        again = stage // len(STAGES)
        suffix_en = f" ({stage_en})" if not again else f" ({stage_en} {again + 1})"
        suffix_zh = f"（{stage_zh}）" if not again else f"（{stage_zh}{again + 1}）"
        registered = start - timedelta(days=rng.randint(400, 2500), seconds=rng.randrange(86400))
        online = rng.random() < ONLINE_CAPABLE
        covered = online and rng.random() < PORTAL_COVERED
        since = (registered + timedelta(days=rng.randint(10, 380))) if covered else None
        retired = None
        if n == count - 1:
            online, since = True, start + COVERED_LATE_AFTER
        elif n == count - 2 and count > 2:
            retired = start - timedelta(days=rng.randint(1, 60))
        out.append(ServiceItem(
            service_id=f"svc-{n + 1:04d}", name=name + suffix_en, name_zh=name_zh + suffix_zh,
            kind=kind, department_id=dept, online_capable=online, portal_since=since,
            registered_at=registered, retired_at=retired,
        ))
    return out


def population(district_ids: list[str], start: datetime, seed: int) -> list[Population]:
    """Resident and household population per district at the end of the two years
    before ``start``, each with its publishing source."""
    rng = random.Random(f"{seed}:population")
    out: list[Population] = []
    latest = start.year - 1
    for n, district in enumerate(district_ids):
        base = DISTRICT_RESIDENTS[n % len(DISTRICT_RESIDENTS)]
        resident = base * rng.uniform(0.9, 1.1)
        # Most prefecture-level cities draw migrants: fewer registered than living there.
        household = resident * rng.uniform(0.72, 0.95)
        growth = rng.uniform(0.005, 0.025)
        for year in (latest - 1, latest):
            factor = 1.0 if year == latest else 1 / (1 + growth)
            out.append(Population(
                district_id=district, basis="resident", as_of=date(year, 12, 31),
                people=max(1, round(resident * factor)),
                source=RESIDENT_SOURCE.format(year=year)))
            out.append(Population(
                district_id=district, basis="household", as_of=date(year, 12, 31),
                people=max(1, round(household * factor)),
                source=HOUSEHOLD_SOURCE.format(year=year)))
    return out


def _month_ends(before: date, months: int) -> list[date]:
    """The last days of the ``months`` whole months before ``before``'s month, oldest first."""
    ends: list[date] = []
    first = before.replace(day=1)
    for _ in range(months):
        last = first - timedelta(days=1)
        ends.append(last)
        first = last.replace(day=1)
    return ends[::-1]


def portal_accounts(registered_users: int, start: datetime) -> list[PortalAccounts]:
    """The account system's month-end figures for the months before ``start``; the
    latest is ``registered_users`` (the config's figure), earlier ones a little less."""
    ends = _month_ends(start.date(), ACCOUNT_MONTHS)
    out: list[PortalAccounts] = []
    for back, as_of in enumerate(reversed(ends)):
        users = round(registered_users / (1 + MONTHLY_ACCOUNT_GROWTH) ** back)
        out.append(PortalAccounts(
            as_of=as_of, registered_users=users, verified_users=round(users * 0.92),
            source=ACCOUNTS_SOURCE.format(year=as_of.year, month=as_of.month)))
    return out[::-1]
