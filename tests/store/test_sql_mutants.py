"""Targeted mutants of the SQL that counts attempts and finds blocks (issue 16, item 3).

The function astguard_contact_facts (migration 0003, or whichever migration last replaced it)
reads, in one round trip, everything the cap (R-D6), refusals and oppositions (R-D7, R-B3),
consents (R-B), Bloctel scrubs (R-C) and call-backs (R-D5) depend on. Mutation testing of the
Python policy cannot see it, so each mutation below is applied to the function's live
definition in a scratch database (CREATE OR REPLACE inside a transaction that is rolled back),
and at least one of the cases must then fail. The cases also pass on the real function.

Cases go through `load_history` and the pure `decide`, as the gate does, and name their rule;
a few call the function at its contract (attempts from p_since inclusive).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable, Iterator

import asyncpg
import pytest

from astguard.policy import CallRequest, Campaign, DialMode, Facts, Purpose, RuleSettings, decide
from astguard.policy.model import Verdict
from astguard.settings import DEFAULT_EMERGENCY
from astguard.store.contacts import load_history
from lab.database import fresh_database, scoped
from tests.conftest import PG_SERVER
from tests.policy.facts import INVENTORY

pytestmark = pytest.mark.db

SCRATCH = "astguard_sqlmut"  # scoped: ASTGUARD_TEST_DB_SUFFIX is appended
RULES = RuleSettings(emergency_numbers=frozenset(DEFAULT_EMERGENCY))
CAMPAIGN = Campaign("c", "acme", Purpose.PROSPECTING, DialMode.MANUAL, "+33162123456",
                    scope="energie")
A, B = "+33612345678", "+33698765432"  # two numbers of one consumer, once linked
D = dt.date
# Friday 27 Nov 2026, 11:00 Paris (consent regime); Friday 3 July 2026, 11:00 Paris (Bloctel).
NOV = dt.datetime(2026, 11, 27, 10, 0, tzinfo=dt.UTC)
JUL = dt.datetime(2026, 7, 3, 9, 0, tzinfo=dt.UTC)


def day(now: dt.datetime, delta: int = 0) -> dt.date:
    return (now + dt.timedelta(hours=1)).date() + dt.timedelta(days=delta)  # Paris day


async def link(conn: asyncpg.Connection, *numbers: str) -> None:
    for number in numbers:
        await conn.execute("INSERT INTO consumer_numbers (number_e164, consumer_key) "
                           "VALUES ($1, 'k1')", number)


async def attempt(conn, number: str, local_day: dt.date, principal: str = "acme") -> None:
    await conn.execute(
        "INSERT INTO attempts (principal, number_e164, attempted_at, local_day, source) "
        "VALUES ($1, $2, $3, $4, 'pbx')",
        principal, number, dt.datetime.combine(local_day, dt.time(10), dt.UTC), local_day)


async def block(conn, number: str, kind: str, local_day: dt.date, until: dt.date | None,
                principal: str = "acme") -> None:
    await conn.execute(
        "INSERT INTO contact_blocks (principal, number_e164, kind, recorded_at, local_day, "
        "until_day, source) VALUES ($1, $2, $3, $4, $5, $6, 'agent')",
        principal, number, kind, dt.datetime.combine(local_day, dt.time(9), dt.UTC), local_day,
        until)


async def consent(conn, number: str, principal: str = "acme") -> None:
    await conn.execute(
        "INSERT INTO consents (principal, number_e164, scopes, collected_at, channel, wording, "
        "proof_ref, valid_until) VALUES ($1, $2, '{energie}', '2026-01-01T00:00Z', 'web', 'v1', "
        "'p', '2099-01-01T00:00Z')", principal, number)


async def scrub(conn, number: str, on: dt.date, listed: bool, principal: str = "acme") -> None:
    await conn.execute("INSERT INTO bloctel_scrubs VALUES ($1, $2, $3, $4)",
                       principal, number, on, listed)


async def verdict(conn, now: dt.datetime, dialled: str = A) -> Verdict:
    store = await load_history(conn, "acme", dialled, day(now), now, RULES.callback_tolerance,
                               window_days=RULES.cap_days, caller_ids=["+33162123456"])
    facts = Facts(CAMPAIGN, "test", history=store.history, inventory=INVENTORY)
    return decide(CallRequest(dialled, "test"), facts, now, RULES)


Case = Callable[[asyncpg.Connection], Awaitable[None]]
CASES: dict[str, Case] = {}


def case(fn: Case) -> Case:
    CASES[fn.__name__] = fn
    return fn


@case
async def r_d6_attempts_are_read_from_p_since_inclusive(conn):
    # The function's contract: every attempt on or after p_since (the gate passes D-30).
    since = day(NOV, -29)
    await attempt(conn, A, since)
    await attempt(conn, A, since - dt.timedelta(days=1))
    row = await conn.fetchrow(
        "SELECT attempts FROM astguard_contact_facts('acme', $1, $2, $3, $4, $4, $4, '{}')",
        A, since, day(NOV), NOV)
    assert row["attempts"] == f'["{since.isoformat()}"]'


@case
async def r_d6_four_attempts_in_days_d29_to_d_refuse_the_fifth(conn):
    await consent(conn, A)
    for delta in (-29, -20, -10, 0):
        await attempt(conn, A, day(NOV, delta))
    assert (await verdict(conn, NOV)).codes == ["FREQUENCY_CAP"]


@case
async def r_d6_another_principals_attempts_do_not_count(conn):
    await consent(conn, A)
    for delta in (-3, -2, -1, 0):
        await attempt(conn, A, day(NOV, delta), principal="globex")
    assert (await verdict(conn, NOV)).allowed


@case
async def r_d6_attempts_on_the_consumers_other_number_count(conn):
    await consent(conn, A)
    await link(conn, A, B)
    for delta in (-3, -2, -1, 0):
        await attempt(conn, B, day(NOV, delta))
    assert (await verdict(conn, NOV)).codes == ["FREQUENCY_CAP"]


@case
async def r_d7_a_suspension_blocks_its_last_day(conn):
    await consent(conn, A)
    await block(conn, A, "suspension", day(NOV, -5), day(NOV))
    assert (await verdict(conn, NOV)).codes == ["REFUSAL_COOLDOWN"]


@case
async def r_d7_the_day_after_the_last_day_is_free(conn):
    await consent(conn, A)
    await block(conn, A, "suspension", day(NOV, -5), day(NOV, -1))
    assert (await verdict(conn, NOV)).allowed


@case
async def r_d7_a_refusal_on_the_consumers_other_number_blocks(conn):
    # Bloctel regime (a refusal is a 60-day block there): refused on B 10 days ago.
    await scrub(conn, A, day(JUL, -5), listed=False)
    await link(conn, A, B)
    await block(conn, B, "refusal", day(JUL, -10), day(JUL, 50))
    assert (await verdict(conn, JUL)).codes == ["REFUSAL_COOLDOWN"]


@case
async def r_b3_an_opposition_blocks_for_good(conn):
    await consent(conn, A)
    await block(conn, A, "opposition", day(NOV, -40), None)  # after the consent of 1 Jan
    assert (await verdict(conn, NOV)).codes == ["CONSUMER_OPPOSED"]


@case
async def r_b3_another_principals_opposition_does_not_block(conn):
    await consent(conn, A)
    await block(conn, A, "opposition", day(NOV, -4), None, principal="globex")
    assert (await verdict(conn, NOV)).allowed


@case
async def r_b1_a_consent_given_on_the_consumers_other_number_counts(conn):
    await link(conn, A, B)
    await consent(conn, B)
    assert (await verdict(conn, NOV)).allowed


@case
async def r_c1_todays_scrub_is_the_one_that_counts(conn):
    await scrub(conn, A, day(JUL, -10), listed=False)
    await scrub(conn, A, day(JUL), listed=True)
    assert (await verdict(conn, JUL)).codes == ["BLOCTEL_LISTED"]


@case
async def r_c2_another_principals_scrub_does_not_count(conn):
    await scrub(conn, A, day(JUL, -40), listed=False)
    await scrub(conn, A, day(JUL, -1), listed=False, principal="globex")
    assert (await verdict(conn, JUL)).codes == ["BLOCTEL_SCRUB_STALE"]


@case
async def r_d5_another_principals_call_back_does_not_lift_the_hours(conn):
    saturday = NOV + dt.timedelta(days=1)
    await consent(conn, A)
    await conn.execute("INSERT INTO callbacks (principal, number_e164, scheduled_at, proof_ref) "
                       "VALUES ('globex', $1, $2, 'p')", A, saturday)
    assert (await verdict(conn, saturday)).codes == ["OUTSIDE_CALL_DAYS"]


# (what the mutation breaks, the text replaced, its replacement). Left out as equivalent, since
# the policy checks again what the SQL filters: a block's last day one day earlier (check_pressure
# ignores blocks whose last day is past), contracts or inventory entries of any principal
# (current_contract and check_presented compare the principal), attempts before p_since - 1 (the
# gate reads from D-30, the policy counts from D-29).
MUTANTS: list[tuple[str, str, str]] = [
    ("R-D6 since bound >= to >", "a.local_day >= p_since", "a.local_day > p_since"),
    ("R-D6 since bound +1 day", "a.local_day >= p_since", "a.local_day >= p_since + 1"),
    ("R-D6 attempts of any principal", "WHERE a.principal = p_principal AND", "WHERE"),
    ("R-D6 attempts of the dialled number only", "a.number_e164 = ANY(v_numbers)",
     "a.number_e164 = p_number"),
    ("R-D7 last blocked day >= to >", "b.until_day >= p_today", "b.until_day > p_today"),
    ("R-D7 last blocked day +1 day", "b.until_day >= p_today", "b.until_day >= p_today + 1"),
    ("R-B3 oppositions (no last day) dropped", "b.until_day IS NULL OR", "false OR"),
    ("R-B3 blocks of any principal", "WHERE b.principal = p_principal AND", "WHERE"),
    ("R-D7 blocks of the dialled number only", "p_principal AND b.number_e164 = ANY(v_numbers)",
     "p_principal AND b.number_e164 = p_number"),
    ("R-B1 consents of the dialled number only", "k.number_e164 = ANY(v_numbers)",
     "k.number_e164 = p_number"),
    ("linked numbers join dropped",
     "SELECT array_agg(c.number_e164 ORDER BY c.number_e164) INTO v_numbers",
     "v_numbers := ARRAY[p_number]; PERFORM array_agg(c.number_e164 ORDER BY c.number_e164)"),
    ("R-C1 scrub of today ignored (<= to <)", "s.scrubbed_on <= p_today", "s.scrubbed_on < p_today"),
    ("R-C1 oldest scrub instead of latest", "ORDER BY s.scrubbed_on DESC", "ORDER BY s.scrubbed_on ASC"),
    ("R-C2 scrubs of any principal", "WHERE s.principal = p_principal AND", "WHERE"),
    ("R-D5 call-backs of any principal", "WHERE cb.principal = p_principal AND", "WHERE"),
]


@pytest.fixture(scope="module")
def scratch_url() -> Iterator[str]:
    try:
        url = asyncio.run(fresh_database(PG_SERVER, SCRATCH))
    except OSError as exc:
        pytest.fail(f"PostgreSQL is not reachable at {PG_SERVER} ({exc})")
    yield url

    async def drop() -> None:
        admin = await asyncpg.connect(f"{PG_SERVER}/postgres", timeout=10)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{scoped(SCRATCH)}" WITH (FORCE)')
        finally:
            await admin.close()

    asyncio.run(drop())


async def _definition(conn: asyncpg.Connection) -> str:
    return await conn.fetchval(
        "SELECT pg_get_functiondef('astguard_contact_facts'::regproc)")


async def _failing_cases(conn: asyncpg.Connection, definition: str | None) -> list[str]:
    """The cases that fail with `definition` installed (None: the real one); nothing is kept."""
    failing = []
    tx = conn.transaction()
    await tx.start()
    try:
        if definition is not None:
            await conn.execute(definition)
        for name, fn in CASES.items():
            savepoint = conn.transaction()
            await savepoint.start()
            try:
                await fn(conn)
            except AssertionError:
                failing.append(name)
            finally:
                await savepoint.rollback()
    finally:
        await tx.rollback()
    return failing


async def test_every_case_passes_on_the_real_function(scratch_url):
    conn = await asyncpg.connect(scratch_url, timeout=10)
    try:
        assert await _failing_cases(conn, None) == []
    finally:
        await conn.close()


@pytest.mark.parametrize(("what", "old", "new"), MUTANTS, ids=[m[0] for m in MUTANTS])
async def test_the_mutant_is_killed(scratch_url, what, old, new):
    conn = await asyncpg.connect(scratch_url, timeout=10)
    try:
        definition = await _definition(conn)
        # The SQL changed if the text is not there once: update MUTANTS with it.
        assert definition.count(old) == 1, f"{old!r} is not in the function once"
        failing = await _failing_cases(conn, definition.replace(old, new))
        assert failing, f"no case catches the mutant: {what}"
    finally:
        await conn.close()
