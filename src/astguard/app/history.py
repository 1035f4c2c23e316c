"""A consumer's contact history as the CLI, the API and the dashboard read it (issue 13 item 4):
frozen values, with `as_dict` giving the API's JSON shape."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class AttemptSeen:
    at: dt.datetime
    local_day: dt.date
    number: str
    source: str  # pbx / external (R-D6)
    campaign: str | None
    answered: bool | None
    dial_status: str | None
    hangup_cause: int | None
    duration_s: float | None

    def as_dict(self) -> dict[str, Any]:
        return {"at": self.at.isoformat(), "local_day": self.local_day.isoformat(),
                "number": self.number, "source": self.source, "campaign": self.campaign,
                "answered": self.answered, "dial_status": self.dial_status,
                "hangup_cause": self.hangup_cause, "duration_s": self.duration_s}


@dataclass(frozen=True, slots=True)
class BlockSeen:
    kind: str  # refusal / suspension / opposition
    since: dt.date
    until: dt.date | None  # None: without end
    source: str
    agent: str | None

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "since": self.since.isoformat(),
                "until": self.until.isoformat() if self.until else None,
                "source": self.source, "agent": self.agent}


@dataclass(frozen=True, slots=True)
class ConsentSeen:
    id: int
    scopes: tuple[str, ...]
    state: str  # valable / retiré / expiré
    collected_at: dt.datetime
    valid_until: dt.datetime
    proof_ref: str
    channel: str

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "scopes": list(self.scopes), "state": self.state,
                "collected_at": self.collected_at.isoformat(),
                "valid_until": self.valid_until.isoformat(), "proof_ref": self.proof_ref,
                "channel": self.channel}


@dataclass(frozen=True, slots=True)
class PrincipalHistory:
    principal: str
    attempts: tuple[AttemptSeen, ...]
    blocks: tuple[BlockSeen, ...]
    consents: tuple[ConsentSeen, ...]
    attempts_in_window: int  # R-D6: attempts in the cap's window (30 days)

    def as_dict(self) -> dict[str, Any]:
        return {"attempts": [a.as_dict() for a in self.attempts],
                "blocks": [b.as_dict() for b in self.blocks],
                "consents": [c.as_dict() for c in self.consents],
                "attempts_last_30_days": self.attempts_in_window}


@dataclass(frozen=True, slots=True)
class NextCallable:
    """The first moment the same decision would allow the call; `at` None: none found."""
    at: dt.datetime | None
    now: bool
    reasons_now: tuple[str, ...] = ()
    local_times: tuple[dict[str, str], ...] = ()
    detail: str = ""

    def as_dict(self) -> dict[str, Any]:
        if self.now:
            return {"at": self.at.isoformat() if self.at else None, "now": True,
                    "reasons": []}
        if self.at is None:
            return {"at": None, "now": False, "reasons_now": list(self.reasons_now),
                    "detail": self.detail}
        return {"at": self.at.isoformat(), "now": False,
                "local_times": list(self.local_times), "reasons_now": list(self.reasons_now)}


@dataclass(frozen=True, slots=True)
class ConsumerHistory:
    number: str
    numbers: tuple[str, ...]  # the consumer's linked numbers
    today: dt.date  # the consumer's local day
    principals: tuple[PrincipalHistory, ...]  # by principal id
    next_callable: NextCallable | None  # only when a campaign was given

    def as_dict(self) -> dict[str, Any]:
        return {"number": self.number, "numbers": list(self.numbers),
                "today": self.today.isoformat(),
                "principals": {p.principal: p.as_dict() for p in self.principals},
                "next_callable": self.next_callable.as_dict() if self.next_callable else None}
