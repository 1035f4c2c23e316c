"""Reason codes of the rule book (../shared/rules-fr.md), their effect and their French wording.

A reason is what a decision says about one rule: a denial, a warning, or a note that a rule
did not apply (out of scope). Texts are what supervisors and agents read, so they are in French.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any


class Effect(enum.StrEnum):
    DENY = "deny"
    WARN = "warn"
    INFO = "info"


class PromptFamily(enum.StrEnum):
    """One refusal prompt per family: what the agent hears (sounds/fr/astguard/<family>.wav)."""

    HOURS = "refus-horaires"
    HOLIDAY = "refus-jour-ferie"
    NUMBER = "refus-numero"
    DESTINATION = "refus-destination"
    CAMPAIGN = "refus-campagne"
    UNAVAILABLE = "refus-indisponible"
    PRESSURE = "refus-sollicitation"
    CONSENT = "refus-consentement"
    CALLER_ID = "refus-numero-presente"


class ReasonCode(enum.StrEnum):
    # Scope (R-A)
    PURPOSE_UNCLASSIFIED = "PURPOSE_UNCLASSIFIED"
    OUT_OF_SCOPE_SERVICE_CALL = "OUT_OF_SCOPE_SERVICE_CALL"
    OUT_OF_SCOPE_B2B = "OUT_OF_SCOPE_B2B"
    NON_FR_DESTINATION = "NON_FR_DESTINATION"
    INVALID_NUMBER = "INVALID_NUMBER"
    EMERGENCY_NUMBER = "EMERGENCY_NUMBER"
    # Days and hours (R-D1 to R-D5)
    OUTSIDE_CALL_DAYS = "OUTSIDE_CALL_DAYS"
    PUBLIC_HOLIDAY = "PUBLIC_HOLIDAY"
    OUTSIDE_CALL_WINDOW = "OUTSIDE_CALL_WINDOW"
    TIMEZONE_UNKNOWN = "TIMEZONE_UNKNOWN"
    ALLOWED_SCHEDULED_CALLBACK = "ALLOWED_SCHEDULED_CALLBACK"
    # Pressure (R-D6, R-D7, R-B3)
    FREQUENCY_CAP = "FREQUENCY_CAP"
    REFUSAL_COOLDOWN = "REFUSAL_COOLDOWN"
    CONSUMER_OPPOSED = "CONSUMER_OPPOSED"
    # Consent (R-B) and Bloctel (R-C)
    NO_CONSENT = "NO_CONSENT"
    CONSENT_EXPIRED = "CONSENT_EXPIRED"
    CONSENT_SCOPE_MISMATCH = "CONSENT_SCOPE_MISMATCH"
    CONSENT_WRONG_PRINCIPAL = "CONSENT_WRONG_PRINCIPAL"
    CONSENT_WITHDRAWN = "CONSENT_WITHDRAWN"
    SECTOR_BAN = "SECTOR_BAN"
    BLOCTEL_LISTED = "BLOCTEL_LISTED"
    BLOCTEL_SCRUB_STALE = "BLOCTEL_SCRUB_STALE"
    # Caller ID (R-F, R-G, R-H)
    CLI_WITHHELD = "CLI_WITHHELD"
    CALLER_ID_NOT_AUTHORISED = "CALLER_ID_NOT_AUTHORISED"
    CALLER_ID_FORBIDDEN_RANGE = "CALLER_ID_FORBIDDEN_RANGE"
    NPV_REQUIRED = "NPV_REQUIRED"
    MOBILE_CLI_NOT_ALLOWED = "MOBILE_CLI_NOT_ALLOWED"
    CALL_BLOCKED_BY_NETWORK = "CALL_BLOCKED_BY_NETWORK"
    AUTOMATED_CALL_NO_CONSENT = "AUTOMATED_CALL_NO_CONSENT"
    # Recording consent (R-I): about the recording of a call, never the call itself
    RECORDING_NOT_ANNOUNCED = "RECORDING_NOT_ANNOUNCED"
    RECORDING_OBJECTED = "RECORDING_OBJECTED"
    # The guard itself (fail closed)
    GUARD_UNAVAILABLE = "GUARD_UNAVAILABLE"


@dataclass(frozen=True, slots=True)
class _Meta:
    effect: Effect
    family: PromptFamily | None
    text: str  # French, str.format(**inputs)-able


_META: dict[ReasonCode, _Meta] = {
    ReasonCode.PURPOSE_UNCLASSIFIED: _Meta(
        Effect.DENY, PromptFamily.CAMPAIGN,
        "Appel non classé : aucune campagne ni finalité connue pour cet appel."),
    ReasonCode.OUT_OF_SCOPE_SERVICE_CALL: _Meta(
        Effect.INFO, None, "Appel de service : hors du champ du démarchage, journalisé."),
    ReasonCode.OUT_OF_SCOPE_B2B: _Meta(
        Effect.INFO, None, "Appel entre professionnels : hors du champ du démarchage, journalisé."),
    ReasonCode.NON_FR_DESTINATION: _Meta(
        Effect.DENY, PromptFamily.DESTINATION,
        "Destination hors du territoire couvert ({region})."),
    ReasonCode.INVALID_NUMBER: _Meta(
        Effect.DENY, PromptFamily.NUMBER, "Numéro invalide : {detail}."),
    ReasonCode.EMERGENCY_NUMBER: _Meta(
        Effect.INFO, None, "Numéro d'urgence : jamais bloqué, jamais compté."),
    ReasonCode.OUTSIDE_CALL_DAYS: _Meta(
        Effect.DENY, PromptFamily.HOURS,
        "Jour non autorisé : démarchage du lundi au vendredi seulement ({local})."),
    ReasonCode.PUBLIC_HOLIDAY: _Meta(
        Effect.DENY, PromptFamily.HOLIDAY, "Jour férié : {holiday} ({local})."),
    ReasonCode.OUTSIDE_CALL_WINDOW: _Meta(
        Effect.DENY, PromptFamily.HOURS,
        "Hors des plages horaires 10h-13h et 14h-20h, heure du consommateur ({local})."),
    ReasonCode.TIMEZONE_UNKNOWN: _Meta(
        Effect.DENY, PromptFamily.HOURS, "Fuseau horaire du consommateur inconnu."),
    ReasonCode.ALLOWED_SCHEDULED_CALLBACK: _Meta(
        Effect.INFO, None, "Rappel demandé par le consommateur à cette date et heure."),
    ReasonCode.FREQUENCY_CAP: _Meta(
        Effect.DENY, PromptFamily.PRESSURE, "Plafond de 4 tentatives sur 30 jours atteint."),
    ReasonCode.REFUSAL_COOLDOWN: _Meta(
        Effect.DENY, PromptFamily.PRESSURE, "Refus récent du consommateur : délai en cours."),
    ReasonCode.CONSUMER_OPPOSED: _Meta(
        Effect.DENY, PromptFamily.PRESSURE, "Le consommateur s'est opposé au démarchage."),
    ReasonCode.NO_CONSENT: _Meta(
        Effect.DENY, PromptFamily.CONSENT, "Aucun consentement préalable du consommateur."),
    ReasonCode.CONSENT_EXPIRED: _Meta(Effect.DENY, PromptFamily.CONSENT, "Consentement expiré."),
    ReasonCode.CONSENT_SCOPE_MISMATCH: _Meta(
        Effect.DENY, PromptFamily.CONSENT, "Consentement hors du périmètre de la campagne."),
    ReasonCode.CONSENT_WRONG_PRINCIPAL: _Meta(
        Effect.DENY, PromptFamily.CONSENT, "Consentement donné à un autre professionnel."),
    ReasonCode.CONSENT_WITHDRAWN: _Meta(
        Effect.DENY, PromptFamily.CONSENT, "Consentement retiré."),
    ReasonCode.SECTOR_BAN: _Meta(
        Effect.DENY, PromptFamily.CONSENT, "Secteur interdit de démarchage téléphonique."),
    ReasonCode.BLOCTEL_LISTED: _Meta(
        Effect.DENY, PromptFamily.CONSENT, "Numéro inscrit sur la liste Bloctel."),
    ReasonCode.BLOCTEL_SCRUB_STALE: _Meta(
        Effect.DENY, PromptFamily.CONSENT, "Fichier non vérifié par Bloctel depuis plus de 30 jours."),
    ReasonCode.CLI_WITHHELD: _Meta(
        Effect.DENY, PromptFamily.CALLER_ID, "Numéro présenté masqué."),
    ReasonCode.CALLER_ID_NOT_AUTHORISED: _Meta(
        Effect.DENY, PromptFamily.CALLER_ID, "Numéro présenté non attribué au donneur d'ordre."),
    ReasonCode.CALLER_ID_FORBIDDEN_RANGE: _Meta(
        Effect.DENY, PromptFamily.CALLER_ID, "Numéro présenté dans une tranche interdite."),
    ReasonCode.NPV_REQUIRED: _Meta(
        Effect.DENY, PromptFamily.CALLER_ID, "Appel automatisé : numéro NPV obligatoire."),
    ReasonCode.MOBILE_CLI_NOT_ALLOWED: _Meta(
        Effect.DENY, PromptFamily.CALLER_ID, "Numéro mobile interdit comme numéro présenté."),
    ReasonCode.CALL_BLOCKED_BY_NETWORK: _Meta(
        Effect.WARN, None, "Appels refusés à répétition par le réseau pour ce numéro présenté."),
    ReasonCode.AUTOMATED_CALL_NO_CONSENT: _Meta(
        Effect.DENY, PromptFamily.CONSENT, "Appel automatisé sans consentement."),
    ReasonCode.RECORDING_NOT_ANNOUNCED: _Meta(
        Effect.INFO, None,
        "Enregistrement non démarré : l'annonce n'a pas été diffusée jusqu'au bout."),
    ReasonCode.RECORDING_OBJECTED: _Meta(
        Effect.INFO, None,
        "Enregistrement refusé : l'appelant s'y est opposé, l'appel continue."),
    ReasonCode.GUARD_UNAVAILABLE: _Meta(
        Effect.DENY, PromptFamily.UNAVAILABLE,
        "Contrôle de conformité indisponible ({detail}) : appel de démarchage refusé par sécurité."),
}

# The rule-book section or rule each code enforces (totals per rule in inspection reports).
RULE_IDS: dict[ReasonCode, str] = {
    ReasonCode.PURPOSE_UNCLASSIFIED: "R-A", ReasonCode.OUT_OF_SCOPE_SERVICE_CALL: "R-A",
    ReasonCode.OUT_OF_SCOPE_B2B: "R-A", ReasonCode.NON_FR_DESTINATION: "R-A",
    ReasonCode.INVALID_NUMBER: "R-A", ReasonCode.EMERGENCY_NUMBER: "R-A",
    ReasonCode.OUTSIDE_CALL_DAYS: "R-D1", ReasonCode.PUBLIC_HOLIDAY: "R-D2",
    ReasonCode.OUTSIDE_CALL_WINDOW: "R-D3", ReasonCode.TIMEZONE_UNKNOWN: "R-D4",
    ReasonCode.ALLOWED_SCHEDULED_CALLBACK: "R-D5", ReasonCode.FREQUENCY_CAP: "R-D6",
    ReasonCode.REFUSAL_COOLDOWN: "R-D7", ReasonCode.CONSUMER_OPPOSED: "R-B3",
    ReasonCode.NO_CONSENT: "R-B1", ReasonCode.CONSENT_EXPIRED: "R-B2",
    ReasonCode.CONSENT_SCOPE_MISMATCH: "R-B2", ReasonCode.CONSENT_WRONG_PRINCIPAL: "R-B2",
    ReasonCode.CONSENT_WITHDRAWN: "R-B2", ReasonCode.SECTOR_BAN: "R-B6",
    ReasonCode.BLOCTEL_LISTED: "R-C1", ReasonCode.BLOCTEL_SCRUB_STALE: "R-C2",
    ReasonCode.CLI_WITHHELD: "R-F1", ReasonCode.CALLER_ID_NOT_AUTHORISED: "R-F2",
    ReasonCode.CALLER_ID_FORBIDDEN_RANGE: "R-F3", ReasonCode.NPV_REQUIRED: "R-F4",
    ReasonCode.MOBILE_CLI_NOT_ALLOWED: "R-F5", ReasonCode.CALL_BLOCKED_BY_NETWORK: "R-G1",
    ReasonCode.AUTOMATED_CALL_NO_CONSENT: "R-H1", ReasonCode.GUARD_UNAVAILABLE: "§7",
    ReasonCode.RECORDING_NOT_ANNOUNCED: "R-I1", ReasonCode.RECORDING_OBJECTED: "R-I2",
}


def rule_of(code: str) -> str:
    """The rule id of a recorded reason code ("?" for a code this version does not know)."""
    try:
        return RULE_IDS[ReasonCode(code)]
    except ValueError:
        return "?"


def text_of(code: str) -> str:
    """The French text of a code, without its inputs (for reports and the dashboard)."""
    try:
        return _META[ReasonCode(code)].text.split(":")[0].split(" (")[0].rstrip(".")
    except ValueError:
        return code


# When several denials apply, the agent hears the prompt of the first family in this order.
_PROMPT_ORDER: tuple[PromptFamily, ...] = (
    PromptFamily.UNAVAILABLE,
    PromptFamily.NUMBER,
    PromptFamily.CAMPAIGN,
    PromptFamily.DESTINATION,
    PromptFamily.HOLIDAY,
    PromptFamily.HOURS,
    PromptFamily.PRESSURE,
    PromptFamily.CONSENT,
    PromptFamily.CALLER_ID,
)


class _SafeDict(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "?"


@dataclass(frozen=True, slots=True)
class Reason:
    """One finding of the policy, with the inputs that led to it (kept as evidence)."""

    code: ReasonCode
    inputs: dict[str, Any] = field(default_factory=dict)
    effect: Effect | None = None  # None: the code's default effect

    @property
    def resolved_effect(self) -> Effect:
        return self.effect or _META[self.code].effect

    @property
    def family(self) -> PromptFamily | None:
        return _META[self.code].family

    @property
    def text(self) -> str:
        return _META[self.code].text.format_map(_SafeDict(self.inputs))

    def as_dict(self) -> dict[str, Any]:
        return {
            "code": self.code.value,
            "effect": self.resolved_effect.value,
            "text": self.text,
            "inputs": self.inputs,
        }


def prompt_for(reasons: list[Reason]) -> PromptFamily | None:
    families = {r.family for r in reasons if r.resolved_effect is Effect.DENY and r.family}
    for family in _PROMPT_ORDER:
        if family in families:
            return family
    return None
