"""Patterns of the identifiers we accept on the wire, in one place: phone numbers, one-time codes,
division codes, resident ID numbers, credit codes, item and type codes, case numbers, the members of
signed case exchange records, tokens made by us.

Each pattern is checked by Python (`re.search`, which msgspec and Litestar use) and published as
JSON Schema (ECMA-262) in the OpenAPI document, and must mean the same in both:
- `$` in Python also matches just before a final newline, so `^[0-9]{11}$` accepts "13900000077\\n"
  and a rate limit keyed by the value is bypassed by the variant; `(?!\\n)$` rules that out (and is a
  no-op in ECMA-262, where `$` only matches at the end);
- `\\d` in Python matches any Unicode digit ("1390000007٧", fullwidth "１"), so digits are `[0-9]`.
"""

from __future__ import annotations

import re
from typing import Annotated

import msgspec


def whole(body: str) -> str:
    """A pattern matching the whole value when `body` does, and nothing else, in Python and JSON Schema
    alike. `body` may itself be written `^…$` (patterns from data files are)."""
    body = body.removeprefix("^").removesuffix("$")
    return rf"^(?:{body})(?!\n)$"


def is_whole(pattern: str) -> bool:
    """Whether `pattern` is anchored the way `whole` writes it, with ASCII digits only."""
    return pattern.startswith("^") and pattern.endswith(r"(?!\n)$") and not re.search(r"\\[dDwWsSbB]", pattern)


PHONE = r"^1[3-9][0-9]{9}(?!\n)$"
ONE_TIME_CODE = r"^[0-9]{6}(?!\n)$"
DIVISION = r"^[0-9]{6}(?!\n)$"
PROVINCE = r"^[0-9]{2}0000(?!\n)$"
# Exactly as printed on the card; services taking free-form input normalise with `normalise_resident_id`.
RESIDENT_ID = r"^[0-9]{17}[0-9Xx](?!\n)$"
CREDIT_CODE = r"^[0-9A-HJ-NPQRTUWXY]{2}[0-9]{6}[0-9A-HJ-NPQRTUWXY]{10}(?!\n)$"
ITEM_CODE = r"^[A-Z]{2}-[0-9]{2}-[0-9]{3}-[0-9]{2}(?!\n)$"
AUTHORITY_ID = r"^[0-9]{6}-[a-z][a-z0-9]{1,15}(?!\n)$"
TYPE_CODE = r"^[a-z][a-z0-9_]{1,63}(?!\n)$"
FIELD_NAME = r"^[a-z][a-z0-9_]{0,63}(?!\n)$"
LIST_CODE = r"^[a-z0-9][a-z0-9-]{1,63}(?!\n)$"
USERNAME = r"^[a-z0-9_.-]{3,64}(?!\n)$"
# A data provider of the gateway or a webhook subscriber, named by its operator (`demo.housing-fund`).
PROVIDER_ID = r"^[a-z0-9][a-z0-9_.-]{2,63}(?!\n)$"
# The national case number `<receiving division>-<YYYYMMDD>-<serial>` (docs/cases.md, "Applying"): the
# serial is one national sequence, written with at least six digits.
CASE_NUMBER = r"^[0-9]{6}-[0-9]{8}-[0-9]{6,12}(?!\n)$"
# Members of a signed case exchange record (docs/cases.md, "Canonical encoding"): every one is ASCII
# without `"` or a backslash, so the record's JSON needs no escaping. A case as the sending system numbers it.
EXCHANGE_CASE = r"^[0-9A-Za-z][0-9A-Za-z-]{5,47}(?!\n)$"
SHA256_HEX = r"^[0-9a-f]{64}(?!\n)$"
ROLE = r"^[a-z][a-z_]{1,31}(?!\n)$"
UTC_SECOND = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z(?!\n)$"
KEY_ID = r"^[A-Za-z0-9_-]{11}(?!\n)$"  # base64url of an 8-byte kid
# 32 random bytes in URL-safe base64 without padding (nonces, kiosk keys), and 24 (challenge ids).
TOKEN_43 = r"^[A-Za-z0-9_-]{43}(?!\n)$"
TOKEN_32 = r"^[A-Za-z0-9_-]{32}(?!\n)$"

Phone = Annotated[str, msgspec.Meta(pattern=PHONE, description="Mainland mobile number", examples=["13812345678"])]
OneTimeCode = Annotated[str, msgspec.Meta(pattern=ONE_TIME_CODE, examples=["123456"])]
# Somewhere in a free text, a character one can see: not only blanks, nor zero-width spaces and joiners.
VISIBLE = r"[^\s\u200b-\u200d\u2060\ufeff]"

DivisionCode = Annotated[str, msgspec.Meta(pattern=DIVISION, description="GB/T 2260 division code",
                                           examples=["330106"])]
ProvinceCode = Annotated[str, msgspec.Meta(pattern=PROVINCE, description="GB/T 2260 province code",
                                           examples=["330000"])]
CaseNumber = Annotated[str, msgspec.Meta(pattern=CASE_NUMBER, description="national case number",
                                         examples=["330106-20261201-000042"])]
TypeCode = Annotated[str, msgspec.Meta(pattern=TYPE_CODE, examples=["residence_permit"])]
