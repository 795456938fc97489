"""Pictures of notifications as their recipients see them (test-side code, for docs/screens/).

- ``wecom_markdown_html``: WeCom's group-robot markdown subset, rendered the way the WeCom
  client does — headings, bold, links, inline code, ``>`` quotes and
  ``<font color="info|comment|warning">``; anything else (other tags, other markdown) is
  shown as the literal text it is, as the client shows it. ``wecom_chat_page`` puts it
  into a chat bubble of a phone-width group chat.
- ``mail_client_page``: an e-mail as a mail client shows it — subject, sender, recipient
  and date above, the HTML part below in a frame of its own (as clients isolate it).
- ``screenshot``: headless Chromium takes the picture; the empty background below the
  content is cropped, so the picture ends where the content does.

The renderer follows WeCom's documentation of the markdown message type ("群机器人配置说
明", markdown类型: 标题, 加粗, 链接, 行内代码段, 引用, 字体颜色 info 绿色 / comment 灰色 /
warning 橙红色); sizes and colours imitate the mobile client.
"""

from __future__ import annotations

import html
import re
import tempfile
from datetime import datetime
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from PIL import Image, ImageChops

from tests.chromium import shoot

FONT_COLOURS = {"info": "#2ba471", "comment": "#8f959e", "warning": "#f56c1d"}
_INLINE = re.compile(
    r'<font color="(?P<colour>info|comment|warning)">(?P<font>.*?)</font>'
    r"|\*\*(?P<bold>.+?)\*\*"
    r"|\[(?P<label>[^\]\n]+)\]\((?P<url>[^)\s]+)\)"
    r"|`(?P<code>[^`\n]+)`")
_HEADING = re.compile(r"^(#{1,6}) +(.*)$")


def inline(text: str) -> str:
    """One line of WeCom markdown as HTML: the supported spans, everything else literal."""
    out: list[str] = []
    at = 0
    for match in _INLINE.finditer(text):
        out.append(html.escape(text[at:match.start()]))
        if match["colour"]:
            out.append(f'<span style="color:{FONT_COLOURS[match["colour"]]}">{inline(match["font"])}</span>')
        elif match["bold"]:
            out.append(f"<b>{inline(match['bold'])}</b>")
        elif match["label"]:
            out.append(f'<a href="{html.escape(match["url"])}">{html.escape(match["label"])}</a>')
        else:
            out.append(f"<code>{html.escape(match['code'])}</code>")
        at = match.end()
    out.append(html.escape(text[at:]))
    return "".join(out)


def wecom_markdown_html(content: str) -> str:
    """The blocks of a WeCom markdown message: headings, quote runs, lines, blank-line gaps."""
    blocks: list[str] = []
    quote: list[str] = []

    def close_quote() -> None:
        if quote:
            blocks.append('<div class="quote">' + "<br>".join(quote) + "</div>")
            quote.clear()

    for line in content.split("\n"):
        if line.startswith(">"):
            quote.append(inline(line[1:].lstrip(" ")))
            continue
        close_quote()
        heading = _HEADING.match(line)
        if heading:
            blocks.append(f'<div class="h{len(heading[1])}">{inline(heading[2])}</div>')
        elif not line.strip():
            blocks.append('<div class="gap"></div>')
        else:
            blocks.append(f'<div class="line">{inline(line)}</div>')
    close_quote()
    return "\n".join(blocks)


_FONT = "'PingFang SC', 'Noto Sans CJK SC', 'Microsoft YaHei', sans-serif"
_CHAT_STYLE = f"""
* {{ box-sizing: border-box; }}
body {{ margin: 0; width: 420px; background: #ededed; font-family: {_FONT}; color: #1f2329; }}
.bar {{ height: 52px; display: flex; align-items: center; justify-content: space-between; padding: 0 14px;
        background: #f7f7f7; border-bottom: 1px solid #dcdcdc; font-size: 17px; }}
.bar .back, .bar .more {{ width: 40px; font-size: 22px; color: #333; }}
.bar .more {{ text-align: right; }}
.bar .title {{ font-weight: 600; }}
.chat {{ padding: 14px 12px 28px; }}
.time {{ text-align: center; font-size: 12px; color: #9a9a9a; margin: 4px 0 14px; }}
.row {{ display: flex; align-items: flex-start; gap: 9px; }}
.avatar {{ flex: none; width: 40px; height: 40px; border-radius: 6px; background: #2f6ad9; color: #fff;
           font-size: 19px; font-weight: 600; display: flex; align-items: center; justify-content: center; }}
.who {{ font-size: 12px; color: #888; margin: 0 0 5px 2px; }}
.who .tag {{ display: inline-block; margin-left: 5px; padding: 0 4px; border-radius: 3px; font-size: 10px;
             line-height: 15px; color: #2f6ad9; background: #e6eefc; }}
.bubble {{ width: 330px; background: #fff; border-radius: 6px; padding: 11px 13px 12px; font-size: 14.5px;
           line-height: 1.55; word-break: break-word; overflow-wrap: anywhere; }}
.bubble .h1 {{ font-size: 20px; font-weight: 600; margin: 2px 0 6px; }}
.bubble .h2 {{ font-size: 17.5px; font-weight: 600; margin: 1px 0 6px; line-height: 1.45; }}
.bubble .h3, .bubble .h4, .bubble .h5, .bubble .h6 {{ font-size: 15.5px; font-weight: 600;
                                                     margin: 1px 0 4px; }}
.bubble .quote {{ color: #646a73; border-left: 3px solid #dee0e3; padding: 1px 0 1px 8px; margin: 6px 0; }}
.bubble .gap {{ height: 9px; }}
.bubble a {{ color: #2f6ad9; text-decoration: none; }}
.bubble code {{ font-family: monospace; background: #f2f3f5; padding: 0 3px; border-radius: 3px; }}
"""


