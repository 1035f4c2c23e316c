"""`decide` at its edges: the evidence each finding keeps, the call-back tolerance at its limit,
surveys, R-H1 by dialling mode, the press and sector rules in both regimes, campaigns without a
scope, and the consumer's day."""

from __future__ import annotations

import datetime as dt

import pytest

from astguard.policy import CallRequest, Campaign, DialMode, Facts, Purpose, RuleSettings, decide
from astguard.policy.caller_id import CallerIdRecord
from astguard.policy.decide import consumer_day, consumer_today
from astguard.policy.model import BloctelScrub, Block, ContactHistory, ContractRecord, LocalTime
from astguard.settings import DEFAULT_EMERGENCY
from tests.policy.facts import CONSENTED, INVENTORY, consent

RULES = RuleSettings(emergency_numbers=frozenset(DEFAULT_EMERGENCY))
NOW = dt.datetime(2026, 11, 27, 10, 0, tzinfo=dt.UTC)  # Friday 11:00 Paris, consent regime
SATURDAY = dt.datetime(2026, 11, 28, 10, 0, tzinfo=dt.UTC)
JULY = dt.datetime(2026, 7, 28, 9, 0, tzinfo=dt.UTC)  # Tuesday 11:00 Paris, Bloctel regime
FRESH = BloctelScrub(dt.date(2026, 7, 20), listed=False)
LISTED = BloctelScrub(dt.date(2026, 7, 20), listed=True)
CONTRACT = ContractRecord("acme", frozenset({"energie"}), dt.date(2025, 1, 1), None, "K1")


def campaign(purpose=Purpose.PROSPECTING, mode=DialMode.MANUAL, scope="energie", **kw):
    return Campaign("c", "acme", purpose, mode, kw.pop("caller_id", "0162123456"), scope=scope,
                    **kw)


def run(history=CONSENTED, when=NOW, camp=None, number="0612345678", rules=RULES, **facts):
    camp = campaign() if camp is None else camp
    return decide(CallRequest(number, "t", department=facts.pop("department", None)),
                  Facts(camp, "t", history=history, inventory=facts.pop("inventory", INVENTORY),
                        **facts), when, rules)


# -- the evidence of each finding ----------------------------------------------------------------
def test_evidence_of_scope_and_fail_closed_findings():
    assert run(store_error="PostgreSQL injoignable").reasons[0].inputs == {
        "detail": "PostgreSQL injoignable"}
    service = run(camp=Campaign("livraison", "acme", Purpose.SERVICE, DialMode.MANUAL,
                                "0162123456"))
    assert service.reasons[0].inputs == {"campaign": "livraison"}
    b2b = run(camp=Campaign("pro", "acme", Purpose.B2B, DialMode.MANUAL, "0162123456"))
    assert b2b.reasons[0].inputs == {"campaign": "pro"}


def test_evidence_of_a_foreign_destination_and_an_unknown_department():
    v = run(number="+3225551212")
    assert v.codes == ["NON_FR_DESTINATION"]
    assert v.reasons[0].inputs == {"region": "BE", "number": "+3225551212"}
    v = run(department="99")
    assert v.reasons[0].inputs == {"detail": "département inconnu : '99'"}


def test_evidence_of_a_number_the_network_keeps_refusing():
    v = run(blocked_caller_ids=frozenset({"+33162123456"}))
    assert v.allowed and v.reasons[0].inputs == {"caller_id": "+33162123456"}


# -- R-D5: the call-back tolerance at its limit ------------------------------------------------
@pytest.mark.parametrize(("offset", "lifted"), [
    (dt.timedelta(minutes=-10), True), (dt.timedelta(minutes=10), True),
    (dt.timedelta(minutes=10, microseconds=1), False), (dt.timedelta(minutes=-10, seconds=-1), False),
])
def test_call_back_tolerance_is_inclusive(offset, lifted):
    history = ContactHistory(consents=CONSENTED.consents, callback_at=SATURDAY + offset)
    v = run(history, SATURDAY)
    assert v.allowed is lifted
    if lifted:
        assert v.codes == ["ALLOWED_SCHEDULED_CALLBACK"]
        assert v.reasons[0].inputs == {"scheduled_at": (SATURDAY + offset).isoformat(),
                                       "lifted": ["OUTSIDE_CALL_DAYS"]}
    else:
        assert v.codes == ["OUTSIDE_CALL_DAYS"]


# -- R-H1: without human intervention, consent in both regimes, whatever the exception --------
@pytest.mark.parametrize("mode", [DialMode.BROADCAST, DialMode.PRERECORDED, DialMode.VOICEBOT])
@pytest.mark.parametrize(("when", "history"), [
    (NOW, ContactHistory(contracts=(CONTRACT,))),
    (JULY, ContactHistory(contracts=(CONTRACT,), bloctel=FRESH)),
])
def test_no_human_on_the_call_needs_consent(mode, when, history):
    v = run(history, when, campaign(mode=mode))
    assert v.codes == ["AUTOMATED_CALL_NO_CONSENT"] and not v.allowed
    assert v.reasons[0].inputs == {"mode": mode.value, "consent": ["NO_CONSENT"]}


