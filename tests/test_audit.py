"""Tamper evidence in the real PostgreSQL: every evidence record gets a link in one hash chain;
`astguard audit verify` finds a record altered, deleted or slipped in behind the triggers' back
(as someone with the tables' owner rights would) and names it."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from astguard.clock import PinnedClock
from astguard.app.contacts import ContactService
from astguard.app.gate import Gate
from astguard.policy import CallRequest, RuleSettings
from astguard.settings import DEFAULT_EMERGENCY
from astguard.store import audit
from astguard.store.database import Database
from astguard.store.directory import Directory
from astguard.store.evidence import Outcome
from astguard.store.inbound import InboundStore
from astguard.store.spool import Spool
from lab.database import fresh_database, scoped
from tests.conftest import PG_SERVER, as_service, give_consent, hold_number

pytestmark = pytest.mark.db

RULES = RuleSettings(emergency_numbers=frozenset(DEFAULT_EMERGENCY))
NAME = "astguard_test_audit"
FRIDAY = dt.datetime(2026, 11, 27, 10, 0, tzinfo=dt.UTC)
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
async def chain_db(tmp_path) -> AsyncIterator[tuple[Database, list[str], Gate]]:
    """A fresh database holding decisions, an outcome, a refusal and an inbound call."""
    url = await fresh_database(PG_SERVER, NAME)
    db = Database(url, timeout=5.0)
    d = Directory(db)
    await d.add_principal("au-acme", "ACME")
    await hold_number(db, "au-acme")
    await d.set_campaign("au-prospect", "au-acme", "prospecting", "manual", "0162123456",
                         scope="energie")
    await d.set_endpoint("au-agent", "au-prospect", [], "Alice")
    await give_consent(db, "au-acme", "+33612000001")
    gate = Gate(db=db, directory=d, spool=Spool(tmp_path), clock=PinnedClock(FRIDAY),
                rules=RULES, node="test")
    ids = []
    for n in ("0612000001", "0612000002", "0612000003"):
        decided = await gate.check(CallRequest(n, "ari", endpoint="au-agent"), record=True)
        ids.append(decided.decision_id)
    await gate.outcome(ids[0], Outcome(True, "ANSWER", 16, "Normal Clearing", 30.0,
                                       FRIDAY + dt.timedelta(minutes=1)))
    await ContactService(db, PinnedClock(FRIDAY), RULES).record_block(
        "refusal", "0612000001", "au-acme", source="agent")
    inbound = InboundStore(db)
    call_id = str(uuid.uuid4())
    await inbound.start_call(call_id, channel_id="c1", did="0170000001", caller="0612000009",
                             at=FRIDAY, mode="announce", prompt="annonce", prompt_sha256="ab",
                             retention_class="qualité", clock_mode="pinned")
    await inbound.event(call_id, "playback_finished", FRIDAY, {"prompt": "annonce"})
    yield db, ids, gate
    await db.close()


async def _tamper(db: Database, table: str, sql: str, *args) -> None:
    """What a person with the owner's rights can do: switch the guards off, change, switch on."""
    async with db.transaction() as conn:
        await conn.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")
        await conn.execute(sql, *args)
        await conn.execute(f"ALTER TABLE {table} ENABLE TRIGGER USER")


async def test_untouched_chain_verifies(chain_db):
    db, ids, _ = chain_db
    result = await audit.verify(db)
    assert result.ok, result.first_break
    assert result.by_kind == {"decision": 3, "outcome": 1, "block": 1, "inbound_call": 1,
                              "inbound_event": 1}
    async with db.connection() as conn:
        seqs = [r["seq"] for r in await conn.fetch("SELECT seq FROM evidence_chain ORDER BY seq")]
    assert seqs == list(range(1, 8)) and result.head_seq == 7


