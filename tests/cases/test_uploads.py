"""Uploads over HTTP, one material per request: wrong type, truncated, oversize, pixel-bomb and encrypted
PDF files are refused with their reason and nothing is stored; a body over the upload route's own limit
is refused before it is read; another citizen's material can be neither named nor downloaded."""

from __future__ import annotations

from tests.cases.conftest import applicant, marriage_application
from tests.materials.test_store import BAD_FILES, stored_counts

TYPES = {".pdf": "application/pdf", ".png": "image/png", ".jpg": "image/jpeg"}


async def test_bad_uploads_are_refused_and_nothing_is_stored(client, services):
    person = await applicant(client, services)
    before = await stored_counts(services)
    answers = {}
    for case in ("pdf-sent-as-png", "truncated-png", "truncated-pdf", "oversize", "pixel-bomb", "encrypted-pdf"):
        data, name, declared_type, _ = BAD_FILES[case]
        response = await client.post("/me/materials", headers=person["headers"],
                                     files={"file": (name, data, declared_type or TYPES[name[name.rfind("."):]])})
        answers[case] = (response.status_code, response.json().get("reason"))
    too_big = await client.post("/me/materials", headers=person["headers"],
                                files={"file": ("scan.pdf", b"%PDF-1.7\n" + b"0" * (9 * 1024 * 1024), "application/pdf")})

    assert answers == {case: (413 if BAD_FILES[case][3] == "file-too-large" else 422, BAD_FILES[case][3])
                       for case in answers}
    assert too_big.status_code == 413
    assert await stored_counts(services) == before
    assert await services.db.pool.fetchval("SELECT count(*) FROM audit_log WHERE action = 'material.uploaded'") == 0


async def test_another_citizens_material_can_be_neither_named_nor_downloaded(client, services):
    owner = await applicant(client, services, "id_card")
    other = await applicant(client, services, "id_card", name="李秀英")
    application = await marriage_application(client, owner)
    case = (await client.post("/me/cases", headers=owner["headers"], json=application)).json()
    upload = next(m for m in case["materials"] if m["source"] == "upload")

    borrowed = {**application, "materials": [{"name": "双方居民身份证", "certificate_id": other["certificates"]["id_card"]},
                                             *application["materials"][1:]]}
    named = await client.post("/me/cases", headers=other["headers"], json=borrowed)
    read = await client.get(f"/me/cases/{case['id']}/materials/{upload['id']}", headers=other["headers"])

    assert named.status_code == 422
    assert {e["pointer"] for e in named.json()["errors"]} == {"#/materials/1/material_id", "#/materials/2/material_id"}
    assert read.status_code == 404
    assert await services.db.pool.fetchval(
        "SELECT count(*) FROM audit_log WHERE action = 'case.material_refused' AND record_id = $1", case["id"]) == 1
