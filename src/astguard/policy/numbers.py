"""Consumer numbers: parsing (national or E.164), territory and candidate time zones (R-A, R-D4).

The French national numbering plan is shared by metropolitan France and the overseas
territories, and Arcep assigns some blocks to overseas territories without a distinctive
0262/0590-style prefix (09 VoIP blocks such as 0976 0x, mobile blocks such as 0709 0x, new
geographic blocks such as 0268 8). Territories therefore come from the numbering plan's data
for **every** range: phonenumbers' metadata of FR, RE, YT, GP, MQ, GF, PM, BL and MF (rules-fr
R-D4, 2026-11-26). A national number that several territories' plans claim gets all their
territories and zones (strict reading).

The matching is hand-written over phonenumbers' own patterns rather than `phonenumbers.parse`
because phonenumbers parses a national number for one region at a time and gets overseas
numbers written nationally wrong (0596… and 0269… parse as metropolitan). Two paths give the
same answer: `parse_number` (the live parser, every pattern of every plan matched against the
whole number) and `fast_e164` (bulk imports: the same answer looked up per 5-digit block, since
Arcep assigns blocks of 10,000 numbers, 0Z AB PQ MCDU); tests/policy/test_numbering_plan.py
checks them equal on every national block.

Canonical E.164 (the store's key): a number of the national plan has one national form, and
every country code that reaches it (+33, +262, +590, +594, +596, +508) is an alias of it. The
canonical form is deterministic: +33 for the national service ranges metropolitan France claims
(08: toll-free, premium, shared-cost, UAN); otherwise the lowest overseas country code whose
plan claims the number; otherwise +33.
"""

from __future__ import annotations

import enum
import functools
import re
from dataclasses import dataclass

import phonenumbers
from phonenumbers import PhoneNumberType
from phonenumbers import timezone as pn_timezone
from phonenumbers.phonemetadata import PhoneMetadata

from astguard.errors import InvalidValue


class Territory(enum.StrEnum):
    METRO = "FR"  # metropolitan France (Corsica included)
    REUNION = "RE"
    MAYOTTE = "YT"
    GUADELOUPE = "GP"
    MARTINIQUE = "MQ"
    GUYANE = "GF"
    SAINT_PIERRE_ET_MIQUELON = "PM"
    SAINT_BARTHELEMY = "BL"
    SAINT_MARTIN = "MF"


TERRITORY_ZONE: dict[Territory, str] = {
    Territory.METRO: "Europe/Paris",
    Territory.REUNION: "Indian/Reunion",
    Territory.MAYOTTE: "Indian/Mayotte",
    Territory.GUADELOUPE: "America/Guadeloupe",
    Territory.MARTINIQUE: "America/Martinique",
    Territory.GUYANE: "America/Cayenne",
    Territory.SAINT_PIERRE_ET_MIQUELON: "America/Miquelon",
    Territory.SAINT_BARTHELEMY: "America/St_Barthelemy",
    Territory.SAINT_MARTIN: "America/Marigot",
}

# Country calling codes that reach the French national plan.
PLAN_COUNTRY_CODES = frozenset({"33", "262", "508", "590", "594", "596"})
_SERVICE_TYPES = frozenset({"toll_free", "premium_rate", "shared_cost", "uan"})
_MOBILE_TYPES = frozenset({"mobile"})
_TYPE_FIELDS = ("fixed_line", "mobile", "voip", "toll_free", "premium_rate", "shared_cost",
                "uan", "personal_number", "pager", "voicemail")
_ALSACE_MOSELLE_PREFIXES = ("387", "388", "389")  # 03 87, 03 88, 03 89 (57, 67, 68)
_SEPARATORS = re.compile(r"[\s.\-/()]")
_SHAPE = re.compile(r"\+?\d{2,16}")
_NATIONAL = re.compile(r"0[1-9]\d{8}")


class AlsaceMoselle(enum.StrEnum):
    """Whether the consumer lives in Alsace-Moselle, as far as the number tells (R-D2)."""

    YES = "yes"
    NO = "no"
    UNKNOWN = "unknown"


class NumberError(InvalidValue):
    """A dialled string that is not a valid number; the message is French (shown to users)."""


@dataclass(frozen=True, slots=True)
class ConsumerNumber:
    dialled: str
    e164: str
    region: str  # FR, RE, GP… (the canonical form's plan), or phonenumbers' region abroad
    is_mobile: bool
    territories: frozenset[Territory]  # empty outside the covered territory
    zones: tuple[str, ...]  # candidate IANA zones, sorted; empty when unknown
    alsace_moselle: AlsaceMoselle
    national: str | None = None  # 0XXXXXXXXX for a number of the national plan

    @property
    def in_territory(self) -> bool:
        return bool(self.territories)


