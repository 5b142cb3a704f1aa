"""Development stand-ins for a kiosk's hardware: test ID cards made from the public test photos, and
camera files for Chromium's fake camera showing the card holders. Never used in production mode."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from backend.identity.resident_id import check_character
from kiosk.device import sample_photos
from kiosk.device.reader import IdCard, chip_photo


@dataclass(frozen=True, slots=True)
class TestCard:
    """A sample card: whose it is, which public photo its chip photo is made from, which one the camera shows."""

    key: str
    resident_id: str
    name: str
    chip_from: str
    camera_shows: str
    valid_until: dt.date | None = dt.date(2036, 1, 1)
    address: str = ""


def _with_check(first17: str) -> str:
    return first17 + check_character(first17)


# The demo citizens (backend/demo.py) and a resident with neither phone nor account. Sample people: the
# ID numbers are structurally valid but invented; the faces are the public test photos.
DEMO_CARDS = [
    TestCard("li", "11010519491231002X", "李秀英", "obama.jpg", "obama2.jpg", None, "北京市西城区"),
    TestCard("wang", "510107195203150010", "王建国", "obama3.jpg", "obama.jpg", dt.date(2032, 3, 15), "成都市武侯区"),
    TestCard("chen", "330106198806120025", "陈静", "biden.jpg", "biden.jpg", dt.date(2034, 6, 12), "杭州市西湖区"),
    TestCard("zhao", _with_check("33010619450218002"), "赵秀兰", "obama2.jpg", "obama3.jpg", None, "杭州市西湖区"),
    # 张桂兰, a 四川 pensioner living in 杭州, overdue (backend/demo.py): pension recognition at the kiosk.
    TestCard("zhang", "510104194806120028", "张桂兰", "obama3.jpg", "obama.jpg", None, "成都市锦江区"),
]


def build_cards(cards: list[TestCard], face_box: Callable[[bytes], tuple[float, float, float, float]]) -> dict[str, IdCard]:
    """The cards with their chip photos, `face_box` finding the face in each source photo."""
    built = {}
    for card in cards:
        source = sample_photos.photo(card.chip_from)
        built[card.key] = IdCard(resident_id=card.resident_id, name=card.name, valid_until=card.valid_until,
                                 chip_photo=chip_photo(source, face_box(source)), address=card.address)
    return built


def framed(photo: bytes, face_box: tuple[float, float, float, float], *, face_share: float = 0.3,
           aspect: float = 4 / 3) -> bytes:
    """The photo cropped as a kiosk camera sees someone standing in front of it: the face `face_share`
    of the frame's width, a little above the middle (JPEG)."""
    image = Image.open(io.BytesIO(photo)).convert("RGB")
    x, y, w, h = face_box
    width = w / face_share
    height = width / aspect
    left, top = x + w / 2 - width / 2, y + h / 2 - height * 0.45
    out = io.BytesIO()
    image.crop((round(left), round(top), round(left + width), round(top + height))).save(out, "JPEG", quality=92)
    return out.getvalue()


def camera_file(photo: bytes, path: Path, size: tuple[int, int] = (640, 480), frames: int = 1) -> Path:
    """A Y4M video (4:2:0) of `photo` letterboxed to `size`, for `--use-file-for-fake-video-capture`."""
    return burst_camera_file([photo] * frames, path, size)


def burst_camera_file(photos: list[bytes], path: Path, size: tuple[int, int] = (640, 480), fps: int = 10) -> Path:
    """A Y4M video of the photos in turn (a burst, for a liveness challenge): Chromium loops it."""
    width, height = size
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as sink:
        sink.write(f"YUV4MPEG2 W{width} H{height} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for photo in photos:
            image = Image.open(io.BytesIO(photo)).convert("RGB")
            image.thumbnail(size, Image.Resampling.LANCZOS)
            canvas = Image.new("RGB", size, (128, 128, 128))
            canvas.paste(image, ((width - image.width) // 2, (height - image.height) // 2))
            y, cb, cr = canvas.convert("YCbCr").split()
            sink.write(b"FRAME\n")
            sink.write(np.asarray(y, dtype=np.uint8).tobytes())
            for plane in (cb, cr):
                sink.write(np.asarray(plane.resize((width // 2, height // 2), Image.Resampling.BOX),
                                      dtype=np.uint8).tobytes())
    return path
