"""Administrative division codes (行政区划代码, GB/T 2260) and the scope rules built on them.

A code is six digits: province (2), prefecture (2), county (2). A staff scope of a province covers
every code that starts with its first two digits; a prefecture covers its first four; a county only
itself. `000000` is the national scope.
"""

from __future__ import annotations

import re

NATIONAL = "000000"
_CODE = re.compile(r"\d{6}")

# The 34 provincial-level divisions, so that a code's province can be checked without a table.
PROVINCES = {
    "110000": "北京市", "120000": "天津市", "130000": "河北省", "140000": "山西省",
    "150000": "内蒙古自治区", "210000": "辽宁省", "220000": "吉林省", "230000": "黑龙江省",
    "310000": "上海市", "320000": "江苏省", "330000": "浙江省", "340000": "安徽省",
    "350000": "福建省", "360000": "江西省", "370000": "山东省", "410000": "河南省",
    "420000": "湖北省", "430000": "湖南省", "440000": "广东省", "450000": "广西壮族自治区",
    "460000": "海南省", "500000": "重庆市", "510000": "四川省", "520000": "贵州省",
    "530000": "云南省", "540000": "西藏自治区", "610000": "陕西省", "620000": "甘肃省",
    "630000": "青海省", "640000": "宁夏回族自治区", "650000": "新疆维吾尔自治区",
    "710000": "台湾省", "810000": "香港特别行政区", "820000": "澳门特别行政区",
}


class InvalidDivision(ValueError):
    """Not a GB/T 2260 division code."""


def check_division(code: str, *, allow_national: bool = False) -> str:
    """Return the code if it is a well-formed division code of a known province."""
    if allow_national and code == NATIONAL:
        return code
    if not _CODE.fullmatch(code):
        raise InvalidDivision(f"{code!r} is not a 6-digit division code")
    if code[:2] + "0000" not in PROVINCES:
        raise InvalidDivision(f"{code} does not belong to any province")
    return code


def scope_prefix(scope: str) -> str:
    """The code prefix a scope covers: `330000` → `33`, `330100` → `3301`, national → ``."""
    if scope == NATIONAL:
        return ""
    if scope.endswith("0000"):
        return scope[:2]
    if scope.endswith("00"):
        return scope[:4]
    return scope


def within(scope: str, code: str) -> bool:
    """Whether `code` lies inside the division `scope` (a scope contains itself)."""
    return code.startswith(scope_prefix(scope))


def province_of(code: str) -> str:
    """The provincial-level division containing `code`."""
    return code[:2] + "0000"
