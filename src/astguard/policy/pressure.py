"""Contact pressure: the 4-in-30-days cap (R-D6), refusals and suspensions (R-D7), oppositions
(R-B3). Days are the consumer's local calendar days."""

from __future__ import annotations

import datetime as dt

from astguard.policy.consent import regime_for
from astguard.policy.model import Block, ContactHistory, Regime, RuleSettings
from astguard.policy.reasons import Reason, ReasonCode


def window_start(today: dt.date, rules: RuleSettings) -> dt.date:
    """First day of the rolling window that ends today: days D-29 to D for 30 days."""
    return today - dt.timedelta(days=rules.cap_days - 1)


def attempts_in_window(history: ContactHistory, today: dt.date, rules: RuleSettings) -> int:
    start = window_start(today, rules)
    return sum(1 for day in history.attempt_days if start <= day <= today)


def refusal_until(refused_on: dt.date, rules: RuleSettings) -> dt.date:
    """R-D7: the refusal's own day does not count; 60 full calendar days follow it."""
    return refused_on + dt.timedelta(days=rules.refusal_days)


def is_objection(block: Block, rules: RuleSettings) -> bool:
    """R-D7 (2026-11-26): from 2026-08-11 a refusal during a call is an objection (L221-16 as
    amended): a lasting opposition (R-B3), not 60 days."""
    return block.kind == "opposition" or (
        block.kind == "refusal" and regime_for(block.recorded_at, rules) is Regime.CONSENT)


def check_pressure(history: ContactHistory, principal: str, today: dt.date, now: dt.datetime,
                   rules: RuleSettings, *, blocks: bool = True) -> list[Reason]:
    """R-D6 always; with `blocks`, refusals, suspensions and oppositions (not for surveys)."""
    reasons: list[Reason] = []
    count = attempts_in_window(history, today, rules)
    if count >= rules.cap_attempts:  # R-D6: no consent lifts it
        reasons.append(Reason(ReasonCode.FREQUENCY_CAP, {
            "attempts": count, "cap": rules.cap_attempts,
            "window": f"{window_start(today, rules).isoformat()}/{today.isoformat()}",
            "next_day": next_day_under_cap(history, today, rules).isoformat(),
        }))
    for block in history.blocks if blocks else ():
        if is_objection(block, rules):
            if not _consent_after(history, principal, block.recorded_at, now):
                reasons.append(Reason(ReasonCode.CONSUMER_OPPOSED, {  # R-B3
                    "since": block.day.isoformat(), "kind": block.kind,
                }))
        elif block.kind in ("refusal", "suspension") and block.until and block.until >= today:
            reasons.append(Reason(ReasonCode.REFUSAL_COOLDOWN, {  # R-D7
                "kind": block.kind, "since": block.day.isoformat(),
                "until": block.until.isoformat(),
            }))
    return reasons


def next_day_under_cap(history: ContactHistory, today: dt.date, rules: RuleSettings) -> dt.date:
    """The first local day from today on when fewer than the cap fall in the window."""
    day = today
    for _ in range(rules.cap_days + 1):
        if attempts_in_window(history, day, rules) < rules.cap_attempts:
            return day
        day += dt.timedelta(days=1)
    return day


def _consent_after(history: ContactHistory, principal: str, instant: dt.datetime,
                   now: dt.datetime) -> bool:
    # An opposition lasts until the consumer gives this principal a newer consent (R-B3, I):
    # collected after it and by now (R-B2: collected_at <= now), and not withdrawn by now (a
    # withdrawal objects again).
    return any(c.principal == principal and instant < c.collected_at <= now
               and (c.withdrawn_at is None or c.withdrawn_at > now)
               for c in history.consents)
