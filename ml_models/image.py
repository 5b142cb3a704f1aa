"""Decoding untrusted photos into RGB arrays, bounded before any pixel is decoded.

The byte size is checked first, then the dimensions from the file header (Pillow opens lazily), and
only then are pixels decoded. Large JPEGs are decoded at a reduced scale (libjpeg's DCT scaling),
which is both the fastest decode and enough: faces are compared at 112×112.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

ACCEPTED_FORMATS = ("JPEG", "PNG", "WEBP")


class ImageRejected(ValueError):
    """The bytes cannot be used as a photo; `code` says why (a stable reason code)."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


@dataclass(frozen=True, slots=True)
class ImageLimits:
    max_bytes: int = 4 * 1024 * 1024
    max_pixels: int = 24_000_000
    # Photos larger than this on the long side are reduced (by a power of two) before analysis.
    working_side: int = 1280


@dataclass(frozen=True, slots=True)
class DecodedImage:
    rgb: np.ndarray  # H×W×3 uint8, EXIF orientation applied
    format: str
    original_size: tuple[int, int]  # (width, height) as stored in the file


def decode(data: bytes, limits: ImageLimits = ImageLimits()) -> DecodedImage:
    """Decode a JPEG, PNG or WebP photo; raise `ImageRejected` with a reason code otherwise."""
    if len(data) > limits.max_bytes:
        raise ImageRejected("image-too-large", f"the photo is {len(data)} bytes; the limit is {limits.max_bytes}")
    try:
        image = Image.open(io.BytesIO(data), formats=ACCEPTED_FORMATS)
    except UnidentifiedImageError:
        raise ImageRejected("not-an-image", "the data is not a JPEG, PNG or WebP photo") from None
    except Image.DecompressionBombError:  # Pillow's own, higher limit, met while reading the header
        raise ImageRejected("image-too-many-pixels", f"the photo has more than {limits.max_pixels} pixels") from None
    except Exception:  # Pillow's header parsers raise many types on malformed input
        raise ImageRejected("image-corrupt", "the photo's header is damaged") from None
    width, height, stored_format = *image.size, image.format or "?"
    if width < 1 or height < 1 or width * height > limits.max_pixels:
        raise ImageRejected("image-too-many-pixels",
                            f"the photo is {width}×{height} pixels; the limit is {limits.max_pixels} pixels")
    # Reduce by a power of two: JPEG does it inside the decoder (DCT scaling), the others by a box
    # filter; both far cheaper than resampling, and the working size stays within a factor of two.
    factor = 1
    while max(width, height) / factor > limits.working_side:
        factor *= 2
    try:
        if image.format == "JPEG" and factor > 1:
            image.draft("RGB", (-(-width // factor), -(-height // factor)))
        drafted = width // image.size[0]
        ImageOps.exif_transpose(image, in_place=True)
        image = image.convert("RGB")
        if factor > drafted:
            image = image.reduce(factor // drafted)
    except Exception:  # truncated or malformed pixel data: Pillow raises OSError, ValueError, SyntaxError…
        raise ImageRejected("image-corrupt", "the photo's data is damaged or incomplete") from None
    return DecodedImage(np.asarray(image), stored_format, (width, height))
