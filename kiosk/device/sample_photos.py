"""Public face photos for tests and the development card simulator: the test images in the source
distribution of `face_recognition==1.3.0` on PyPI (MIT licence; see docs/face-verification.md), fetched
once per machine with pip into `~/.cache/tongban-test-images` (or `$TONGBAN_TEST_IMAGES`) and checked
against the archive's SHA-256. They are never copied into this repository."""

from __future__ import annotations

import functools
import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

SDIST = "face_recognition-1.3.0.tar.gz"
SDIST_SHA256 = "5e5efdd1686aa566af0d3cc1313b131e4b197657a8ffd03669e6d3fad92705ec"
PHOTOS = ("obama.jpg", "obama2.jpg", "obama3.jpg", "biden.jpg", "obama_partial_face.jpg",
          "obama_partial_face2.jpg", "32bit.png")
# Who is in each photo; obama_partial_face*.jpg are crops of obama.jpg, 32bit.png is obama2.jpg as PNG.
PERSON = {"obama.jpg": "obama", "obama2.jpg": "obama", "obama3.jpg": "obama", "biden.jpg": "biden"}


def _cache() -> Path:
    return Path(os.environ.get("TONGBAN_TEST_IMAGES") or Path.home() / ".cache" / "tongban-test-images")


@functools.cache
def photo_folder() -> Path:
    """The folder of test photos, downloading the source distribution the first time."""
    folder = _cache() / "face_recognition-1.3.0"
    if all((folder / name).exists() for name in PHOTOS):
        return folder
    with tempfile.TemporaryDirectory() as scratch:
        command = [sys.executable, "-m", "pip", "download", "--quiet", "--no-binary", ":all:", "--no-deps",
                   "face_recognition==1.3.0", "-d", scratch]
        done = subprocess.run(command, capture_output=True, text=True, timeout=300)
        archive = Path(scratch) / SDIST
        if not archive.exists():
            raise RuntimeError(f"could not fetch the test photos ({' '.join(command)}): {done.stderr[-1000:]}")
        digest = hashlib.sha256(archive.read_bytes()).hexdigest()
        if digest != SDIST_SHA256:
            raise RuntimeError(f"{SDIST} has SHA-256 {digest}, expected {SDIST_SHA256}")
        _cache().mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=_cache()))
        with tarfile.open(archive) as tar:
            for name in PHOTOS:
                member = tar.getmember(f"face_recognition-1.3.0/tests/test_images/{name}")
                (staging / name).write_bytes(tar.extractfile(member).read())  # type: ignore[union-attr]
        shutil.rmtree(folder, ignore_errors=True)
        shutil.move(str(staging), folder)
    return folder


def photo(name: str) -> bytes:
    return (photo_folder() / name).read_bytes()
