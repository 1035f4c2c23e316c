"""Every reason code's effect (refuse, warn, or only inform), its rule id and its French wording.

The expected effect of each code is read in the rule book (../shared/rules-fr.md), not in
reasons.py: a code the rule book says "deny" must refuse the call by itself, through `decide`,
so that flipping a DENY to INFO can never go unnoticed (issue 16).
"""

from __future__ import annotations

import datetime as dt

import pytest

from astguard.policy import (
    CallRequest,
    Campaign,
    Decision,
    DialMode,
    Effect,
    Facts,
    PromptFamily,
    Purpose,
    Reason,
    ReasonCode,
    RuleSettings,
    decide,
)
from astguard.policy.caller_id import CallerIdRecord
from astguard.policy.model import (
    BloctelScrub,
    Block,
    ContactHistory,
    ContractRecord,
    Verdict,
    deny_reasons,
)
from astguard.policy.reasons import prompt_for, rule_of, text_of
from astguard.settings import DEFAULT_EMERGENCY
from tests.policy.facts import CONSENTED, INVENTORY, consent

C = ReasonCode
# What the rule book says each code does to the call.
EFFECT: dict[ReasonCode, Effect] = {
    C.PURPOSE_UNCLASSIFIED: Effect.DENY,  # R-A "denied PURPOSE_UNCLASSIFIED"
    C.OUT_OF_SCOPE_SERVICE_CALL: Effect.INFO,  # R-A "skip consent and caps but are still logged"
    C.OUT_OF_SCOPE_B2B: Effect.INFO,  # R-A idem
    C.NON_FR_DESTINATION: Effect.DENY,  # R-A "deny by default"
    C.INVALID_NUMBER: Effect.DENY,  # R-A "is denied INVALID_NUMBER"
    C.EMERGENCY_NUMBER: Effect.INFO,  # R-A "never blocked"
    C.OUTSIDE_CALL_DAYS: Effect.DENY,  # R-D1
    C.PUBLIC_HOLIDAY: Effect.DENY,  # R-D2
    C.OUTSIDE_CALL_WINDOW: Effect.DENY,  # R-D3
    C.TIMEZONE_UNKNOWN: Effect.DENY,  # R-D4 "No zone → TIMEZONE_UNKNOWN" (allowed only if known)
    C.ALLOWED_SCHEDULED_CALLBACK: Effect.INFO,  # R-D5 an allowance, not a refusal
    C.FREQUENCY_CAP: Effect.DENY,  # R-D6
    C.REFUSAL_COOLDOWN: Effect.DENY,  # R-D7
    C.CONSUMER_OPPOSED: Effect.DENY,  # R-B3
    C.NO_CONSENT: Effect.DENY,  # R-B1
    C.CONSENT_EXPIRED: Effect.DENY,  # R-B2
    C.CONSENT_SCOPE_MISMATCH: Effect.DENY,  # R-B2
    C.CONSENT_WRONG_PRINCIPAL: Effect.DENY,  # R-B2
    C.CONSENT_WITHDRAWN: Effect.DENY,  # R-B2
    C.SECTOR_BAN: Effect.DENY,  # R-B6
    C.BLOCTEL_LISTED: Effect.DENY,  # R-C1
    C.BLOCTEL_SCRUB_STALE: Effect.DENY,  # R-C2
    C.CLI_WITHHELD: Effect.DENY,  # R-F1
    C.CALLER_ID_NOT_AUTHORISED: Effect.DENY,  # R-F2
    C.CALLER_ID_FORBIDDEN_RANGE: Effect.DENY,  # R-F3
    C.NPV_REQUIRED: Effect.DENY,  # R-F4
    C.MOBILE_CLI_NOT_ALLOWED: Effect.DENY,  # R-F5 "deny for any automated mode"
    C.CALL_BLOCKED_BY_NETWORK: Effect.WARN,  # R-G1 "raise" an alert (I)
    C.AUTOMATED_CALL_NO_CONSENT: Effect.DENY,  # R-H1
    C.GUARD_UNAVAILABLE: Effect.DENY,  # fail closed (README)
    # About the recording, not the call: the call goes on, nothing for the agent to hear (R-I)
    C.RECORDING_NOT_ANNOUNCED: Effect.INFO,  # R-I1
    C.RECORDING_OBJECTED: Effect.INFO,  # R-I2
}

