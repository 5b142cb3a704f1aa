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


# libjpeg decodes at 1/2, 1/4 or 1/8 of the stored size at most.
JPEG_MAX_REDUCTION = 8


@dataclass(frozen=True, slots=True)
class ImageLimits:
    max_bytes: int = 4 * 1024 * 1024
    # Pixels actually decoded: a JPEG's after libjpeg's reduction (a 12-megapixel phone photo is
    # decoded at a quarter of its size), any other format's in full.
    max_pixels: int = 4_000_000
    # A photograph never compresses this well; a flat picture declaring millions of pixels in a few
    # kilobytes is refused before decoding.
    max_pixels_per_byte: int = 200
    # Photos larger than this on the long side are reduced (by a power of two) before analysis.
    working_side: int = 1280


@dataclass(frozen=True, slots=True)
class DecodedImage:
    rgb: np.ndarray  # H×W×3 uint8, EXIF orientation applied
    format: str
    original_size: tuple[int, int]  # (width, height) as stored in the file


def _open(data: bytes, limits: ImageLimits, formats: tuple[str, ...]) -> Image.Image:
    """Open lazily (header only) after the byte-size check."""
    if len(data) > limits.max_bytes:
        raise ImageRejected("image-too-large", f"the photo is {len(data)} bytes; the limit is {limits.max_bytes}")
    try:
        return Image.open(io.BytesIO(data), formats=formats)
    except UnidentifiedImageError:
        raise ImageRejected("not-an-image", f"the data is not a picture in {' or '.join(formats)} format") from None
    except Image.DecompressionBombError:  # Pillow's own, higher limit, met while reading the header
        raise ImageRejected("image-too-many-pixels", f"the photo has more than {limits.max_pixels} pixels") from None
    except Exception:  # Pillow's header parsers raise many types on malformed input
        raise ImageRejected("image-corrupt", "the photo's header is damaged") from None


def _check_pixels(width: int, height: int, decoded_pixels: int, size: int, limits: ImageLimits) -> None:
    if width < 1 or height < 1 or decoded_pixels > limits.max_pixels:
        raise ImageRejected("image-too-many-pixels",
                            f"the photo is {width}×{height} pixels; the limit is {limits.max_pixels} pixels decoded")
    if width * height > limits.max_pixels_per_byte * size:
        raise ImageRejected("image-too-many-pixels",
                            f"the photo declares {width}×{height} pixels in {size} bytes, too few for a photograph")


def open_bounded(data: bytes, limits: ImageLimits, formats: tuple[str, ...] = ACCEPTED_FORMATS) -> Image.Image:
    """Open a picture that will be decoded at full size, with the same checks as `decode` made before any
    pixel is decoded (byte size, format, declared pixels, pixels per byte)."""
    image = _open(data, limits, formats)
    _check_pixels(*image.size, image.size[0] * image.size[1], len(data), limits)
    return image


def decode(data: bytes, limits: ImageLimits = ImageLimits()) -> DecodedImage:
    """Decode a JPEG, PNG or WebP photo; raise `ImageRejected` with a reason code otherwise."""
    image = _open(data, limits, ACCEPTED_FORMATS)
    width, height, stored_format = *image.size, image.format or "?"
    # Reduce by a power of two: JPEG does it inside the decoder (DCT scaling), the others by a box
    # filter; both far cheaper than resampling, and the working size stays within a factor of two.
    factor = 1
    while max(width, height) / factor > limits.working_side:
        factor *= 2
    scale = min(factor, JPEG_MAX_REDUCTION) if image.format == "JPEG" else 1
    _check_pixels(width, height, -(-width // scale) * -(-height // scale), len(data), limits)
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
