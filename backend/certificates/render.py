"""Pictures of a certificate: its QR code alone, and a printable A4 page (PNG or PDF) for kiosk
printers; the page's parts (frame and title, labelled rows, stamp, PNG and PDF output) also print other
documents, such as a filing's receipt. CPU work: callers run these in a worker thread, never on the
event loop."""

from __future__ import annotations

import datetime as dt
import io
import logging
from functools import lru_cache

import segno
from PIL import Image, ImageDraw, ImageFont

from backend.certificates.certificate_types import CERTIFICATE_TYPES
from backend.certificates.clock import CHINA_TIME
from backend.certificates.schemas import CertificateView

log = logging.getLogger("tongban.certificates")
FONT_PATH = "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"
DPI = 150
PAGE = (1240, 1754)  # A4 at 150 dpi
INK, MUTED, RED, FRAME = (20, 20, 20), (90, 90, 90), (200, 30, 30), (150, 20, 20)
MAX_VALUE_LINES = 4
_STATUS_STAMP = {"revoked": "已撤销", "key-withdrawn": "已失效", "expired": "已过期", "not-yet-valid": "尚未生效"}


@lru_cache(maxsize=8)
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    try:
        return ImageFont.truetype(FONT_PATH, size)
    except OSError:
        # Without the CJK font the page is still printed, QR code intact; Chinese shows as boxes.
        log.warning("font %s is missing; install fonts-wqy-microhei for Chinese text", FONT_PATH)
        return ImageFont.load_default(size)


def qr_code(text: str) -> segno.QRCode:
    """The QR code of `text` at error-correction level Q (not boosted): Base45 uses only the QR
    alphanumeric characters, so segno encodes it in alphanumeric mode."""
    return segno.make(text, error="q", boost_error=False, micro=False)


def qr_png(text: str, scale: int = 6) -> bytes:
    """The QR code as a PNG with a 4-module quiet zone, as segno writes it (a small 1-bit image)."""
    buffer = io.BytesIO()
    qr_code(text).save(buffer, kind="png", scale=scale, border=4)
    return buffer.getvalue()


def _qr_image(code: segno.QRCode, scale: int) -> Image.Image:
    buffer = io.BytesIO()
    code.save(buffer, kind="png", scale=scale, border=4)
    buffer.seek(0)
    return Image.open(buffer).convert("RGB")


def _wrap(draw: ImageDraw.ImageDraw, text: str, font: ImageFont.FreeTypeFont | ImageFont.ImageFont,
          width: int) -> list[str]:
    """Break Chinese (or any) text into lines no wider than `width`, character by character."""
    lines, line = [], ""
    for char in text:
        if draw.textlength(line + char, font=font) > width and line:
            lines.append(line)
            line = ""
        line += char
    return [*lines, line] if line else lines or [""]


def _date(value: dt.datetime) -> str:
    return value.astimezone(CHINA_TIME).strftime("%Y年%m月%d日")


def _rows(view: CertificateView) -> list[tuple[str, str]]:
    kind = CERTIFICATE_TYPES.get(view.certificate_type)
    identifier = "统一社会信用代码" if view.holder.kind == "organisation" else "公民身份号码"
    rows = [("证照编号", view.number), ("持证人" if view.holder.kind == "citizen" else "持证主体", view.holder.name),
            (identifier, view.holder.identifier)]
    for name, value in view.fields.items():
        spec = kind.field_by_name.get(name) if kind else None
        rows.append((spec.title if spec else name, spec.display(value) if spec else str(value)))
    expiry = view.expires_at - dt.timedelta(seconds=1)  # the last instant of validity names the last day
    rows += [("有效期", f"{_date(view.valid_from)} 至 {_date(expiry)}"), ("签发机关", view.authority_name),
             ("签发日期", _date(view.issued_at))]
    return rows