# The rule each code enforces, as the rule book names it (inspection reports total per rule).
RULE: dict[ReasonCode, str] = {
    C.PURPOSE_UNCLASSIFIED: "R-A", C.OUT_OF_SCOPE_SERVICE_CALL: "R-A", C.OUT_OF_SCOPE_B2B: "R-A",
    C.NON_FR_DESTINATION: "R-A", C.INVALID_NUMBER: "R-A", C.EMERGENCY_NUMBER: "R-A",
    C.OUTSIDE_CALL_DAYS: "R-D1", C.PUBLIC_HOLIDAY: "R-D2", C.OUTSIDE_CALL_WINDOW: "R-D3",
    C.TIMEZONE_UNKNOWN: "R-D4", C.ALLOWED_SCHEDULED_CALLBACK: "R-D5", C.FREQUENCY_CAP: "R-D6",
    C.REFUSAL_COOLDOWN: "R-D7", C.CONSUMER_OPPOSED: "R-B3", C.NO_CONSENT: "R-B1",
    C.CONSENT_EXPIRED: "R-B2", C.CONSENT_SCOPE_MISMATCH: "R-B2", C.CONSENT_WRONG_PRINCIPAL: "R-B2",
    C.SECTOR_BAN: "R-B6", C.BLOCTEL_LISTED: "R-C1", C.BLOCTEL_SCRUB_STALE: "R-C2",
    C.CLI_WITHHELD: "R-F1", C.CALLER_ID_NOT_AUTHORISED: "R-F2",
    C.CALLER_ID_FORBIDDEN_RANGE: "R-F3", C.NPV_REQUIRED: "R-F4", C.MOBILE_CLI_NOT_ALLOWED: "R-F5",
    C.CALL_BLOCKED_BY_NETWORK: "R-G1", C.AUTOMATED_CALL_NO_CONSENT: "R-H1",
    C.RECORDING_NOT_ANNOUNCED: "R-I1", C.RECORDING_OBJECTED: "R-I2",
}


def test_the_tables_cover_every_code():
    assert set(EFFECT) == set(ReasonCode)
    assert set(RULE) | {C.CONSENT_WITHDRAWN, C.GUARD_UNAVAILABLE} == set(ReasonCode)


@pytest.mark.parametrize("code", list(ReasonCode))
def test_each_code_has_the_rule_books_effect(code):
    reason = Reason(code, {})
    assert reason.resolved_effect is EFFECT[code]
    assert (deny_reasons([reason]) == [reason]) is (EFFECT[code] is Effect.DENY)
    # A refusal always tells the agent why (a prompt); an allowed call plays none.
    assert (reason.family is not None) is (EFFECT[code] is Effect.DENY)
    assert (prompt_for([reason]) is not None) is (EFFECT[code] is Effect.DENY)


@pytest.mark.parametrize("code", sorted(RULE))
def test_each_code_names_its_rule(code):
    assert rule_of(code.value) == RULE[code]


def test_withdrawn_consent_is_counted_under_r_b2():
    # R-B2 lists CONSENT_WITHDRAWN among its codes (reports total it under R-B2).
    assert rule_of("CONSENT_WITHDRAWN") == "R-B2"


def test_an_unknown_code_has_no_rule_and_keeps_its_name():
    assert rule_of("NOT_A_CODE") == "?"
    assert text_of("NOT_A_CODE") == "NOT_A_CODE"


@pytest.mark.parametrize(("code", "short"), [
    ("CONSENT_EXPIRED", "Consentement expiré"),  # the final period goes
    ("NON_FR_DESTINATION", "Destination hors du territoire couvert"),  # the inputs go
    ("FREQUENCY_CAP", "Plafond de 4 tentatives sur 30 jours atteint"),
])
def test_short_texts_for_reports(code, short):
    assert text_of(code) == short


def test_short_text_stops_at_the_colon():
    assert text_of("INVALID_NUMBER").strip() == "Numéro invalide"
    assert text_of("PUBLIC_HOLIDAY").strip() == "Jour férié"


def test_text_with_inputs_and_a_missing_one():
    assert Reason(C.PUBLIC_HOLIDAY, {"holiday": "Noël"}).text == "Jour férié : Noël (?)."


def test_reason_as_dict_is_the_evidence_shape():
    reason = Reason(C.MOBILE_CLI_NOT_ALLOWED, {"caller_id": "+33612345678"}, effect=Effect.WARN)
    assert reason.as_dict() == {
        "code": "MOBILE_CLI_NOT_ALLOWED",
        "effect": "warn",
        "text": "Numéro mobile interdit comme numéro présenté.",
        "inputs": {"caller_id": "+33612345678"},
    }


def test_a_warning_or_a_rewritten_reason_plays_no_refusal_prompt():
    # R-F5 for a manual call, or a number rewritten (R-F2): the family is set, the effect is not
    # a denial, so there is nothing to refuse and no prompt.
    assert prompt_for([Reason(C.MOBILE_CLI_NOT_ALLOWED, {}, effect=Effect.WARN)]) is None
    assert prompt_for([Reason(C.CALLER_ID_NOT_AUTHORISED, {}, effect=Effect.INFO)]) is None