def test_no_human_and_the_press_exception_still_needs_consent():
    press = campaign(mode=DialMode.PRERECORDED, press=True, scope="journal")
    v = run(ContactHistory(), NOW, press)
    assert v.codes == ["AUTOMATED_CALL_NO_CONSENT"]
    assert run(ContactHistory(consents=(consent(scopes=("journal",)),)), NOW, press).allowed


@pytest.mark.parametrize("mode", [DialMode.PROGRESSIVE, DialMode.PREDICTIVE])
def test_an_agent_on_the_call_is_not_r_h1(mode):
    # R-H1 (2026-11-26): progressive and predictive dialling connect an agent; R-F4 still applies.
    assert run(ContactHistory(contracts=(CONTRACT,)), NOW, campaign(mode=mode)).allowed
    assert run(ContactHistory(contracts=(CONTRACT,), bloctel=FRESH), JULY,
               campaign(mode=mode)).allowed


# -- R-B5 and R-B6 in both regimes (2026-11-26) -------------------------------------------------
def test_the_press_exception_in_the_bloctel_regime():
    press = campaign(press=True, scope="journal")
    assert run(ContactHistory(bloctel=LISTED), JULY, press).allowed
    assert run(ContactHistory(), JULY, press).allowed


@pytest.mark.parametrize("sector", ["renovation-energetique", "energie-renouvelable",
                                    "adaptation-logement", "cpf"])
def test_sector_bans_in_the_bloctel_regime(sector):
    banned = campaign(sector=sector)
    v = run(ContactHistory(bloctel=FRESH), JULY, banned)
    assert v.codes == ["SECTOR_BAN"] and v.reasons[0].inputs == {"sector": sector}
    # "unless the contract exception applies" (R-B6)
    assert run(ContactHistory(bloctel=FRESH, contracts=(CONTRACT,)), JULY, banned).allowed
    assert run(ContactHistory(bloctel=FRESH), JULY, campaign(sector="assurance")).allowed


# -- R-B2 (2026-11-26): a prospecting campaign without a scope is matched by nothing ------------
def test_no_scope_no_consent_matches():
    v = run(ContactHistory(consents=(consent(scopes=("energie", "assurance")),)), NOW,
            campaign(scope=None))
    assert not v.allowed and v.codes == ["CONSENT_SCOPE_MISMATCH"]
    assert v.reasons[0].inputs["scope"] is None


def test_no_scope_no_contract_matches():
    v = run(ContactHistory(contracts=(CONTRACT,)), NOW, campaign(scope=None))
    assert not v.allowed and "NO_CONSENT" in v.codes
    v = run(ContactHistory(contracts=(CONTRACT,), bloctel=LISTED), JULY, campaign(scope=None))
    assert not v.allowed and v.codes == ["BLOCTEL_LISTED", "CONSENT_SCOPE_MISMATCH"]
    # Refused at dial time whatever the regime or exception (issue 10, R-B2 2026-11-26).
    for history in (ContactHistory(bloctel=FRESH), ContactHistory(bloctel=LISTED)):
        assert "CONSENT_SCOPE_MISMATCH" in run(history, JULY, campaign(scope=None, press=True)).codes


# -- Surveys (R-A 2026-11-26) ------------------------------------------------------------------
SURVEY = campaign(Purpose.SURVEY)
OPPOSED = Block("opposition", dt.date(2026, 10, 1), None,
                dt.datetime(2026, 10, 1, 9, 0, tzinfo=dt.UTC))
SUSPENDED = Block("suspension", dt.date(2026, 11, 20), dt.date(2026, 12, 20),
                  dt.datetime(2026, 11, 20, 9, 0, tzinfo=dt.UTC))
FOUR = tuple(dt.date(2026, 11, d) for d in (20, 24, 25, 26))


def test_a_survey_needs_no_consent_bloctel_scrub_or_lack_of_opposition():
    assert run(ContactHistory(), NOW, SURVEY).allowed
    assert run(ContactHistory(bloctel=LISTED), JULY, SURVEY).allowed
    assert run(ContactHistory(), JULY, SURVEY).allowed
    assert run(ContactHistory(blocks=(OPPOSED, SUSPENDED)), NOW, SURVEY).allowed
    assert run(ContactHistory(), NOW, campaign(Purpose.SURVEY, sector="cpf")).allowed


