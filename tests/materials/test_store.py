"""The material store: uploads checked by content, cleaned of metadata, kept encrypted in PostgreSQL at
an owner-keyed address; every bad file refused with a field-level reason and nothing stored."""

import hashlib
import io
import struct
import zlib

import pytest
from PIL import Image
from pypdf import PdfWriter
from pypdf.generic import ArrayObject, DictionaryObject, NameObject, NumberObject, StreamObject, TextStringObject

from backend.errors import MaterialRefused, MaterialTooLarge
from backend.materials.checks import MaterialLimits, check_file
from tests.factories import register_citizen


def jpeg_with_metadata() -> bytes:
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90°
    exif[0x010F] = "SecretCam"  # camera make
    exif[0x8825] = {1: "N", 2: (30.0, 15.0, 0.0)}  # GPS position
    out = io.BytesIO()
    Image.new("RGB", (320, 240), (180, 90, 40)).save(out, "JPEG", exif=exif.tobytes(), comment=b"ward 3")
    return out.getvalue()


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (10, 120, 200)).save(out, "PNG")
    return out.getvalue()


def pdf(pages: int = 2, password: str | None = None, script: str | None = None) -> bytes:
    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(595, 842)
    if script:
        action = DictionaryObject({NameObject("/S"): NameObject("/JavaScript"), NameObject("/JS"): TextStringObject(script)})
        writer.root_object[NameObject("/OpenAction")] = writer._add_object(action)
    if password:
        writer.encrypt(password, algorithm="AES-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _script(code: str) -> DictionaryObject:
    return DictionaryObject({NameObject("/S"): NameObject("/JavaScript"), NameObject("/JS"): TextStringObject(code)})


def pdf_carrying(where: str) -> bytes:
    """A one-page PDF with active content away from the catalogue's own entries (`where`), or a plain web
    link (`"uri-link"`), which is not active content."""
    writer = PdfWriter()
    page = writer.add_blank_page(595, 842)
    rect = ArrayObject([NumberObject(0), NumberObject(0), NumberObject(100), NumberObject(20)])

    def annotation(subtype: str, **members: object) -> None:
        annot = DictionaryObject({NameObject("/Type"): NameObject("/Annot"), NameObject("/Subtype"): NameObject(subtype),
                                  NameObject("/Rect"): rect, **{NameObject(f"/{k}"): v for k, v in members.items()}})
        page[NameObject("/Annots")] = ArrayObject([writer._add_object(annot)])

    if where == "page-open-script":
        page[NameObject("/AA")] = DictionaryObject({NameObject("/O"): writer._add_object(_script("app.alert(1)"))})
    elif where == "link-launch":
        annotation("/Link", A=DictionaryObject({NameObject("/S"): NameObject("/Launch"),
                                                NameObject("/F"): TextStringObject("cmd.exe")}))
    elif where == "attached-file":
        payload = StreamObject()
        payload.set_data(b"MZ")
        payload[NameObject("/Type")] = NameObject("/EmbeddedFile")
        annotation("/FileAttachment", FS=writer._add_object(DictionaryObject({
            NameObject("/Type"): NameObject("/Filespec"), NameObject("/F"): TextStringObject("x.exe"),
            NameObject("/EF"): DictionaryObject({NameObject("/F"): writer._add_object(payload)})})))
    elif where == "chained-script":  # opening goes to the page, then runs the next action
        writer.root_object[NameObject("/OpenAction")] = writer._add_object(DictionaryObject({
            NameObject("/S"): NameObject("/GoTo"), NameObject("/D"): ArrayObject([page.indirect_reference,
                                                                                NameObject("/Fit")]),
            NameObject("/Next"): writer._add_object(_script("app.alert(2)"))}))
    elif where == "uri-link":
        annotation("/Link", A=DictionaryObject({NameObject("/S"): NameObject("/URI"),
                                                NameObject("/URI"): TextStringObject("https://www.gov.cn/")}))
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def pixel_bomb() -> bytes:
    """A real PNG of 6000×5000 one-bit pixels (30 million, over the limit) in a few kilobytes."""
    width, height = 6000, 5000
    rows = (b"\x00" + b"\x00" * (width // 8)) * height
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0))
            + png_chunk(b"IDAT", zlib.compress(rows, 9)) + png_chunk(b"IEND", b""))


@pytest.fixture
async def citizens(client, services):
    first = await register_citizen(client, services)
    second = await register_citizen(client, services)
    async with services.db.connection() as conn:
        ids = [await conn.fetchval("SELECT id FROM citizens WHERE phone_hash = $1",
                                   services.cipher.lookup_hash(c["phone"], purpose="phone")) for c in (first, second)]
    return ids


async def stored_counts(services) -> tuple[int, int]:
    async with services.db.connection() as conn:
        return (await conn.fetchval("SELECT count(*) FROM materials"), await conn.fetchval("SELECT count(*) FROM blobs"))


