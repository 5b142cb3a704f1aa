"""Identifier patterns mean the same to the server (Python `re.search`, as msgspec and Litestar run
them) and to the OpenAPI document's readers: no final newline, no look-alike digits (issue 15, item 2)."""

import re
from re import _constants as sre  # type: ignore[attr-defined]
from re import _parser  # type: ignore[attr-defined]

import msgspec
import pytest

from backend import identifiers
from backend.cases.exchange_records import Entry, ExchangeBundle
from backend.config import load_settings
from backend.identity.credit_code import InvalidCreditCode, normalise_credit_code
from backend.identity.divisions import InvalidDivision, check_division
from backend.identity.resident_id import InvalidResidentId, normalise_resident_id

ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")
FULLWIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


def look_alikes(value: str) -> list[str]:
    """`value` with a final newline, with its last digit written in other scripts, and all in fullwidth."""
    variants = [value + "\n"]
    if (last := re.search("[0-9](?=[^0-9]*$)", value)) is not None:
        at = last.start()
        variants += [value[:at] + value[at].translate(table) + value[at + 1:] for table in (ARABIC_INDIC, FULLWIDTH)]
        variants.append(value.translate(FULLWIDTH))
    return variants


def shortest_match(pattern: str) -> str:
    """The shortest string `pattern` matches, a digit wherever one may stand (so that its look-alikes
    are tried), for the plain patterns identifiers use: classes, repeats, groups, branches, anchors."""

    def build(items) -> str:
        out = ""
        for op, arg in items:
            if op is sre.LITERAL:
                out += chr(arg)
            elif op is sre.IN:
                allowed = [chr(a) for kind, a in arg if kind is sre.LITERAL]
                allowed += [chr(c) for kind, a in arg if kind is sre.RANGE for c in range(a[0], a[1] + 1)]
                allowed += [{sre.CATEGORY_DIGIT: "0", sre.CATEGORY_WORD: "a", sre.CATEGORY_SPACE: " "}.get(a, "")
                            for kind, a in arg if kind is sre.CATEGORY]
                allowed = [c for c in allowed if c]
                out += min(allowed, key=lambda c: (not c.isdigit(), c))
            elif op in (sre.MAX_REPEAT, sre.MIN_REPEAT):
                low, _, item = arg
                out += build(item) * low
            elif op is sre.SUBPATTERN:
                out += build(arg[-1])
            elif op is sre.BRANCH:
                out += build(arg[1][0])
            elif op is sre.ANY:
                out += "0"
            elif op not in (sre.AT, sre.ASSERT_NOT):
                raise AssertionError(f"no sample for {op} in {pattern}")
        return out

    return build(_parser.parse(pattern))


def patterns_of(document: dict) -> dict[str, set[str]]:
    """Every `pattern` in the document, with the examples published beside it."""
    found: dict[str, set[str]] = {}

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("pattern"), str):
                found.setdefault(node["pattern"], set()).update(
                    e for e in node.get("examples", []) if isinstance(e, str))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(document)
    return found


def refuses_look_alikes(pattern: str, examples: set[str] = frozenset()) -> None:
    """`pattern` accepts the examples and its shortest match, and none of their look-alikes."""
    for sample in examples | {shortest_match(pattern)}:
        assert re.search(pattern, sample), (pattern, sample)
        for variant in look_alikes(sample):
            assert not re.search(pattern, variant), (pattern, variant)


def test_every_anchored_pattern_in_the_api_refuses_look_alikes_of_what_it_accepts():
    from mobile_api.app import create_app

    document = create_app(load_settings({}, mode="test")).openapi_schema.to_schema()
    anchored = {p: examples for p, examples in patterns_of(document).items() if p.startswith("^")}
    assert len(anchored) >= 15 and r"^1[3-9][0-9]{9}(?!\n)$" in anchored

    for pattern, examples in anchored.items():
        refuses_look_alikes(pattern, examples)


def test_every_pattern_of_the_identifiers_module_is_whole_and_refuses_look_alikes():
    patterns = {name: value for name, value in vars(identifiers).items()
                if name.isupper() and isinstance(value, str) and value.startswith("^")}
    assert {"CASE_NUMBER", "EXCHANGE_CASE", "SHA256_HEX", "UTC_SECOND"} <= set(patterns)

    for name, pattern in patterns.items():
        assert identifiers.is_whole(pattern), name
        refuses_look_alikes(pattern)


def test_signed_exchange_records_take_their_patterns_from_the_identifiers_module():
    """The records are not in the API document: their own JSON Schema is checked instead."""
    _, components = msgspec.json.schema_components([Entry, ExchangeBundle])
    found = patterns_of(components)
    known = {value for name, value in vars(identifiers).items() if name.isupper() and isinstance(value, str)}

    assert len(found) >= 6 and set(found) <= known, set(found) - known
    for pattern in found:
        refuses_look_alikes(pattern)


@pytest.mark.parametrize(("check", "value", "error"), [
    (normalise_resident_id, "11010519491231002X", InvalidResidentId),
    (normalise_credit_code, "91330106MA2B0C8R59", InvalidCreditCode),
    (check_division, "330106", InvalidDivision),
])
def test_identifier_checks_take_ascii_digits_only(check, value, error):
    check(value)
    for variant in look_alikes(value)[1:]:
        with pytest.raises(error):
            check(variant)


def test_provider_and_subscriber_names_share_the_module_pattern():
    """Written out once: the gateway's providers (schemas and path), eligibility sources and webhook subscribers."""
    from typing import get_args

    from backend.eligibility.schemas import ProviderId as EligibilityProvider
    from backend.events.schemas import SubscriberName
    from backend.sharing.schemas import ProviderId as SharingProvider
    from mobile_api.sharing import ProviderPath

    assert identifiers.is_whole(identifiers.PROVIDER_ID)
    for annotated in (EligibilityProvider, SharingProvider, SubscriberName, ProviderPath):
        assert get_args(annotated)[1].pattern == identifiers.PROVIDER_ID, annotated
    assert re.search(identifiers.PROVIDER_ID, "demo.housing-fund")
    assert not re.search(identifiers.PROVIDER_ID, "-demo") and not re.search(identifiers.PROVIDER_ID, "ab")
