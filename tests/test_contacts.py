"""Recording refusals, oppositions, suspensions, consents, outside attempts; the history and the
next callable moment — against the real PostgreSQL, decided through the real gate."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest

from astguard.clock import PinnedClock
from astguard.app.contacts import ContactService
from astguard.errors import InputError
from astguard.app.gate import Gate
from astguard.policy import CallRequest, RuleSettings
from astguard.settings import DEFAULT_EMERGENCY
from astguard.store.directory import Directory
from astguard.store.spool import Spool
from tests.conftest import ROLES, role_database, hold_number

pytestmark = pytest.mark.db

RULES = RuleSettings(emergency_numbers=frozenset(DEFAULT_EMERGENCY))
FRIDAY = dt.datetime(2026, 11, 27, 10, 0, tzinfo=dt.UTC)  # 11:00 Paris
_numbers = itertools.count(100)


@pytest.fixture(params=ROLES)
async def db(request, database_url):
    """Every test here runs as the owner and as the service's least-privileged role (0008)."""
    async with role_database(database_url, request.param) as database:
        yield database


def number() -> tuple[str, str]:
    n = next(_numbers)
    return f"06980{n:05d}", f"+336980{n:05d}"


@pytest.fixture
async def env(db, tmp_path):
    d = Directory(db)
    await d.add_principal("ct-acme", "ACME")
    await d.add_principal("ct-other", "Other")
    campaign = await d.set_campaign("ct-prospect", "ct-acme", "prospecting", "manual",
                                    "0162123456", scope="energie")
    await d.set_endpoint("ct-agent", "ct-prospect", [], "Alice")
    await hold_number(db, "ct-acme")

    def at(when: dt.datetime):
        clock = PinnedClock(when)
        gate = Gate(db=db, directory=d, spool=Spool(tmp_path),
                    clock=clock, rules=RULES, node="t")
        return gate, ContactService(db, clock, RULES)

    return at, campaign


async def consent_for(service: ContactService, e164: str, principal="ct-acme", **kw):
    args = {"scopes": ["energie"], "collected_at": dt.datetime(2026, 1, 5, tzinfo=dt.UTC),
            "channel": "web", "wording": "v3", "proof_ref": f"form-{e164}"}
    args.update(kw)
    return await service.add_consent(principal, e164, **args)


async def call(gate: Gate, national: str):
    return (await gate.check(CallRequest(national, "ari", endpoint="ct-agent"),
                             record=True)).verdict


async def test_refusal_blocks_the_principal_and_withdraws_consent(env):
    at, _ = env
    gate, service = at(FRIDAY)
    national, e164 = number()
    assert await consent_for(service, e164)
    assert (await call(gate, national)).allowed
    recorded = await service.record_for_last_call("ct-agent", "refusal", source="short-code")
    # From 2026-08-11 a refusal is a lasting objection (R-D7, rules-fr 2026-11-26).
    assert recorded.number == e164 and recorded.kind == "opposition" and recorded.until is None
    assert recorded.consents_withdrawn == 1
    verdict = await call(gate, national)
    assert "CONSUMER_OPPOSED" in verdict.codes and "CONSENT_WITHDRAWN" in verdict.codes
    later, _ = at(dt.datetime(2027, 11, 26, 10, 0, tzinfo=dt.UTC))  # a year on: still
    assert "CONSUMER_OPPOSED" in (await call(later, national)).codes


async def test_every_objection_is_kept(env):
    # Two refusals recorded the same way for two consumers: both kept (none lost).
    at, _ = env
    _, service = at(FRIDAY)
    first, second = number(), number()
    for national, _ in (first, second):
        assert (await service.record_block("refusal", national, "ct-acme", source="cli")).new
    gate, _ = at(FRIDAY)
    for national, _ in (first, second):
        assert "CONSUMER_OPPOSED" in (await call(gate, national)).codes


async def test_refusal_before_the_opt_in_date_keeps_60_days(env):
    at, _ = env
    _, service = at(dt.datetime(2026, 7, 1, 9, 0, tzinfo=dt.UTC))
    national, _ = number()
    recorded = await service.record_block("refusal", national, "ct-acme", source="cli")
    assert recorded.kind == "refusal" and recorded.until == dt.date(2026, 8, 30)


