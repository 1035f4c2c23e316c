"""The dry-run request, built one way for the CLI's `astguard check` and the API's
`POST /v1/check` (rules-fr 2026-11-26: the same answer everywhere): both then go through the one
decision path, `Gate.check(record=False)`."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from astguard.errors import InputError
from astguard.instants import PARIS
from astguard.policy import CallRequest, Campaign, DialMode, Purpose

# The fields of a dry run, as the API names them (the CLI's options are the same, dashed).
FIELDS = frozenset({"number", "at", "campaign", "purpose", "principal", "scope", "sector",
                    "press", "dial_mode", "caller_id", "endpoint", "department"})


@dataclass(frozen=True, slots=True)
class DryRun:
    call: CallRequest
    campaign: Campaign | None  # an ad-hoc campaign (purpose and principal given)
    at: dt.datetime | None  # None: now


def check_instant(text: str | dt.datetime | None, what: str) -> dt.datetime | None:
    """An ISO-8601 instant; without an offset it is Paris time (as the README says)."""
    if text is None or text == "":
        return None
    if isinstance(text, dt.datetime):  # already read (the API's model)
        return text if text.tzinfo else text.replace(tzinfo=PARIS)
    try:
        instant = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise InputError(f"{what} {text!r} : date ISO-8601 attendue, "
                         "par exemple 2026-11-27T19:59:00+01:00") from None
    return instant if instant.tzinfo else instant.replace(tzinfo=PARIS)


def _choice(enum_type: type[Purpose] | type[DialMode], value: str | None, what: str):
    if value is None or value == "":
        return None
    try:
        return enum_type(value)
    except ValueError:
        allowed = ", ".join(v.value for v in enum_type)
        raise InputError(f"{what} {value!r} inconnu : {allowed}") from None


def build(*, number: str, at: str | dt.datetime | None = None, campaign: str | None = None,
          purpose: str | None = None, principal: str | None = None, scope: str | None = None,
          sector: str | None = None, press: bool = False, dial_mode: str | None = None,
          caller_id: str | None = None, endpoint: str | None = None,
          department: str | None = None, source: str) -> DryRun:
    if not number:
        raise InputError("numéro à vérifier manquant")
    mode = _choice(DialMode, dial_mode, "mode de numérotation")
    ad_hoc = None
    if purpose or principal:
        if campaign or not (purpose and principal):
            raise InputError("donner une campagne, ou bien une finalité et un donneur d'ordre "
                             "ensemble")
        ad_hoc = Campaign(name="(essai)", principal=principal,
                          purpose=_choice(Purpose, purpose, "finalité"),
                          dial_mode=mode or DialMode.MANUAL, scope=scope or None,
                          sector=sector or None, press=press)
    elif scope or sector or press:
        raise InputError("périmètre, secteur et presse ne s'emploient qu'avec une finalité et "
                         "un donneur d'ordre")
    call = CallRequest(
        dialled=number, source=source, endpoint=endpoint or None,
        campaign_name=campaign or None,
        # A named campaign or an endpoint's default: a per-call mode, as a dialer would give
        # it (the gate lets it only make the call more automated, R-F4).
        dial_mode=mode if ad_hoc is None else None,
        caller_id=caller_id or None, department=department or None)
    return DryRun(call, ad_hoc, check_instant(at, "date"))
