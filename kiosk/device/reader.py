"""The ID-card reader: what the kiosk reads from a resident ID card's chip, the interface a real
reader's driver implements, and the development simulator that serves test cards.

A real second-generation ID card reader (GA 467) decrypts the chip through its security module and
hands over the holder's data and the chip photo (102×126); a driver wraps the vendor's SDK in
`CardReader` (docs/kiosk.md). The simulator holds test cards and lets a developer, or a test, insert
and remove one.
"""

from __future__ import annotations

import datetime as dt
import io
import threading
from dataclasses import dataclass
from typing import Protocol

from PIL import Image

CHIP_PHOTO_SIZE = (102, 126)


@dataclass(frozen=True, slots=True)
class IdCard:
    resident_id: str
    name: str
    valid_until: dt.date | None  # None: a long-term card (长期)
    chip_photo: bytes  # PNG, 102×126
    address: str = ""


class CardReader(Protocol):
    """What the kiosk needs of a card reader."""

    def present(self) -> IdCard | None:
        """The card in the reader now, read from its chip; None when there is none."""

    def status(self) -> str:
        """`ok`, `offline` or `absent`, for the heartbeat."""


class SimulatedCardReader:
    """Test cards that a developer or test inserts by name; thread-safe."""

    def __init__(self, cards: dict[str, IdCard]) -> None:
        self.cards = cards
        self._inserted: str | None = None
        self._lock = threading.Lock()

    def insert(self, name: str) -> IdCard:
        with self._lock:
            if name not in self.cards:
                raise KeyError(name)
            self._inserted = name
            return self.cards[name]

    def remove(self) -> None:
        with self._lock:
            self._inserted = None

    def present(self) -> IdCard | None:
        with self._lock:
            return self.cards.get(self._inserted) if self._inserted else None

    def status(self) -> str:
        return "ok"


def chip_photo(photo: bytes, face_box: tuple[float, float, float, float], *, face_share: float = 0.6,
               quality: int = 70) -> bytes:
    """An ID-card chip photo made from a photo: head and shoulders around `face_box` (x, y, w, h), the
    face `face_share` of the width, 102×126, stored lossily as the chip's small file is (then as PNG,
    the form a reader's SDK hands over)."""
    image = Image.open(io.BytesIO(photo)).convert("RGB")
    x, y, w, h = face_box
    width = w / face_share
    height = width * CHIP_PHOTO_SIZE[1] / CHIP_PHOTO_SIZE[0]
    centre_x, centre_y = x + w / 2, y + h / 2
    box = (centre_x - width / 2, centre_y - height * 0.45, centre_x + width / 2, centre_y + height * 0.55)
    small = image.crop(tuple(round(v) for v in box)).resize(CHIP_PHOTO_SIZE, Image.Resampling.LANCZOS)
    lossy = io.BytesIO()
    small.save(lossy, "JPEG", quality=quality)
    out = io.BytesIO()
    Image.open(io.BytesIO(lossy.getvalue())).save(out, "PNG")
    return out.getvalue()
