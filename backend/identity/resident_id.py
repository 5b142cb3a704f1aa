"""Resident identity numbers (公民身份号码, GB 11643-1999).

18 characters: a 6-digit division code, an 8-digit birth date, a 3-digit sequence (odd for men,
even for women) and an ISO 7064 MOD 11-2 check character (0-9 or X).
"""

from __future__ import annotations

import datetime as dt
import re

from backend.identity.divisions import PROVINCES, province_of

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK_CHARS = "10X98765432"
_SHAPE = re.compile(r"[0-9]{17}[0-9X]")  # ASCII digits: `\d` would take "１" or "٧"


class InvalidResidentId(ValueError):
    """The number is not a valid GB 11643 resident ID; the message says which part is wrong."""


def check_character(first17: str) -> str:
    """The ISO 7064 MOD 11-2 check character for the first 17 digits."""
    total = sum(int(d) * w for d, w in zip(first17, _WEIGHTS, strict=True))
    return _CHECK_CHARS[total % 11]


def normalise_resident_id(value: str, *, today: dt.date | None = None) -> str:
    """Return the canonical form (upper-case X) or raise `InvalidResidentId` naming the fault."""
    number = value.strip().upper()
    if len(number) != 18:
        raise InvalidResidentId(f"must be 18 characters, got {len(number)}")
    if not _SHAPE.fullmatch(number):
        raise InvalidResidentId("the first 17 characters must be digits and the last a digit or X")
    if province_of(number[:6]) not in PROVINCES:
        raise InvalidResidentId(f"division code {number[:6]} does not belong to any province")
    try:
        birth = dt.date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        raise InvalidResidentId(f"birth date {number[6:14]} is not a calendar date") from None
    if birth < dt.date(1900, 1, 1) or birth > (today or dt.date.today()):
        raise InvalidResidentId(f"birth date {birth.isoformat()} is out of range")
    expected = check_character(number[:17])
    if number[17] != expected:
        raise InvalidResidentId(f"check character should be {expected}, got {number[17]}")
    return number


def mask_resident_id(number: str) -> str:
    """Show the first four and last four characters only, e.g. `1101**********123X`."""
    if len(number) < 8:
        return "*" * len(number)
    return number[:4] + "*" * (len(number) - 8) + number[-4:]


def birth_date(number: str) -> dt.date:
    """The birth date encoded in a valid number."""
    return dt.date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
