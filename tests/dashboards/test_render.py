"""The overview wall, drawn from its panels' SQL on the simulated city and photographed by
Chromium (tests/dashboards/render.py; `python -m tests.dashboards.render` refreshes
docs/screens/dashboard-overview.png the same way)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from PIL import Image

from dashboards.boards import citizens
from tests.chromium import chromium
from tests.dashboards import render

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(chromium() is None,
                       reason="Chromium is not installed (Debian: apt-get install -y chromium); "
                              "the dashboard screenshot is not taken"),
]


@pytest.fixture(scope="module")
def rendered(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[render.Rendered]:
    work = tmp_path_factory.mktemp("render")
    with render.loaded_city(database_url, work / "city") as (schema, _):
        yield render.render_overview(database_url, schema, work / "dashboard-overview.png", work=work)


def test_every_overview_panel_is_drawn_from_rows_of_its_sql(rendered: render.Rendered) -> None:
    document = rendered.board.to_json()
    drawn = {p["id"] for p in document["panels"] if p["type"] != "row"}
    assert set(rendered.frames) == drawn
    empty = [p["title"] for p in document["panels"] if p["id"] in drawn and not rendered.frames[p["id"]].rows]
    assert not empty, f"panels without rows on the simulated city: {empty}"


def test_the_page_shows_chinese_headers_labels_and_names(rendered: render.Rendered) -> None:
    page = rendered.html.read_text(encoding="utf-8")
    for text in ("城市大脑 · 城市运行总览", "今日30分钟响应达标率", "五大重点及运维综合评分",
                 "待处置事件", "级别", "状态", "部门", "特别重大（Ⅰ级）", "待响应", "已确认",
                 "成熟期", "分钟", "指标达标一览", "是否达标", "达标", "未达标"):
        assert text in page, text
    # Department names from the registry, never their ids; no stored ids as labels.
    assert "公安局" in page and "dept-police" not in page
    for raw in (">triggered<", ">acknowledged<", ">I<", ">infrastructure<", ">preparation<"):
        assert raw not in page, raw


def test_the_screenshot_is_the_whole_wall(rendered: render.Rendered) -> None:
    with Image.open(rendered.png) as image:
        assert image.size == (render.WIDTH, render.page_height(rendered.board.to_json()))
        rgb = image.convert("RGB")
        # Not a blank page: the stat backgrounds (green and red) and the dark theme are there.
        counted: list[tuple[int, tuple[int, int, int]]] = rgb.resize((160, 150)).getcolors(
            maxcolors=160 * 150) or []  # type: ignore[assignment]  # RGB: (count, (r, g, b))
        colours = {c for _, c in counted}
    assert len(colours) > 200
    assert any(g > 150 and r < 150 for r, g, _ in colours)  # a green (target met)
    assert any(r > 200 and g < 100 for r, g, _ in colours)  # a red (target missed)


def test_the_committed_screenshot_is_there() -> None:
    with Image.open(render.SCREEN) as image:
        assert image.format == "PNG" and image.size[0] == render.WIDTH


def test_the_citizens_board_is_drawn_from_its_sql(database_url: str,
                                                  tmp_path_factory: pytest.TempPathFactory) -> None:
    """The portal, 好差评 and 12345 board on the simulated city, photographed into
    docs/screens/dashboard-citizens.png: every panel runs its SQL; the figures that have
    evidence in the city's two days are drawn from rows."""
    work = tmp_path_factory.mktemp("render-citizens")
    out = render.ROOT / "docs" / "screens" / "dashboard-citizens.png"
    with render.loaded_city(database_url, work / "city") as (schema, _):
        drawn = render.render_overview(database_url, schema, out, work=work, build=citizens.build)
    document = drawn.board.to_json()
    panels = {p["id"]: p["title"] for p in document["panels"] if p["type"] != "row"}
    assert set(drawn.frames) == set(panels)
    page = drawn.html.read_text(encoding="utf-8")
    for text in ("市民服务：门户、好差评、12345", "日活跃用户数（DAU）", "好评率", "12345工单按时响应率"):
        assert text in page, text
    with_rows = {panels[i] for i, frame in drawn.frames.items() if frame.rows}
    for title in ("日活跃用户数（DAU）", "好评率（按部门）", "12345工单按时响应率（按部门）"):
        assert title in with_rows, (title, sorted(with_rows))
    with Image.open(out) as image:
        assert image.size == (render.WIDTH, render.page_height(document))
