"""Value types that cross layers: made by one layer, read by another, owned by none.

The telephony adapters and the surfaces use these without importing the store, which reads
and writes them (issue 13: arrows point inward).
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field, fields
from typing import Any

from astguard.errors import InputError
from astguard.labels import UNGUARDED_ACTION

MAX_ROWS = 1000  # the most decisions one read returns


# The dial status of an allowed call that never reached the trunk (astguard refused it after
# all, or the verdict could not be handed to its channel): the outcome says why.
NOT_DIALLED = "NOT_DIALLED"


@dataclass(frozen=True, slots=True)
class Outcome:
    """How an allowed call ended, as Asterisk reported it."""

    answered: bool | None  # None: not observed (the ARI websocket was down at the time)
    dial_status: str | None
    hangup_cause: int | None
    hangup_cause_text: str | None
    duration_s: float | None
    ended_at: dt.datetime

    @classmethod
    def not_dialled(cls, why: str, at: dt.datetime) -> Outcome:
        """An allowed call that certainly never reached the trunk, and why."""
        return cls(answered=False, dial_status=NOT_DIALLED, hangup_cause=None,
                   hangup_cause_text=why, duration_s=None, ended_at=at)

    def as_row(self, decision_id: str) -> dict[str, Any]:
        return {
            "decision_id": decision_id, "answered": self.answered,
            "dial_status": self.dial_status, "hangup_cause": self.hangup_cause,
            "hangup_cause_text": self.hangup_cause_text, "duration_s": self.duration_s,
            "outcome_at": self.ended_at.isoformat(),
        }


@dataclass(frozen=True, slots=True)
class OpenOutcome:
    """An allowed call of this node still without its outcome in PostgreSQL (issue 14)."""

    decision_id: str
    channel_id: str
    source: str  # "ari" (Stasis, followed over ARI events) or "agi" (its hangup handler reports)
    decided_at: dt.datetime


@dataclass(frozen=True, slots=True)
class DecisionFilter:
    """Which recorded decisions a supervisor asks for; the period is half-open [start, end)."""

    start: dt.datetime
    end: dt.datetime
    campaign: str | None = None
    agent: str | None = None  # the agent's name or its endpoint
    reason: str | None = None  # a reason code the decision carries
    decision: str | None = None  # allow / deny
    principal: str | None = None
    number: str | None = None
    limit: int = 200
    offset: int = 0

    def __post_init__(self) -> None:
        if self.end <= self.start:
            raise InputError("période vide : la fin doit suivre le début")
        if self.decision not in (None, "allow", "deny"):
            raise InputError("décision : allow ou deny")
        if not 1 <= self.limit <= MAX_ROWS or self.offset < 0:
            raise InputError(f"limite de 1 à {MAX_ROWS}, décalage positif")


ACTION_LABELS = UNGUARDED_ACTION  # one definition: astguard.labels


@dataclass(frozen=True, slots=True)
class UnguardedCall:
    """A call that reached a trunk without a decision, as the watchdog saw it (issue 17)."""

    channel_id: str
    channel: str
    endpoint: str
    dialled: str
    number_e164: str | None
    caller: str | None
    originator: str | None
    linkedid: str | None
    token_decision_id: str | None
    problem: str
    mode: str
    action: str
    emergency: bool
    created_at: dt.datetime
    detected_at: dt.datetime
    hung_up_at: dt.datetime | None
    node: str
    id: str = field(default_factory=lambda: str(uuid.uuid4()))

    @property
    def lifetime_ms(self) -> float | None:
        if self.hung_up_at is None:
            return None
        return round((self.hung_up_at - self.created_at).total_seconds() * 1000, 3)

    @property
    def action_label(self) -> str:
        return ACTION_LABELS.get(self.action, self.action)

    def as_row(self) -> dict[str, Any]:
        """JSON-able, for the local spool while PostgreSQL is away."""
        row = {f.name: getattr(self, f.name) for f in fields(self)}
        for name in ("created_at", "detected_at", "hung_up_at"):
            row[name] = row[name].isoformat() if row[name] is not None else None
        return row


@dataclass(frozen=True, slots=True)
class DecisionChannel:
    """The channel a decision was made on, and whether it allowed the call."""

    channel_id: str | None
    allowed: bool
