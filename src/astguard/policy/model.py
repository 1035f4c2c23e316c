"""The values the policy reads and returns. Frozen, no I/O."""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass, field
from typing import Any

from astguard.policy.numbers import ConsumerNumber
from astguard.policy.reasons import Effect, PromptFamily, Reason, ReasonCode, prompt_for

RULEBOOK_VERSION = "rules-fr 2026-11-26"


class Purpose(enum.StrEnum):
    PROSPECTING = "prospecting"
    SERVICE = "service"
    SURVEY = "survey"
    B2B = "b2b"

    @property
    def in_consumer_scope(self) -> bool:
        # R-A: the consumer rules cover prospecting; surveys keep days, hours and the cap by
        # default (2026-11-26), but no consent, Bloctel, refusal or opposition rule.
        return self in (Purpose.PROSPECTING, Purpose.SURVEY)


class DialMode(enum.StrEnum):
    MANUAL = "manual"
    PREVIEW = "preview"
    PROGRESSIVE = "progressive"
    PREDICTIVE = "predictive"
    BROADCAST = "broadcast"  # voice broadcast
    PRERECORDED = "prerecorded"  # pre-recorded message
    VOICEBOT = "voicebot"  # an AI or scripted voice agent

    @property
    def automated(self) -> bool:
        # R-F4: one human action per call (manual, preview) is not automated dialling.
        return self not in (DialMode.MANUAL, DialMode.PREVIEW)

    @property
    def without_human(self) -> bool:
        # R-H1 (2026-11-26): no human agent on the call. Progressive and predictive dialling
        # connect an agent: R-F4 applies to them, R-H1 does not.
        return self in (DialMode.BROADCAST, DialMode.PRERECORDED, DialMode.VOICEBOT)


class Decision(enum.StrEnum):
    ALLOW = "allow"
    DENY = "deny"


@dataclass(frozen=True, slots=True)
class Campaign:
    name: str
    principal: str
    purpose: Purpose
    dial_mode: DialMode
    caller_id: str | None = None  # the campaign's default presented number
    scope: str | None = None  # nature of the goods or services offered (R-B2)
    sector: str | None = None  # for sector bans (R-B6)
    press: bool = False  # newspaper/periodical subscriptions (R-B5)
    cli_policy: str = "rewrite"  # a wrong presented number: "rewrite" or "refuse" (R-F2)


class Regime(enum.StrEnum):
    BLOCTEL = "bloctel"  # calls before 2026-08-11 (R-C)
    CONSENT = "consent"  # calls from 2026-08-11 (R-B)


@dataclass(frozen=True, slots=True)
class Block:
    kind: str  # "refusal", "suspension" or "opposition"
    day: dt.date  # the consumer's local day it was recorded
    until: dt.date | None  # last blocked day, inclusive; None for an opposition
    recorded_at: dt.datetime


@dataclass(frozen=True, slots=True)
class ConsentRecord:
    id: int
    principal: str
    scopes: frozenset[str]
    collected_at: dt.datetime
    valid_until: dt.datetime
    withdrawn_at: dt.datetime | None
    proof_ref: str


@dataclass(frozen=True, slots=True)
class ContractRecord:
    principal: str
    scopes: frozenset[str]
    started_on: dt.date
    ended_on: dt.date | None
    reference: str


@dataclass(frozen=True, slots=True)
class BloctelScrub:
    scrubbed_on: dt.date
    listed: bool


@dataclass(frozen=True, slots=True)
class ContactHistory:
    """What the store knows of this consumer for this principal (all the consumer's numbers)."""

    attempt_days: tuple[dt.date, ...] = ()  # local days of attempts, the last 30 days at least
    blocks: tuple[Block, ...] = ()
    consents: tuple[ConsentRecord, ...] = ()  # every principal's, to tell a wrong principal
    contracts: tuple[ContractRecord, ...] = ()
    bloctel: BloctelScrub | None = None  # the latest scrub of the dialled number
    callback_at: dt.datetime | None = None  # a requested call-back near now (R-D5)


@dataclass(frozen=True, slots=True)
class CallRequest:
    """An outbound call as a telephony adapter, the CLI or the API sees it."""

    dialled: str
    source: str  # "ari", "agi", "cli", "api"
    endpoint: str | None = None
    campaign_name: str | None = None  # per-call override (dialer variable, SIP header)
    dial_mode: DialMode | None = None  # per-call override
    caller_id: str | None = None  # what the agent's phone or the dialer asked to present
    department: str | None = None  # the consumer's known address, when the CRM gives it
    channel_id: str | None = None
    agent: str | None = None


@dataclass(frozen=True, slots=True)
class Facts:
    """What the store knows about this call, gathered before the policy runs."""

    campaign: Campaign | None
    classification: str  # how the campaign was found, or why not (evidence)
    store_error: str | None = None  # set when the store could not be read: fail closed
    history: ContactHistory | None = None  # None: not read (dry run without store, out of scope)
    inventory: tuple[Any, ...] = ()  # CallerIdRecord of the numbers this call may present
    blocked_caller_ids: frozenset[str] = frozenset()  # numbers the network keeps refusing
    agent: str | None = None  # the agent the endpoint belongs to (evidence only)


