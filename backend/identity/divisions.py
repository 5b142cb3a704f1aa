"""Administrative division codes (行政区划代码, GB/T 2260) and the scope rules built on them.

A code is six digits: province (2), prefecture (2), county (2). A staff scope of a province covers
every code that starts with its first two digits; a prefecture covers its first four; a county only
itself. `000000` is the national scope.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

NATIONAL = "000000"
_CODE = re.compile(r"[0-9]{6}")

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
    """Whether `code` lies inside the division `scope` (a scope contains itself). Only a 6-digit code lies
    anywhere: `51010800` must not pass for a division of 510108's (its prefix would then be 5101's)."""
    return _CODE.fullmatch(code) is not None and code.startswith(scope_prefix(scope))


def province_of(code: str) -> str:
    """The provincial-level division containing `code`."""
    return code[:2] + "0000"


# -- the full table ------------------------------------------------------------------------------
# The shape checks above need no data; the functions below check a code against the GB/T 2260 table
# shipped in `backend/catalogue/data/divisions.json` (also loaded into the `divisions` table).

DIVISIONS_FILE = Path(__file__).resolve().parent.parent / "catalogue" / "data" / "divisions.json"


@dataclass(frozen=True, slots=True)
class Division:
    code: str
    name: str | None
    level: str
    parent: str | None
    kind: str | None = None
    listed: bool = True  # False for a county the table does not list under a listed prefecture


@dataclass(frozen=True, slots=True)
class RetiredDivision:
    code: str
    name: str
    replaced_by: str
    year: int


class DivisionTable:
    """Every listed division, and the retired codes with what replaced them.

    The table lists all provinces and prefectures, and the counties directly under a province, but
    only some counties under prefectures: a county code under a listed prefecture is accepted as
    unlisted rather than refused, while an unknown province, prefecture or directly administered
    county is refused.
    """

    def __init__(self, divisions: list[Division], retired: list[RetiredDivision]) -> None:
        self.by_code = {d.code: d for d in divisions}
        self.retired = {r.code: r for r in retired}

    @classmethod
    def from_file(cls, path: Path = DIVISIONS_FILE) -> DivisionTable:
        raw = json.loads(path.read_text(encoding="utf-8"))
        divisions = [Division(d["code"], d["name"], d["level"], d["parent"], d.get("kind")) for d in raw["divisions"]]
        retired = [RetiredDivision(r["code"], r["name"], r["replaced_by"], r["year"]) for r in raw.get("retired", [])]
        return cls(divisions, retired)

    def lookup(self, code: str) -> Division:
        """The division named by `code`, or `InvalidDivision` saying why it is not one."""
        if not _CODE.fullmatch(code):
            raise InvalidDivision(f"{code!r} is not a 6-digit division code")
        found = self.by_code.get(code)
        if found is not None:
            return found
        if (old := self.retired.get(code)) is not None:
            raise InvalidDivision(f"{code} ({old.name}) was retired in {old.year}; use {old.replaced_by}")
        prefecture = self.by_code.get(code[:4] + "00")
        if not code.endswith("00") and prefecture is not None and prefecture.level == "prefecture":
            return Division(code, None, "county", prefecture.code, listed=False)
        if province_of(code) not in self.by_code:
            raise InvalidDivision(f"{code} does not belong to any province")
        raise InvalidDivision(f"{code} is not a GB/T 2260 division code")


@lru_cache(maxsize=1)
def division_table() -> DivisionTable:
    return DivisionTable.from_file()


def check_known_division(code: str, *, allow_national: bool = False) -> str:
    """Return the code if the GB/T 2260 table knows it (see `DivisionTable.lookup`)."""
    if allow_national and code == NATIONAL:
        return code
    division_table().lookup(code)
    return code
