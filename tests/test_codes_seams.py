"""Agents' codes at the seams (issue 11): a code after a service call is about that call's
consumer; a code on a decision still waiting in the spool waits behind it."""
from __future__ import annotations

import datetime as dt

import pytest

from astguard.clock import PinnedClock
from astguard.app.contacts import CodeSpooled, ContactService
from astguard.errors import InputError
from astguard.app.gate import Gate
from astguard.policy import CallRequest, RuleSettings
from astguard.settings import DEFAULT_EMERGENCY
from astguard.store.database import Database
from astguard.store.directory import Directory
from astguard.store.spool import Spool
from tests.conftest import give_consent, hold_number

pytestmark = pytest.mark.db

RULES = RuleSettings(emergency_numbers=frozenset(DEFAULT_EMERGENCY))
FRIDAY = dt.datetime(2026, 11, 27, 10, 0, tzinfo=dt.UTC)  # 11:00 Paris


async def _setup(db, tag):
    d = Directory(db)
    await d.add_principal(f"{tag}-acme", "ACME")
    await hold_number(db, f"{tag}-acme")
    await d.set_campaign(f"{tag}-prospect", f"{tag}-acme", "prospecting", "manual",
                         "0162123456", scope="energie")
    await d.set_campaign(f"{tag}-service", f"{tag}-acme", "service", "manual", "0162123456")
    await d.set_endpoint(f"{tag}-agent", f"{tag}-prospect", [f"{tag}-service"], "Alice")
    return d


async def test_short_code_after_a_service_call_is_not_put_on_an_older_consumer(db, spool_dir):
    d = await _setup(db, "r2a")
    await give_consent(db, "r2a-acme", "+33612398001")
    gate = Gate(db=db, directory=d, spool=Spool(spool_dir / "g"), clock=PinnedClock(FRIDAY),
                rules=RULES, node="r2")
    first = await gate.check(CallRequest("0612398001", "ari", endpoint="r2a-agent"),
                             record=True)  # prospecting, consumer A
    assert first.verdict.allowed
    later = PinnedClock(FRIDAY + dt.timedelta(minutes=30))
    gate2 = Gate(db=db, directory=d, spool=Spool(spool_dir / "g"), clock=later, rules=RULES,
                 node="r2")
    second = await gate2.check(CallRequest("0612398002", "ari", endpoint="r2a-agent",
                                           campaign_name="r2a-service"), record=True)
    assert second.verdict.allowed  # service call, consumer B, the agent's last call
    contacts = ContactService(db, PinnedClock(FRIDAY + dt.timedelta(minutes=35)), RULES)
    recorded = await contacts.record_for_last_call("r2a-agent", "refusal", source="short-code")
    # the dialplan: "*81 ... apply to the last consumer this endpoint was allowed to call"
    assert recorded.number == "+33612398002", (
        f"refusal keyed after the call to B recorded against {recorded.number} (consumer A)")


async def test_in_call_code_on_a_decision_still_in_the_spool_is_not_lost(db, spool_dir):
    d = await _setup(db, "r2b")
    gate_db = Database(db._url, timeout=2.0, cooldown=3600)
    spool = Spool(spool_dir)
    gate = Gate(db=gate_db, directory=Directory(gate_db), spool=spool,
                clock=PinnedClock(FRIDAY), rules=RULES, node="r2")
    call = CallRequest("0612398003", "ari", endpoint="r2b-agent", campaign_name="r2b-service")
    assert (await gate.check(call, record=True)).verdict.allowed  # classification cached
    gate_db._trip(OSError("blip"))  # PostgreSQL away for this decision only
    decided = await gate.check(call, record=True)
    assert decided.verdict.allowed and decided.spooled  # service call goes on, spooled
    # PostgreSQL is back (the flusher has not run yet); the consumer objects during the call
    contacts = ContactService(db, PinnedClock(FRIDAY + dt.timedelta(minutes=2)), RULES,
                              spool=spool)
    try:
        result = await contacts.record_for_decision(decided.decision_id, "opposition",
                                                    source="dtmf")
    except InputError as exc:
        pytest.fail(f"in-call opposition lost (not recorded, not spooled): {exc}")
    finally:
        await gate_db.close()
    assert isinstance(result, CodeSpooled) or result.new