@dataclass(frozen=True, slots=True)
class RuleSettings:
    """The configurable readings of the rule book; defaults are the strict ones."""

    emergency_numbers: frozenset[str]
    allowed_foreign_regions: frozenset[str] = frozenset()
    local_holidays: bool = True
    alsace_moselle_when_unknown: bool = True
    window_end_margin: dt.timedelta = dt.timedelta(0)
    windows: tuple[tuple[dt.time, dt.time], ...] = (
        (dt.time(10, 0), dt.time(13, 0)),
        (dt.time(14, 0), dt.time(20, 0)),
    )
    cap_attempts: int = 4  # R-D6
    cap_days: int = 30
    refusal_days: int = 60  # R-D7: full calendar days after the refusal's own day
    regime: Regime | None = None  # None: by the call's date (R-B / R-C); set only for audits
    opt_in_from: dt.date = dt.date(2026, 8, 11)  # loi 2025-594 art. 13 III, Paris date
    bloctel_scrub_days: int = 30  # R-C2
    banned_sectors: frozenset[str] = frozenset(
        {"renovation-energetique", "energie-renouvelable", "adaptation-logement", "cpf"})
    callback_tolerance: dt.timedelta = dt.timedelta(minutes=10)  # R-D5 "precise" time
    numbering: Any = None  # caller_id.NumberingTables; None: the shipped tables
    network_refusal_threshold: int = 3  # R-G1: refusals of one number that raise an alert
    network_refusal_window: dt.timedelta = dt.timedelta(hours=24)
    survey_days_hours_cap: bool = True  # R-A (2026-11-26): surveys keep R-D1 to R-D6 (I)


@dataclass(frozen=True, slots=True)
class LocalTime:
    zone: str
    local: dt.datetime

    def as_dict(self) -> dict[str, str]:
        return {"zone": self.zone, "local": self.local.isoformat()}


# Q.850 causes as chan_pjsip turns them into SIP: 21 "call rejected" -> 403 Forbidden (a final
# refusal), 34 "no circuit available" -> 503 (try later). 41 would become 603 Decline.
CAUSE_REJECTED = 21
CAUSE_UNAVAILABLE = 34


@dataclass(frozen=True, slots=True)
class Verdict:
    decision: Decision
    reasons: tuple[Reason, ...]
    decided_at: dt.datetime
    dialled: str
    number: ConsumerNumber | None
    local_times: tuple[LocalTime, ...]
    campaign: Campaign | None
    caller_id: str | None  # the number astguard presents
    caller_id_requested: str | None
    emergency: bool = False
    counted: bool = False  # whether the call counts as an attempt if allowed (R-D6)
    rulebook_version: str = RULEBOOK_VERSION
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def allowed(self) -> bool:
        return self.decision is Decision.ALLOW

    @property
    def codes(self) -> list[str]:
        seen: dict[str, None] = {}
        for reason in self.reasons:
            seen.setdefault(reason.code.value, None)
        return list(seen)

    @property
    def destination(self) -> str:
        """What the trunk dials: E.164 when the number parsed, the raw digits otherwise."""
        return self.number.e164 if self.number else self.dialled

    @property
    def prompt(self) -> PromptFamily | None:
        return None if self.allowed else prompt_for(list(self.reasons))

    @property
    def hangup_cause(self) -> int | None:
        if self.allowed:
            return None
        if any(r.code is ReasonCode.GUARD_UNAVAILABLE for r in self.reasons):
            return CAUSE_UNAVAILABLE
        return CAUSE_REJECTED

    @property
    def counts_as_attempt(self) -> bool:
        # R-D6: an allowed prospecting call that leaves the PBX is an attempt (a survey too
        # while the cap applies to surveys); emergency never.
        return self.allowed and not self.emergency and self.counted

    def as_dict(self) -> dict[str, Any]:
        campaign = self.campaign
        return {
            "decision": self.decision.value,
            "reasons": self.codes,
            "details": [r.as_dict() for r in self.reasons],
            "number": self.number.e164 if self.number else None,
            "dialled": self.dialled,
            "emergency": self.emergency,
            "decided_at": self.decided_at.isoformat(),
            "local_times": [t.as_dict() for t in self.local_times],
            "zones": [t.zone for t in self.local_times],
            "territories": sorted(t.value for t in self.number.territories) if self.number else [],
            "campaign": campaign.name if campaign else None,
            "principal": campaign.principal if campaign else None,
            "purpose": campaign.purpose.value if campaign else None,
            "dial_mode": campaign.dial_mode.value if campaign else None,
            "caller_id": self.caller_id,
            "caller_id_requested": self.caller_id_requested,
            "prompt": self.prompt.value if self.prompt else None,
            "hangup_cause": self.hangup_cause,
            "rulebook_version": self.rulebook_version,
        }


def deny_reasons(reasons: list[Reason]) -> list[Reason]:
    return [r for r in reasons if r.resolved_effect is Effect.DENY]
