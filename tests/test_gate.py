"""The one decision path against the real PostgreSQL: classification, evidence, fail closed,
and the spool that keeps decisions while the database is away."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from astguard.clock import PinnedClock
from astguard.app.gate import Gate
from astguard.policy import CallRequest, DialMode, RuleSettings
from astguard.settings import DEFAULT_EMERGENCY
from astguard.store.database import Database
from astguard.store.directory import Directory
from astguard.store.evidence import EvidenceStore, Outcome
from astguard.store.spool import Spool
from tests.conftest import ROLES, role_database, UNREACHABLE_DB, give_consent, hold_number

pytestmark = pytest.mark.db

RULES = RuleSettings(emergency_numbers=frozenset(DEFAULT_EMERGENCY))
OPEN = dt.datetime(2026, 11, 27, 10, 0, tzinfo=dt.UTC)


@pytest.fixture(params=ROLES)
async def db(request, database_url):
    """Every test here runs as the owner and as the service's least-privileged role (0008)."""
    async with role_database(database_url, request.param) as database:
        yield database


def make_gate(db: Database, spool_dir: Path, when: dt.datetime = OPEN) -> Gate:
    return Gate(db=db, directory=Directory(db), spool=Spool(spool_dir), clock=PinnedClock(when), rules=RULES, node="test")


@pytest.fixture
async def directory(db: Database) -> Directory:
    await give_consent(db, "gate-acme", "+33612345678")
    d = Directory(db)
    await d.add_principal("gate-acme", "ACME")
    await hold_number(db, "gate-acme")
    await hold_number(db, "gate-acme", "+33162123457")
    await hold_number(db, "gate-acme", "+33145678901")  # the service campaign's (R-F2)
    await d.add_principal("gate-acme", "ACME")
    await d.set_campaign("gate-prospect", "gate-acme", "prospecting", "manual", "0162123456",
                         scope="energie")
    await d.set_campaign("gate-service", "gate-acme", "service", "manual", "0145678901")
    await d.set_campaign("gate-other", "gate-acme", "prospecting", "predictive", "0162123457",
                         scope="energie")
    await d.set_endpoint("gate-agent", "gate-prospect", ["gate-service"], "Alice")
    await d.set_endpoint("gate-bare", None, [], None)
    return d


async def test_live_decision_is_recorded(db, directory, spool_dir):
    gate = make_gate(db, spool_dir)
    decided = await gate.check(CallRequest("0612345678", "ari", endpoint="gate-agent"),
                               record=True)
    assert decided.verdict.allowed and decided.recorded and not decided.spooled
    row = await EvidenceStore(db).get(decided.decision_id)
    assert row["campaign"] == "gate-prospect" and row["endpoint"] == "gate-agent"
    assert row["classification"] == "campagne par défaut du poste gate-agent"
    assert row["counts_as_attempt"] is True and row["caller_id"] == "+33162123456"


async def test_dry_run_records_nothing(db, directory, spool_dir):
    gate = make_gate(db, spool_dir)
    decided = await gate.check(CallRequest("0612345678", "cli", endpoint="gate-agent"),
                               record=False)
    assert decided.verdict.allowed and not decided.recorded
    assert await EvidenceStore(db).get(decided.decision_id) is None


@pytest.mark.parametrize(
    ("endpoint", "override", "campaign", "how"),
    [
        ("gate-agent", None, "gate-prospect", "par défaut du poste gate-agent"),
        ("gate-agent", "gate-service", "gate-service", "gate-service demandée"),
        ("gate-agent", "gate-other", None, "non autorisée pour le poste gate-agent"),
        ("gate-bare", None, None, "aucune campagne par défaut pour le poste gate-bare"),
        (None, "gate-other", "gate-other", "gate-other demandée"),  # a dialer's Local channel
        (None, None, None, "aucun poste ni campagne"),
        ("unknown-ep", "nope", None, "poste unknown-ep inconnu"),
        ("unknown-ep", "gate-service", None, "poste unknown-ep inconnu"),
        ("gate-agent", "bad name!", None, "illisible"),
    ],
)
async def test_classification(db, directory, endpoint, override, campaign, how):
    found = await directory.classify(endpoint, override)
    assert (found.campaign.name if found.campaign else None) == campaign
    assert how in found.how


