"""A case's limits (here two uploaded files) count what the case holds: an application over them is
refused, and a 补正 answer counts its new file instead of the refused one it replaces."""

from __future__ import annotations

import io
import os

import pytest
from PIL import Image

from backend.config import Settings, load_settings
from tests.cases.conftest import act, applicant, in_review, marriage_application, upload


def picture(colour: tuple[int, int, int]) -> bytes:
    """A PNG of its own (the same bytes uploaded again would be the same material)."""
    out = io.BytesIO()
    Image.new("RGB", (64, 48), colour).save(out, "PNG")
    return out.getvalue()


@pytest.fixture(scope="module")
def settings(database_url: str, server_urls: tuple[str, str]) -> Settings:
    return load_settings({}, mode="test", database_url=database_url, redis_url=server_urls[1],
                         redis_prefix=f"case{os.getpid()}_{os.urandom(3).hex()}:", db_pool_max=8, code_resend_seconds=0,
                         material_case_max_files=2)


async def test_a_supplement_answer_at_the_file_limit_replaces_the_refused_file(client, services):
    person = await applicant(client, services, "id_card")
    over = await marriage_application(client, person)
    residence = await upload(client, person, picture((0, 160, 60)), "居住证.png", "image/png")
    over["materials"].append({"name": "居住证", "material_id": residence})
    refused = await client.post("/me/cases", headers=person["headers"], json=over)
    applied = await client.post("/me/cases", headers=person["headers"], json=await marriage_application(client, person))
    assert refused.status_code == 413, refused.text  # three files: over the limit
    assert applied.status_code == 201, applied.text  # two: at it
    case = applied.json()
    handling = await in_review(client, services, case)
    asked = await act(client, handling, case["id"], "request_supplement",
                      items=[{"material": "双方合影2寸照片", "reason": "照片不清晰"}])
    assert asked.status_code == 200, asked.text

    photo = await upload(client, person, picture((200, 30, 30)), "新合影.png", "image/png")
    answered = await client.post(f"/me/cases/{case['id']}/supplement", headers=person["headers"],
                                 json={"materials": [{"name": "双方合影2寸照片", "material_id": photo}]})

    assert answered.status_code == 200, answered.text
    states = sorted((m["name"], m["state"]) for m in answered.json()["materials"] if m["source"] == "upload")
    assert states == [("双方合影2寸照片", "replaced"), ("双方合影2寸照片", "submitted"),
                      ("本人无配偶以及与对方当事人没有直系血亲和三代以内旁系血亲关系的签字声明", "accepted")]
