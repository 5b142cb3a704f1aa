"""What an uploaded file must be before it is kept as a material: a PNG, JPEG or PDF by its content
(the declared type must agree), whole (not truncated), within the size and pixel limits, a PDF
readable, not encrypted and without active content; and what is removed from it: a picture's
metadata (EXIF with its GPS position and camera serial, XMP, comments, text chunks), without
re-encoding the pixels. A JPEG keeps only its orientation, written back as a one-entry EXIF.

Pure functions on bytes; CPU-bound, so the store runs them in a thread.
"""

from __future__ import annotations

import io
import logging
import zlib
from dataclasses import dataclass
from pathlib import PurePosixPath

from PIL import Image
from pypdf import PdfReader
from pypdf.errors import PyPdfError
from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject

from backend.config import Settings
from backend.errors import MaterialRefused, MaterialTooLarge
from ml_models.image import ImageLimits, ImageRejected, open_bounded

CONTENT_TYPES = ("image/png", "image/jpeg", "application/pdf")
_BY_EXTENSION = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".pdf": "application/pdf"}
_PILLOW_FORMAT = {"image/png": "PNG", "image/jpeg": "JPEG"}
_ORIENTATION = 0x0112

logging.getLogger("pypdf").setLevel(logging.ERROR)  # its repair notes on odd files are not our log's business


@dataclass(frozen=True, slots=True)
class MaterialLimits:
    max_file_bytes: int = 8 * 1024 * 1024
    # Decoded pixels of a picture (a 300 dpi A4 scan is 8.7 million; most phone photos 12 million).
    max_pixels: int = 25_000_000
    # A scanned page of text compresses far better than a photograph: a looser ratio than the face
    # photos' still refuses a few kilobytes declaring millions of pixels.
    max_pixels_per_byte: int = 1_000
    max_pages: int = 200
    max_case_bytes: int = 64 * 1024 * 1024
    max_case_files: int = 40

    @classmethod
    def from_settings(cls, settings: Settings) -> MaterialLimits:
        return cls(max_file_bytes=settings.material_max_bytes, max_pixels=settings.material_max_pixels,
                   max_pages=settings.material_max_pages, max_case_bytes=settings.material_case_max_bytes,
                   max_case_files=settings.material_case_max_files)

    def check_case(self, sizes: list[int]) -> None:
        """Refuse a case whose materials (every one referenced, as sizes in bytes) pass the case limits."""
        if len(sizes) > self.max_case_files:
            raise MaterialTooLarge("case-too-many-files",
                                   f"a case takes at most {self.max_case_files} materials, not {len(sizes)}",
                                   "#/materials")
        if sum(sizes) > self.max_case_bytes:
            raise MaterialTooLarge("case-too-large", f"a case's materials come to at most {self.max_case_bytes} "
                                   f"bytes; these are {sum(sizes)}", "#/materials")


@dataclass(frozen=True, slots=True)
class CheckedFile:
    data: bytes  # what is stored: the upload with its metadata removed
    content_type: str
    pages: int | None = None
    width: int | None = None
    height: int | None = None