async def test_an_unregistered_phone_cannot_relabel_prospecting_as_service(
        db, directory, spool_dir):
    # Saturday: a service call would go out, prospecting may not (R-D1). A phone astguard does
    # not know names the service campaign: refused unclassified, hours checked too (R-A).
    gate = make_gate(db, spool_dir, dt.datetime(2026, 11, 28, 10, 0, tzinfo=dt.UTC))
    relabelled = CallRequest("0612345678", "ari", endpoint="forgotten-phone",
                             campaign_name="gate-service")
    decided = await gate.check(relabelled, record=True)
    assert not decided.verdict.allowed
    assert decided.verdict.codes[0] == "PURPOSE_UNCLASSIFIED"
    row = await EvidenceStore(db).get(decided.decision_id)
    assert row["campaign"] is None and row["decision"] == "deny"
    assert "poste forgotten-phone inconnu" in row["classification"]
    # The same campaign named by a registered endpoint that may use it, or by a dialer's
    # channel (no endpoint), is honoured.
    for call in (CallRequest("0612345678", "ari", endpoint="gate-agent",
                             campaign_name="gate-service"),
                 CallRequest("0612345678", "ari", campaign_name="gate-service")):
        honoured = await gate.check(call, record=False)
        assert honoured.verdict.allowed, call
        assert honoured.verdict.codes == ["OUT_OF_SCOPE_SERVICE_CALL"]


async def test_dial_mode_override_can_only_make_a_call_more_automated(db, directory, spool_dir):
    gate = make_gate(db, spool_dir)
    up = await gate.check(CallRequest("0612345678", "ari", endpoint="gate-agent",
                                      dial_mode=DialMode.PREDICTIVE), record=False)
    assert up.verdict.campaign.dial_mode is DialMode.PREDICTIVE
    down = await gate.check(CallRequest("0612345678", "ari", campaign_name="gate-other",
                                        dial_mode=DialMode.MANUAL), record=False)
    assert down.verdict.campaign.dial_mode is DialMode.PREDICTIVE


async def test_database_down_fails_closed_and_spools(db, directory, spool_dir):
    live = make_gate(db, spool_dir)
    # Learn the endpoints' campaigns while the database answers.
    await live.check(CallRequest("0612345678", "ari", endpoint="gate-agent"), record=False)
    await live.check(CallRequest("0612345678", "ari", endpoint="gate-agent",
                                 campaign_name="gate-service"), record=False)
    down_db = Database(UNREACHABLE_DB, timeout=1.0)
    down = Gate(db=down_db, directory=Directory(down_db), spool=Spool(spool_dir), clock=PinnedClock(OPEN), rules=RULES, node="test")
    down._known = live._known  # the same process, the database gone

    prospect = await down.check(CallRequest("0612345678", "ari", endpoint="gate-agent"),
                                record=True)
    assert prospect.verdict.codes == ["GUARD_UNAVAILABLE"] and prospect.spooled
    assert prospect.verdict.hangup_cause == 34
    service = await down.check(CallRequest("0612345678", "ari", endpoint="gate-agent",
                                           campaign_name="gate-service"), record=True)
    assert service.verdict.allowed and service.spooled
    emergency = await down.check(CallRequest("112", "ari", endpoint="gate-agent"), record=True)
    assert emergency.verdict.allowed and emergency.verdict.emergency
    unknown = await down.check(CallRequest("0612345678", "ari", endpoint="never-seen"),
                               record=True)
    assert unknown.verdict.codes == ["GUARD_UNAVAILABLE"]
    await down.outcome(service.decision_id, Outcome(True, "ANSWER", 16, None, 3.0, OPEN))
    await down_db.close()

    spool = Spool(spool_dir)
    assert spool.depth() == 5
    assert await spool.flush(db) == 5
    assert spool.depth() == 0
    evidence = EvidenceStore(db)
    row = await evidence.get(prospect.decision_id)
    assert row["reason_codes"] == ["GUARD_UNAVAILABLE"] and row["spooled"] is True
    assert "PostgreSQL injoignable" in row["reasons"][0]["text"]
    served = await evidence.get(service.decision_id)
    assert served["answered"] is True and served["classification"].startswith("campagne connue")
    assert await evidence.get(unknown.decision_id) is not None
    assert await spool.flush(db) == 0  # nothing left, nothing written twice


