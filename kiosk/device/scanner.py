"""The kiosk's document scanner: the interface a real scanner's driver implements, and the development
simulator that serves test documents.

A resident lays a paper material (a household register page, a signed form) on the glass and the kiosk
scans it into one file, a JPEG for a single page or a PDF for several, which the resident's application
then carries as a material (the server checks and keeps it: `backend/materials/`). A driver wraps
SANE (`scanimage`), TWAIN or the vendor's SDK in `Scanner` (docs/kiosk.md). The simulator holds test
documents that a developer, or a test, lays on the glass by name.
"""

from __future__ import annotations

import io
import random
import threading
from dataclasses import dataclass, field
from typing import Literal, Protocol

from PIL import Image, ImageDraw, ImageFont

Outcome = Literal["scanned", "no-document", "paper-jam", "scanner-offline", "failed"]
OUTCOMES: tuple[Outcome, ...] = ("scanned", "no-document", "paper-jam", "scanner-offline", "failed")
A4_MM = (210, 297)


@dataclass(frozen=True, slots=True)
class Scan:
    """What one scan gave: the outcome and, when `scanned`, the file (JPEG for one page, PDF for more)."""

    outcome: Outcome
    content: bytes = b""
    content_type: str = ""  # image/jpeg or application/pdf
    pages: int = 0
    name: str = ""  # a file name for the material, from the scanner's own numbering


class Scanner(Protocol):
    """What the kiosk needs of a document scanner."""

    def scan(self, dpi: int = 200) -> Scan:
        """Scan what lies on the glass (or in the feeder) now. `no-document` when nothing does; the
        other outcomes say why nothing was scanned."""

    def status(self) -> str:
        """`ok`, `offline` or `absent`, for the heartbeat."""


@dataclass(frozen=True, slots=True)
class SamplePaper:
    """A sample paper document: its title and lines of text, one list per page."""

    key: str
    title: str
    pages: list[list[str]] = field(default_factory=list)


# Sample papers for the demo and the tests: what residents bring to a township centre. Invented content,
# marked as samples on every page.
DEMO_DOCUMENTS = [
    SamplePaper("id-card-copy", "居民身份证（复印件）", [[
        "姓名：样本", "性别：女　民族：汉", "出生：1949年12月31日", "住址：北京市西城区示例街道1号",
        "公民身份号码：（样本，已隐去）", "", "签发机关：北京市公安局西城分局（样本）", "有效期限：长期"]]),
    SamplePaper("household-register", "居民户口簿（常住人口登记卡）", [[
        "户主或与户主关系：户主", "姓名：样本", "性别：女　民族：汉", "出生日期：1949年12月31日",
        "住址：北京市西城区示例街道1号", "登记日期：2001年5月8日"]]),
    SamplePaper("commitment", "跨省异地就医备案个人承诺书", [[
        "本人承诺：在参保地以外长期居住，申请办理异地就医备案。", "所提供的信息真实、准确、完整，",
        "如有不实，愿意承担相应责任。", "", "承诺人（签字）：样本", "日期：2026年11月30日"]]),
    SamplePaper("application-form", "城乡居民基本养老保险关系转移申请表", [
        ["申请人：样本", "转出地：四川省成都市", "转入地：浙江省杭州市", "缴费年限：15年"],
        ["申请人声明：以上信息真实有效。", "", "申请人（签字）：样本", "日期：2026年11月30日"]]),
]


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    from backend.certificates.render import FONT_PATH  # the renderer's Chinese font (fonts-wqy-microhei)

    try:
        return ImageFont.truetype(FONT_PATH, size)
    except OSError:
        return ImageFont.load_default(size)


def render_page(document: SamplePaper, page: int, dpi: int = 200) -> Image.Image:
    """One A4 page of a test document as a scanner sees it: off-white paper with a little noise (a
    scan is never pure white), the title, the lines, and 样本 · SAMPLE across it."""
    width, height = (round(mm / 25.4 * dpi) for mm in A4_MM)
    noise = random.Random(f"{document.key}:{page}")
    paper = Image.effect_noise((width // 4, height // 4), 6).resize((width, height)).point(lambda v: 236 + v // 24)
    image = Image.merge("RGB", (paper, paper, paper.point(lambda v: v - 6)))
    draw = ImageDraw.Draw(image)
    unit = dpi / 25.4  # pixels per millimetre
    title, text = _font(round(8 * unit)), _font(round(5 * unit))
    draw.text((width / 2, 30 * unit), document.title, font=title, fill=(20, 20, 20), anchor="mm")
    for n, line in enumerate(document.pages[page]):
        shift = noise.uniform(-0.4, 0.4) * unit  # a page never lies quite straight
        draw.text((25 * unit + shift, (55 + 12 * n) * unit), line, font=text, fill=(35, 35, 35))
    draw.text((width / 2, height - 20 * unit), f"样本 · SAMPLE　第 {page + 1} 页 共 {len(document.pages)} 页",
              font=text, fill=(120, 120, 120), anchor="mm")
    return image


def scanned_file(document: SamplePaper, dpi: int = 200) -> tuple[bytes, str]:
    """The document as the scanner's file: a JPEG for one page, a PDF (JPEG pages) for several."""
    pages = [render_page(document, n, dpi) for n in range(len(document.pages))]
    out = io.BytesIO()
    if len(pages) == 1:
        pages[0].save(out, "JPEG", quality=80, dpi=(dpi, dpi))
        return out.getvalue(), "image/jpeg"
    pages[0].save(out, "PDF", save_all=True, append_images=pages[1:], resolution=dpi, quality=80)
    return out.getvalue(), "application/pdf"


class SimulatedScanner:
    """Test documents laid on the glass by name; thread-safe. `fail_next` makes the next scan report
    a fault (a jam, the scanner offline) as a real one would."""

    def __init__(self, documents: list[SamplePaper] = DEMO_DOCUMENTS) -> None:
        self.documents = {d.key: d for d in documents}
        self._placed: str | None = None
        self._fault: Outcome | None = None
        self._scans = 0
        self._lock = threading.Lock()

    def place(self, key: str) -> SamplePaper:
        with self._lock:
            if key not in self.documents:
                raise KeyError(key)
            self._placed = key
            return self.documents[key]

    def remove(self) -> None:
        with self._lock:
            self._placed = None

    def fail_next(self, outcome: Outcome) -> None:
        with self._lock:
            self._fault = outcome

    def placed(self) -> SamplePaper | None:
        with self._lock:
            return self.documents.get(self._placed) if self._placed else None

    def scan(self, dpi: int = 200) -> Scan:
        with self._lock:
            fault, self._fault = self._fault, None
            document = self.documents.get(self._placed) if self._placed else None
            self._scans += 1
            number = self._scans
        if fault is not None:
            return Scan(fault)
        if document is None:
            return Scan("no-document")
        content, content_type = scanned_file(document, dpi)
        extension = "pdf" if content_type == "application/pdf" else "jpg"
        return Scan("scanned", content, content_type, len(document.pages), f"scan-{number:04d}.{extension}")

    def status(self) -> str:
        return "ok"
