"""R-D4 (2026-11-26): territories and zones from the numbering plan's data for every range, and
one normaliser: the bulk path (`fast_e164`, per 5-digit block) gives exactly the live parser's
answer (tests/test_number_blocks.py checks it on every block)."""

from __future__ import annotations

import pytest

from astguard.policy.numbers import NumberError, Territory, fast_e164, parse_number

@pytest.mark.parametrize(
    ("national", "e164", "territories"),
    [
        # 09 VoIP blocks the plan gives Guadeloupe/Saint-Barthélemy/Saint-Martin and Guyane
        # (and metropolitan France's 09 range): every claimed zone.
        ("0976012345", "+590976012345", {"FR", "GP", "BL", "MF", "GF"}),
        # New Antilles mobile block: not a metropolitan mobile.
        ("0709012345", "+590709012345", {"GP", "BL", "MF"}),
        ("0709112345", "+596709112345", {"MQ"}),
        ("0709312345", "+594709312345", {"GF"}),
        ("0709352345", "+262709352345", {"RE", "YT"}),
        # A new Réunion geographic block inside FR's 026x range.
        ("0268812345", "+262268812345", {"FR", "RE"}),
        # Overseas NPV roots.
        ("0947612345", "+594947612345", {"FR", "GF"}),
        # Saint-Pierre-et-Miquelon: six-digit numbers dialled 0508, and 0708 4x mobiles.
        ("0508412345", "+508412345", {"FR", "PM"}),
        ("0708401234", "+508708401234", {"PM"}),
        # Unchanged: metropolitan numbers and the distinctive overseas prefixes.
        ("0612345678", "+33612345678", {"FR"}),
        ("0262201234", "+262262201234", {"RE"}),
        ("0692123456", "+262692123456", {"RE", "YT"}),
        ("0694201234", "+594694201234", {"GF"}),
        ("0800123456", "+33800123456", None),  # 08: +33, whoever else claims it
    ],
)
def test_territories_from_every_plan(national, e164, territories):
    number = parse_number(national)
    assert number.e164 == e164
    if territories is not None:
        assert {t.value for t in number.territories} == territories
    assert parse_number(e164).e164 == e164  # the canonical form parses to itself
    assert parse_number("+33" + national[1:]).e164 == e164  # +33 reaches the whole plan


def test_an_overseas_code_reaches_only_its_own_ranges():
    with pytest.raises(NumberError):
        parse_number("+590692123456")  # a Réunion mobile under Guadeloupe's code
    with pytest.raises(NumberError):
        fast_e164("+590692123456")
    # One national number reached by two overseas codes is one consumer.
    assert parse_number("+594976012345").e164 == parse_number("+590976012345").e164


def test_saint_pierre_mobiles_are_mobiles():
    # R-F5 (2026-11-26): the plan lists them as mobile.
    assert parse_number("0708401234").is_mobile
    assert parse_number("0508551234").is_mobile
    assert Territory.SAINT_PIERRE_ET_MIQUELON in parse_number("0508551234").territories


@pytest.mark.parametrize("written", ["+33 (0)6 12 34 56 78", "+33 06 12 34 56 78",
                                     "0033 (0)6 12 34 56 78"])
def test_the_national_zero_written_after_the_country_code(written):
    assert parse_number(written).e164 == "+33612345678"
    assert fast_e164(written) == "+33612345678"
