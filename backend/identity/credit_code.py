"""Unified social credit codes of organisations (统一社会信用代码, GB 32100-2015).

18 characters from a 31-character alphabet (digits and capitals without I, O, S, V, Z): the
registration authority (1), the organisation category (1), the GB/T 2260 division of registration (6),
the organisation's GB 11714 code (9) and a check character (1) computed modulo 31 with weights 3^i.
"""

from __future__ import annotations

import re

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_VALUE = {c: i for i, c in enumerate(ALPHABET)}
_WEIGHTS = tuple(pow(3, i, 31) for i in range(17))
_SHAPE = re.compile(rf"[{ALPHABET}]{{2}}[0-9]{{6}}[{ALPHABET}]{{10}}")
# Registration authorities named in GB 32100 (机构编制, 外交, 司法行政, 文化, 民政, 旅游, 宗教, 工会,
# 工商, 中央军委改革和编制办公室, 农业, 其他).
_AUTHORITIES = set("123456789ANY")


class InvalidCreditCode(ValueError):
    """Not a valid GB 32100 code; the message says which part is wrong."""


def check_character(first17: str) -> str:
    """The GB 32100 check character for the first 17 characters."""
    total = sum(_VALUE[c] * w for c, w in zip(first17, _WEIGHTS, strict=True))
    return ALPHABET[(31 - total % 31) % 31]


def normalise_credit_code(value: str) -> str:
    """Return the canonical (upper-case) code or raise `InvalidCreditCode` naming the fault."""
    code = value.strip().upper()
    if len(code) != 18:
        raise InvalidCreditCode(f"must be 18 characters, got {len(code)}")
    if not _SHAPE.fullmatch(code):
        raise InvalidCreditCode("must use digits and capital letters except I, O, S, V and Z, "
                                "with characters 3–8 a division code")
    if code[0] not in _AUTHORITIES:
        raise InvalidCreditCode(f"registration authority code {code[0]} is not defined in GB 32100")
    expected = check_character(code[:17])
    if code[17] != expected:
        raise InvalidCreditCode(f"check character should be {expected}, got {code[17]}")
    return code
