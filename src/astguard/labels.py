"""Every French label an operator reads for a stored value, defined once (issue 13 item 11).

The stored values (decisions, purposes, dial modes, Asterisk's dial statuses, block kinds…)
stay in English in the database and the JSON API; the CLI's text output, the dashboard and the
inspection report show these labels. A leaf module: the store and the surfaces both read it.
"""

from __future__ import annotations

from typing import Any

DECISION = {"allow": "autorisé", "deny": "refusé"}

# R-A: the purpose decides which rules apply.
PURPOSE = {
    "prospecting": "prospection",
    "service": "service client",
    "survey": "enquête",
    "b2b": "entre professionnels",
}

# The dialling mode ("mode" in the CLI's tables: masculine).
DIAL_MODE = {
    "manual": "manuel",
    "preview": "aperçu",
    "progressive": "progressif",
    "predictive": "prédictif",
    "broadcast": "message diffusé",
    "prerecorded": "message préenregistré",
    "voicebot": "agent vocal automatique",
}

# Asterisk's ${DIALSTATUS} values.
DIAL_STATUS = {
    "ANSWER": "décroché",
    "BUSY": "occupé",
    "NOANSWER": "pas de réponse",
    "CANCEL": "annulé par l'appelant",
    "CONGESTION": "encombrement",
    "CHANUNAVAIL": "ligne indisponible",
    "DONTCALL": "refusé par l'appelé",
    "TORTURE": "renvoyé vers le répondeur",
    "INVALIDARGS": "paramètres invalides",
}

BLOCK_KIND = {"refusal": "refus", "suspension": "suspension", "opposition": "opposition"}

ATTEMPT_SOURCE = {"pbx": "astguard", "external": "autre plateforme"}

UNGUARDED_ACTION = {
    "hung_up": "raccroché",
    "alerted": "signalé (mode alerte)",
    "emergency_kept": "numéro d'urgence : laissé passer",
    "gone": "déjà terminé",
}

EVIDENCE_KIND = {
    "decision": "décision",
    "outcome": "issue d'appel",
    "block": "refus/suspension/opposition",
    "inbound_call": "appel entrant",
    "inbound_event": "événement d'appel entrant",
    "unguarded_call": "appel sans décision (vigie)",
}

YES_NO = {True: "oui", False: "non"}


# A call's outcome in the inspection report.
OUTCOME = {"not_placed": "non émis", "unknown": "issue inconnue", "answered": "décroché",
           "unanswered": "non décroché"}

BLOCTEL_RESULT = {"none": "aucun", "listed": "inscrit", "not_listed": "non inscrit"}


EFFECT = {"deny": "refuse", "warn": "avertit", "info": "informe"}
CLI_POLICY = {"rewrite": "réécrire", "refuse": "refuser"}
SOURCE = {"ari": "Stasis", "agi": "FastAGI", "cli": "ligne de commande", "api": "API",
          "external": "extérieure", "history": "historique"}

# The CLI's text tables: a column's coded values, and its heading.
VALUES: dict[str, dict[str, str]] = {
    "purpose": PURPOSE, "dial_mode": DIAL_MODE, "decision": DECISION,
    "dial_status": DIAL_STATUS, "cli_policy": CLI_POLICY, "source": SOURCE,
}

HEADINGS = {
    "name": "nom", "principal_id": "donneur d'ordre", "principal": "donneur d'ordre",
    "purpose": "finalité", "dial_mode": "mode", "caller_id": "numéro présenté",
    "cli_policy": "numéro erroné", "scope": "périmètre", "sector": "secteur", "press": "presse",
    "active": "active", "endpoint": "poste", "default_campaign": "campagne par défaut",
    "allowed_campaigns": "autres campagnes", "agent": "agent", "decided_at": "décidé le",
    "number_e164": "numéro", "campaign": "campagne", "decision": "décision",
    "deny_codes": "motifs de refus", "reason_codes": "motifs", "answered": "décroché",
    "hangup_cause": "cause de fin", "source": "origine", "number": "numéro", "kind": "type",
    "trunk": "ligne", "mandate_ref": "mandat", "valid_from": "depuis", "valid_to": "jusqu'au",
    "recent_refusals": "refus réseau récents", "blocked_by_network": "bloqué par le réseau",
    "raised_at": "levée le", "refusals": "refus", "cleared_at": "levée close le",
    "cleared_by": "close par", "dial_status": "issue",
}


def heading(column: str) -> str:
    return HEADINGS.get(column, column)


def value(column: str, raw: Any) -> Any:
    """The French word for a coded value; booleans as oui/non; anything else unchanged."""
    if isinstance(raw, bool):
        return YES_NO[raw]
    words = VALUES.get(column)
    if words is not None and isinstance(raw, str):
        return words.get(raw, raw)
    return raw


def label(table: dict[str, str], value: str | None, empty: str = "—") -> str:
    """The French label of a stored value; an unknown value is shown as stored (never lost)."""
    if value is None or value == "":
        return empty
    return table.get(value, value)
