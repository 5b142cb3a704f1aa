"""No resident ID number or phone number reaches the logs, in any field of any record."""

import json
import logging

import httpx
import pytest

from backend.logs import JsonFormatter, PersonalDataFilter, scrub
from tests.server import personal_data_in, tongban_server

NUMBER, PHONE = "11010519491231002X", "13812345678"


@pytest.fixture
def server(settings, tmp_path):
    with tongban_server(settings, tmp_path) as running:
        yield running


def test_requests_naming_ids_and_phones_leave_none_in_the_server_output(server):
    with httpx.Client(base_url=server.base_url, timeout=10) as http:
        http.get(f"/catalogue/divisions/{NUMBER}")
        http.get(f"/catalogue/divisions/{PHONE}")
        http.get("/catalogue/search", params={"q": f"{NUMBER} {PHONE}"})
        http.get(f"/catalogue/items?division={NUMBER.lower()}&x=%31%33%38%31%32%33%34%35%36%37%38")
        http.post("/auth/code", json={"phone": PHONE})
        http.post("/citizens", json={"phone": PHONE, "code": "000000", "resident_id": NUMBER, "name": "日志",
                                     "home_division": "110105"})
        http.post(f"/auth/refresh?{PHONE}", json={"refresh_token": NUMBER}, headers={"X-Request-ID": PHONE})
        http.get(f"/staff/citizens/{NUMBER}", headers={"Authorization": f"Bearer {NUMBER}"})

    output = server.stop()

    assert output.count('"tongban.access"') >= 8
    assert not personal_data_in(output), personal_data_in(output)
    assert '"path": "/catalogue/divisions/1101**********002X"' in output
    assert '"request_id": "138****5678"' in output


def test_every_field_of_a_record_is_masked_exceptions_and_extras_included():
    logger = logging.getLogger("tongban.test-masking")
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign]
    handler.addFilter(PersonalDataFilter())
    logger.addHandler(handler)
    try:
        try:
            raise ValueError(f"no citizen {NUMBER}")
        except ValueError:
            logger.exception("lookup of %s by %s failed", NUMBER, PHONE,
                             extra={"path": f"/x/{NUMBER}", "form": {"phones": [PHONE], NUMBER: 1}})
    finally:
        logger.removeHandler(handler)

    line = JsonFormatter().format(records[0])
    entry = json.loads(line)
    assert NUMBER not in line and PHONE not in line
    assert entry["message"] == "lookup of 1101**********002X by 138****5678 failed"
    assert entry["path"] == "/x/1101**********002X"
    assert entry["form"] == {"phones": ["138****5678"], "1101**********002X": 1}
    assert "ValueError: no citizen 1101**********002X" in entry["exception"]


def test_a_phone_number_written_with_the_country_code_is_masked_too():
    for written in ("+8613812345678", "8613812345678", "0086-13812345678", "+86 13812345678"):
        assert "1234" not in scrub(f"GET /catalogue/search?q={written} 200"), written
    assert scrub("request 9f13812345678ab") == "request 9f13812345678ab"  # inside a longer token: not a phone
