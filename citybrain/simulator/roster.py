"""Names for the simulated city: departments, districts, people, places.

Static tables only, so that ``city.py`` stays about structure. The departments are the
ones a prefecture-level city connects first (the big-data bureau leads); when a config
asks for more than the table holds, numbered offices are appended. Every name has a
Chinese form (``name_zh`` in the registry), as a Chinese city's registry reads.
"""

from __future__ import annotations

# (department_id, English name, Chinese name)
DEPARTMENTS: tuple[tuple[str, str, str], ...] = (
    ("dept-bigdata", "Big Data Bureau", "大数据管理局"),
    ("dept-police", "Public Security Bureau", "公安局"),
    ("dept-transport", "Transport Bureau", "交通运输局"),
    ("dept-urban", "Urban Management Bureau", "城市管理局"),
    ("dept-ecology", "Ecology and Environment Bureau", "生态环境局"),
    ("dept-water", "Water Affairs Bureau", "水务局"),
    ("dept-health", "Health Commission", "卫生健康委员会"),
    ("dept-emergency", "Emergency Management Bureau", "应急管理局"),
    ("dept-education", "Education Bureau", "教育局"),
    ("dept-housing", "Housing and Urban-Rural Development Bureau", "住房和城乡建设局"),
    ("dept-market", "Market Regulation Administration", "市场监督管理局"),
    ("dept-hrss", "Human Resources and Social Security Bureau", "人力资源和社会保障局"),
    ("dept-civil", "Civil Affairs Bureau", "民政局"),
    ("dept-resources", "Natural Resources and Planning Bureau", "自然资源和规划局"),
    ("dept-tax", "Taxation Bureau", "税务局"),
    ("dept-culture", "Culture, Tourism and Sports Bureau", "文化旅游和体育局"),
)

# Which departments own which asset families; looked up by id, skipped when absent
# from a small config (then the big-data bureau, always first, owns the asset).
IOT_OWNERS: tuple[str, ...] = ("dept-urban", "dept-ecology", "dept-water", "dept-transport",
                               "dept-emergency", "dept-housing")
CAMERA_OWNERS: tuple[str, ...] = ("dept-police", "dept-police", "dept-police", "dept-transport",
                                  "dept-urban", "dept-emergency")

# (English name, Chinese name)
DISTRICTS: tuple[tuple[str, str], ...] = (
    ("Central", "中心区"),
    ("Riverside", "滨江区"),
    ("Old Town", "老城区"),
    ("High-tech Zone", "高新区"),
    ("Harbour", "港口区"),
    ("North Hills", "北山区"),
    ("Airport", "空港区"),
    ("East Lake", "东湖区"),
)

# Around Haikou, whose citizen cloud + 12345 hotline is the report's model.
CITY_CENTRE: tuple[float, float] = (20.0440, 110.1990)

SURNAMES: tuple[str, ...] = ("王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周",
                             "徐", "孙", "马", "朱", "胡", "郭", "何", "林", "罗", "高")
GIVEN_NAMES: tuple[str, ...] = ("伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋",
                                "勇", "艳", "杰", "娟", "涛", "明", "超", "秀英", "霞", "平",
                                "建华", "志强", "海燕", "晓东")

# (tag, battery powered) of IoT terminals.
IOT_TYPES: tuple[tuple[str, bool], ...] = (
    ("smart_pole", False),
    ("air_quality", True),
    ("water_level", True),
    ("manhole_cover", True),
    ("streetlight", False),
    ("parking_sensor", True),
    ("noise_meter", False),
    ("fire_hydrant", True),
)

# The Chinese names of the IoT terminal types, as a city's registry lists them.
IOT_NAMES_ZH: dict[str, str] = {
    "smart_pole": "智慧灯杆",
    "air_quality": "空气质量监测仪",
    "water_level": "水位监测仪",
    "manhole_cover": "智能井盖",
    "streetlight": "路灯单灯控制器",
    "parking_sensor": "停车地磁检测器",
    "noise_meter": "噪声监测仪",
    "fire_hydrant": "智能消防栓",
}

# (English name, Chinese name, owning department)
PORTALS: tuple[tuple[str, str, str], ...] = (
    ("Citizen Cloud app", "市民云App", "dept-bigdata"),
    ("Enterprise Service Portal", "企业服务门户", "dept-market"),
    ("12345 Hotline web", "12345政务服务便民热线网站", "dept-bigdata"),
    ("Social Security mini-program", "社保服务小程序", "dept-hrss"),
    ("Medical Appointment portal", "预约挂号服务平台", "dept-health"),
    ("School Enrolment portal", "义务教育招生入学平台", "dept-education"),
    ("Housing Fund portal", "住房公积金网上服务大厅", "dept-housing"),
    ("Tax e-Service portal", "电子税务局", "dept-tax"),
    ("Traffic Violation portal", "交通违法处理平台", "dept-police"),
    ("Open Data portal", "公共数据开放平台", "dept-bigdata"),
)

SYSTEMS: tuple[tuple[str, str, str], ...] = (
    ("Government Duty system", "政务值班系统", "dept-emergency"),
    ("Data Exchange and Sharing platform", "数据共享交换平台", "dept-bigdata"),
    ("Emergency Command system", "应急指挥系统", "dept-emergency"),
    ("Urban Grid Management system", "城市网格化管理系统", "dept-urban"),
    ("Environmental Monitoring system", "生态环境监测系统", "dept-ecology"),
    ("Flood Control system", "防汛指挥系统", "dept-water"),
    ("Approval Workflow system", "行政审批系统", "dept-market"),
    ("Public Health Reporting system", "公共卫生信息报告系统", "dept-health"),
    ("Traffic Signal Control system", "交通信号控制系统", "dept-transport"),
    ("Civil Affairs Case system", "民政业务办理系统", "dept-civil"),
)

# (English name, Chinese name)
DATASETS: tuple[tuple[str, str], ...] = (
    ("Business registrations", "市场主体登记信息"),
    ("Air quality hourly", "空气质量小时数据"),
    ("Bus positions", "公交车辆实时位置"),
    ("Parking availability", "停车泊位实时信息"),
    ("Water levels", "河湖水位监测数据"),
    ("Hospital beds", "医院床位信息"),
    ("School catalogue", "学校名录"),
    ("Building permits", "建筑工程施工许可信息"),
    ("Social insurance payments", "社会保险缴费信息"),
    ("Street light faults", "路灯故障信息"),
    ("Noise readings", "噪声监测数据"),
    ("Land parcels", "土地宗地信息"),
    ("Tourism visitor counts", "景区游客接待量"),
    ("Tax registrations", "税务登记信息"),
    ("Civil marriage records", "婚姻登记信息"),
    ("Emergency shelters", "应急避难场所信息"),
)

# Declared update cadences of datasets, in hours; short ones are more common.
DATASET_CADENCES_H: tuple[int, ...] = (1, 1, 1, 2, 2, 4, 6, 12, 24)
