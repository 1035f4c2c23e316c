"""R-D6, R-D7 and R-B3 at their edges, on `check_pressure` itself (the consumer's local days)."""

from __future__ import annotations

import datetime as dt

import pytest

from astguard.policy.model import Block, ContactHistory, RuleSettings
from astguard.policy.pressure import (
    attempts_in_window,
    check_pressure,
    next_day_under_cap,
    refusal_until,
    window_start,
)
from astguard.policy.reasons import ReasonCode
from tests.policy.facts import consent

RULES = RuleSettings(emergency_numbers=frozenset())
D = dt.date
TODAY = D(2026, 11, 27)


def pressure(history: ContactHistory, today: dt.date = TODAY, principal: str = "acme",
             rules: RuleSettings = RULES):
    now = dt.datetime.combine(today, dt.time(10), dt.UTC)  # 11:00 Paris on the consumer's day
    return check_pressure(history, principal, today, now, rules)


def test_the_window_is_days_d_minus_29_to_d():
    # R-D6: "a call on day D is refused when 4 attempts already fall on days D-29 to D".
    assert window_start(TODAY, RULES) == D(2026, 10, 29)
    edge = ContactHistory(attempt_days=(D(2026, 10, 28), D(2026, 10, 29), TODAY))
    assert attempts_in_window(edge, TODAY, RULES) == 2


def test_an_attempt_recorded_after_the_day_is_not_in_its_window():
    later = ContactHistory(attempt_days=(D(2026, 11, 28),))
    assert attempts_in_window(later, TODAY, RULES) == 0


def test_the_cap_reason_says_what_was_counted_and_when_calls_may_resume():
    # Oct 29 leaves the window on Nov 28 (window Oct 30 - Nov 28): 3 attempts, under the cap.
    four = ContactHistory(attempt_days=(D(2026, 10, 29), D(2026, 11, 2), D(2026, 11, 20), TODAY))
    [reason] = pressure(four)
    assert reason.code is ReasonCode.FREQUENCY_CAP
    assert reason.inputs == {"attempts": 4, "cap": 4, "window": "2026-10-29/2026-11-27",
                             "next_day": "2026-11-28"}


def test_four_attempts_today_wait_thirty_days():
    # All four on Nov 27: days D-29..D contain them until D = Dec 26; Dec 27 is free.
    four_today = ContactHistory(attempt_days=(TODAY,) * 4)
    assert next_day_under_cap(four_today, TODAY, RULES) == D(2026, 12, 27)
    assert pressure(four_today)[0].inputs["next_day"] == "2026-12-27"
    assert pressure(four_today, D(2026, 12, 26))[0].code is ReasonCode.FREQUENCY_CAP
    assert pressure(four_today, D(2026, 12, 27)) == []


def test_three_attempts_are_under_the_cap_and_five_over_it():
    assert pressure(ContactHistory(attempt_days=(TODAY,) * 3)) == []
    [reason] = pressure(ContactHistory(attempt_days=(TODAY,) * 5))
    assert reason.inputs["attempts"] == 5


def test_a_stricter_cap_setting():
    rules = RuleSettings(emergency_numbers=frozenset(), cap_attempts=2, cap_days=7)
    two = ContactHistory(attempt_days=(D(2026, 11, 21), TODAY))
    [reason] = pressure(two, rules=rules)
    assert reason.inputs == {"attempts": 2, "cap": 2, "window": "2026-11-21/2026-11-27",
                             "next_day": "2026-11-28"}


def refusal(day: dt.date, kind: str = "refusal", until: dt.date | None = None) -> Block:
    return Block(kind, day, until or refusal_until(day, RULES),
                 dt.datetime.combine(day, dt.time(10), dt.UTC))


def test_refusal_blocks_day_0_through_day_60():
    # R-D7 (Bloctel regime): refused Monday 4 May 2026; day 60 is Friday 3 July.
    assert refusal_until(D(2026, 5, 4), RULES) == D(2026, 7, 3)
    h = ContactHistory(blocks=(refusal(D(2026, 5, 4)),))
    assert [r.code for r in pressure(h, D(2026, 5, 4))] == [ReasonCode.REFUSAL_COOLDOWN]
    [reason] = pressure(h, D(2026, 7, 3))
    assert reason.inputs == {"kind": "refusal", "since": "2026-05-04", "until": "2026-07-03"}
    assert pressure(h, D(2026, 7, 4)) == []


def test_a_suspension_until_a_date_blocks_that_date_too():
    h = ContactHistory(blocks=(refusal(D(2026, 11, 2), "suspension", D(2026, 12, 2)),))
    [reason] = pressure(h, D(2026, 12, 2))
    assert reason.inputs == {"kind": "suspension", "since": "2026-11-02", "until": "2026-12-02"}
    assert pressure(h, D(2026, 12, 3)) == []


OPPOSED_AT = dt.datetime(2026, 9, 1, 10, 0, tzinfo=dt.UTC)
OPPOSITION = Block("opposition", D(2026, 9, 1), None, OPPOSED_AT)


def opposed_with(*consents) -> ContactHistory:
    return ContactHistory(blocks=(OPPOSITION,), consents=consents)


def test_an_opposition_says_since_when_and_never_expires():
    # R-B3: "never expires unless a newer consent is collected".
    for today in (D(2026, 9, 1), D(2027, 9, 1), D(2036, 9, 1)):
        [reason] = pressure(opposed_with(), today)
        assert reason.code is ReasonCode.CONSUMER_OPPOSED
        assert reason.inputs == {"since": "2026-09-01", "kind": "opposition"}


