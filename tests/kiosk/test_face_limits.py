"""A registered kiosk serves one resident after another: its face checks count against a kiosk's own limit,
not the one a phone's device id gets, while each person's own limits stand."""

import msgspec
import pytest

from tests.factories import resident_id
from tests.kiosk.conftest import id_card, sign_in


@pytest.fixture
def settings(settings):
    # A phone's device limit far below the kiosk's: were the kiosk counted as a device, the second would fail.
    return msgspec.structs.replace(settings, face_attempts_per_device_hour=1, face_attempts_per_kiosk_hour=3)


async def test_a_kiosk_counts_against_its_own_limit_not_a_phones(client, services, register_kiosk):
    device = await register_kiosk()

    answers = [await sign_in(device, id_card(resident_id("330106"), f"居民{n}")) for n in range(4)]

    assert [a.status_code for a in answers] == [201, 201, 201, 429], [a.text for a in answers]
    assert "at this kiosk" in answers[3].json()["detail"]
