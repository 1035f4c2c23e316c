"""R-B1 to R-B6 and R-C1/R-C2 at exact instants, with several records, through `decide`."""

from __future__ import annotations

import datetime as dt

import pytest

from astguard.policy import CallRequest, Campaign, DialMode, Facts, Purpose, RuleSettings, decide
from astguard.policy.model import BloctelScrub, Block, ContactHistory, ContractRecord
from astguard.settings import DEFAULT_EMERGENCY
from tests.policy.facts import INVENTORY, consent

RULES = RuleSettings(emergency_numbers=frozenset(DEFAULT_EMERGENCY))
NOW = dt.datetime(2026, 11, 27, 10, 0)  # naive UTC for consent(): Friday 11:00 Paris
NOW_UTC = NOW.replace(tzinfo=dt.UTC)
TODAY = dt.date(2026, 11, 27)
JULY = dt.datetime(2026, 7, 28, 9, 0, tzinfo=dt.UTC)  # Tuesday 11:00 Paris, Bloctel regime
JULY_DAY = dt.date(2026, 7, 28)
S = dt.timedelta(seconds=1)
CAMPAIGN = Campaign("c", "acme", Purpose.PROSPECTING, DialMode.MANUAL, "+33162123456",
                    scope="energie")


def run(history: ContactHistory, when: dt.datetime = NOW_UTC, campaign: Campaign = CAMPAIGN):
    return decide(CallRequest("0145678901", "t"),
                  Facts(campaign, "t", history=history, inventory=INVENTORY), when, RULES)


def consents(*records) -> ContactHistory:
    return ContactHistory(consents=records)


# -- R-B2: collected_at <= now < valid_until, not withdrawn ------------------------------------
def test_a_consent_collected_at_the_calls_instant_is_valid():
    assert run(consents(consent(collected=NOW))).allowed


def test_a_consent_collected_just_after_the_call_is_not_there_yet():
    v = run(consents(consent(collected=NOW + S, cid=7)))
    assert v.codes == ["NO_CONSENT"]
    assert v.reasons[0].inputs == {"consent_id": 7, "proof_ref": "p7",
                                   "collected_at": "2026-11-27T10:00:01+00:00"}


def test_a_consent_withdrawn_at_the_calls_instant_is_withdrawn():
    v = run(consents(consent(withdrawn=NOW, cid=3)))
    assert v.codes == ["CONSENT_WITHDRAWN"]
    assert v.reasons[0].inputs == {"consent_id": 3, "proof_ref": "p3",
                                   "withdrawn_at": "2026-11-27T10:00:00+00:00"}


def test_a_withdrawal_after_the_call_does_not_reach_back():
    assert run(consents(consent(withdrawn=NOW + S))).allowed


def test_a_consent_valid_until_the_calls_instant_has_expired():
    v = run(consents(consent(until=NOW, cid=4)))
    assert v.codes == ["CONSENT_EXPIRED"]
    assert v.reasons[0].inputs == {"consent_id": 4, "proof_ref": "p4",
                                   "valid_until": "2026-11-27T10:00:00+00:00"}
    assert run(consents(consent(until=NOW + S))).allowed


def test_scope_mismatch_says_both_scopes():
    v = run(consents(consent(scopes=("telecom", "assurance"), cid=5)))
    assert v.codes == ["CONSENT_SCOPE_MISMATCH"]
    assert v.reasons[0].inputs == {"consent_id": 5, "proof_ref": "p5", "scope": "energie",
                                   "consent_scopes": ["assurance", "telecom"]}


def test_no_consent_at_all():
    v = run(ContactHistory())
    assert v.codes == ["NO_CONSENT"] and v.reasons[0].inputs == {}


def test_consents_of_other_principals_only():
    v = run(consents(consent("initech", cid=1), consent("globex", cid=2), consent("globex", cid=3)))
    assert v.codes == ["CONSENT_WRONG_PRINCIPAL"]
    assert v.reasons[0].inputs == {"principals": ["globex", "initech"]}