@pytest.mark.parametrize(("collected", "lifted"), [
    (OPPOSED_AT - dt.timedelta(seconds=1), False),
    (OPPOSED_AT, False),  # the same instant is not newer
    (OPPOSED_AT + dt.timedelta(microseconds=1), True),
])
def test_only_a_strictly_newer_consent_lifts_an_opposition(collected, lifted):
    mine = consent(collected=collected.replace(tzinfo=None))
    assert (pressure(opposed_with(mine)) == []) is lifted


def test_a_newer_consent_that_was_withdrawn_or_given_to_another_principal_does_not_lift_it():
    later = dt.datetime(2026, 10, 1)
    withdrawn = consent(collected=later, withdrawn=dt.datetime(2026, 10, 2))
    other = consent("globex", collected=later, cid=2)
    assert [r.code for r in pressure(opposed_with(withdrawn, other))] \
        == [ReasonCode.CONSUMER_OPPOSED]
    # For globex, its own newer consent does lift the opposition recorded for globex's calls.
    assert pressure(opposed_with(other), principal="globex") == []


def test_a_consent_dated_after_the_call_does_not_lift_an_opposition_yet():
    # R-B2: a consent counts from collected_at <= now; R-B3: only a newer one lifts it.
    future = consent(collected=dt.datetime(2026, 11, 27, 10, 0, 1))  # 1 s after the call
    assert [r.code for r in pressure(opposed_with(future))] == [ReasonCode.CONSUMER_OPPOSED]
    assert pressure(opposed_with(future), D(2026, 11, 28)) == []


def test_a_newer_consent_collected_at_the_calls_instant_lifts_it():
    # R-B2: collected_at <= now, so a consent collected at the very instant of the call counts.
    assert pressure(opposed_with(consent(collected=dt.datetime(2026, 11, 27, 10, 0)))) == []


def test_a_newer_consent_withdrawn_only_after_the_call_still_lifts_it():
    later = consent(collected=dt.datetime(2026, 10, 1), withdrawn=dt.datetime(2026, 11, 27, 10, 0, 1))
    assert pressure(opposed_with(later)) == []
    # Withdrawn at the call's very instant: withdrawn (R-B2), the opposition stands again.
    at_call = consent(collected=dt.datetime(2026, 10, 1), withdrawn=dt.datetime(2026, 11, 27, 10))
    assert [r.code for r in pressure(opposed_with(at_call))] == [ReasonCode.CONSUMER_OPPOSED]


def test_every_block_in_force_is_reported():
    early = Block("opposition", D(2026, 4, 1), None, dt.datetime(2026, 4, 1, 10, tzinfo=dt.UTC))
    h = ContactHistory(blocks=(refusal(D(2026, 5, 4)),
                               refusal(D(2026, 6, 1), "suspension", D(2026, 6, 30)), early))
    assert [r.code for r in pressure(h, D(2026, 6, 2))] == [
        ReasonCode.REFUSAL_COOLDOWN, ReasonCode.REFUSAL_COOLDOWN, ReasonCode.CONSUMER_OPPOSED]
    assert [r.code for r in pressure(h, D(2026, 9, 2))] == [ReasonCode.CONSUMER_OPPOSED]


PARIS = dt.timezone(dt.timedelta(hours=2))  # Paris summer time, August 2026
OPT_IN = dt.datetime(2026, 8, 11, 0, 0, tzinfo=PARIS)  # loi 2025-594, 00:00 Paris


def refused_at(at: dt.datetime) -> Block:
    day_ = at.date()
    return Block("refusal", day_, refusal_until(day_, RULES), at)


def test_a_refusal_from_2026_08_11_is_a_lasting_objection():
    # R-D7 (2026-11-26): from 2026-08-11 a refusal is an objection (L221-16), recorded as an
    # opposition (R-B3) that lasts until a newer consent; day 61 and a year later: still opposed.
    h = ContactHistory(blocks=(refused_at(OPT_IN),))
    for today in (D(2026, 8, 11), D(2026, 10, 11), D(2027, 8, 11)):
        [reason] = pressure(h, today)
        assert reason.code is ReasonCode.CONSUMER_OPPOSED
        assert reason.inputs == {"since": "2026-08-11", "kind": "refusal"}
    newer = consent(collected=dt.datetime(2026, 9, 1))
    assert pressure(ContactHistory(blocks=h.blocks, consents=(newer,)), D(2027, 8, 11)) == []


def test_a_refusal_before_2026_08_11_is_sixty_full_days():
    # R-D7: refused at 23:59:59 on 10 August (Paris): day 60 is 9 October, day 61 is free.
    h = ContactHistory(blocks=(refused_at(OPT_IN - dt.timedelta(seconds=1)),))
    [reason] = pressure(h, D(2026, 10, 9))
    assert reason.inputs == {"kind": "refusal", "since": "2026-08-10", "until": "2026-10-09"}
    assert pressure(h, D(2026, 10, 10)) == []


def test_a_suspension_from_2026_08_11_stays_a_suspension():
    at = OPT_IN + dt.timedelta(days=30)
    h = ContactHistory(blocks=(Block("suspension", at.date(), D(2026, 9, 30), at),))
    assert [r.code for r in pressure(h, D(2026, 9, 30))] == [ReasonCode.REFUSAL_COOLDOWN]
    assert pressure(h, D(2026, 10, 1)) == []


def test_blocks_are_not_read_when_the_caller_says_so():
    # R-A (2026-11-26): surveys keep the cap but no refusal or opposition rule.
    h = ContactHistory(attempt_days=(TODAY,) * 4, blocks=(OPPOSITION,))
    now = dt.datetime.combine(TODAY, dt.time(10), dt.UTC)
    assert [r.code for r in check_pressure(h, "acme", TODAY, now, RULES, blocks=False)] \
        == [ReasonCode.FREQUENCY_CAP]
