"""Every French label an operator reads for a stored value, defined once (issue 13 item 11).

The stored values (decisions, purposes, dial modes, Asterisk's dial statuses, block kinds…)
stay in English in the database and the JSON API; the CLI's text output, the dashboard and the
inspection report show these labels. A leaf module: the store and the surfaces both read it.
"""

from __future__ import annotations

DECISION = {"allow": "autorisé", "deny": "refusé"}

# R-A: the purpose decides which rules apply; shown as the rule book names it.
PURPOSE = {
    "prospecting": "prospection",
    "service": "service (client existant)",
    "survey": "enquête",
    "b2b": "entre professionnels",
}

DIAL_MODE = {
    "manual": "manuelle",
    "preview": "prévisualisée",
    "progressive": "progressive",
    "predictive": "prédictive",
    "broadcast": "diffusion vocale",
    "prerecorded": "message préenregistré",
    "voicebot": "agent vocal automatisé",
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


def label(table: dict[str, str], value: str | None, empty: str = "—") -> str:
    """The French label of a stored value; an unknown value is shown as stored (never lost)."""
    if value is None or value == "":
        return empty
    return table.get(value, value)
