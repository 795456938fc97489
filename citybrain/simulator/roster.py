"""Names for the simulated city: departments, districts, people, places.

Static tables only, so that ``city.py`` stays about structure. The departments are the
ones a prefecture-level city connects first (the big-data bureau leads); when a config
asks for more than the table holds, numbered offices are appended.
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

PORTALS: tuple[tuple[str, str], ...] = (
    ("Citizen Cloud app", "dept-bigdata"),
    ("Enterprise Service Portal", "dept-market"),
    ("12345 Hotline web", "dept-bigdata"),
    ("Social Security mini-program", "dept-hrss"),
    ("Medical Appointment portal", "dept-health"),
    ("School Enrolment portal", "dept-education"),
    ("Housing Fund portal", "dept-housing"),
    ("Tax e-Service portal", "dept-tax"),
    ("Traffic Violation portal", "dept-police"),
    ("Open Data portal", "dept-bigdata"),
)

SYSTEMS: tuple[tuple[str, str], ...] = (
    ("Government Duty system", "dept-emergency"),
    ("Data Exchange and Sharing platform", "dept-bigdata"),
    ("Emergency Command system", "dept-emergency"),
    ("Urban Grid Management system", "dept-urban"),
    ("Environmental Monitoring system", "dept-ecology"),
    ("Flood Control system", "dept-water"),
    ("Approval Workflow system", "dept-market"),
    ("Public Health Reporting system", "dept-health"),
    ("Traffic Signal Control system", "dept-transport"),
    ("Civil Affairs Case system", "dept-civil"),
)

DATASETS: tuple[str, ...] = (
    "Business registrations", "Air quality hourly", "Bus positions", "Parking availability",
    "Water levels", "Hospital beds", "School catalogue", "Building permits",
    "Social insurance payments", "Street light faults", "Noise readings", "Land parcels",
    "Tourism visitor counts", "Tax registrations", "Civil marriage records",
    "Emergency shelters",
)

# Declared update cadences of datasets, in hours; short ones are more common.
DATASET_CADENCES_H: tuple[int, ...] = (1, 1, 1, 2, 2, 4, 6, 12, 24)