# -- Several records -----------------------------------------------------------------------------
def test_another_principals_valid_consent_listed_first_does_not_count():
    mine_expired = consent(until=dt.datetime(2026, 1, 1), collected=dt.datetime(2025, 1, 1), cid=2)
    v = run(consents(consent("globex", cid=1), mine_expired))
    assert v.codes == ["CONSENT_EXPIRED"] and v.reasons[0].inputs["consent_id"] == 2
    assert run(consents(consent("globex", cid=1), mine_expired, consent(cid=3))).allowed


@pytest.mark.parametrize("order", [(0, 1), (1, 0)])
def test_the_latest_consents_failure_is_reported(order):
    older = consent(collected=dt.datetime(2024, 1, 1), until=dt.datetime(2025, 1, 1), cid=1)
    newer = consent(collected=dt.datetime(2025, 6, 1), withdrawn=dt.datetime(2026, 3, 1), cid=2)
    pair = (older, newer)
    v = run(consents(*(pair[i] for i in order)))
    assert v.codes == ["CONSENT_WITHDRAWN"] and v.reasons[0].inputs["consent_id"] == 2


def test_a_valid_consent_after_failing_ones_is_enough():
    failing = (consent(withdrawn=dt.datetime(2026, 2, 1), cid=1), consent(scopes=("x",), cid=2),
               consent(until=dt.datetime(2026, 2, 1), cid=3))
    assert run(consents(*failing, consent(cid=4))).allowed


# -- R-B3: consent and opposition at the same instant ------------------------------------------
def test_a_consent_collected_at_the_oppositions_instant_does_not_lift_it():
    at = dt.datetime(2026, 10, 1, 9, 0)
    opposition = Block("opposition", dt.date(2026, 10, 1), None, at.replace(tzinfo=dt.UTC))
    same = ContactHistory(blocks=(opposition,), consents=(consent(collected=at),))
    assert run(same).codes == ["CONSUMER_OPPOSED"]
    newer = ContactHistory(blocks=(opposition,), consents=(consent(collected=at + S),))
    assert run(newer).allowed


# -- R-B4: a current contract, by the consumer's local day -------------------------------------
def contract(principal="acme", start=dt.date(2025, 1, 1), end=None, scopes=("energie",),
             ref="K") -> ContractRecord:
    return ContractRecord(principal, frozenset(scopes), start, end, ref)


@pytest.mark.parametrize(("start", "end", "current"), [
    (TODAY, None, True),  # starts today
    (TODAY + dt.timedelta(days=1), None, False),  # starts tomorrow
    (dt.date(2025, 1, 1), TODAY, True),  # its last day is today
    (dt.date(2025, 1, 1), TODAY - dt.timedelta(days=1), False),  # ended yesterday
])
def test_contract_edges(start, end, current):
    v = run(ContactHistory(contracts=(contract(start=start, end=end),)))
    assert v.allowed is current
    assert v.codes == ([] if current else ["NO_CONSENT"])


def test_a_contract_with_another_principal_listed_before_the_valid_one():
    assert run(ContactHistory(contracts=(contract("globex", ref="G"), contract()))).allowed
    assert run(ContactHistory(contracts=(contract("globex", ref="G"),))).codes == ["NO_CONSENT"]


def test_a_contract_covering_other_goods_listed_before_the_related_one():
    # R-B4: the call must relate to the contract's object (or related goods it lists).
    both = (contract(scopes=("telecom",), ref="T"), contract(scopes=("assurance", "energie")))
    assert run(ContactHistory(contracts=both)).allowed
    assert run(ContactHistory(contracts=both[:1])).codes == ["NO_CONSENT"]


# -- R-B6: sector bans, and the sectors that are not banned -------------------------------------
@pytest.mark.parametrize("sector", ["renovation-energetique", "energie-renouvelable",
                                    "adaptation-logement", "cpf"])
