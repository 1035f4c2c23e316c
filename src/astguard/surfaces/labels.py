"""French words for what the CLI shows: column headings and the values an operator reads
(purposes, dial modes, decisions, dial statuses). The JSON output keeps the codes."""

from __future__ import annotations

from typing import Any

PURPOSES = {"prospecting": "prospection", "service": "service client", "survey": "enquête",
            "b2b": "entre professionnels"}
DIAL_MODES = {"manual": "manuel", "preview": "aperçu", "progressive": "progressif",
              "predictive": "prédictif", "broadcast": "message diffusé",
              "prerecorded": "message préenregistré", "voicebot": "agent vocal automatique"}
DECISIONS = {"allow": "autorisé", "deny": "refusé"}
DIAL_STATUSES = {"ANSWER": "décroché", "BUSY": "occupé", "NOANSWER": "sans réponse",
                 "CANCEL": "annulé", "CONGESTION": "encombré", "CHANUNAVAIL": "indisponible",
                 "DONTCALL": "refusé par l'agent", "TORTURE": "refusé par l'agent",
                 "INVALIDARGS": "numéro invalide"}
EFFECTS = {"deny": "refuse", "warn": "avertit", "info": "informe"}
CLI_POLICIES = {"rewrite": "réécrire", "refuse": "refuser"}
SOURCES = {"ari": "Stasis", "agi": "FastAGI", "cli": "ligne de commande", "api": "API",
           "external": "extérieure", "history": "historique"}

VALUES: dict[str, dict[str, str]] = {
    "purpose": PURPOSES, "dial_mode": DIAL_MODES, "decision": DECISIONS,
    "dial_status": DIAL_STATUSES, "cli_policy": CLI_POLICIES, "source": SOURCES,
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
        return "oui" if raw else "non"
    words = VALUES.get(column)
    if words is not None and isinstance(raw, str):
        return words.get(raw, raw)
    return raw