# --- the plans, compiled once from phonenumbers' metadata -------------------------------------

@dataclass(frozen=True, slots=True)
class _Plan:
    territory: Territory
    country_code: str
    types: tuple[tuple[str, re.Pattern[str], frozenset[int]], ...]

    def candidates(self, nsn: str) -> tuple[str, ...]:
        """The plan's national significant numbers for a 9-digit national number: Saint-Pierre-
        et-Miquelon's six-digit numbers are dialled 0508 + six digits."""
        if self.country_code == "508" and nsn.startswith("508"):
            return (nsn, nsn[3:])
        return (nsn,)


def _compile_plan(territory: Territory) -> _Plan:
    metadata = PhoneMetadata.metadata_for_region(territory.value)
    general = metadata.general_desc
    types = []
    for name in _TYPE_FIELDS:
        desc = getattr(metadata, name)
        if desc is None or not desc.national_number_pattern:
            continue
        lengths = desc.possible_length or general.possible_length
        types.append((name, re.compile(desc.national_number_pattern), frozenset(lengths)))
    return _Plan(territory, str(metadata.country_code), tuple(types))


_PLANS: tuple[_Plan, ...] = tuple(_compile_plan(t) for t in Territory)


@dataclass(frozen=True, slots=True)
class _Claim:
    territory: Territory
    country_code: str
    nsn: str  # the number in that plan (without its country code)
    types: frozenset[str]


@dataclass(frozen=True, slots=True)
class _Resolution:
    """What the plan says of one national number (or, for `fast_e164`, of its block)."""

    country_code: str
    strip: int  # digits dropped from the 9-digit national number in the canonical form
    country_codes: frozenset[str]  # every country code whose plan claims it
    territories: frozenset[Territory]
    is_mobile: bool
    metro_types: frozenset[str]  # metropolitan France's types, for Alsace-Moselle


_ZONE_TERRITORY: dict[str, Territory] = {zone: t for t, zone in TERRITORY_ZONE.items()}


def _claims(nsn: str) -> tuple[_Claim, ...]:
    found = []
    for plan in _PLANS:
        for candidate in plan.candidates(nsn):
            types = frozenset(name for name, pattern, lengths in plan.types
                              if len(candidate) in lengths and pattern.fullmatch(candidate))
            if types:
                found.append(_Claim(plan.territory, plan.country_code, candidate, types))
    return tuple(found)


def _map_territories(claims: tuple[_Claim, ...]) -> set[Territory]:
    """Territories of phonenumbers' time-zone map for each claimed form (R-D4: +262 69x mobiles
    are listed for Réunion and Mayotte)."""
    found = set()
    for claim in claims:
        number = phonenumbers.PhoneNumber(country_code=int(claim.country_code),
                                          national_number=int(claim.nsn))
        found.update(_ZONE_TERRITORY[z] for z in pn_timezone.time_zones_for_number(number)
                     if z in _ZONE_TERRITORY)
    return found


def _resolve(claims: tuple[_Claim, ...]) -> _Resolution | None:
    if not claims:
        return None
    metro = [c for c in claims if c.territory is Territory.METRO]
    overseas = sorted((c for c in claims if c.territory is not Territory.METRO),
                      key=lambda c: int(c.country_code))
    if metro and (metro[0].types & _SERVICE_TYPES or not overseas):
        chosen = metro[0]
    else:
        chosen = overseas[0]
    nine = 9 if chosen.country_code != "508" or len(chosen.nsn) == 9 else 6
    return _Resolution(
        country_code=chosen.country_code,
        strip=9 - nine,
        country_codes=frozenset(c.country_code for c in claims),
        territories=frozenset({c.territory for c in claims} | _map_territories(claims)),
        # A type the plan may give to a mobile counts as a mobile (R-F5, strict; Saint-Pierre-
        # et-Miquelon's ranges are both fixed and mobile in the metadata).
        is_mobile=any(c.types & _MOBILE_TYPES for c in claims),
        metro_types=metro[0].types if metro else frozenset(),
    )


# --- the two paths ------------------------------------------------------------------------------

def normalise_digits(dialled: str) -> str:
    """Strip separators and turn a leading 00 into +; raise NumberError on anything else."""
    text = _SEPARATORS.sub("", dialled.strip())
    if text.startswith("00"):
        text = "+" + text[2:]
    if not _SHAPE.fullmatch(text):
        raise NumberError("format non reconnu (chiffres, espaces et + initial seulement)")
    return text


def is_emergency(dialled: str, emergency_numbers: frozenset[str]) -> bool:
    try:
        return normalise_digits(dialled) in emergency_numbers
    except NumberError:
        return False


