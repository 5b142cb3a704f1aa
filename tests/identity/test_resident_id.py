import datetime as dt

import pytest

from backend.identity.resident_id import InvalidResidentId, mask_resident_id, normalise_resident_id

VALID = "11010519491231002X"


def test_a_valid_number_is_accepted_and_normalised():
    assert normalise_resident_id(VALID.lower()) == VALID


@pytest.mark.parametrize(("number", "message"), [
    ("110105194912310021", "check character should be X, got 1"),
    ("11010519490231002X", "birth date 19490231 is not a calendar date"),
    ("11010519491231002", "must be 18 characters, got 17"),
    ("11010519491231002X1", "must be 18 characters, got 19"),
    ("1101051949123100AX", "the first 17 characters must be digits"),
    ("990105194912310023", "division code 990105 does not belong to any province"),
])
def test_invalid_numbers_name_what_is_wrong(number, message):
    with pytest.raises(InvalidResidentId, match=message):
        normalise_resident_id(number)


def test_a_birth_date_in_the_future_is_refused():
    with pytest.raises(InvalidResidentId, match="out of range"):
        normalise_resident_id(VALID, today=dt.date(1949, 12, 30))


def test_masking_keeps_only_the_ends():
    assert mask_resident_id(VALID) == "1101**********002X"