def sniff(data: bytes) -> str | None:
    """The content type by the file's first bytes (its magic number), or None."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"%PDF-"):
        return "application/pdf"
    return None


def check_file(data: bytes, declared_name: str, declared_type: str | None, limits: MaterialLimits) -> CheckedFile:
    """The file as it will be stored, or `MaterialRefused` naming what is wrong."""
    if not data:
        raise MaterialRefused("empty", "the file is empty")
    if len(data) > limits.max_file_bytes:
        raise MaterialTooLarge("file-too-large", f"the file is {len(data)} bytes; the limit is {limits.max_file_bytes}")
    claimed = _declared(declared_name, declared_type)
    actual = sniff(data)
    if actual is None:
        raise MaterialRefused("unsupported-type", "the file is not a PDF, PNG or JPEG by its content")
    if claimed != actual:
        raise MaterialRefused("type-mismatch", f"the file is declared as {claimed} but its content is {actual}")
    if actual == "application/pdf":
        return _check_pdf(data, limits)
    return _check_picture(data, actual, limits)


def _declared(name: str, declared_type: str | None) -> str:
    by_name = _BY_EXTENSION.get(PurePosixPath(name.lower()).suffix)
    given = (declared_type or "").split(";")[0].strip().lower() or None
    if given in (None, "application/octet-stream"):
        given = None
    elif given == "image/jpg":
        given = "image/jpeg"
    elif given not in CONTENT_TYPES:
        raise MaterialRefused("unsupported-type", f"{given} is not accepted; send a PDF, PNG or JPEG")
    if by_name and given and by_name != given:
        raise MaterialRefused("type-mismatch", f"the name {name!r} says {by_name} but the type sent is {given}")
    if not (by_name or given):
        raise MaterialRefused("unsupported-type", "say what the file is: a name ending in .pdf, .png or .jpg, "
                                                  "or its content type", "#/name")
    return by_name or given  # type: ignore[return-value]


# -- PDF --------------------------------------------------------------------------------------------


def _check_pdf(data: bytes, limits: MaterialLimits) -> CheckedFile:
    # A PDF ends with %%EOF (allowing trailing whitespace); a cut-off upload does not.
    if b"%%EOF" not in data[-1024:]:
        raise MaterialRefused("truncated", "the PDF is incomplete (it does not end with %%EOF)")
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            raise MaterialRefused("pdf-encrypted", "the PDF is encrypted or password-protected; send it unprotected")
        pages = len(reader.pages)
        if not 1 <= pages <= limits.max_pages:
            raise MaterialRefused("pdf-pages", f"the PDF has {pages} pages; 1 to {limits.max_pages} are accepted")
        for page in reader.pages:  # every page object must resolve
            _ = page.mediabox
        if _active_content(reader):
            raise MaterialRefused("pdf-active-content", "the PDF carries scripts, launch actions or embedded files")
    except MaterialRefused:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError, RecursionError, OSError):
        raise MaterialRefused("corrupt", "the PDF's structure is damaged") from None
    return CheckedFile(data, "application/pdf", pages=pages)


# What runs or carries a file: actions of these kinds, and dictionaries with these members (a script,
# additional actions of the document, a page, an annotation or a field, an embedded file, rich media).
_ACTIVE_ACTIONS = frozenset({"/JavaScript", "/Launch", "/SubmitForm", "/ImportData", "/GoToE", "/RichMediaExecute"})
_ACTIVE_MEMBERS = frozenset({"/JS", "/JavaScript", "/AA", "/EF", "/EmbeddedFiles", "/RichMedia"})
# More objects than any scan of 200 pages holds: a document built to make the walk long is refused.
_MAX_PDF_OBJECTS = 500_000


def _active_content(reader: PdfReader) -> bool:
    """Whether anything in the document runs or carries a file. Every object reachable from the catalogue
    is looked at — pages, annotations, form fields, outlines, each action's `/Next` — not only the
    catalogue's own entries, where such content is only most often found."""
    seen: set[tuple[int, int]] = set()
    todo: list[object] = [reader.trailer["/Root"]]
    walked = 0
    while todo:
        item = todo.pop()
        if isinstance(item, IndirectObject):
            if (item.idnum, item.generation) in seen:
                continue
            seen.add((item.idnum, item.generation))
            item = item.get_object()
        walked += 1
        if walked > _MAX_PDF_OBJECTS:
            raise MaterialRefused("corrupt", "the PDF holds more objects than a document of its pages can")
        if isinstance(item, DictionaryObject):
            if (_ACTIVE_MEMBERS.intersection(item.keys()) or item.get("/S") in _ACTIVE_ACTIONS
                    or item.get("/Type") == "/EmbeddedFile"):
                return True
            todo.extend(item.values())
        elif isinstance(item, ArrayObject):
            todo.extend(item)
    return False


# -- pictures ---------------------------------------------------------------------------------------


def _check_picture(data: bytes, content_type: str, limits: MaterialLimits) -> CheckedFile:
    cleaned = _clean_png(data) if content_type == "image/png" else _clean_jpeg(data)
    image_limits = ImageLimits(max_bytes=limits.max_file_bytes, max_pixels=limits.max_pixels,
                               max_pixels_per_byte=limits.max_pixels_per_byte)
    try:
        image = open_bounded(cleaned, image_limits, (_PILLOW_FORMAT[content_type],))
    except ImageRejected as exc:
        raise MaterialRefused(exc.code, exc.detail) from None
    try:
        image.load()  # every pixel decoded once: a truncated or damaged picture fails here
    except Exception:  # Pillow raises OSError, ValueError, SyntaxError… on damaged data
        raise MaterialRefused("truncated", "the picture's data is incomplete or damaged") from None
    return CheckedFile(cleaned, content_type, width=image.size[0], height=image.size[1])


_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Chunks that affect how the pixels look; everything else (eXIf, tEXt, zTXt, iTXt, tIME, …) is dropped.
_PNG_KEPT = frozenset({b"IHDR", b"PLTE", b"IDAT", b"IEND", b"tRNS", b"gAMA", b"cHRM", b"sRGB", b"iCCP",
                       b"sBIT", b"pHYs"})