async def test_database_lost_between_classification_and_decision_fails_closed(
        db, directory, spool_dir, monkeypatch):
    import asyncpg

    import astguard.app.gate

    async def connection_lost(*args, **kwargs):
        raise asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed")

    monkeypatch.setattr(astguard.app.gate, "load_history", connection_lost)
    gate = make_gate(db, spool_dir)
    decided = await gate.check(CallRequest("0612345678", "ari", endpoint="gate-agent"),
                               record=True)
    assert decided.verdict.codes == ["GUARD_UNAVAILABLE"] and decided.spooled
    line = json.loads((spool_dir / "evidence.jsonl").read_text().splitlines()[0])
    assert line["row"]["decision"] == "deny"
    assert line["row"]["campaign"] == "gate-prospect"  # classified before the loss


async def test_outcome_before_its_spooled_decision_is_kept_in_order(db, directory, spool_dir):
    gate = make_gate(db, spool_dir)
    spool = Spool(spool_dir)
    decided = await gate.check(CallRequest("0612345678", "ari", endpoint="gate-agent"),
                               record=False)
    from astguard.store.evidence import evidence_row
    row = evidence_row(decided.decision_id, decided.verdict,
                       CallRequest("0612345678", "ari"), classification="t", clock_mode="pinned",
                       node="t")
    await spool.append("decision", row)  # still waiting in the spool
    await gate.outcome(decided.decision_id, Outcome(False, "NOANSWER", 19, None, None, OPEN))
    assert spool.depth() == 2  # the outcome waits behind its decision
    await spool.flush(db)
    got = await EvidenceStore(db).get(decided.decision_id)
    assert got["dial_status"] == "NOANSWER" and got["answered"] is False


async def test_unreadable_spool_lines_are_kept_not_lost(db, spool_dir):
    spool = Spool(spool_dir)
    spool.prepare()
    (spool_dir / "evidence.jsonl").write_text('{"kind": "decision", "row": \n{broken\n')
    assert await spool.flush(db) == 0
    rejected = list((spool_dir / "rejected").iterdir())
    assert len(rejected) == 1 and "{broken" in rejected[0].read_text()


async def test_a_deactivated_campaign_is_not_used_from_the_cache_in_an_outage(
        db, directory, spool_dir):
    # Issue 14: the cache of campaigns known before an outage must not keep one that was
    # deactivated since (a service call would otherwise go out under it).
    live = make_gate(db, spool_dir)
    call = CallRequest("0612345678", "ari", endpoint="gate-agent", campaign_name="gate-service")
    assert (await live.check(call, record=False)).verdict.allowed
    await directory.set_campaign("gate-service", "gate-acme", "service", "manual",
                                 "0145678901", active=False)
    try:
        seen = await live.check(call, record=False)
        assert seen.verdict.codes == ["PURPOSE_UNCLASSIFIED"]
        down_db = Database(UNREACHABLE_DB, timeout=1.0)
        down = Gate(db=down_db, directory=Directory(down_db), spool=Spool(spool_dir),
                    clock=PinnedClock(OPEN), rules=RULES, node="test")
        down._known = live._known
        during = await down.check(call, record=False)
        await down_db.close()
        assert not during.verdict.allowed and during.verdict.codes == ["GUARD_UNAVAILABLE"]
    finally:
        await directory.set_campaign("gate-service", "gate-acme", "service", "manual",
                                     "0145678901")