def _national_of(text: str) -> tuple[str, str | None] | None:
    """(9-digit national number, the country code it was written with or None) for a number of
    the national plan; None for a foreign E.164 number. Raises NumberError on a bad shape."""
    if not text.startswith("+"):
        if not _NATIONAL.fullmatch(text):
            raise NumberError("un numéro national a 10 chiffres et commence par 0")
        return text[1:], None
    for code in ("33", "262", "590", "594", "596", "508"):
        if text.startswith(code, 1):
            rest = text[1 + len(code):]
            if len(rest) == 10 and rest[0] == "0":
                rest = rest[1:]  # "+33 (0)6 12 34 56 78": the national 0 written in brackets
            if code == "508" and len(rest) == 6:
                rest = "508" + rest
            if len(rest) != 9 or rest[0] == "0":
                raise NumberError("numéro non attribué dans le plan de numérotation")
            return rest, code
    return None


def _check_written_code(resolution: _Resolution, code: str | None) -> None:
    # +33 reaches any number of the national plan; an overseas code only its own ranges.
    if code is not None and code != "33" and code not in resolution.country_codes:
        raise NumberError("numéro non attribué dans le plan de numérotation")


@functools.lru_cache(maxsize=4096)
def parse_number(dialled: str) -> ConsumerNumber:
    """The live parser (memoised: a decision parses the same few strings several times;
    NumberError is not cached)."""
    text = normalise_digits(dialled)
    national = _national_of(text)
    if national is None:
        return _parse_foreign(dialled, text)
    nsn, code = national
    resolution = _resolve(_claims(nsn))
    if resolution is None:
        raise NumberError("numéro non attribué dans le plan de numérotation")
    _check_written_code(resolution, code)
    territories = resolution.territories
    return ConsumerNumber(
        dialled=dialled,
        e164=f"+{resolution.country_code}{nsn[resolution.strip:]}",
        region=_region_of(resolution),
        is_mobile=resolution.is_mobile,
        territories=territories,
        zones=tuple(sorted({TERRITORY_ZONE[t] for t in territories})),
        alsace_moselle=_alsace_moselle(nsn, resolution),
        national="0" + nsn,
    )


def _region_of(resolution: _Resolution) -> str:
    if resolution.country_code == "33":
        return "FR"
    plan = next(p for p in _PLANS if p.country_code == resolution.country_code
                and p.territory in resolution.territories)
    return plan.territory.value


def _parse_foreign(dialled: str, text: str) -> ConsumerNumber:
    try:
        parsed = phonenumbers.parse(text, None)
    except phonenumbers.NumberParseException as exc:
        raise NumberError("format non reconnu") from exc
    if not phonenumbers.is_valid_number(parsed):
        raise NumberError("numéro non attribué dans le plan de numérotation")
    number_type = phonenumbers.number_type(parsed)
    zones = sorted(z for z in pn_timezone.time_zones_for_number(parsed) if z != "Etc/Unknown")
    return ConsumerNumber(
        dialled=dialled,
        e164=phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164),
        region=phonenumbers.region_code_for_number(parsed) or "ZZ",
        is_mobile=number_type in (PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE),
        territories=frozenset(),
        zones=tuple(zones),
        alsace_moselle=AlsaceMoselle.NO,
    )


def _alsace_moselle(nsn: str, resolution: _Resolution) -> AlsaceMoselle:
    if Territory.METRO not in resolution.territories:
        return AlsaceMoselle.NO
    if "fixed_line" not in resolution.metro_types or nsn[0] not in "12345":
        return AlsaceMoselle.UNKNOWN  # mobiles, 08, 09: no geography
    if nsn.startswith(_ALSACE_MOSELLE_PREFIXES):
        return AlsaceMoselle.YES
    if nsn.startswith("3"):
        return AlsaceMoselle.UNKNOWN  # other 03 prefixes: north-east, department not told
    return AlsaceMoselle.NO


@functools.lru_cache(maxsize=100_000)
def _block(block: str) -> _Resolution | None:
    """The resolution of a 5-digit block (ZABPQ), from one number of it."""
    return _resolve(_claims(block + "0000"))


def fast_e164(text: str) -> str:
    """E.164 of a number, for bulk imports (millions of lines): the live parser's answer looked
    up per block for numbers of the national plan, without building a ConsumerNumber. Anything
    else goes through parse_number. Raises NumberError like parse_number."""
    digits = normalise_digits(text)
    national = _national_of(digits)
    if national is None:
        return parse_number(text).e164
    nsn, code = national
    resolution = _block(nsn[:5])
    if resolution is None:
        raise NumberError("numéro non attribué dans le plan de numérotation")
    _check_written_code(resolution, code)
    return f"+{resolution.country_code}{nsn[resolution.strip:]}"
