"""Unified social credit codes (GB 32100): shape, registration authority and check character."""

import pytest

from backend.identity.credit_code import InvalidCreditCode, check_character, normalise_credit_code


@pytest.mark.parametrize("code", ["914403001922038216", "91330100799655058B", "91440300708461136T",
                                  "91510100MA6C7K8R0C"])
def test_published_codes_pass(code):
    assert normalise_credit_code(code.lower()) == code


@pytest.mark.parametrize(("code", "message"), [
    ("91330100799655058", "18 characters"),
    ("91330100799655058I", "except I, O, S, V and Z"),
    ("9133A100799655058B", "division code"),
    ("Z1330100799655058B", "except I, O"),
    ("B1330100799655058B", "registration authority"),
    ("91330100799655058C", "check character should be B, got C"),
])
def test_faults_are_named(code, message):
    with pytest.raises(InvalidCreditCode, match=message):
        normalise_credit_code(code)


def test_a_single_changed_character_is_always_caught():
    code = "91330100799655058B"
    for position in range(17):
        for replacement in "0123456789ABCDEFGHJKLMNPQRTUWXY":
            changed = code[:position] + replacement + code[position + 1:]
            if changed != code:
                assert check_character(changed[:17]) != code[17], changed
