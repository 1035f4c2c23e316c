"""The one decision: `decide(call, facts, now, rules)`. Pure: no I/O, the clock passed in.

Every rule is evaluated and every failing reason reported, not only the first.
"""

from __future__ import annotations

import datetime as dt

from astguard.policy.call_window import (
    DepartmentError,
    check_call_window,
    consumer_place,
    local_times,
)
from astguard.policy.caller_id import CliPolicy, canonical, check_presented, shipped_tables
from astguard.policy.consent import (
    NO_SCOPE,
    PARIS,
    consent_reasons,
    check_bloctel_regime,
    check_consent_regime,
    regime_for,
)
from astguard.policy.model import (
    CallRequest,
    Campaign,
    ContactHistory,
    Decision,
    Facts,
    LocalTime,
    Purpose,
    Regime,
    RuleSettings,
    Verdict,
    deny_reasons,
)
from astguard.policy.numbers import ConsumerNumber, NumberError, is_emergency, parse_number
from astguard.policy.pressure import check_pressure
from astguard.policy.reasons import Effect, Reason, ReasonCode


def decide(call: CallRequest, facts: Facts, now: dt.datetime, rules: RuleSettings) -> Verdict:
    if now.tzinfo is None:
        raise ValueError("decide() needs an aware datetime")
    campaign = facts.campaign
    requested = call.caller_id or None
    presented = _presented_caller_id(campaign, requested)

    # R-A: emergency and public-interest numbers are never blocked and never counted.
    if is_emergency(call.dialled, rules.emergency_numbers):
        return Verdict(
            decision=Decision.ALLOW,
            reasons=(Reason(ReasonCode.EMERGENCY_NUMBER, {"dialled": call.dialled}),),
            decided_at=now, dialled=call.dialled, number=None, local_times=(),
            campaign=campaign, caller_id=presented, caller_id_requested=requested,
            emergency=True,
        )

    reasons: list[Reason] = []
    number: ConsumerNumber | None = None
    try:
        number = parse_number(call.dialled)
    except NumberError as exc:
        reasons.append(Reason(ReasonCode.INVALID_NUMBER, {"dialled": call.dialled,
                                                          "detail": str(exc)}))

    in_scope = _scope(campaign, facts, reasons)
    survey = campaign is not None and campaign.purpose is Purpose.SURVEY
    # R-A (2026-11-26): surveys keep days, hours and the cap unless the setting turns them off.
    timed = in_scope and (not survey or rules.survey_days_hours_cap)

    times: tuple[LocalTime, ...] = ()
    if number is not None:
        times = local_times(now, number.zones)
        if in_scope:
            times = _destination_and_hours(number, call, now, rules, reasons, hours=timed)
    store_ok = facts.store_error is None
    history = facts.history or ContactHistory()
    if campaign is not None and in_scope and store_ok and number is not None:
        _pressure_and_consent(campaign, history, now, consumer_day(times, now), rules, reasons,
                              timed=timed)
    if campaign is not None and number is not None and (store_ok or not in_scope):
        # R-F2 to R-F5: every purpose (an invalid consumer number is refused already).
        presented, found = check_caller_id(call.caller_id, campaign, facts, now, rules)
        reasons.extend(found)

    decision = Decision.DENY if deny_reasons(reasons) else Decision.ALLOW
    counted = campaign is not None and (
        campaign.purpose is Purpose.PROSPECTING or (survey and rules.survey_days_hours_cap))
    return Verdict(
        decision=decision, reasons=tuple(reasons), decided_at=now, dialled=call.dialled,
        number=number, local_times=times, campaign=campaign, caller_id=presented,
        caller_id_requested=requested, counted=counted,
    )


def _scope(campaign: Campaign | None, facts: Facts, reasons: list[Reason]) -> bool:
    """R-A. Returns whether the consumer rules apply; an unknown purpose counts as in."""
    if facts.store_error is not None and (campaign is None or campaign.purpose.in_consumer_scope):
        # Fail closed: without the store, no prospecting call goes out.
        reasons.append(Reason(ReasonCode.GUARD_UNAVAILABLE, {"detail": facts.store_error}))
    if campaign is None:
        if facts.store_error is None:
            reasons.append(Reason(ReasonCode.PURPOSE_UNCLASSIFIED,
                                  {"classification": facts.classification}))
        return True
    if campaign.purpose is Purpose.SERVICE:
        reasons.append(Reason(ReasonCode.OUT_OF_SCOPE_SERVICE_CALL, {"campaign": campaign.name}))
    elif campaign.purpose is Purpose.B2B:
        reasons.append(Reason(ReasonCode.OUT_OF_SCOPE_B2B, {"campaign": campaign.name}))
    return campaign.purpose.in_consumer_scope


def _destination_and_hours(
    number: ConsumerNumber,
    call: CallRequest,
    now: dt.datetime,
    rules: RuleSettings,
    reasons: list[Reason],
    *,
    hours: bool,
) -> tuple[LocalTime, ...]:
    if not number.in_territory and number.region not in rules.allowed_foreign_regions:
        reasons.append(Reason(ReasonCode.NON_FR_DESTINATION, {"region": number.region,
                                                              "number": number.e164}))
    try:
        place = consumer_place(number, call.department, rules)
    except DepartmentError as exc:
        reasons.append(Reason(ReasonCode.TIMEZONE_UNKNOWN, {"detail": str(exc)}))
        return local_times(now, number.zones)
    times = local_times(now, place.zones)
    if hours:
        reasons.extend(check_call_window(place, times, rules))  # R-D1 to R-D4
    return times


_HOUR_CODES = (ReasonCode.OUTSIDE_CALL_DAYS, ReasonCode.PUBLIC_HOLIDAY,
               ReasonCode.OUTSIDE_CALL_WINDOW)