def test_the_agent_hears_the_most_pressing_refusal():
    reasons = [Reason(C.NPV_REQUIRED), Reason(C.NO_CONSENT), Reason(C.FREQUENCY_CAP),
               Reason(C.OUTSIDE_CALL_WINDOW), Reason(C.PUBLIC_HOLIDAY)]
    assert prompt_for(reasons) is PromptFamily.HOLIDAY
    assert prompt_for(reasons[:4]) is PromptFamily.HOURS
    assert prompt_for(reasons[:3]) is PromptFamily.PRESSURE
    assert prompt_for(reasons[:2]) is PromptFamily.CONSENT
    assert prompt_for(reasons[:1]) is PromptFamily.CALLER_ID
    assert prompt_for([Reason(C.INVALID_NUMBER), Reason(C.GUARD_UNAVAILABLE)]) \
        is PromptFamily.UNAVAILABLE
    assert prompt_for([Reason(C.NON_FR_DESTINATION), Reason(C.PURPOSE_UNCLASSIFIED),
                       Reason(C.INVALID_NUMBER)]) is PromptFamily.NUMBER
    assert prompt_for([Reason(C.NON_FR_DESTINATION), Reason(C.PURPOSE_UNCLASSIFIED)]) \
        is PromptFamily.CAMPAIGN
    assert prompt_for([Reason(C.PUBLIC_HOLIDAY), Reason(C.NON_FR_DESTINATION)]) \
        is PromptFamily.DESTINATION


# --- Each code through `decide`: the call where it is the only finding. -----------------------

RULES = RuleSettings(emergency_numbers=frozenset(DEFAULT_EMERGENCY))
FRIDAY = dt.datetime(2026, 11, 27, 10, 0, tzinfo=dt.UTC)  # 11:00 Paris, consent regime (R-B)
JULY_FRIDAY = dt.datetime(2026, 7, 3, 9, 0, tzinfo=dt.UTC)  # 11:00 Paris, Bloctel regime (R-C)
CONTRACT = ContractRecord("acme", frozenset({"energie"}), dt.date(2025, 1, 1), None, "K1")
FRESH_SCRUB = BloctelScrub(dt.date(2026, 6, 20), listed=False)


def _campaign(mode=DialMode.MANUAL, caller_id="0162123456", **kw) -> Campaign:
    return Campaign("c", "acme", kw.pop("purpose", Purpose.PROSPECTING), mode, caller_id,
                    scope="energie", **kw)


def _held(national: str) -> tuple[CallerIdRecord, ...]:
    return (CallerIdRecord("+33" + national[1:], "acme", dt.date(2020, 1, 1), None),)


def _history(**kw) -> ContactHistory:
    return ContactHistory(consents=CONSENTED.consents, **kw)