def test_a_survey_keeps_days_hours_and_the_cap_by_default():
    assert run(ContactHistory(), SATURDAY, SURVEY).codes == ["OUTSIDE_CALL_DAYS"]
    assert run(ContactHistory(attempt_days=FOUR), NOW, SURVEY).codes == ["FREQUENCY_CAP"]
    callback = ContactHistory(callback_at=SATURDAY)
    assert run(callback, SATURDAY, SURVEY).codes == ["ALLOWED_SCHEDULED_CALLBACK"]


def test_a_survey_without_days_hours_and_cap_when_the_setting_says_so():
    relaxed = RuleSettings(emergency_numbers=RULES.emergency_numbers,
                           survey_days_hours_cap=False)
    assert run(ContactHistory(attempt_days=FOUR), SATURDAY, SURVEY, rules=relaxed).allowed
    assert run(ContactHistory(attempt_days=FOUR), SATURDAY, SURVEY, rules=relaxed).codes == []
    # The setting is for surveys only: prospecting keeps every rule.
    assert run(CONSENTED, SATURDAY, rules=relaxed).codes == ["OUTSIDE_CALL_DAYS"]


def test_a_survey_still_has_its_caller_id_checked():
    v = run(ContactHistory(), NOW, campaign(Purpose.SURVEY, DialMode.PREDICTIVE,
                                            caller_id="0145678901"),
            inventory=(CallerIdRecord("+33145678901", "acme", dt.date(2020, 1, 1), None),))
    assert v.codes == ["NPV_REQUIRED"]


# -- The consumer's day ----------------------------------------------------------------------------
def test_consumer_today_is_the_local_day_of_the_consumers_zone():
    # 21:30 UTC on 27 Nov is already 28 Nov in Réunion (UTC+4), still 27 Nov in Paris.
    late = dt.datetime(2026, 11, 27, 21, 30, tzinfo=dt.UTC)
    assert consumer_today(CallRequest("0262201234", "t"), late, RULES) == (
        "+262262201234", dt.date(2026, 11, 28))
    assert consumer_today(CallRequest("0145678901", "t"), late, RULES) == (
        "+33145678901", dt.date(2026, 11, 27))
    assert consumer_today(CallRequest("06123", "t"), late, RULES) is None
    assert consumer_today(CallRequest("0262201234", "t", department="99"), late, RULES) == (
        "+262262201234", dt.date(2026, 11, 28))


def test_the_day_without_any_zone_is_the_clocks():
    now = dt.datetime(2026, 11, 27, 23, 30, tzinfo=dt.UTC)
    assert consumer_day((), now) == dt.date(2026, 11, 27)
    assert consumer_day((LocalTime("Indian/Reunion",
                                   now.astimezone(dt.timezone(dt.timedelta(hours=4)))),),
                        now) == dt.date(2026, 11, 28)


def test_a_mandate_starting_today_in_paris_counts_from_paris_midnight():
    # R-F2: the inventory's dates are Paris dates; 23:30 UTC on 26 Nov is 00:30 on 27 Nov there.
    just_after_midnight = dt.datetime(2026, 11, 26, 23, 30, tzinfo=dt.UTC)
    service = Campaign("s", "acme", Purpose.SERVICE, DialMode.MANUAL, "0162123456",
                       cli_policy="refuse")
    from_today = (CallerIdRecord("+33162123456", "acme", dt.date(2026, 11, 27), None),)
    v = run(CONSENTED, just_after_midnight, service, inventory=from_today)
    assert v.allowed and v.codes == ["OUT_OF_SCOPE_SERVICE_CALL"]
    until_yesterday = (CallerIdRecord("+33162123456", "acme", dt.date(2020, 1, 1),
                                      dt.date(2026, 11, 26)),)
    v = run(CONSENTED, just_after_midnight, service, inventory=until_yesterday)
    assert "CALLER_ID_NOT_AUTHORISED" in v.codes and not v.allowed


# -- The verdict of an emergency call and of a number that does not parse ------------------------
@pytest.mark.parametrize(("camp_caller_id", "requested", "presented"), [
    ("0162123456", "0145678901", "+33162123456"),  # the campaign's number when it has one
    (None, "0145678901", "+33145678901"),  # else what the phone asked, in E.164
    (None, None, None),
])
def test_an_emergency_verdict_keeps_the_call(camp_caller_id, requested, presented):
    # R-A: never blocked, never counted; the evidence still says who called and how.
    camp = campaign(caller_id=camp_caller_id)
    v = decide(CallRequest("112", "t", caller_id=requested), Facts(camp, "t"), NOW, RULES)
    assert v.allowed and v.emergency and v.codes == ["EMERGENCY_NUMBER"]
    assert v.reasons[0].inputs == {"dialled": "112"}
    assert (v.decided_at, v.dialled, v.local_times, v.campaign) == (NOW, "112", (), camp)
    assert (v.caller_id, v.caller_id_requested) == (presented, requested)