def blank_page(title: str, subtitle: str) -> tuple[Image.Image, ImageDraw.ImageDraw]:
    """An A4 page with the double frame, a title and a subtitle: what every printed document of the
    service (a certificate, a filing receipt) starts from."""
    page = Image.new("RGB", PAGE, "white")
    draw = ImageDraw.Draw(page)
    width, height = PAGE
    draw.rectangle((40, 40, width - 40, height - 40), outline=FRAME, width=6)
    draw.rectangle((56, 56, width - 56, height - 56), outline=FRAME, width=2)
    draw.text((width // 2, 150), title, font=_font(64), fill=INK, anchor="mm")
    draw.text((width // 2, 225), subtitle, font=_font(28), fill=MUTED, anchor="mm")
    return page, draw


def labelled_rows(draw: ImageDraw.ImageDraw, rows: list[tuple[str, str]], y: int = 310) -> int:
    """Draw each (label, value) row from `y` down, values wrapped and cut at `MAX_VALUE_LINES` lines;
    return the height below the last row."""
    label_font, value_font = _font(30), _font(32)
    left, value_x = 120, 420
    for label, value in rows:
        lines = _wrap(draw, value, value_font, PAGE[0] - value_x - 120)
        if len(lines) > MAX_VALUE_LINES:
            # A long value (a business scope) is cut on paper; the QR code carries all of it.
            lines = [*lines[:MAX_VALUE_LINES - 1], lines[MAX_VALUE_LINES - 1][:-1] + "…"]
        draw.text((left, y), label, font=label_font, fill=MUTED)
        for line in lines:
            draw.text((value_x, y), line, font=value_font, fill=INK)
            y += 44
        y += 10
    return y


def stamp(draw: ImageDraw.ImageDraw, text: str) -> None:
    """A red status word in the top right corner (已撤销, 逾期)."""
    draw.text((PAGE[0] - 200, 330), text, font=_font(72), fill=RED, anchor="mm")


def certificate_page(view: CertificateView, qr_text: str) -> Image.Image:
    """An A4 page: title, every field with its Chinese label, validity, issuer and the QR code."""
    page, draw = blank_page(view.type_name, "电子证照 · Electronic certificate")
    width, height = PAGE
    y = labelled_rows(draw, _rows(view))

    # The QR code takes the space left below the text, never less than a phone can scan from paper.
    room = max(360, min(560, height - 200 - (y + 20)))
    symbol = qr_code(qr_text)
    modules = symbol.symbol_size(scale=1, border=4)[0]
    code = _qr_image(symbol, scale=max(2, room // modules))  # whole pixels per module keep edges sharp
    side = code.width
    top = min(y + 20, height - 200 - side)
    page.paste(code, ((width - side) // 2, top))
    draw.text((width // 2, top + side + 40), "扫描二维码可离线核验签名、有效期与签发机关", font=_font(28), fill=MUTED,
              anchor="mm")
    draw.text((width // 2, top + side + 85), "格式: TB1 (COSE_Sign1 · Ed25519 · Base45)", font=_font(22), fill=MUTED,
              anchor="mm")
    if status_word := _STATUS_STAMP.get(view.status):
        stamp(draw, status_word)
    return page


def page_png(page: Image.Image) -> bytes:
    buffer = io.BytesIO()
    # Not `optimize`: it tripled the time for a few per cent of bytes.
    page.save(buffer, format="PNG", dpi=(DPI, DPI))
    return buffer.getvalue()


def page_pdf(page: Image.Image, title: str, author: str) -> bytes:
    buffer = io.BytesIO()
    page.save(buffer, format="PDF", resolution=DPI, title=title, author=author)
    return buffer.getvalue()


def certificate_png(view: CertificateView, qr_text: str) -> bytes:
    return page_png(certificate_page(view, qr_text))


def certificate_pdf(view: CertificateView, qr_text: str) -> bytes:
    return page_pdf(certificate_page(view, qr_text), f"{view.type_name} {view.number}", view.authority_name)