async def test_refusal_in_call_names_the_decision(env):
    at, _ = env
    gate, service = at(FRIDAY)
    national, e164 = number()
    await consent_for(service, e164)
    decided = await gate.check(CallRequest(national, "ari", endpoint="ct-agent"), record=True)
    recorded = await service.record_for_decision(decided.decision_id, "opposition",
                                                 source="dtmf")
    assert recorded.kind == "opposition" and recorded.until is None
    verdict = await call(gate, national)
    assert "CONSUMER_OPPOSED" in verdict.codes
    # A newer consent lifts the opposition.
    later_gate, later = at(FRIDAY + dt.timedelta(days=3))
    await consent_for(later, e164, collected_at=FRIDAY + dt.timedelta(days=1),
                      proof_ref="form-again")
    assert (await call(later_gate, national)).allowed


async def test_suspension_for_n_days(env):
    at, _ = env
    gate, service = at(FRIDAY)
    national, e164 = number()
    await consent_for(service, e164)
    recorded = await service.record_block("suspension", national, "ct-acme", days=30,
                                          source="cli")
    assert recorded.until == dt.date(2026, 12, 27)
    assert (await call(gate, national)).codes == ["REFUSAL_COOLDOWN"]
    after, _ = at(dt.datetime(2026, 12, 28, 10, 0, tzinfo=dt.UTC))
    assert (await call(after, national)).allowed


async def test_refusal_for_one_principal_does_not_block_another(env):
    at, _ = env
    _, service = at(FRIDAY)
    national, e164 = number()
    await service.record_block("refusal", national, "ct-other", source="cli")
    gate, _ = at(FRIDAY)
    await consent_for(service, e164)
    assert (await call(gate, national)).allowed


@pytest.mark.parametrize(
    ("kind", "days", "message"),
    [("nope", None, "type inconnu"), ("suspension", None, "durée"),
     ("suspension", 0, "durée"), ("refusal", None, "invalide")],
)
async def test_bad_block_input(env, kind, days, message):
    at, _ = env
    _, service = at(FRIDAY)
    target = "0612" if message == "invalide" else "0698012345"
    with pytest.raises(InputError, match=message):
        await service.record_block(kind, target, "ct-acme", days=days, source="cli")


async def test_after_call_code_without_a_recent_call(env):
    at, _ = env
    _, service = at(FRIDAY)
    with pytest.raises(InputError, match="aucun appel récent"):
        await service.record_for_last_call("nobody-ep", "refusal", source="short-code")


async def test_external_attempts_count_and_reimport_is_harmless(env):
    at, _ = env
    gate, service = at(FRIDAY)
    national, e164 = number()
    await consent_for(service, e164)
    for i, day in enumerate((2, 3, 4, 5)):
        when = dt.datetime(2026, 11, day, 15, 0, tzinfo=dt.UTC)
        assert await service.record_external_attempt("ct-acme", national, when, f"sub-{e164}-{i}")
        assert not await service.record_external_attempt("ct-acme", national, when,
                                                          f"sub-{e164}-{i}")
    assert (await call(gate, national)).codes == ["FREQUENCY_CAP"]


async def test_history_and_next_callable_moment(env):
    at, campaign = env
    gate, service = at(FRIDAY)
    national, e164 = number()
    await consent_for(service, e164)
    for day in (23, 24, 25, 26):  # four attempts this week through the PBX
        day_gate, _ = at(dt.datetime(2026, 11, day, 10, 0, tzinfo=dt.UTC))
        assert (await call(day_gate, national)).allowed
    typed = await service.history(national, campaign)
    assert [p.principal for p in typed.principals] == ["ct-acme"]
    assert typed.principals[0].attempts_in_window == 4
    history = typed.as_dict()  # the API's shape
    mine = history["principals"]["ct-acme"]
    assert mine["attempts_last_30_days"] == 4
    assert [a["local_day"] for a in mine["attempts"]] == [
        "2026-11-23", "2026-11-24", "2026-11-25", "2026-11-26"]
    assert mine["consents"][0]["state"] == "valable"
    # 23 Nov leaves the window on 23 Dec: the first opening that day, 10:00 Paris.
    assert history["next_callable"]["at"] == "2026-12-23T09:00:00+00:00"
    assert history["next_callable"]["reasons_now"] == ["FREQUENCY_CAP"]