SCENARIOS = {
    C.PURPOSE_UNCLASSIFIED: dict(campaign=None),
    C.OUT_OF_SCOPE_SERVICE_CALL: dict(campaign=_campaign(purpose=Purpose.SERVICE)),
    C.OUT_OF_SCOPE_B2B: dict(campaign=_campaign(purpose=Purpose.B2B)),
    C.NON_FR_DESTINATION: dict(dialled="+3225551212"),  # Brussels, 11:00 there too
    C.INVALID_NUMBER: dict(dialled="06123"),
    C.EMERGENCY_NUMBER: dict(dialled="112"),
    C.OUTSIDE_CALL_DAYS: dict(when=dt.datetime(2026, 11, 28, 10, 0, tzinfo=dt.UTC)),  # Saturday
    C.PUBLIC_HOLIDAY: dict(when=dt.datetime(2026, 11, 11, 10, 0, tzinfo=dt.UTC)),  # Wednesday
    C.OUTSIDE_CALL_WINDOW: dict(when=dt.datetime(2026, 11, 27, 12, 30, tzinfo=dt.UTC)),  # 13:30
    C.TIMEZONE_UNKNOWN: dict(call={"department": "99"}),
    C.ALLOWED_SCHEDULED_CALLBACK: dict(
        when=dt.datetime(2026, 11, 28, 10, 0, tzinfo=dt.UTC),
        history=_history(callback_at=dt.datetime(2026, 11, 28, 10, 0, tzinfo=dt.UTC))),
    C.FREQUENCY_CAP: dict(history=_history(attempt_days=(
        dt.date(2026, 10, 29), dt.date(2026, 11, 2), dt.date(2026, 11, 20), dt.date(2026, 11, 27)))),
    C.REFUSAL_COOLDOWN: dict(history=_history(blocks=(Block(
        "suspension", dt.date(2026, 11, 20), dt.date(2026, 12, 20),
        dt.datetime(2026, 11, 20, 10, 0, tzinfo=dt.UTC)),))),
    C.CONSUMER_OPPOSED: dict(history=_history(blocks=(Block(
        "opposition", dt.date(2026, 11, 20), None,
        dt.datetime(2026, 11, 20, 10, 0, tzinfo=dt.UTC)),))),
    C.NO_CONSENT: dict(history=ContactHistory()),
    C.CONSENT_EXPIRED: dict(history=ContactHistory(consents=(
        consent(collected=dt.datetime(2025, 1, 1), until=dt.datetime(2026, 1, 1)),))),
    C.CONSENT_SCOPE_MISMATCH: dict(history=ContactHistory(consents=(consent(scopes=("assurance",)),))),
    C.CONSENT_WRONG_PRINCIPAL: dict(history=ContactHistory(consents=(consent("globex"),))),
    C.CONSENT_WITHDRAWN: dict(history=ContactHistory(consents=(
        consent(withdrawn=dt.datetime(2026, 11, 1)),))),
    C.SECTOR_BAN: dict(campaign=_campaign(sector="cpf")),
    C.BLOCTEL_LISTED: dict(when=JULY_FRIDAY, history=ContactHistory(
        bloctel=BloctelScrub(dt.date(2026, 6, 20), listed=True))),
    C.BLOCTEL_SCRUB_STALE: dict(when=JULY_FRIDAY, history=ContactHistory()),
    C.CLI_WITHHELD: dict(campaign=_campaign(caller_id=None)),
    C.CALLER_ID_NOT_AUTHORISED: dict(campaign=_campaign(caller_id="0163999999")),
    C.CALLER_ID_FORBIDDEN_RANGE: dict(campaign=_campaign(caller_id="0899123456"),
                                      inventory=_held("0899123456")),
    C.NPV_REQUIRED: dict(campaign=_campaign(DialMode.PREDICTIVE, caller_id="0123456789"),
                         inventory=_held("0123456789")),
    C.MOBILE_CLI_NOT_ALLOWED: dict(campaign=_campaign(DialMode.PREDICTIVE, caller_id="0698765432"),
                                   inventory=_held("0698765432")),
    C.CALL_BLOCKED_BY_NETWORK: dict(facts={"blocked_caller_ids": frozenset({"+33162123456"})}),
    # R-H1: a recorded message needs consent whatever the contract (which lifts R-B1 itself).
    C.AUTOMATED_CALL_NO_CONSENT: dict(campaign=_campaign(DialMode.BROADCAST),
                                      history=ContactHistory(contracts=(CONTRACT,))),
    C.GUARD_UNAVAILABLE: dict(facts={"store_error": "PostgreSQL injoignable"}),
}


def _decide(dialled="0612345678", campaign=..., history=CONSENTED, inventory=INVENTORY,
            when=FRIDAY, call=None, facts=None) -> Verdict:
    campaign = _campaign() if campaign is ... else campaign
    return decide(CallRequest(dialled, "test", **(call or {})),
                  Facts(campaign, "test", history=history, inventory=inventory, **(facts or {})),
                  when, RULES)


# About a call's recording, not the call: decided by policy.recording (test_recording.py).
RECORDING_CODES = {C.RECORDING_NOT_ANNOUNCED, C.RECORDING_OBJECTED}


def test_every_code_has_a_scenario():
    assert set(SCENARIOS) | RECORDING_CODES == set(ReasonCode)
    assert not set(SCENARIOS) & RECORDING_CODES


@pytest.mark.parametrize("code", list(SCENARIOS))
def test_the_code_alone_decides_the_call(code):
    verdict = _decide(**SCENARIOS[code])
    assert verdict.codes == [code.value]
    if EFFECT[code] is Effect.DENY:
        assert verdict.decision is Decision.DENY and not verdict.allowed
        assert verdict.prompt is not None and not verdict.counts_as_attempt
    else:
        assert verdict.decision is Decision.ALLOW and verdict.prompt is None
        assert verdict.hangup_cause is None


def test_the_same_calls_without_the_finding_go_out():
    # The scenarios' baselines: nothing else in them would refuse the call.
    assert _decide().codes == [] and _decide().allowed
    assert _decide(when=JULY_FRIDAY, history=ContactHistory(bloctel=FRESH_SCRUB)).codes == []


def test_a_manual_call_showing_a_mobile_of_someone_else_is_rewritten_not_refused():
    # R-F5 warns for manual calls; the campaign's own number replaces it (R-F2), so the findings
    # about the number asked for are kept as information only.
    verdict = _decide(call={"caller_id": "0698765432"})
    assert verdict.allowed and verdict.caller_id == "+33162123456"
    assert {r.code: r.resolved_effect for r in verdict.reasons} == {
        C.CALLER_ID_NOT_AUTHORISED: Effect.INFO, C.MOBILE_CLI_NOT_ALLOWED: Effect.INFO}
