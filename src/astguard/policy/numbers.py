"""Consumer numbers: parsing (national or E.164), territory and candidate time zones (R-A, R-D4).

phonenumbers alone gets French overseas numbers wrong when they are written in the national
format: with region FR, 0262… and 0692… do not parse, and 0596… (Martinique), 0269… (Mayotte)
and 0508… (Saint-Pierre-et-Miquelon) parse as *metropolitan* numbers in Europe/Paris. The
national prefixes of the overseas territories are therefore mapped here first.
"""

from __future__ import annotations

import functools

import enum
import re
from dataclasses import dataclass

import phonenumbers
from phonenumbers import PhoneNumberType, timezone as pn_timezone


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

# Country calling code of each overseas national prefix (first three digits after the 0).
_OVERSEAS_NATIONAL_PREFIX: dict[str, str] = {
    "262": "262", "263": "262", "692": "262", "693": "262",  # Réunion
    "269": "262", "639": "262",  # Mayotte
    "590": "590", "690": "590", "691": "590",  # Guadeloupe, Saint-Barthélemy, Saint-Martin
    "596": "596", "696": "596", "697": "596",  # Martinique
    "594": "594", "694": "594",  # Guyane
    "508": "508",  # Saint-Pierre-et-Miquelon (0508 + six digits)
}

_REGION_TERRITORY: dict[str, Territory] = {t.value: t for t in Territory}
_ZONE_TERRITORY: dict[str, Territory] = {zone: t for t, zone in TERRITORY_ZONE.items()}
_SHARED_590 = frozenset({Territory.GUADELOUPE, Territory.SAINT_BARTHELEMY, Territory.SAINT_MARTIN})
_ALSACE_MOSELLE_PREFIXES = ("387", "388", "389")  # 03 87, 03 88, 03 89 (57, 67, 68)
_SEPARATORS = re.compile(r"[\s.\-/()]")
_SHAPE = re.compile(r"\+?\d{2,16}")


class AlsaceMoselle(enum.StrEnum):
    """Whether the consumer lives in Alsace-Moselle, as far as the number tells (R-D2)."""

    YES = "yes"
    NO = "no"
    UNKNOWN = "unknown"


class NumberError(ValueError):
    """A dialled string that is not a valid number; the message is French (shown to users)."""


@dataclass(frozen=True, slots=True)
class ConsumerNumber:
    dialled: str
    e164: str
    region: str  # phonenumbers region code: FR, RE, GP, BE…
    is_mobile: bool
    territories: frozenset[Territory]  # empty outside the covered territory
    zones: tuple[str, ...]  # candidate IANA zones, sorted; empty when unknown
    alsace_moselle: AlsaceMoselle

    @property
    def in_territory(self) -> bool:
        return bool(self.territories)


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


def _to_e164_text(text: str) -> str:
    if text.startswith("+33") and text[3:6] in _OVERSEAS_NATIONAL_PREFIX:
        text = "0" + text[3:]
    if text.startswith("+"):
        return text
    if len(text) != 10 or not text.startswith("0"):
        raise NumberError("un numéro national a 10 chiffres et commence par 0")
    nsn = text[1:]
    code = _OVERSEAS_NATIONAL_PREFIX.get(nsn[:3])
    if code is None:
        return "+33" + nsn
    if code == "508":
        return "+508" + nsn[3:]
    return "+" + code + nsn


@functools.lru_cache(maxsize=4096)
def parse_number(dialled: str) -> ConsumerNumber:
    """Parse a dialled number (memoised: a decision parses the same few strings several times
    and phonenumbers costs about 0.2 ms a parse; NumberError is not cached)."""
    text = normalise_digits(dialled)
    e164_text = _to_e164_text(text)
    try:
        parsed = phonenumbers.parse(e164_text, None)
    except phonenumbers.NumberParseException as exc:
        raise NumberError("format non reconnu") from exc
    if not phonenumbers.is_valid_number(parsed):
        raise NumberError("numéro non attribué dans le plan de numérotation")
    region = phonenumbers.region_code_for_number(parsed) or "ZZ"
    number_type = phonenumbers.number_type(parsed)
    is_mobile = number_type in (PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE)
    zones = sorted(z for z in pn_timezone.time_zones_for_number(parsed) if z != "Etc/Unknown")
    territories = _territories(region, zones, parsed.country_code)
    for territory in territories:
        zone = TERRITORY_ZONE[territory]
        if zone not in zones and not _same_zone_listed(territory, zones):
            zones.append(zone)
    return ConsumerNumber(
        dialled=dialled,
        e164=phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164),
        region=region,
        is_mobile=is_mobile,
        territories=territories,
        zones=tuple(sorted(zones)),
        alsace_moselle=_alsace_moselle(parsed, territories, number_type),
    )


def _same_zone_listed(territory: Territory, zones: list[str]) -> bool:
    # phonenumbers names America/Guadeloupe for Saint-Barthélemy and Saint-Martin: same offset,
    # same rules, so the zone is already covered.
    return territory in _SHARED_590 and "America/Guadeloupe" in zones


def _territories(region: str, zones: list[str], country_code: int) -> frozenset[Territory]:
    if region not in _REGION_TERRITORY:
        return frozenset()
    if country_code == 590:
        # +590 mobiles are shared by the three islands, and the metadata does not tell every
        # fixed range apart (it names Guadeloupe's zone for all): keep the three (strict, I).
        return _SHARED_590
    found = {_ZONE_TERRITORY[z] for z in zones if z in _ZONE_TERRITORY}
    found.add(_REGION_TERRITORY[region])
    return frozenset(found)


def _alsace_moselle(
    parsed: phonenumbers.PhoneNumber, territories: frozenset[Territory], number_type: int
) -> AlsaceMoselle:
    if territories != {Territory.METRO}:
        return AlsaceMoselle.NO
    nsn = phonenumbers.national_significant_number(parsed)
    if number_type != PhoneNumberType.FIXED_LINE or nsn[0] not in "12345":
        return AlsaceMoselle.UNKNOWN  # mobiles, 08, 09: no geography
    if nsn.startswith(_ALSACE_MOSELLE_PREFIXES):
        return AlsaceMoselle.YES
    if nsn.startswith("3"):
        return AlsaceMoselle.UNKNOWN  # other 03 prefixes: north-east, department not told
    return AlsaceMoselle.NO


_FAST_NATIONAL = re.compile(r"0[1-9]\d{8}")
_FAST_E164 = re.compile(r"\+(33[1-9]\d{8}|262\d{9}|590\d{9}|596\d{9}|594\d{9}|508\d{6})")


def fast_e164(text: str) -> str:
    """E.164 of a French number written plainly, for bulk imports (millions of lines).

    The common shapes (10 national digits, or +33… and the overseas codes) are turned by rule
    without phonenumbers (about a hundred times faster); anything else goes through
    parse_number. Raises NumberError like parse_number.
    """
    digits = _SEPARATORS.sub("", text.strip())
    if digits.startswith("0033"):
        digits = "+" + digits[2:]
    if _FAST_NATIONAL.fullmatch(digits) or (digits.startswith("+33") and len(digits) == 12):
        return _to_e164_text(digits)
    if _FAST_E164.fullmatch(digits):
        return digits
    return parse_number(text).e164