async def test_altered_decision_is_named(chain_db):
    db, ids, _ = chain_db
    await _tamper(db, "decisions", "UPDATE decisions SET decision = 'allow', "
                  "reason_codes = '{}' WHERE id = $1", ids[1])
    result = await audit.verify(db)
    assert not result.ok
    assert result.first_break.ref == ids[1] and result.first_break.kind == "decision"
    assert "modifié" in result.first_break.problem
    assert ids[1] in result.first_break.describe()
    assert result.checked == 1  # the first decision is intact; the second is the first break


async def test_altered_outcome_is_named(chain_db):
    db, ids, _ = chain_db
    await _tamper(db, "decisions", "UPDATE decisions SET duration_s = 3 WHERE id = $1", ids[0])
    result = await audit.verify(db)
    assert (result.first_break.kind, result.first_break.ref) == ("outcome", ids[0])


async def test_deleted_record_and_deleted_link_are_named(chain_db):
    db, ids, _ = chain_db
    async with db.connection() as conn:
        event_id = await conn.fetchval("SELECT id::text FROM inbound_events")
    await _tamper(db, "inbound_events", "DELETE FROM inbound_events")
    result = await audit.verify(db)
    assert (result.first_break.kind, result.first_break.ref) == ("inbound_event", event_id)
    assert "supprimé" in result.first_break.problem


async def test_removed_link_breaks_the_next_one(chain_db):
    db, ids, _ = chain_db
    async with db.connection() as conn:
        seq = await conn.fetchval(
            "SELECT seq FROM evidence_chain WHERE kind = 'decision' AND ref = $1", ids[1])
        follower = await conn.fetchrow("SELECT kind, ref FROM evidence_chain WHERE seq = $1",
                                       seq + 1)
    await _tamper(db, "evidence_chain", "DELETE FROM evidence_chain WHERE seq = $1", seq)
    result = await audit.verify(db)
    assert (result.first_break.kind, result.first_break.ref) == (follower["kind"],
                                                                 follower["ref"])
    assert f"({seq})" in result.first_break.problem


async def test_rewritten_link_is_named(chain_db):
    db, ids, _ = chain_db
    await _tamper(db, "evidence_chain", "UPDATE evidence_chain SET payload_sha256 = "
                  "repeat('a', 64) WHERE ref = $1", ids[2])
    result = await audit.verify(db)
    assert result.first_break.ref == ids[2]


async def test_record_slipped_in_without_a_link_is_named(chain_db):
    db, ids, _ = chain_db
    ghost = str(uuid.uuid4())
    await _tamper(db, "decisions", """INSERT INTO decisions
        SELECT $1::uuid, decided_at, recorded_at, clock_mode, node, source, spooled, channel_id,
               endpoint, agent, dialled, number_e164, emergency, territories, local_times,
               principal, campaign, purpose, dial_mode, classification, caller_id_requested,
               caller_id, 'allow', '{}', '[]', counts_as_attempt, rulebook_version
        FROM decisions WHERE id = $2""", ghost, ids[1])
    result = await audit.verify(db)
    assert (result.first_break.ref, result.first_break.seq) == (ghost, None)
    assert "absent de la chaîne" in result.first_break.problem


async def test_outcome_filled_behind_the_triggers_is_named(chain_db):
    db, ids, _ = chain_db
    await _tamper(db, "decisions", "UPDATE decisions SET outcome_at = $2, answered = true, "
                  "duration_s = 60 WHERE id = $1", ids[1], FRIDAY + dt.timedelta(minutes=2))
    result = await audit.verify(db)
    assert (result.first_break.kind, result.first_break.ref) == ("outcome", ids[1])
    assert "absent de la chaîne" in result.first_break.problem


async def test_refusal_slipped_in_without_a_link_is_named(chain_db):
    db, _, _ = chain_db
    await _tamper(db, "contact_blocks", """INSERT INTO contact_blocks (principal, number_e164,
        kind, recorded_at, local_day, until_day, source)
        VALUES ('au-acme', '+33612000002', 'refusal', $1, '2026-11-27', '2027-01-26', 'x')""",
                  FRIDAY)
    result = await audit.verify(db)
    assert result.first_break.kind == "block" and result.first_break.seq is None


