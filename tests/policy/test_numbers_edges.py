"""Numbers (R-A, R-D4) past the examples: what each plan gives (region, mobile or not, the
national form), the French messages of every refusal, foreign numbers, the bulk path, and the
plans compiled from phonenumbers' metadata."""

from __future__ import annotations

import pytest

from astguard.policy import numbers
from astguard.policy.numbers import (
    AlsaceMoselle,
    NumberError,
    Territory,
    fast_e164,
    normalise_digits,
    parse_number,
)

NOT_ASSIGNED = "numéro non attribué dans le plan de numérotation"


@pytest.mark.parametrize(("written", "e164", "region", "mobile"), [
    # R-A: the covered territories, each plan's own code; the region says whose plan.
    ("0145678901", "+33145678901", "FR", False), ("0612345678", "+33612345678", "FR", True),
    ("+33756123456", "+33756123456", "FR", True),
    ("0262201234", "+262262201234", "RE", False), ("0692123456", "+262692123456", "RE", True),
    ("+262269601234", "+262269601234", "YT", False),
    ("+590590331234", "+590590331234", "GP", False), ("0690123456", "+590690123456", "GP", True),
    ("+596596301234", "+596596301234", "MQ", False), ("0696201234", "+596696201234", "MQ", True),
    ("+594594301234", "+594594301234", "GF", False), ("0694201234", "+594694201234", "GF", True),
    ("+508411234", "+508411234", "PM", False),
])
def test_each_plan(written, e164, region, mobile):
    number = parse_number(written)
    assert (number.e164, number.region, number.is_mobile) == (e164, region, mobile)
    assert number.dialled == written
    assert number.national == ("0508411234" if region == "PM" else "0" + e164[-9:])
    assert number.in_territory


@pytest.mark.parametrize(("written", "territories"), [
    # R-D4: a number written with an overseas code is that plan's, not a foreign number.
    ("+590590331234", {"GP", "BL", "MF"}), ("+596696201234", {"MQ"}),
    ("+594694201234", {"GF"}), ("+508411234", {"FR", "PM"}), ("+262262201234", {"RE"}),
])
def test_overseas_codes_are_the_national_plan(written, territories):
    assert {t.value for t in parse_number(written).territories} == territories


@pytest.mark.parametrize(("written", "message"), [
    ("06 12 34", "un numéro national a 10 chiffres et commence par 0"),
    ("1234567890", "un numéro national a 10 chiffres et commence par 0"),
    ("0700000000", NOT_ASSIGNED),  # not in any plan
    ("+590692123456", NOT_ASSIGNED),  # a Réunion mobile under Guadeloupe's code
    ("+3312345678", NOT_ASSIGNED),  # 8 digits after +33
    ("+33508411", NOT_ASSIGNED),  # six digits after +33: not Saint-Pierre's 0508 form
    ("+33012345678", NOT_ASSIGNED),  # a 0 after the country code
    ("+6877512345", NOT_ASSIGNED),  # not a valid Nouméa number
    ("+999123456789", "format non reconnu"),  # no such country code
    ("06-12-34-56-7a", "format non reconnu (chiffres, espaces et + initial seulement)"),
])
def test_each_refusal_says_why_in_french(written, message):
    with pytest.raises(NumberError) as caught:
        parse_number(written)
    assert str(caught.value) == message


@pytest.mark.parametrize(("written", "e164", "region", "mobile", "zones"), [
    ("+32470123456", "+32470123456", "BE", True, ("Europe/Brussels",)),
    ("+3225551212", "+3225551212", "BE", False, ("Europe/Brussels",)),
    ("0032 2 555 12 12", "+3225551212", "BE", False, ("Europe/Brussels",)),
    ("+80012345678", "+80012345678", "001", False, ()),  # no zone at all: R-D4 "no zone"
])
def test_foreign_numbers(written, e164, region, mobile, zones):
    number = parse_number(written)
    assert (number.e164, number.region, number.is_mobile, number.zones) == (
        e164, region, mobile, zones)
    assert number.dialled == written and number.national is None
    assert number.territories == frozenset() and not number.in_territory
    assert number.alsace_moselle is AlsaceMoselle.NO


def test_normalise_digits():
    assert normalise_digits(" 01.45-67/89 (01) ") == "0145678901"
    assert normalise_digits("0033145678901") == "+33145678901"


@pytest.mark.parametrize(("written", "e164"), [
    ("0145678901", "+33145678901"), ("+33145678901", "+33145678901"),
    ("01 45 67 89 01", "+33145678901"), ("0033145678901", "+33145678901"),
    ("0590331234", "+590590331234"), ("+590590331234", "+590590331234"),
    ("0692123456", "+262692123456"), ("0508411234", "+508411234"), ("+508411234", "+508411234"),
    ("+3225551212", "+3225551212"),
])
def test_the_bulk_path_gives_the_live_answer(written, e164):
    # One normaliser (R-D4 2026-11-26): imports get what a live call would.
    assert fast_e164(written) == e164 == parse_number(written).e164


@pytest.mark.parametrize("written", ["0700000000", "+590145678901", "+590692123456"])
def test_the_bulk_path_refuses_what_the_live_parser_refuses(written):
    with pytest.raises(NumberError) as caught:
        fast_e164(written)
    assert str(caught.value) == NOT_ASSIGNED


@pytest.mark.parametrize(("territory", "code"), [
    (Territory.METRO, "33"), (Territory.REUNION, "262"), (Territory.MAYOTTE, "262"),
    (Territory.GUADELOUPE, "590"), (Territory.MARTINIQUE, "596"), (Territory.GUYANE, "594"),
    (Territory.SAINT_PIERRE_ET_MIQUELON, "508"), (Territory.SAINT_BARTHELEMY, "590"),
    (Territory.SAINT_MARTIN, "590"),
])
def test_each_territorys_plan_from_the_metadata(territory, code):
    # The plans are compiled once at import; compiling one again gives the same plan, with the
    # territory's E.164 code, and fixed and mobile types whose patterns take a real number.
    plan = numbers._compile_plan(territory)
    assert (plan.territory, plan.country_code) == (territory, code)
    assert plan in numbers._PLANS
    names = [name for name, _, _ in plan.types]
    assert "fixed_line" in names and "mobile" in names
    assert names == [n for n in ("fixed_line", "mobile", "voip", "toll_free", "premium_rate",
                                 "shared_cost", "uan", "personal_number", "pager", "voicemail")
                     if n in names]
    for _, pattern, lengths in plan.types:
        assert lengths and all(isinstance(n, int) for n in lengths)
        assert pattern.pattern


def test_the_metropolitan_plan_knows_each_type_of_number():
    plan = numbers._compile_plan(Territory.METRO)
    found = {name: (pattern, lengths) for name, pattern, lengths in plan.types}
    for name, nsn in (("fixed_line", "145678901"), ("mobile", "612345678"),
                      ("voip", "970123456"), ("toll_free", "800123456")):
        pattern, lengths = found[name]
        assert pattern.fullmatch(nsn) and len(nsn) in lengths
    assert {"fixed_line", "mobile", "voip", "toll_free", "premium_rate", "shared_cost"} <= set(found)