async def test_a_photo_is_kept_encrypted_without_its_metadata_but_with_its_orientation(services, citizens):
    upload = jpeg_with_metadata()
    async with services.db.transaction() as conn:
        material = await services.materials.store(conn, citizens[0], upload, "C:\\相册\\户口本.jpg",
                                                  kind="居民户口簿", declared_type="image/jpeg")
    async with services.db.connection() as conn:
        kept = await services.materials.read(conn, material.id)
        sealed = await conn.fetchval("SELECT sealed FROM blobs")
        assert await services.materials.get(conn, material.id) == material

    assert (material.name, material.kind, material.content_type) == ("户口本.jpg", "居民户口簿", "image/jpeg")
    assert (material.width, material.height, material.size) == (320, 240, len(kept))
    assert material.digest == hashlib.sha256(kept).digest()
    assert b"SecretCam" in upload and b"SecretCam" not in kept and b"ward 3" not in kept
    assert dict(Image.open(io.BytesIO(kept)).getexif()) == {0x0112: 6}
    # The pixels are the upload's, not re-encoded.
    assert Image.open(io.BytesIO(kept)).tobytes() == Image.open(io.BytesIO(upload)).tobytes()
    assert kept[100:164] not in sealed


def test_adobes_segment_keeps_its_colour_flag_and_nothing_after_it():
    adobe = b"Adobe" + bytes([0, 100, 0, 0, 0, 0, 1])  # version 100, no flags, transform 1 (YCbCr)
    hidden = b"GPS 30.25N 120.16E; serial SC-0042; 13800000001"
    segment = b"\xff\xee" + (2 + len(adobe + hidden)).to_bytes(2, "big") + adobe + hidden
    plain = jpeg_with_metadata()
    upload = plain[:2] + segment + plain[2:]

    kept = check_file(upload, "scan.jpg", "image/jpeg", MaterialLimits()).data

    assert hidden not in kept and b"\xff\xee\x00\x0e" + adobe in kept
    assert Image.open(io.BytesIO(kept)).tobytes() == Image.open(io.BytesIO(plain)).tobytes()


def test_a_pdf_with_a_web_link_is_no_active_content():
    assert check_file(pdf_carrying("uri-link"), "scan.pdf", None, MaterialLimits()).pages == 1


async def test_one_citizen_uploading_a_file_twice_gets_one_material_two_citizens_unrelated_rows(services, citizens):
    upload = pdf()
    async with services.db.transaction() as conn:
        first = await services.materials.store(conn, citizens[0], upload, "a.pdf")
        again = await services.materials.store(conn, citizens[0], upload, "b.pdf")
        other = await services.materials.store(conn, citizens[1], upload, "a.pdf")
        addresses = await conn.fetch("SELECT address FROM blobs")

    assert again.id == first.id and first.pages == 2 and first.content_type == "application/pdf"
    assert other.id != first.id and other.digest == first.digest
    # Same content, two owners: two addresses, neither derivable from the file's digest alone.
    assert len(addresses) == 2 and first.digest not in [r["address"] for r in addresses]


BAD_FILES = {  # name: (data, declared name, declared type, reason)
    "png-named-pdf": (png(), "scan.pdf", None, "type-mismatch"),
    "pdf-sent-as-png": (pdf(), "scan.pdf", "image/png", "type-mismatch"),
    "gif": (b"GIF89a" + b"\x00" * 100, "scan.gif", None, "unsupported-type"),
    "no-type": (png(), "scan", None, "unsupported-type"),
    "truncated-jpeg": (jpeg_with_metadata()[:-300], "scan.jpg", None, "truncated"),
    "truncated-png": (png()[:-20], "scan.png", None, "truncated"),
    "truncated-pdf": (pdf()[:-40], "scan.pdf", None, "truncated"),
    "oversize": (b"%PDF-1.7\n" + b"0" * (8 * 1024 * 1024), "scan.pdf", None, "file-too-large"),
    "pixel-bomb": (pixel_bomb(), "scan.png", None, "image-too-many-pixels"),
    "encrypted-pdf": (pdf(password="secret"), "scan.pdf", None, "pdf-encrypted"),
    "pdf-with-script": (pdf(script="app.alert(1)"), "scan.pdf", None, "pdf-active-content"),
    **{f"pdf-{where}": (pdf_carrying(where), "scan.pdf", None, "pdf-active-content")
       for where in ("page-open-script", "link-launch", "attached-file", "chained-script")},
    "broken-pdf": (b"%PDF-1.7\nnot a pdf at all\n%%EOF\n", "scan.pdf", None, "corrupt"),
}


async def test_every_bad_file_is_refused_with_its_reason_and_nothing_is_stored(services, citizens):
    refusals = {}
    for case, (data, name, declared_type, _reason) in BAD_FILES.items():
        with pytest.raises(MaterialRefused) as refused:
            async with services.db.transaction() as conn:
                await services.materials.store(conn, citizens[0], data, name, declared_type=declared_type)
        error = refused.value.errors[0]
        assert error.pointer in ("#/file", "#/name") and error.detail, case
        refusals[case] = (refused.value.extensions["reason"], refused.value.status)

    assert refusals == {case: (reason, 413 if reason == "file-too-large" else 422)
                        for case, (*_, reason) in BAD_FILES.items()}
    assert await stored_counts(services) == (0, 0)


def test_the_case_limits_count_every_material_of_the_case():
    limits = MaterialLimits(max_case_bytes=10 * 1024 * 1024, max_case_files=3)
    limits.check_case([6 * 1024 * 1024, 4 * 1024 * 1024])  # each under 8 MiB, together past it: fine
    with pytest.raises(MaterialTooLarge, match="at most 10485760 bytes"):
        limits.check_case([6 * 1024 * 1024, 5 * 1024 * 1024])
    with pytest.raises(MaterialTooLarge, match="at most 3 materials"):
        limits.check_case([1, 1, 1, 1])