async def test_a_period_checks_only_its_records(chain_db):
    db, ids, _ = chain_db
    await _tamper(db, "decisions", "UPDATE decisions SET node = 'x' WHERE id = $1", ids[1])
    later = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
    assert (await audit.verify(db, later, later + dt.timedelta(days=1))).ok
    assert not (await audit.verify(db, FRIDAY, later)).ok


async def test_concurrent_writers_keep_one_unbroken_chain(chain_db):
    """Decisions from many pooled connections at once: links are numbered without gaps in
    commit order and the chain verifies."""
    db, _, gate = chain_db
    numbers = [f"06130000{i:02d}" for i in range(40)]
    await asyncio.gather(*(gate.check(CallRequest(n, "ari", endpoint="au-agent"), record=True)
                           for n in numbers))
    result = await audit.verify(db)
    assert result.ok and result.by_kind["decision"] == 43
    async with db.connection() as conn:
        seqs = [r["seq"] for r in await conn.fetch("SELECT seq FROM evidence_chain ORDER BY seq")]
    assert seqs == list(range(1, len(seqs) + 1))


async def test_cli_audit_verify_exit_status_and_message(chain_db):
    db, ids, _ = chain_db
    env = {**os.environ, "ASTGUARD_DATABASE_URL": f"{PG_SERVER}/{scoped(NAME)}",
           "PYTHONPATH": str(ROOT / "src")}
    cmd = [sys.executable, "-m", "astguard", "audit", "verify"]
    ok = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0 and "chaîne intacte : 7 maillon(s)" in ok.stdout
    await _tamper(db, "decisions", "UPDATE decisions SET caller_id = '+33600000000' "
                  "WHERE id = $1", ids[2])
    broken = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)
    assert broken.returncode == 1
    assert f"décision {ids[2]}" in broken.stdout and "modifié" in broken.stdout


async def test_cli_audit_verify_expect_catches_a_chain_cut_short(chain_db):
    """A head kept elsewhere (--expect SEQ:HASH): the owner deletes the last record and its
    link behind the triggers' back; the chain left verifies, the kept head does not."""
    db, _, gate = chain_db
    last = await gate.check(CallRequest("0612000009", "ari", endpoint="au-unknown"),
                            record=True)
    seq, digest = await audit.head(db)
    env = {**os.environ, "ASTGUARD_DATABASE_URL": as_service(f"{PG_SERVER}/{scoped(NAME)}"),
           "PYTHONPATH": str(ROOT / "src")}
    cmd = [sys.executable, "-m", "astguard", "audit", "verify"]
    kept = subprocess.run([*cmd, "--expect", f"maillon {seq} {digest}"], env=env,
                          capture_output=True, text=True, timeout=60)  # audit head's line
    assert kept.returncode == 0, kept.stdout + kept.stderr
    assert f"tête conservée présente : maillon {seq} inchangé" in kept.stdout
    await _tamper(db, "decisions", "DELETE FROM decisions WHERE id = $1", last.decision_id)
    await _tamper(db, "evidence_chain", "DELETE FROM evidence_chain WHERE seq = $1", seq)
    assert (await audit.verify(db)).ok  # what is left is consistent...
    cut = subprocess.run([*cmd, "--expect", f"{seq}:{digest}"], env=env, capture_output=True,
                         text=True, timeout=60)
    assert cut.returncode == 1  # ...but the head kept elsewhere is gone
    assert f"TÊTE CONSERVÉE INTROUVABLE : le maillon {seq} conservé comme tête n'est plus " \
           "dans la chaîne" in cut.stdout
    wrong = subprocess.run([*cmd, "--expect", f"{seq - 1}:{'0' * 64}"], env=env,
                           capture_output=True, text=True, timeout=60)
    assert wrong.returncode == 1 and "la chaîne a été réécrite" in wrong.stdout
    bad = subprocess.run([*cmd, "--expect", "douze"], env=env, capture_output=True, text=True,
                         timeout=60)
    assert bad.returncode == 2 and "SEQ:EMPREINTE attendu" in bad.stderr