def wecom_chat_page(content: str, *, group: str, robot: str, robot_tag: str, time: str) -> str:
    """A phone-width WeCom group chat with one robot message (the markdown ``content``)."""
    return (
        "<!DOCTYPE html>\n<html lang=\"zh-CN\"><head><meta charset=\"utf-8\">"
        f"<style>{_CHAT_STYLE}</style></head><body>\n"
        f'<div class="bar"><span class="back">‹</span><span class="title">{html.escape(group)}</span>'
        '<span class="more">⋯</span></div>\n'
        f'<div class="chat"><div class="time">{html.escape(time)}</div>\n'
        '<div class="row"><div class="avatar">警</div><div>'
        f'<div class="who">{html.escape(robot)}<span class="tag">{html.escape(robot_tag)}</span></div>'
        f'<div class="bubble">\n{wecom_markdown_html(content)}\n</div></div></div>\n'
        "</div></body></html>\n")


_MAIL_STYLE = f"""
body {{ margin: 0; width: 760px; background: #f2f3f5; font-family: {_FONT}; color: #1f2329; }}
.head {{ background: #ffffff; padding: 20px 28px 14px; border-bottom: 1px solid #e5e6eb; }}
.subject {{ font-size: 20px; font-weight: 600; line-height: 1.4; margin-bottom: 12px; }}
.meta {{ display: grid; grid-template-columns: 64px 1fr; row-gap: 3px; font-size: 13px; color: #1f2329; }}
.meta .k {{ color: #8f959e; }}
iframe {{ display: block; width: 760px; height: 1400px; border: 0; }}
"""


def mail_client_page(mail: EmailMessage, *, tz: ZoneInfo, labels: dict[str, str]) -> str:
    """The mail as a client shows it: the headers a reader sees, then the HTML part in a frame."""
    body = mail.get_body(("html",))
    assert body is not None
    sent: datetime = parsedate_to_datetime(str(mail["Date"])).astimezone(tz)
    rows = [(labels["from"], str(mail["From"])), (labels["to"], str(mail["To"])),
            (labels["date"], f"{sent:%Y-%m-%d %H:%M}")]
    meta = "".join(f'<span class="k">{html.escape(k)}</span><span>{html.escape(v)}</span>' for k, v in rows)
    return (
        "<!DOCTYPE html>\n<html lang=\"zh-CN\"><head><meta charset=\"utf-8\">"
        f"<style>{_MAIL_STYLE}</style></head><body>\n"
        f'<div class="head"><div class="subject">{html.escape(str(mail["Subject"]))}</div>'
        f'<div class="meta">{meta}</div></div>\n'
        # A frame of its own, as clients show an HTML part. Clients also sandbox it; headless
        # Chromium does not paint a sandboxed (opaque-origin) frame into a screenshot, and
        # the part runs no script, so the picture is the same without the sandbox.
        f'<iframe srcdoc="{html.escape(body.get_content(), quote=True)}"></iframe>\n'
        "</body></html>\n")


def screenshot(browser: str, page: str, out: Path, *, width: int, height: int = 2400,
               margin: int = 0) -> Image.Image:
    """Render ``page`` at ``width`` CSS pixels (scale 1) and crop the background below the content."""
    with tempfile.TemporaryDirectory(prefix="citybrain-screen-") as tmp:
        source = Path(tmp) / "page.html"
        source.write_text(page, encoding="utf-8")
        raw = Path(tmp) / "shot.png"
        shoot(browser, source, raw, width=width, height=height,
              flags=("--force-device-scale-factor=1", "--disable-features=Translate", "--lang=zh-CN"))
        with Image.open(raw) as shot:
            image = shot.convert("RGB")
    image = crop_bottom(image, margin)
    out.parent.mkdir(parents=True, exist_ok=True)
    image.save(out, optimize=True)
    return image


def crop_bottom(image: Image.Image, margin: int) -> Image.Image:
    """Cut the rows below the content: those of the bottom row's colour, keeping ``margin``."""
    background = Image.new("RGB", image.size, image.getpixel((0, image.height - 1)))
    box = ImageChops.difference(image, background).getbbox()
    bottom = image.height if box is None else min(image.height, box[3] + margin)
    return image.crop((0, 0, image.width, bottom))