def _clean_png(data: bytes) -> bytes:
    """The PNG's chunks that describe the picture, each checked against its CRC; up to IEND only."""
    kept, at = [_PNG_SIGNATURE], len(_PNG_SIGNATURE)
    while True:
        if at + 12 > len(data):
            raise MaterialRefused("truncated", "the PNG is incomplete (it ends before its IEND chunk)")
        length = int.from_bytes(data[at:at + 4], "big")
        chunk_type, end = data[at + 4:at + 8], at + 12 + length
        if end > len(data):
            raise MaterialRefused("truncated", "the PNG is incomplete (a chunk runs past the end of the file)")
        if zlib.crc32(data[at + 4:end - 4]) != int.from_bytes(data[end - 4:end], "big"):
            raise MaterialRefused("corrupt", f"the PNG's {chunk_type.decode('latin-1')} chunk is damaged")
        if chunk_type in _PNG_KEPT:
            kept.append(data[at:end])
        if chunk_type == b"IEND":
            return b"".join(kept)
        at = end


# "Adobe", the DCTEncode version, two flag words and the colour transform: 12 bytes (Adobe TN 5116).
_ADOBE_LENGTH = 12


def _clean_jpeg(data: bytes) -> bytes:
    """The JPEG's segments without metadata, up to its EOI marker (anything appended is dropped).

    Application segments (APPn) and comments are metadata except JFIF (APP0), the ICC colour profile
    (APP2 "ICC_PROFILE") and Adobe's colour-transform flag (APP14), which change how pixels look."""
    kept, at, orientation = [b"\xff\xd8"], 2, None
    while True:
        if at + 2 > len(data):
            raise MaterialRefused("truncated", "the JPEG is incomplete (it ends before its EOI marker)")
        if data[at] != 0xFF:
            raise MaterialRefused("corrupt", "the JPEG's structure is damaged")
        marker = data[at + 1]
        if marker == 0xFF:  # fill byte before a marker
            at += 1
            continue
        if marker == 0xD9:
            kept.append(b"\xff\xd9")
            break
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:  # markers without a length
            kept.append(data[at:at + 2])
            at += 2
            continue
        if at + 4 > len(data):
            raise MaterialRefused("truncated", "the JPEG is incomplete (it ends inside a segment)")
        end = at + 2 + int.from_bytes(data[at + 2:at + 4], "big")
        if end > len(data):
            raise MaterialRefused("truncated", "the JPEG is incomplete (a segment runs past the end of the file)")
        body = data[at + 4:end]
        if marker == 0xE1 and body.startswith(b"Exif\x00\x00"):
            orientation = _exif_orientation(body)
        metadata = (0xE0 <= marker <= 0xEF or marker == 0xFE) and not (
            (marker == 0xE0 and body.startswith(b"JFIF\x00"))
            or (marker == 0xE2 and body.startswith(b"ICC_PROFILE\x00")))
        if marker == 0xEE and body.startswith(b"Adobe") and len(body) >= _ADOBE_LENGTH:
            # Adobe's segment as the standard writes it, ending in the colour-transform flag; nothing after.
            kept.append(b"\xff\xee" + (2 + _ADOBE_LENGTH).to_bytes(2, "big") + body[:_ADOBE_LENGTH])
        elif not metadata:
            kept.append(data[at:end])
        at = end
        if marker == 0xDA:  # entropy-coded data up to the next marker other than a restart or stuffed 0xFF
            scan = at
            while True:
                scan = data.find(b"\xff", scan)
                if scan < 0 or scan + 1 >= len(data):
                    raise MaterialRefused("truncated", "the JPEG is incomplete (its image data is cut off)")
                if data[scan + 1] == 0x00 or 0xD0 <= data[scan + 1] <= 0xD7:
                    scan += 2
                    continue
                break
            kept.append(data[at:scan])
            at = scan
    if orientation not in (None, 1):
        exif = Image.Exif()
        exif[_ORIENTATION] = orientation
        payload = exif.tobytes()
        kept.insert(1, b"\xff\xe1" + (len(payload) + 2).to_bytes(2, "big") + payload)
    return b"".join(kept)


def _exif_orientation(body: bytes) -> int | None:
    exif = Image.Exif()
    try:
        exif.load(body)
        value = exif.get(_ORIENTATION)
    except Exception:  # a damaged EXIF block is dropped like any other
        return None
    return value if isinstance(value, int) and 1 <= value <= 8 else None
