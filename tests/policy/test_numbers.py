"""Number parsing: national or E.164, overseas prefixes, bad input (INVALID_NUMBER)."""

from __future__ import annotations

import pytest

from astguard.policy.numbers import AlsaceMoselle, NumberError, is_emergency, parse_number


@pytest.mark.parametrize(
    ("dialled", "e164"),
    [
        ("0612345678", "+33612345678"),
        ("06 12 34 56 78", "+33612345678"),
        ("06.12.34.56.78", "+33612345678"),
        ("+33 6 12 34 56 78", "+33612345678"),
        ("0033612345678", "+33612345678"),
        ("0262201234", "+262262201234"),
        ("0692123456", "+262692123456"),
        ("0596601234", "+596596601234"),  # phonenumbers alone would say metropolitan
        ("0269612345", "+262269612345"),  # idem (Mayotte)
        ("0508412345", "+508412345"),  # Saint-Pierre-et-Miquelon: six digits after 508
        ("+33596601234", "+596596601234"),  # an overseas number written with +33
        ("+32470123456", "+32470123456"),
    ],
)
def test_parses_to_e164(dialled, e164):
    assert parse_number(dialled).e164 == e164


@pytest.mark.parametrize(
    "dialled",
    ["", "abc", "06123", "061234567890", "+3361234567", "0612345678;ext=1", "06-12-34-56-7x",
     "1234567890", "+", "+999123"],
)
def test_bad_numbers_raise_a_french_message(dialled):
    with pytest.raises(NumberError) as info:
        parse_number(dialled)
    assert str(info.value)  # French, shown to the user
    assert any(w in str(info.value) for w in ("numéro", "format", "chiffres"))


def test_alsace_moselle_from_number():
    assert parse_number("0387123456").alsace_moselle is AlsaceMoselle.YES
    assert parse_number("0145678901").alsace_moselle is AlsaceMoselle.NO
    assert parse_number("0612345678").alsace_moselle is AlsaceMoselle.UNKNOWN
    assert parse_number("0962123456").alsace_moselle is AlsaceMoselle.UNKNOWN
    assert parse_number("0262201234").alsace_moselle is AlsaceMoselle.NO


def test_foreign_and_pacific_numbers_are_outside_the_territory():
    assert not parse_number("+32470123456").in_territory
    assert not parse_number("+687751234").in_territory  # Nouvelle-Calédonie


@pytest.mark.parametrize("dialled", ["15", "17", "18", "112", "116117", "1 1 2"])
def test_emergency_numbers(dialled):
    assert is_emergency(dialled, frozenset({"15", "17", "18", "112", "116117"}))


def test_emergency_never_matches_garbage():
    assert not is_emergency("11x2", frozenset({"112"}))
    assert not is_emergency("0112", frozenset({"112"}))
