"""The HTTP API's request models (pydantic v2, unknown fields refused): what a CRM may send.

Each model is the one description of an operation's input: the handler validates with it and
the OpenAPI document (openapi.py) is generated from it. Bodies are validated in strict JSON mode
(a number is not a text, "30" is not an integer); query parameters arrive as text and are
converted. Every message a client can read is French (api_errors.py translates pydantic's).
Response shapes are in api_responses.py.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    ValidationInfo,
    WithJsonSchema,
    model_validator,
)
from pydantic_core import PydanticCustomError

from astguard.instants import PARIS, parse_day, parse_instant
from astguard.policy import DialMode, Purpose

MESSAGE = "astguard"  # the error type of a message already French and naming its field


def _said(message: str) -> PydanticCustomError:
    # The text goes in the context, never in the template, so that braces a client sent are
    # not read as placeholders.
    return PydanticCustomError(MESSAGE, "{message}", {"message": message})


def _text(value: Any, info: ValidationInfo) -> str:
    if not isinstance(value, str):
        raise _said(f"champ {info.field_name!r} : texte attendu")
    return value


def _instant(value: Any, info: ValidationInfo) -> dt.datetime:
    """An ISO-8601 instant with its offset (evidence is never in an unknown zone)."""
    try:
        return parse_instant(_text(value, info), f"champ {info.field_name!r}")
    except ValueError as exc:
        raise _said(str(exc)) from None


def _paris_instant(value: Any, info: ValidationInfo) -> dt.datetime:
    """An ISO-8601 instant; without an offset it is Paris time (as `astguard check` reads it)."""
    text = _text(value, info).strip()
    try:
        instant = dt.datetime.fromisoformat(text)
    except ValueError:
        raise _said(f"champ {info.field_name!r} : date ISO-8601 attendue, pas {text!r}, par "
                    "exemple 2026-11-27T19:59:00+01:00") from None
    return instant if instant.tzinfo else instant.replace(tzinfo=PARIS)


def _day(value: Any, info: ValidationInfo) -> dt.date:
    try:
        return parse_day(_text(value, info), f"champ {info.field_name!r}")
    except ValueError as exc:
        raise _said(str(exc)) from None


Instant = Annotated[dt.datetime, PlainValidator(_instant), WithJsonSchema(
    {"type": "string", "format": "date-time",
     "description": "ISO-8601 avec décalage, par exemple 2026-10-01T10:00:00+02:00"})]
ParisInstant = Annotated[dt.datetime, PlainValidator(_paris_instant), WithJsonSchema(
    {"type": "string", "format": "date-time",
     "description": "ISO-8601 ; sans décalage : heure de Paris"})]
Day = Annotated[dt.date, PlainValidator(_day), WithJsonSchema(
    {"type": "string", "format": "date", "description": "AAAA-MM-JJ"})]
Number = Annotated[str, Field(description="Numéro national (0612345678) ou E.164 (+33612345678)")]
Identifier = Annotated[str, Field(description="Identifiant (lettres, chiffres, - et _)")]


class Body(BaseModel):
    """A JSON request body: an object whose fields are all known."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)
    # Fields where "" and null mean "not given", as the CLI and the API always took them.
    _BLANK_IS_ABSENT: ClassVar[frozenset[str]] = frozenset()

    @model_validator(mode="before")
    @classmethod
    def _blank_is_absent(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {k: v for k, v in data.items()
                    if not (k in cls._BLANK_IS_ABSENT and (v is None or v == ""))}
        return data


class Query(BaseModel):
    """Query parameters: text converted to its type; an unknown parameter is refused (a typo
    such as `princpal` would otherwise widen a read without a word)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _blank_is_absent(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {k: v for k, v in data.items() if v != ""}
        return data


# Requests ------------------------------------------------------------------------------------

class CheckRequest(Body):
    """The dry run of a call (POST /v1/check): a named campaign (or an endpoint's), or an
    ad-hoc one given by its purpose and principal."""

    _BLANK_IS_ABSENT = frozenset({"number", "at", "campaign", "purpose", "principal", "scope",
                                  "sector", "dial_mode", "caller_id", "endpoint",
                                  "department"})
    number: Number
    at: ParisInstant | None = Field(None, description="Moment de l'appel (défaut : maintenant)")
    campaign: str | None = Field(None, description="Campagne enregistrée")
    endpoint: str | None = Field(None, description="Poste de l'agent (sa campagne par défaut)")
    purpose: Purpose | None = Field(None, title="finalité",
                                    description="Finalité d'une campagne ad hoc")
    principal: Identifier | None = Field(None, description="Donneur d'ordre (campagne ad hoc)")
    scope: str | None = Field(None, description="Périmètre (R-B2) d'une campagne ad hoc")
    sector: str | None = Field(None, description="Secteur d'une campagne ad hoc")
    press: bool = Field(False, description="Campagne ad hoc de presse (abonnements)")
    dial_mode: DialMode | None = Field(None, title="mode de numérotation",
                                       description="Mode de numérotation (R-F4)")
    caller_id: str | None = Field(None, description="Numéro présenté demandé")
    department: str | None = Field(None, description="Département du consommateur, s'il est "
                                                     "connu (outre-mer)")


class BlockRequest(Body):
    """A refusal (R-D7) or an opposition (R-B3) recorded from a CRM."""

    _BLANK_IS_ABSENT = frozenset({"number", "principal", "agent", "reference"})
    number: Number
    principal: Identifier
    agent: str | None = Field(None, description="Agent qui l'a recueilli")
    reference: str | None = Field(None, description="Rend l'envoi rejouable sans doublon")


class SuspensionRequest(BlockRequest):
    # The range is checked once, by the contacts service (its message names it).
    days: int = Field(description="Durée de la suspension en jours (1 à 3650)",
                      json_schema_extra={"minimum": 1, "maximum": 3650})


class ConsentRequest(Body):
    _BLANK_IS_ABSENT = frozenset({"number", "principal", "collected_at", "channel", "wording",
                                  "proof_ref", "valid_until"})
    number: Number
    principal: Identifier
    scopes: list[Annotated[str, Field(min_length=1)]] = Field(
        min_length=1, description="Périmètres consentis (R-B2)")
    collected_at: Instant
    channel: str = Field(description="Canal de recueil (web, courrier, téléphone…)")
    wording: str = Field(description="Version du texte présenté au consommateur")
    proof_ref: str = Field(description="Référence de la preuve dans le CRM")
    valid_until: Instant | None = Field(None, description="Fin de validité (défaut : la règle)")


class WithdrawRequest(Body):
    _BLANK_IS_ABSENT = frozenset({"number", "principal"})
    number: Number
    principal: Identifier


class AttemptRequest(Body):
    """A call made by another platform for the same principal (R-D6 counts it)."""

    _BLANK_IS_ABSENT = frozenset({"number", "principal", "at", "reference"})
    number: Number
    principal: Identifier
    at: Instant
    reference: str = Field(description="Identifiant de l'appel chez l'autre plateforme "
                                       "(rejouable sans doublon)")


class CallerIdRequest(Body):
    _BLANK_IS_ABSENT = frozenset({"number", "principal", "mandate_ref", "valid_from",
                                  "valid_to", "trunk", "operator", "kind"})
    number: Number
    principal: Identifier
    mandate_ref: str = Field(description="Référence du mandat ou de l'attribution (R-F2)")
    valid_from: Day
    valid_to: Day | None = None
    trunk: str | None = None
    operator: str | None = None
    kind: Literal["geographic", "mobile", "09", "npv", "08", "short"] | None = Field(
        None, title="type", description="Type de numéro (défaut : déduit du numéro)")


# Query parameters ----------------------------------------------------------------------------

PeriodDay = Annotated[str | None, Field(json_schema_extra={"format": "date"})]


class PeriodQuery(Query):
    from_: PeriodDay = Field(None, alias="from",
                             description="Premier jour (AAAA-MM-JJ, heure de Paris)")
    to: PeriodDay = Field(None, description="Dernier jour, inclus (défaut : aujourd'hui)")


class HistoryQuery(Query):
    campaign: str | None = Field(None, description="Campagne : ajoute le prochain moment "
                                                   "appelable")


class CallerIdsQuery(Query):
    principal: str | None = Field(None, description="Donneur d'ordre")


class DecisionsQuery(PeriodQuery):
    campaign: str | None = Field(None, description="Campagne")
    agent: str | None = Field(None, description="Agent ou poste")
    reason: str | None = Field(None, description="Code motif")
    decision: Literal["allow", "deny"] | None = Field(None, title="décision",
                                                      description="allow ou deny")
    principal: str | None = Field(None, description="Donneur d'ordre")
    number: str | None = Field(None, description="Numéro (E.164 ou national)")
    limit: int = Field(200, ge=1, le=1000, description="Nombre de décisions (1 à 1000)")
    offset: int = Field(0, ge=0, description="Décalage (pagination)")


class RefusalStatsQuery(PeriodQuery):
    principal: str | None = Field(None, description="Donneur d'ordre")


class InspectionQuery(PeriodQuery):
    principal: str = Field(description="Donneur d'ordre inspecté")
    format: Literal["json", "csv", "html"] = Field(
        "json", title="format", description="json, csv ou html (imprimable)")

