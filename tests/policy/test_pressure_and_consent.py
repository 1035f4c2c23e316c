"""R-D5 to R-D7, R-B and R-C through `decide`, with histories built by hand."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from astguard.policy import CallRequest, Campaign, DialMode, Facts, Purpose, RuleSettings, decide
from astguard.policy.model import BloctelScrub, Block, ContactHistory, ContractRecord, Regime
from astguard.policy.pressure import refusal_until
from astguard.settings import DEFAULT_EMERGENCY
from tests.policy.facts import CONSENTED, INVENTORY, consent

PARIS = ZoneInfo("Europe/Paris")
REUNION = ZoneInfo("Indian/Reunion")
RULES = RuleSettings(emergency_numbers=frozenset(DEFAULT_EMERGENCY))
CAMPAIGN = Campaign("c", "acme", Purpose.PROSPECTING, DialMode.MANUAL, "+33162123456",
                    scope="energie")


def at(y, m, d, h=11, mi=0, tz=PARIS) -> dt.datetime:
    return dt.datetime(y, m, d, h, mi, tzinfo=tz)


def run(history: ContactHistory, when: dt.datetime, *, number="0145678901",
        campaign=CAMPAIGN, rules=RULES):
    return decide(CallRequest(number, "t"), Facts(campaign, "t", history=history, inventory=INVENTORY), when, rules)


def with_consent(**kw) -> ContactHistory:
    return ContactHistory(consents=CONSENTED.consents, **kw)


def days(*ds: dt.date) -> tuple[dt.date, ...]:
    return tuple(ds)


# -- R-D6: 4 attempts in any 30 consecutive local days --------------------------------------
def test_fourth_attempt_allowed_fifth_refused():
    # Three attempts earlier in the window: the 4th (today) is allowed...
    three = days(dt.date(2026, 11, 2), dt.date(2026, 11, 10), dt.date(2026, 11, 20))
    assert run(with_consent(attempt_days=three), at(2026, 11, 27)).allowed
    # ...and once it is counted, a 5th is refused.
    four = three + (dt.date(2026, 11, 27),)
    v = run(with_consent(attempt_days=four), at(2026, 11, 27, 15))
    assert v.codes == ["FREQUENCY_CAP"]
    assert v.reasons[0].inputs["attempts"] == 4
    assert v.reasons[0].inputs["window"] == "2026-10-29/2026-11-27"


def test_window_is_the_30_days_ending_today():
    four = days(dt.date(2026, 11, 2), dt.date(2026, 11, 10), dt.date(2026, 11, 20),
                dt.date(2026, 11, 27))
    h = with_consent(attempt_days=four)
    # 2 Nov leaves the window on 2 Dec (window 3 Nov - 2 Dec): 1 Dec still refused.
    assert run(h, at(2026, 12, 1)).codes == ["FREQUENCY_CAP"]
    assert run(h, at(2026, 12, 1)).reasons[0].inputs["next_day"] == "2026-12-02"
    assert run(h, at(2026, 12, 2)).allowed


def test_cap_is_counted_on_the_consumers_local_day():
    # Réunion (UTC+4): attempts on local days; at 22:30 UTC on 1 Dec it is already 2 Dec there.
    four = days(dt.date(2026, 11, 2), dt.date(2026, 11, 10), dt.date(2026, 11, 20),
                dt.date(2026, 11, 27))
    h = with_consent(attempt_days=four)
    late_utc = dt.datetime(2026, 12, 2, 6, 30, tzinfo=dt.UTC)  # 10:30 in Réunion, 2 Dec
    assert run(h, late_utc, number="0262201234").allowed
    early = dt.datetime(2026, 12, 1, 10, 0, tzinfo=dt.UTC)  # 14:00 Réunion, 1 Dec
    assert run(h, early, number="0262201234").codes == ["FREQUENCY_CAP"]


def test_no_consent_or_callback_lifts_the_cap():
    four = days(*(dt.date(2026, 11, d) for d in (23, 24, 25, 26)))
    h = ContactHistory(attempt_days=four, consents=CONSENTED.consents,
                       callback_at=at(2026, 11, 27, 11).astimezone(dt.UTC))
    v = run(h, at(2026, 11, 27, 11))
    assert "FREQUENCY_CAP" in v.codes and not v.allowed


# -- R-D7: refusals and suspensions ------------------------------------------------------------
def refusal(day: dt.date, until: dt.date | None = None, kind="refusal") -> Block:
    return Block(kind, day, until or refusal_until(day, RULES),
                 dt.datetime.combine(day, dt.time(11), PARIS))


def bloctel_clean(when: dt.datetime, **kw) -> ContactHistory:
    """Under the Bloctel regime (calls before 2026-08-11): a fresh scrub, not listed."""
    scrub = BloctelScrub(when.date() - dt.timedelta(days=3), listed=False)
    return ContactHistory(bloctel=scrub, **kw)


# Before 2026-08-11 a refusal blocks its day and the 60 full days after it (R-D7).
@pytest.mark.parametrize(
    ("when", "blocked"),
    [
        (at(2026, 3, 2, 15), True),  # day 0 itself, after the refusal
        (at(2026, 3, 3), True),  # day 1
        (at(2026, 4, 30), True),  # day 59
        (at(2026, 5, 1, 19, 59), True),  # day 60 (also 1 May): 60 full days after day 0
        (at(2026, 5, 4), False),  # day 63 is a Monday; day 61 and 62 are a weekend
    ],
)
def test_refusal_blocks_through_day_60(when, blocked):
    h = bloctel_clean(when, blocks=(refusal(dt.date(2026, 3, 2)),))
    v = run(h, when)
    assert ("REFUSAL_COOLDOWN" in v.codes) is blocked
    assert v.allowed is not blocked


def test_refusal_releases_on_day_61():
    # Refused on Thursday 2 April 2026: day 60 is Monday 1 June, day 61 Tuesday 2 June.
    assert refusal_until(dt.date(2026, 4, 2), RULES) == dt.date(2026, 6, 1)
    h = bloctel_clean(at(2026, 6, 1), blocks=(refusal(dt.date(2026, 4, 2)),))
    assert run(h, at(2026, 6, 1, 19)).codes == ["REFUSAL_COOLDOWN"]
    assert run(h, at(2026, 6, 2, 10)).allowed  # day 61


def test_refusal_days_are_the_consumers_local_days():
    # Refused on 2 April (local day in Réunion); day 61 there starts at 20:00 UTC on 1 June.
    h = bloctel_clean(at(2026, 6, 1), blocks=(refusal(dt.date(2026, 4, 2)),))
    assert "REFUSAL_COOLDOWN" in run(h, dt.datetime(2026, 6, 1, 19, 59, tzinfo=dt.UTC),
                                     number="0262201234").codes
    assert "REFUSAL_COOLDOWN" not in run(h, dt.datetime(2026, 6, 2, 6, 0, tzinfo=dt.UTC),
                                         number="0262201234").codes


# From 2026-08-11 a refusal is an objection (R-D7, L221-16 as amended, 2026-11-26): a lasting
# opposition (R-B3), which blocks the contract and press exceptions too, until a newer consent.
def consent_refusal(day: dt.date) -> Block:
    return Block("refusal", day, refusal_until(day, RULES),
                 dt.datetime.combine(day, dt.time(11), PARIS))


@pytest.mark.parametrize("when", [at(2026, 9, 1, 15), at(2026, 11, 2), at(2027, 11, 26)])
def test_refusal_from_the_opt_in_date_is_a_lasting_opposition(when):
    h = with_consent(blocks=(consent_refusal(dt.date(2026, 9, 1)),))
    v = run(h, when)
    assert "CONSUMER_OPPOSED" in v.codes and "REFUSAL_COOLDOWN" not in v.codes
    assert not v.allowed


def test_refusal_on_the_opt_in_day_itself_is_an_objection():
    first = Block("refusal", dt.date(2026, 8, 11), dt.date(2026, 10, 10),
                  dt.datetime(2026, 8, 11, 0, 0, tzinfo=PARIS))
    assert "CONSUMER_OPPOSED" in run(with_consent(blocks=(first,)), at(2026, 12, 1)).codes
    last = Block("refusal", dt.date(2026, 8, 10), dt.date(2026, 10, 9),
                 dt.datetime(2026, 8, 10, 23, 59, tzinfo=PARIS))
    v = run(with_consent(blocks=(last,)), at(2026, 10, 12))  # day 63: the 60 days are over
    assert v.allowed


def test_objection_blocks_contract_and_press_exceptions():
    current = ContractRecord("acme", frozenset({"energie"}), dt.date(2025, 1, 1), None, "K1")
    h = ContactHistory(contracts=(current,), blocks=(consent_refusal(dt.date(2026, 9, 1)),))
    assert run(h, at(2027, 3, 1)).codes == ["CONSUMER_OPPOSED"]
    press = Campaign("p", "acme", Purpose.PROSPECTING, DialMode.MANUAL, "+33162123456",
                     scope="journal", press=True)
    v = run(ContactHistory(blocks=(consent_refusal(dt.date(2026, 9, 1)),)), at(2027, 3, 1),
            campaign=press)
    assert v.codes == ["CONSUMER_OPPOSED"]


def test_objection_lifted_by_a_newer_consent_only():
    block = consent_refusal(dt.date(2026, 9, 1))
    older = consent(collected=dt.datetime(2026, 8, 20))
    assert not run(ContactHistory(blocks=(block,), consents=(older,)), at(2027, 1, 5)).allowed
    newer = consent(collected=dt.datetime(2026, 12, 1), cid=2)
    assert run(ContactHistory(blocks=(block,), consents=(older, newer)), at(2027, 1, 5)).allowed


def test_suspension_until_its_date():
    h = with_consent(blocks=(refusal(dt.date(2026, 11, 2), dt.date(2026, 12, 2),
                                     kind="suspension"),))
    v = run(h, at(2026, 12, 2))
    assert v.codes == ["REFUSAL_COOLDOWN"] and v.reasons[0].inputs["kind"] == "suspension"
    assert run(h, at(2026, 12, 3)).allowed


# -- R-B3: oppositions -------------------------------------------------------------------------
def test_opposition_blocks_until_a_newer_consent():
    opposed = Block("opposition", dt.date(2026, 9, 1), None,
                    dt.datetime(2026, 9, 1, 10, tzinfo=dt.UTC))
    h = ContactHistory(blocks=(opposed,), consents=(consent(collected=dt.datetime(2026, 1, 1)),))
    assert run(h, at(2027, 6, 1)).codes == ["CONSUMER_OPPOSED"]
    newer = consent(collected=dt.datetime(2026, 10, 1), cid=2)
    h = ContactHistory(blocks=(opposed,), consents=h.consents + (newer,))
    assert run(h, at(2027, 6, 1)).allowed
    other = consent("other-principal", collected=dt.datetime(2026, 10, 1), cid=3)
    h = ContactHistory(blocks=(opposed,), consents=(consent(), other))
    assert "CONSUMER_OPPOSED" in run(h, at(2027, 6, 1)).codes


# -- R-B: consent regime -----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("consents", "code"),
    [
        ((), "NO_CONSENT"),
        ((consent("someone-else"),), "CONSENT_WRONG_PRINCIPAL"),
        ((consent(until=dt.datetime(2026, 11, 1)),), "CONSENT_EXPIRED"),
        ((consent(scopes=("assurance",)),), "CONSENT_SCOPE_MISMATCH"),
        ((consent(withdrawn=dt.datetime(2026, 6, 1)),), "CONSENT_WITHDRAWN"),
        ((consent(collected=dt.datetime(2026, 12, 1)),), "NO_CONSENT"),  # collected later
    ],
)
def test_every_consent_reason(consents, code):
    v = run(ContactHistory(consents=consents), at(2026, 11, 27))
    assert v.codes == [code]
    assert not v.allowed and v.prompt.value == "refus-consentement"


def test_one_valid_consent_is_enough():
    h = ContactHistory(consents=(consent(until=dt.datetime(2026, 1, 2), cid=1),
                                 consent(cid=2, collected=dt.datetime(2026, 2, 1))))
    assert run(h, at(2026, 11, 27)).allowed


def test_consent_valid_until_is_exclusive():
    h = ContactHistory(consents=(consent(until=dt.datetime(2026, 11, 27, 10, 0)),))
    assert run(h, at(2026, 11, 27, 10, 59)).allowed  # 09:59 UTC
    assert run(h, at(2026, 11, 27, 11, 0)).codes == ["CONSENT_EXPIRED"]


def test_current_contract_exception_but_not_an_ended_one():
    current = ContractRecord("acme", frozenset({"energie"}), dt.date(2025, 1, 1), None, "K1")
    assert run(ContactHistory(contracts=(current,)), at(2026, 11, 27)).allowed
    ended = ContractRecord("acme", frozenset({"energie"}), dt.date(2025, 1, 1),
                           dt.date(2026, 10, 1), "K2")
    assert run(ContactHistory(contracts=(ended,)), at(2026, 11, 27)).codes == ["NO_CONSENT"]
    unrelated = ContractRecord("acme", frozenset({"telecom"}), dt.date(2025, 1, 1), None, "K3")
    assert run(ContactHistory(contracts=(unrelated,)), at(2026, 11, 27)).codes == ["NO_CONSENT"]


def test_contract_does_not_lift_hours_caps_or_oppositions():
    current = ContractRecord("acme", frozenset({"energie"}), dt.date(2025, 1, 1), None, "K1")
    four = days(*(dt.date(2026, 11, d) for d in (23, 24, 25, 26)))
    v = run(ContactHistory(contracts=(current,), attempt_days=four), at(2026, 11, 28))
    assert v.codes == ["OUTSIDE_CALL_DAYS", "FREQUENCY_CAP"]


def test_press_exception():
    press = Campaign("p", "acme", Purpose.PROSPECTING, DialMode.MANUAL, "+33162123456",
                     scope="journal", press=True)
    assert run(ContactHistory(), at(2026, 11, 27), campaign=press).allowed


def test_press_exception_under_bloctel_too():
    # R-B5 (L223-5) in both regimes (2026-11-26): the opposition list does not apply.
    press = Campaign("p", "acme", Purpose.PROSPECTING, DialMode.MANUAL, "+33162123456",
                     scope="journal", press=True)
    listed = BloctelScrub(dt.date(2026, 7, 20), listed=True)
    assert run(ContactHistory(bloctel=listed), at(2026, 7, 28), campaign=press).allowed
    assert run(ContactHistory(), at(2026, 7, 28), campaign=press).allowed  # never scrubbed
    assert run(ContactHistory(), at(2026, 7, 28)).codes == ["BLOCTEL_SCRUB_STALE"]


@pytest.mark.parametrize("sector", ["renovation-energetique", "energie-renouvelable",
                                    "adaptation-logement", "cpf"])
def test_sector_bans_under_bloctel_too(sector):
    banned = Campaign("b", "acme", Purpose.PROSPECTING, DialMode.MANUAL, "+33162123456",
                      scope="energie", sector=sector)
    july = at(2026, 7, 28)
    assert run(ContactHistory(bloctel=SCRUBBED), july, campaign=banned).codes == ["SECTOR_BAN"]
    current = ContractRecord("acme", frozenset({"energie"}), dt.date(2025, 1, 1), None, "K1")
    h = ContactHistory(bloctel=SCRUBBED, contracts=(current,))
    assert run(h, july, campaign=banned).allowed
    other = Campaign("o", "acme", Purpose.PROSPECTING, DialMode.MANUAL, "+33162123456",
                     scope="energie", sector="assurance")
    assert run(ContactHistory(bloctel=SCRUBBED), july, campaign=other).allowed


def test_campaign_without_scope_is_matched_by_no_consent_or_contract():
    # R-B2 (2026-11-26): strict.
    bare = Campaign("n", "acme", Purpose.PROSPECTING, DialMode.MANUAL, "+33162123456")
    v = run(CONSENTED, at(2026, 11, 27), campaign=bare)
    assert v.codes == ["CONSENT_SCOPE_MISMATCH"] and not v.allowed
    assert "périmètre" in v.reasons[0].inputs["detail"]
    assert run(ContactHistory(), at(2026, 11, 27), campaign=bare).codes == [
        "NO_CONSENT", "CONSENT_SCOPE_MISMATCH"]
    contract = ContractRecord("acme", frozenset({"energie"}), dt.date(2025, 1, 1), None, "K1")
    assert not run(ContactHistory(contracts=(contract,)), at(2026, 11, 27), campaign=bare).allowed
    listed = BloctelScrub(dt.date(2026, 7, 20), listed=True)
    h = ContactHistory(bloctel=listed, contracts=(contract,))
    assert run(h, at(2026, 7, 28), campaign=bare).codes == ["BLOCTEL_LISTED",
                                                            "CONSENT_SCOPE_MISMATCH"]
    # Refused at dial time whatever the regime or exception (issue 10, point 5).
    clean = ContactHistory(bloctel=SCRUBBED)
    assert run(clean, at(2026, 7, 28), campaign=bare).codes == ["CONSENT_SCOPE_MISMATCH"]
    press = Campaign("np", "acme", Purpose.PROSPECTING, DialMode.MANUAL, "+33162123456",
                     press=True)
    assert run(CONSENTED, at(2026, 11, 27), campaign=press).codes == ["CONSENT_SCOPE_MISMATCH"]


@pytest.mark.parametrize("sector", ["renovation-energetique", "energie-renouvelable",
                                    "adaptation-logement", "cpf"])
def test_sector_bans_no_consent_cures(sector):
    banned = Campaign("b", "acme", Purpose.PROSPECTING, DialMode.MANUAL, "+33162123456",
                      scope="energie", sector=sector)
    v = run(CONSENTED, at(2026, 11, 27), campaign=banned)
    assert v.codes == ["SECTOR_BAN"]
    current = ContractRecord("acme", frozenset({"energie"}), dt.date(2025, 1, 1), None, "K1")
    assert run(ContactHistory(contracts=(current,)), at(2026, 11, 27), campaign=banned).allowed


# -- Regime switch and Bloctel (R-C) -----------------------------------------------------------
SCRUBBED = BloctelScrub(dt.date(2026, 7, 20), listed=False)


@pytest.mark.parametrize(
    ("when", "regime_code"),
    [
        (dt.datetime(2026, 8, 10, 23, 59, 59, tzinfo=PARIS), "BLOCTEL"),
        (dt.datetime(2026, 8, 11, 0, 0, 0, tzinfo=PARIS), "CONSENT"),
        # 22:30 UTC on 10 Aug is already 11 Aug in Paris.
        (dt.datetime(2026, 8, 10, 22, 30, tzinfo=dt.UTC), "CONSENT"),
    ],
)
def test_regime_switch_at_midnight_paris(when, regime_code):
    # Scrubbed and not listed, no consent: allowed under Bloctel, NO_CONSENT under opt-in.
    # (Night hours fail too; only the regime's code matters here.)
    v = run(ContactHistory(bloctel=SCRUBBED), when)
    if regime_code == "BLOCTEL":
        assert "NO_CONSENT" not in v.codes and "BLOCTEL_SCRUB_STALE" not in v.codes
    else:
        assert "NO_CONSENT" in v.codes


def test_bloctel_listed_and_stale():
    july = at(2026, 7, 28)
    assert run(ContactHistory(bloctel=SCRUBBED), july).allowed
    listed = BloctelScrub(dt.date(2026, 7, 20), listed=True)
    assert run(ContactHistory(bloctel=listed), july).codes == ["BLOCTEL_LISTED"]
    assert run(ContactHistory(), july).codes == ["BLOCTEL_SCRUB_STALE"]
    old = BloctelScrub(dt.date(2026, 6, 1), listed=False)
    assert run(ContactHistory(bloctel=old), july).codes == ["BLOCTEL_SCRUB_STALE"]
    edge = BloctelScrub(dt.date(2026, 6, 28), listed=False)  # exactly 30 days before
    assert run(ContactHistory(bloctel=edge), july).allowed


def test_bloctel_contract_exception():
    listed = BloctelScrub(dt.date(2026, 7, 20), listed=True)
    current = ContractRecord("acme", frozenset({"energie"}), dt.date(2025, 1, 1), None, "K1")
    assert run(ContactHistory(bloctel=listed, contracts=(current,)), at(2026, 7, 28)).allowed


def test_forced_regime_setting():
    rules = RuleSettings(emergency_numbers=RULES.emergency_numbers, regime=Regime.BLOCTEL)
    v = run(ContactHistory(), at(2026, 11, 27), rules=rules)
    assert v.codes == ["BLOCTEL_SCRUB_STALE"]


# -- R-D5: scheduled call-backs ----------------------------------------------------------------
def test_scheduled_callback_lifts_hours_not_caps():
    saturday = at(2026, 11, 28, 21, 0)
    h = with_consent(callback_at=saturday.astimezone(dt.UTC) + dt.timedelta(minutes=5))
    v = run(h, saturday)
    assert v.allowed and v.codes == ["ALLOWED_SCHEDULED_CALLBACK"]
    assert v.reasons[0].inputs["lifted"] == ["OUTSIDE_CALL_DAYS", "OUTSIDE_CALL_WINDOW"]
    far = with_consent(callback_at=saturday.astimezone(dt.UTC) + dt.timedelta(hours=1))
    assert not run(far, saturday).allowed


def test_service_calls_skip_pressure_and_consent():
    service = Campaign("s", "acme", Purpose.SERVICE, DialMode.MANUAL, "+33162123456")
    four = days(*(dt.date(2026, 11, d) for d in (23, 24, 25, 26)))
    v = run(ContactHistory(attempt_days=four), at(2026, 11, 27), campaign=service)
    assert v.allowed and not v.counts_as_attempt


# -- Surveys (R-A, 2026-11-26) ---------------------------------------------------------------
SURVEY = Campaign("s", "acme", Purpose.SURVEY, DialMode.MANUAL, "+33162123456")


def test_survey_needs_no_consent_bloctel_refusal_or_opposition():
    opposed = Block("opposition", dt.date(2026, 9, 1), None,
                    dt.datetime(2026, 9, 1, 10, tzinfo=dt.UTC))
    v = run(ContactHistory(blocks=(opposed, consent_refusal(dt.date(2026, 11, 2)))),
            at(2026, 11, 27), campaign=SURVEY)
    assert v.allowed and v.codes == [] and v.counts_as_attempt
    assert run(ContactHistory(), at(2026, 7, 28), campaign=SURVEY).allowed  # no Bloctel scrub
    early = bloctel_clean(at(2026, 3, 3), blocks=(refusal(dt.date(2026, 3, 2)),))
    assert run(early, at(2026, 3, 3), campaign=SURVEY).allowed


def test_survey_keeps_days_hours_and_cap_by_default():
    assert run(ContactHistory(), at(2026, 11, 28), campaign=SURVEY).codes == ["OUTSIDE_CALL_DAYS"]
    assert run(ContactHistory(), at(2026, 11, 27, 20), campaign=SURVEY).codes == [
        "OUTSIDE_CALL_WINDOW"]
    four = days(*(dt.date(2026, 11, d) for d in (23, 24, 25, 26)))
    v = run(ContactHistory(attempt_days=four), at(2026, 11, 27), campaign=SURVEY)
    assert v.codes == ["FREQUENCY_CAP"]


def test_survey_days_hours_and_cap_can_be_turned_off():
    rules = RuleSettings(emergency_numbers=RULES.emergency_numbers, survey_days_hours_cap=False)
    four = days(*(dt.date(2026, 11, d) for d in (23, 24, 25, 26)))
    v = run(ContactHistory(attempt_days=four), at(2026, 11, 28, 22), campaign=SURVEY,
            rules=rules)
    assert v.allowed and v.codes == [] and not v.counts_as_attempt
    foreign = run(ContactHistory(), at(2026, 11, 28), campaign=SURVEY, rules=rules,
                  number="+3222222222")
    assert foreign.codes == ["NON_FR_DESTINATION"]


def test_survey_caller_id_rules_apply_npv_included():
    survey = Campaign("s", "acme", Purpose.SURVEY, DialMode.PREDICTIVE, "+33145678901")
    held = INVENTORY + (INVENTORY[0].__class__("+33145678901", "acme", dt.date(2020, 1, 1),
                                               None),)
    v = decide(CallRequest("0145678901", "t"), Facts(survey, "t", inventory=held),
               at(2026, 11, 27), RULES)
    assert v.codes == ["NPV_REQUIRED"]
    withheld = Campaign("w", "acme", Purpose.SURVEY, DialMode.MANUAL, None)
    v = decide(CallRequest("0145678901", "t"), Facts(withheld, "t"), at(2026, 11, 27), RULES)
    assert v.codes == ["CLI_WITHHELD"]  # R-F1 applies to surveys


def test_survey_in_broadcast_mode_needs_no_consent():
    # R-H1 names prospecting; a survey is not (R-A).
    survey = Campaign("s", "acme", Purpose.SURVEY, DialMode.BROADCAST, "+33162123456")
    assert run(ContactHistory(), at(2026, 11, 27), campaign=survey).allowed


def test_broadcast_needs_consent_whatever_the_contract_or_press():
    contract = ContractRecord("acme", frozenset({"energie"}), dt.date(2025, 1, 1), None, "K1")
    bot = Campaign("b", "acme", Purpose.PROSPECTING, DialMode.VOICEBOT, "+33162123456",
                   scope="energie")
    v = run(ContactHistory(contracts=(contract,)), at(2026, 11, 27), campaign=bot)
    assert v.codes == ["AUTOMATED_CALL_NO_CONSENT"]
    press = Campaign("p", "acme", Purpose.PROSPECTING, DialMode.BROADCAST, "+33162123456",
                     scope="journal", press=True)
    v = run(ContactHistory(), at(2026, 11, 27), campaign=press)
    assert v.codes == ["AUTOMATED_CALL_NO_CONSENT"]
    assert run(CONSENTED, at(2026, 11, 27), campaign=bot).allowed