async def test_next_callable_after_a_refusal_is_day_61(db, env):
    at, campaign = env
    # A press campaign needs no consent (R-B5), so only the refusal's delay speaks. Before
    # 2026-08-11 (the Bloctel regime, where the press is not scrubbed either).
    press = await Directory(db).set_campaign("ct-press", "ct-acme", "prospecting", "manual",
                                             "0162123456", scope="journal", press=True)
    _, service = at(dt.datetime(2026, 4, 2, 9, 0, tzinfo=dt.UTC))  # Thursday 2 April
    national, e164 = number()
    await service.record_block("refusal", national, "ct-acme", source="cli")
    history = (await service.history(national, press)).as_dict()
    # Day 60 is Monday 1 June; day 61 is Tuesday 2 June, 10:00 Paris.
    assert history["principals"]["ct-acme"]["blocks"][0]["until"] == "2026-06-01"
    assert history["next_callable"]["at"] == "2026-06-02T08:00:00+00:00"


async def test_no_next_callable_after_an_objection(db, env):
    at, campaign = env
    press = await Directory(db).set_campaign("ct-press", "ct-acme", "prospecting", "manual",
                                             "0162123456", scope="journal", press=True)
    _, service = at(dt.datetime(2026, 10, 23, 10, 0, tzinfo=dt.UTC))  # Friday 23 Oct
    national, e164 = number()
    await consent_for(service, e164)
    await service.record_block("refusal", national, "ct-acme", source="cli")
    # An objection blocks the press exception too, until a newer consent (rules-fr R-D7).
    history = (await service.history(national, press)).as_dict()
    assert history["principals"]["ct-acme"]["blocks"][0]["kind"] == "opposition"
    assert history["next_callable"]["at"] is None
    assert history["next_callable"]["reasons_now"] == ["CONSUMER_OPPOSED"]
    typed = await service.history(national, campaign)
    assert typed.next_callable is not None and typed.next_callable.at is None
    history = typed.as_dict()
    assert history["next_callable"]["at"] is None
    assert history["next_callable"]["reasons_now"] == ["CONSUMER_OPPOSED", "CONSENT_WITHDRAWN"]


async def test_next_callable_none_without_consent(env):
    at, campaign = env
    _, service = at(FRIDAY)
    national, _ = number()
    history = (await service.history(national, campaign)).as_dict()
    assert history["next_callable"]["at"] is None
    assert history["next_callable"]["reasons_now"] == ["NO_CONSENT"]


async def test_consent_rules_and_withdrawal(env):
    at, _ = env
    gate, service = at(FRIDAY)
    national, e164 = number()
    with pytest.raises(InputError, match="preuve"):
        await consent_for(service, e164, proof_ref="")
    with pytest.raises(InputError, match="fuseau"):
        await consent_for(service, e164, collected_at=dt.datetime(2026, 1, 5))
    assert await consent_for(service, e164)
    assert not await consent_for(service, e164)  # the same consent twice: harmless
    assert (await call(gate, national)).allowed
    assert await service.withdraw_consent("ct-acme", national) == 1
    assert (await call(gate, national)).codes == ["CONSENT_WITHDRAWN"]


async def test_default_consent_validity_is_one_year(env):
    at, _ = env
    national, e164 = number()
    _, service = at(FRIDAY)
    await consent_for(service, e164, collected_at=dt.datetime(2025, 11, 27, 9, 0, tzinfo=dt.UTC))
    gate, _ = at(FRIDAY)
    assert (await call(gate, national)).codes == ["CONSENT_EXPIRED"]  # 365 days passed
    earlier, _ = at(dt.datetime(2026, 11, 27, 8, 59, tzinfo=dt.UTC))
    assert (await call(earlier, national)).codes == ["OUTSIDE_CALL_WINDOW"]  # still valid


async def test_linked_numbers_add_up(env):
    at, _ = env
    gate, service = at(FRIDAY)
    a_nat, a = number()
    b_nat, b = number()
    await consent_for(service, a)
    await consent_for(service, b)
    await service.link_numbers([a_nat, b_nat])
    await service.record_block("refusal", a_nat, "ct-acme", source="cli")
    assert "CONSUMER_OPPOSED" in (await call(gate, b_nat)).codes
