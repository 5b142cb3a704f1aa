"""Decoding untrusted bytes: bounds checked before pixels are decoded, orientation applied."""

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from ml_models.image import ImageLimits, ImageRejected, decode
from tests import face_samples


def _code(data: bytes, limits: ImageLimits | None = None) -> str:
    with pytest.raises(ImageRejected) as refused:
        decode(data, limits or ImageLimits())
    return refused.value.code


def _png_header(width: int, height: int) -> bytes:
    """A PNG that declares its size and carries almost no data."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b"")


def test_exif_orientation_is_applied():
    upright = Image.open(io.BytesIO(face_samples.photo("obama.jpg"))).convert("RGB")
    stored_sideways = upright.rotate(90, expand=True)  # as a phone stores a portrait photo
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    out = io.BytesIO()
    stored_sideways.save(out, "JPEG", exif=exif.tobytes(), quality=92)

    decoded = decode(out.getvalue())

    assert decoded.original_size == (upright.height, upright.width)
    assert decoded.rgb.shape[:2] == (upright.height, upright.width)
    face = face_samples.pipeline().analyse(out.getvalue())
    assert face.problems == [] and abs(face.quality.pose.roll) < 10


def test_the_byte_limit_is_checked_before_anything_is_parsed():
    limits = ImageLimits(max_bytes=1000)
    assert _code(face_samples.photo("obama.jpg"), limits) == "image-too-large"


def test_the_pixel_limit_is_checked_from_the_header_before_decoding():
    # 3.6 gigapixels declared in a 100-byte file with no pixel data: decoding anything would have found
    # it corrupt, so this refusal was made from the header alone.
    bomb = _png_header(60_000, 60_000)
    assert _code(bomb) == "image-too-many-pixels"
    assert _code(face_samples.too_many_pixels()) == "image-too-many-pixels"


def test_what_is_not_a_supported_photo_is_named():
    assert _code(b"") == "not-an-image"
    assert _code(b"%PDF-1.7\n1 0 obj << >> endobj\n") == "not-an-image"
    gif = io.BytesIO()
    Image.new("RGB", (64, 64)).save(gif, "GIF")
    assert _code(gif.getvalue()) == "not-an-image"
    assert _code(face_samples.corrupt()) == "image-corrupt"


def test_large_photos_are_reduced_by_a_power_of_two_while_decoding():
    big = np.asarray(Image.open(io.BytesIO(face_samples.photo("obama3.jpg"))).convert("RGB"))  # 1434×2333
    decoded = decode(face_samples.jpeg(big))
    assert decoded.original_size == (1434, 2333)
    assert decoded.rgb.shape[:2] == (1167, 717)


def test_transparent_and_palette_images_become_rgb():
    decoded = decode(face_samples.photo("32bit.png"))
    assert decoded.format == "PNG" and decoded.rgb.shape == (1200, 626, 3) and decoded.rgb.dtype == np.uint8


def test_a_flat_picture_declaring_millions_of_pixels_in_a_few_kilobytes_is_refused_before_decoding():
    bomb = io.BytesIO()
    Image.new("RGB", (4898, 4898), (128, 128, 128)).save(bomb, "PNG", optimize=True)  # 24 MP in ~80 KB
    whole, cut = bomb.getvalue(), bomb.getvalue()[:-1000]
    # Refused for its size in bytes, before any pixel is decoded: with its data cut short the answer is the
    # same, where decoding would have found it corrupt.
    assert _code(whole, ImageLimits(max_pixels=100_000_000)) == "image-too-many-pixels"
    assert _code(cut, ImageLimits(max_pixels=100_000_000)) == "image-too-many-pixels"


def test_the_pixel_limit_counts_what_is_decoded_so_a_large_phone_jpeg_is_accepted_and_a_large_png_is_not():
    photo = Image.open(io.BytesIO(face_samples.photo("obama.jpg"))).convert("RGB")
    noise = np.random.default_rng(3).integers(0, 40, (3000, 4000, 3), dtype=np.uint8)
    phone = Image.fromarray(np.clip(np.asarray(photo.resize((4000, 3000))).astype(np.int16) + noise - 20, 0, 255)
                            .astype(np.uint8))  # 12 megapixels, as a phone stores a photo
    jpeg, png = io.BytesIO(), io.BytesIO()
    phone.save(jpeg, "JPEG", quality=85)
    phone.crop((0, 0, 1600, 1600)).save(png, "PNG")  # 2.56 megapixels, decoded in full

    decoded = decode(jpeg.getvalue(), ImageLimits(max_bytes=16 * 1024 * 1024))
    assert decoded.original_size == (4000, 3000) and decoded.rgb.shape[:2] == (750, 1000)
    assert _code(png.getvalue(), ImageLimits(max_bytes=16 * 1024 * 1024, max_pixels=2_000_000)) == \
        "image-too-many-pixels"
    assert decode(png.getvalue(), ImageLimits(max_bytes=16 * 1024 * 1024)).rgb.shape[:2] == (800, 800)