def test_an_invalid_number_says_what_was_dialled_and_why():
    v = run(number="06123")
    assert v.codes == ["INVALID_NUMBER"] and v.local_times == () and v.number is None
    assert v.reasons[0].inputs == {"dialled": "06123",
                                   "detail": "un numéro national a 10 chiffres et commence par 0"}


def test_a_naive_clock_is_refused():
    with pytest.raises(ValueError) as caught:
        run(when=dt.datetime(2026, 11, 27, 10, 0))
    assert str(caught.value) == "decide() needs an aware datetime"


def test_a_service_call_keeps_the_consumers_local_time():
    v = run(camp=campaign(Purpose.SERVICE), number="0262201234")
    assert v.allowed and [t.zone for t in v.local_times] == ["Indian/Reunion"]


def test_a_number_without_any_zone_is_refused_timezone_unknown():
    # R-D4 "No zone → TIMEZONE_UNKNOWN" (and the destination is foreign anyway).
    v = run(number="+80012345678")
    assert not v.allowed and "TIMEZONE_UNKNOWN" in v.codes and v.local_times == ()


def test_the_cap_counts_the_consumers_local_day_not_the_clocks():
    # R-D6: 20:30 UTC on 1 Dec is 00:30 on 2 Dec in Réunion; window 3 Nov - 2 Dec holds three
    # attempts (the one of 2 Nov is out). A call-back lifts the hours (R-D5), not the cap.
    now = dt.datetime(2026, 12, 1, 20, 30, tzinfo=dt.UTC)
    days_ = tuple(dt.date(2026, 11, d) for d in (2, 10, 20, 27))
    history = ContactHistory(consents=CONSENTED.consents, attempt_days=days_, callback_at=now)
    v = run(history, now, number="0262201234")
    assert v.allowed and v.codes == ["ALLOWED_SCHEDULED_CALLBACK"]


@pytest.mark.parametrize(("dialled", "department", "now"), [
    ("0612345678", "971", dt.datetime(2026, 11, 28, 2, 0, tzinfo=dt.UTC)),
    ("0612345678", None, dt.datetime(2026, 11, 28, 2, 0, tzinfo=dt.UTC)),
    ("0262201234", None, dt.datetime(2026, 11, 27, 21, 30, tzinfo=dt.UTC)),
    ("+80012345678", None, dt.datetime(2026, 11, 27, 23, 30, tzinfo=dt.UTC)),
])
def test_consumer_today_is_the_day_decide_counts(dialled, department, now):
    # The gate records the attempt on consumer_today's day: it must be the day the cap used.
    four = (dt.date(2026, 11, 26),) * 4
    history = ContactHistory(consents=CONSENTED.consents, attempt_days=four)
    v = run(history, now, number=dialled, department=department)
    [cap] = [r for r in v.reasons if r.code.value == "FREQUENCY_CAP"]
    e164, day = consumer_today(CallRequest(dialled, "t", department=department), now, RULES)
    assert cap.inputs["window"].endswith("/" + day.isoformat())
    assert e164 == v.number.e164


def test_without_the_store_a_service_calls_number_is_checked_against_the_tables_only():
    # Fail closed for prospecting; a known service call goes out, its inventory check (R-F2)
    # being only a warning since the inventory could not be read.
    service = Campaign("s", "acme", Purpose.SERVICE, DialMode.MANUAL, "0162123456")
    v = run(camp=service, store_error="down", inventory=())
    assert v.allowed
    [warning] = [r for r in v.reasons if r.code.value == "CALLER_ID_NOT_AUTHORISED"]
    assert warning.resolved_effect.value == "warn"
    assert warning.inputs == {"caller_id": "+33162123456", "mode": "manual",
                              "detail": "inventaire illisible"}
    forbidden = Campaign("s", "acme", Purpose.SERVICE, DialMode.MANUAL, "0899123456")
    assert not run(camp=forbidden, store_error="down", inventory=()).allowed


def test_when_no_rewrite_is_possible_both_numbers_say_why():
    # R-F2/R-F4: the phone asks for a held but non-NPV 01 number on a predictive campaign
    # (NPV_REQUIRED); the campaign's own NPV number is not held (CALLER_ID_NOT_AUTHORISED):
    # refused, and the evidence names each reason once.
    camp = campaign(mode=DialMode.PREDICTIVE, caller_id="0162999999")
    held = (CallerIdRecord("+33145678901", "acme", dt.date(2020, 1, 1), None),)
    v = decide(CallRequest("0612345678", "t", caller_id="0145678901"),
               Facts(camp, "t", history=CONSENTED, inventory=held), NOW, RULES)
    assert not v.allowed and v.caller_id == "+33145678901"
    assert v.codes == ["NPV_REQUIRED", "CALLER_ID_NOT_AUTHORISED"]
    assert [r.code.value for r in v.reasons] == v.codes
