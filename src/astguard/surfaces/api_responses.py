"""The HTTP API's response models: the JSON shapes a CRM receives, field for field.

Every JSON answer goes through its model before it leaves (http.py `_reply`), so the OpenAPI
document generated from these models (openapi.py) is what the API really sends; a new key in a
result without its field here is a test failure, not a silent drift. Instants are ISO-8601 text
as the store and the policy write them (kept byte for byte, hence `str` with a format).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel

InstantText = Annotated[str, Field(json_schema_extra={"format": "date-time"})]
DayText = Annotated[str, Field(json_schema_extra={"format": "date"})]
DecisionValue = Literal["allow", "deny"]


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Error(_Out):
    error: str = Field(description="Message en français, qui nomme le champ en cause")


# Decisions -----------------------------------------------------------------------------------

class ReasonDetail(_Out):
    code: str
    effect: Literal["deny", "warn", "info"]
    text: str = Field(description="Motif en français")
    inputs: dict[str, Any] = Field(description="Faits qui ont conduit au motif")


class LocalTime(_Out):
    zone: str
    local: InstantText


class Verdict(_Out):
    decision: DecisionValue
    reasons: list[str] = Field(description="Codes motifs, dans l'ordre des règles")
    details: list[ReasonDetail]
    number: str | None = Field(description="Numéro en E.164 (null s'il est invalide)")
    dialled: str
    emergency: bool
    decided_at: InstantText
    local_times: list[LocalTime]
    zones: list[str]
    territories: list[str]
    campaign: str | None
    principal: str | None
    purpose: str | None
    dial_mode: str | None
    caller_id: str | None = Field(description="Numéro que astguard présenterait")
    caller_id_requested: str | None
    prompt: str | None = Field(description="Message de refus joué à l'agent")
    hangup_cause: int | None = Field(description="Cause Q.850 d'un refus (21 : 403, 34 : 503)")
    rulebook_version: str


# Contacts ------------------------------------------------------------------------------------

class Recorded(_Out):
    kind: Literal["refusal", "suspension", "opposition"]
    principal: str
    number: str
    until: DayText | None = Field(description="Dernier jour bloqué (null : sans fin)")
    consents_withdrawn: int
    new: bool = Field(description="false : déjà enregistré (envoi rejoué)")


class NewFlag(_Out):
    new: bool = Field(description="false : déjà enregistré (envoi rejoué)")


class Withdrawn(_Out):
    withdrawn: int = Field(description="Consentements retirés")


class HistoryAttempt(_Out):
    at: InstantText
    local_day: DayText
    number: str
    source: str
    campaign: str | None
    answered: bool | None
    dial_status: str | None
    hangup_cause: int | None
    duration_s: float | None


class HistoryBlock(_Out):
    kind: str
    since: DayText
    until: DayText | None
    source: str
    agent: str | None


class HistoryConsent(_Out):
    id: int
    scopes: list[str]
    state: Literal["valable", "expiré", "retiré"]
    collected_at: InstantText
    valid_until: InstantText
    proof_ref: str
    channel: str


class PrincipalHistory(_Out):
    attempts: list[HistoryAttempt]
    blocks: list[HistoryBlock]
    consents: list[HistoryConsent]
    attempts_last_30_days: int = Field(description="Tentatives dans la fenêtre du plafond "
                                                   "(R-D6)")


class NextCallable(_Out):
    """The first moment the same decision would allow the call; the keys present depend on
    the case (now, later, or not within the search horizon)."""

    at: InstantText | None
    now: bool
    reasons: list[str] | None = None
    reasons_now: list[str] | None = None
    local_times: list[LocalTime] | None = None
    detail: str | None = None


class History(_Out):
    number: str
    numbers: list[str] = Field(description="Le numéro et ses équivalents (portabilité)")
    today: DayText
    principals: dict[str, PrincipalHistory]
    next_callable: NextCallable | None


# Caller IDs ----------------------------------------------------------------------------------

class CallerIdAdded(_Out):
    number: str
    principal: str
    kind: str


class CallerId(_Out):
    number: str
    principal: str
    kind: str
    trunk: str | None
    operator: str | None
    mandate_ref: str
    valid_from: DayText
    valid_to: DayText | None
    recorded_at: InstantText
    recent_refusals: int = Field(
        description="Refus du réseau dans la fenêtre de R-G1 (network_refusal_window)")
    blocked_by_network: bool


class CallerIds(RootModel[list[CallerId]]):
    pass


# Supervision ---------------------------------------------------------------------------------

class DecisionRow(_Out):
    id: str
    decided_at: InstantText
    source: str
    endpoint: str | None
    agent: str | None
    dialled: str
    number_e164: str | None
    local_times: list[LocalTime]
    principal: str | None
    campaign: str | None
    purpose: str | None
    dial_mode: str | None
    caller_id_requested: str | None
    caller_id: str | None
    decision: DecisionValue
    deny_codes: list[str]
    reason_codes: list[str]
    answered: bool | None
    dial_status: str | None
    hangup_cause: int | None
    hangup_cause_text: str | None
    duration_s: float | None
    outcome_at: InstantText | None
    emergency: bool


class Decisions(_Out):
    from_: InstantText = Field(alias="from")
    to: InstantText
    total: int
    limit: int
    offset: int
    decisions: list[DecisionRow]


class ReasonCount(_Out):
    code: str
    rule: str | None = Field(description="Règle du référentiel (R-D6…)")
    text: str
    count: int


class CampaignCount(_Out):
    campaign: str
    count: int


class AgentCount(_Out):
    agent: str
    count: int


class RefusalStats(_Out):
    start: InstantText
    end: InstantText
    decisions: int
    denied: int
    allowed: int
    by_reason: list[ReasonCount]
    by_campaign: list[CampaignCount]
    by_agent: list[AgentCount]


class CampaignInfo(_Out):
    name: str
    principal_id: str
    purpose: str
    dial_mode: str
    caller_id: str | None
    active: bool


class CampaignCallerId(_Out):
    caller_id: str
    calls: int
    network_refusals: int
    alert: bool


class CampaignDay(_Out):
    day: DayText
    decisions: int
    denied: int


class CampaignSummary(_Out):
    campaign: CampaignInfo
    start: InstantText
    end: InstantText
    decisions: int
    denied: int
    allowed: int
    answered: int
    network_refusals: int
    refusal_rate: float | None
    caller_ids: list[CampaignCallerId]
    by_reason: list[ReasonCount]
    per_day: list[CampaignDay]


class PrincipalRef(_Out):
    id: str
    name: str


class ChainHead(_Out):
    seq: int | None
    hash: str | None


class InspectionSummary(_Out):
    decisions: int
    allowed: int
    denied: int
    attempts_counted: int
    external_attempts: int
    unguarded_calls: int


class UnguardedCall(_Out):
    id: str
    created_at: InstantText
    channel: str | None
    endpoint: str | None
    dialled: str | None
    originator: str | None
    problem: str | None
    action: str | None
    emergency: bool
    lifetime_ms: float | None


class RuleCount(_Out):
    rule: str | None
    count: int


class InspectedDecision(DecisionRow):
    counts_as_attempt: bool
    reasons: list[ReasonDetail]
    rulebook_version: str | None


class ExternalAttempt(_Out):
    at: InstantText
    number: str
    reference: str | None
    campaign: str | None


class InspectedBlock(_Out):
    id: int
    kind: str
    number_e164: str
    recorded_at: InstantText
    local_day: DayText
    until_day: DayText | None
    source: str
    agent: str | None
    calls_refused_after: int
    calls_allowed_during: int
    honoured: bool = Field(description="Aucun appel autorisé pendant le blocage")


class InspectedConsent(_Out):
    id: int
    number_e164: str
    scopes: list[str]
    collected_at: InstantText
    channel: str
    wording: str
    proof_ref: str
    valid_until: InstantText
    withdrawn_at: InstantText | None


class BloctelScrub(_Out):
    decision_id: str
    decided_at: InstantText
    number_e164: str
    decision: DecisionValue
    scrubbed_on: DayText | None
    listed: bool | None


class InspectionReport(_Out):
    principal: PrincipalRef
    start: InstantText
    end: InstantText
    generated_chain_head: ChainHead | None
    summary: InspectionSummary
    unguarded_calls: list[UnguardedCall]
    totals_by_code: list[ReasonCount]
    totals_by_rule: list[RuleCount]
    attempts: list[InspectedDecision]
    external_attempts: list[ExternalAttempt]
    blocks: list[InspectedBlock]
    consents: list[InspectedConsent]
    bloctel_scrubs: list[BloctelScrub]
    opt_in_from: DayText


class ChainBreak(_Out):
    seq: int | None
    kind: str
    ref: str
    at: InstantText
    problem: str
    text: str


class AuditResult(_Out):
    ok: bool
    checked: int
    by_kind: dict[str, int]
    first_break: ChainBreak | None
    head: ChainHead


# The service itself --------------------------------------------------------------------------

class Health(_Out):
    status: Literal["ok"]


class ReadinessCheck(_Out):
    state: Literal["ok", "down", "disabled", "pending"]
    detail: str
    depth: int | None = None


class Readiness(_Out):
    ready: bool
    checks: dict[str, ReadinessCheck]


class OpenApiDocument(RootModel[dict[str, Any]]):
    """This document (OpenAPI 3.1)."""