def test_the_four_banned_sectors(sector):
    banned = Campaign("b", "acme", Purpose.PROSPECTING, DialMode.MANUAL, "+33162123456",
                      scope="energie", sector=sector)
    v = run(consents(consent()), campaign=banned)
    assert v.codes == ["SECTOR_BAN"] and v.reasons[0].inputs == {"sector": sector}


@pytest.mark.parametrize("sector", ["assurance", "telecom", "renovation", "energie", "CPF2"])
def test_other_sectors_are_not_banned(sector):
    other = Campaign("o", "acme", Purpose.PROSPECTING, DialMode.MANUAL, "+33162123456",
                     scope="energie", sector=sector)
    assert run(consents(consent()), campaign=other).allowed


# -- R-C1/R-C2: the Bloctel scrub's age, by the consumer's local day -----------------------------
@pytest.mark.parametrize(("days_old", "stale"), [(0, False), (29, False), (30, False), (31, True)])
def test_scrub_age(days_old, stale):
    # R-C2: "older than 30 days" is stale; exactly 30 days old is still valid.
    scrubbed = JULY_DAY - dt.timedelta(days=days_old)
    v = run(ContactHistory(bloctel=BloctelScrub(scrubbed, listed=False)), JULY)
    assert v.codes == (["BLOCTEL_SCRUB_STALE"] if stale else [])
    if stale:
        assert v.reasons[0].inputs == {"scrubbed_on": scrubbed.isoformat()}


def test_never_scrubbed_and_listed_evidence():
    v = run(ContactHistory(), JULY)
    assert v.codes == ["BLOCTEL_SCRUB_STALE"] and v.reasons[0].inputs == {"scrubbed_on": None}
    v = run(ContactHistory(bloctel=BloctelScrub(dt.date(2026, 7, 1), listed=True)), JULY)
    assert v.codes == ["BLOCTEL_LISTED"] and v.reasons[0].inputs == {"scrubbed_on": "2026-07-01"}


def test_bloctel_contract_exception_edges():
    # R-C1: a current contract with the principal related to the call; not another's.
    listed = BloctelScrub(dt.date(2026, 7, 1), listed=True)
    assert run(ContactHistory(bloctel=listed, contracts=(contract(start=JULY_DAY),)), JULY).allowed
    assert run(ContactHistory(bloctel=listed, contracts=(contract("globex"),)), JULY).codes \
        == ["BLOCTEL_LISTED"]
    ended = contract(end=JULY_DAY - dt.timedelta(days=1))
    assert run(ContactHistory(bloctel=None, contracts=(ended,)), JULY).codes \
        == ["BLOCTEL_SCRUB_STALE"]


def test_an_ended_contract_listed_before_the_current_one():
    ended = contract(end=TODAY - dt.timedelta(days=1), ref="OLD")
    assert run(ContactHistory(contracts=(ended, contract()))).allowed
    future = contract(start=TODAY + dt.timedelta(days=1), ref="NEXT")
    assert run(ContactHistory(contracts=(future, contract()))).allowed


def test_a_campaign_without_a_scope_says_so():
    # R-B2 (2026-11-26): matched by no consent, whatever consents there are.
    no_scope = Campaign("c", "acme", Purpose.PROSPECTING, DialMode.MANUAL, "+33162123456")
    detail = {"scope": None,
              "detail": "campagne sans périmètre : aucun consentement ni contrat ne la couvre"}
    v = run(consents(consent()), campaign=no_scope)
    assert v.codes == ["CONSENT_SCOPE_MISMATCH"] and v.reasons[0].inputs == detail
    v = run(ContactHistory(), campaign=no_scope)
    assert v.codes == ["NO_CONSENT", "CONSENT_SCOPE_MISMATCH"]
    assert [r.inputs for r in v.reasons] == [{}, detail]