def _pressure_and_consent(campaign: Campaign, history: ContactHistory, now: dt.datetime,
                          today: dt.date, rules: RuleSettings, reasons: list[Reason], *,
                          timed: bool) -> None:
    callback = history.callback_at
    if timed and callback is not None and abs(callback - now) <= rules.callback_tolerance:
        # R-D5: the consumer asked for this precise time: days and hours are lifted, caps not.
        lifted = [r for r in reasons if r.code in _HOUR_CODES]
        reasons[:] = [r for r in reasons if r.code not in _HOUR_CODES]
        reasons.append(Reason(ReasonCode.ALLOWED_SCHEDULED_CALLBACK, {
            "scheduled_at": callback.isoformat(), "lifted": [r.code.value for r in lifted]}))
    if campaign.purpose is Purpose.SURVEY:
        # R-A (2026-11-26): a survey is not commercial prospecting: no consent, Bloctel,
        # refusal or opposition rule; the cap only when days and hours apply.
        if timed:
            reasons.extend(check_pressure(history, campaign.principal, today, now, rules,
                                          blocks=False))
        return
    reasons.extend(check_pressure(history, campaign.principal, today, now, rules))  # R-D6/7
    if regime_for(now, rules) is Regime.CONSENT:
        reasons.extend(check_consent_regime(history, campaign, now, today, rules))  # R-B
    else:
        reasons.extend(check_bloctel_regime(history, campaign, today, rules))  # R-C
    if campaign.scope is None and not any(
            r.code is ReasonCode.CONSENT_SCOPE_MISMATCH for r in reasons):
        # R-B2 (2026-11-26): every prospecting campaign has a scope; one stored without it is
        # refused at dial time, whatever the regime or exception.
        reasons.append(NO_SCOPE)
    if campaign.dial_mode.without_human:
        # R-H1: prospecting by an automated system without human intervention needs consent,
        # in both regimes, whatever the contract or press exception.
        missing = consent_reasons(history.consents, campaign, now)
        if missing:
            reasons.append(Reason(ReasonCode.AUTOMATED_CALL_NO_CONSENT, {
                "mode": campaign.dial_mode.value, "consent": [r.code.value for r in missing]}))


def consumer_today(call: CallRequest, now: dt.datetime,
                   rules: RuleSettings) -> tuple[str, dt.date] | None:
    """(E.164, the consumer's local day) as `decide` will count them; None for a bad number."""
    try:
        number = parse_number(call.dialled)
    except NumberError:
        return None
    try:
        zones = consumer_place(number, call.department, rules).zones
    except DepartmentError:
        zones = number.zones
    return number.e164, consumer_day(local_times(now, zones), now)


def consumer_day(times: tuple[LocalTime, ...], now: dt.datetime) -> dt.date:
    """The consumer's local calendar day for counting (first candidate zone; French zones
    never disagree on the date during call hours)."""
    return times[0].local.date() if times else now.date()


def check_caller_id(requested: str | None, campaign: Campaign, facts: Facts,
                    now: dt.datetime, rules: RuleSettings) -> tuple[str | None, list[Reason]]:
    """R-F1 to R-F5, R-G1: check the number asked for; rewrite it to the campaign's number or
    refuse, as the campaign says. Returns the number presented and the reasons. `astguard
    callerid check` calls this too, so it never answers otherwise than a live call.

    R-F2 to R-F5 apply to every purpose, R-F1 to prospecting and surveys (2026-11-26). When the
    store could not be read, a service or B2B call (the only ones that may still go out) is
    checked against the tables alone and its inventory check is reported as a warning."""
    tables = rules.numbering or shipped_tables()
    today = now.astimezone(PARIS).date()
    mode = campaign.dial_mode
    inventory_known = facts.store_error is None
    withheld_allowed = not campaign.purpose.in_consumer_scope

    def check(number: str | None) -> list[Reason]:
        found = check_presented(number, principal=campaign.principal, mode=mode, today=today,
                                inventory=facts.inventory, tables=tables)
        if withheld_allowed:
            found = [r for r in found if r.code is not ReasonCode.CLI_WITHHELD]
        if not inventory_known:
            found = [Reason(r.code, {**r.inputs, "detail": "inventaire illisible"},
                            effect=Effect.WARN)
                     if r.code is ReasonCode.CALLER_ID_NOT_AUTHORISED else r for r in found]
        return found

    requested = requested or None
    candidate = requested or campaign.caller_id
    found = check(candidate)
    presented = canonical(candidate) if candidate else None
    if deny_reasons(found) and campaign.cli_policy == CliPolicy.REWRITE and campaign.caller_id \
            and canonical(campaign.caller_id) != presented:
        fallback = check(campaign.caller_id)
        if not deny_reasons(fallback):
            # Rewritten: what was wrong with the number asked for stays in the evidence.
            presented = canonical(campaign.caller_id)
            found = [Reason(r.code, {**r.inputs, "rewritten_to": presented}, effect=Effect.INFO)
                     for r in found] + fallback
        else:
            # No rewrite possible: the campaign's own number is refused too; say why.
            found = found + [r for r in fallback if r.code not in {f.code for f in found}]
    if presented is not None and presented in facts.blocked_caller_ids:
        found.append(Reason(ReasonCode.CALL_BLOCKED_BY_NETWORK, {"caller_id": presented}))
    return presented, found


def _presented_caller_id(campaign: Campaign | None, requested: str | None) -> str | None:
    """The campaign's number when it has one, else what the phone asked; E.164 when it parses."""
    chosen = campaign.caller_id if campaign and campaign.caller_id else requested
    if not chosen:
        return None
    try:
        return parse_number(chosen).e164
    except NumberError:
        return chosen
