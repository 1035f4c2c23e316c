"""List scrubbing (app/scrub.py) against the real PostgreSQL: each verdict equals the gate's
dry run of the same call, nothing is recorded, CLI and API give the same bytes, bad input is
refused in French."""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import io
import json

import pytest
from aiohttp.test_utils import TestClient, TestServer

from astguard.app.caller_ids import CallerIds
from astguard.app.campaigns import Campaigns
from astguard.app.contacts import ContactService
from astguard.app.gate import Gate
from astguard.app.number_batches import plan_of
from astguard.app.scrub import Scrubber
from astguard.clock import PinnedClock
from astguard.errors import InputError
from astguard.policy import CallRequest, RuleSettings
from astguard.policy.caller_id import shipped_tables
from astguard.policy.decide import consumer_today
from astguard.policy.model import ContactHistory
from astguard.policy.numbers import NumberError
from astguard.settings import DEFAULT_EMERGENCY
from astguard.store import contacts as contact_store
from astguard.store import scrub_facts
from astguard.store.caller_ids import CallerIdStore
from astguard.store.directory import Directory
from astguard.store.spool import Spool
from astguard.surfaces import cli_scrub
from astguard.surfaces.http import Api
from tests.conftest import hold_number, role_database

pytestmark = pytest.mark.db

RULES = RuleSettings(emergency_numbers=frozenset(DEFAULT_EMERGENCY))
FRIDAY = dt.datetime(2026, 11, 27, 10, 0, tzinfo=dt.UTC)  # opt-in regime, 11:00 in Paris
INSTANTS = [
    FRIDAY,
    dt.datetime(2026, 12, 25, 10, 0, tzinfo=dt.UTC),  # Christmas: a public holiday
    dt.datetime(2026, 11, 28, 19, 30, tzinfo=dt.UTC),  # Saturday evening
    dt.datetime(2026, 7, 28, 9, 0, tzinfo=dt.UTC),  # the Bloctel regime (R-C)
    dt.datetime(2026, 11, 27, 3, 0, tzinfo=dt.UTC),  # night in Paris, day in La Réunion
    # Evening: still the 27th in Paris, already the 28th in La Réunion (one batch, two days)
    dt.datetime(2026, 11, 27, 21, 0, tzinfo=dt.UTC),
]
P = "sc-acme"
NUMBERS = [
    "0677100001",  # consent
    "06 77 10 00 02",  # no consent
    "+33677100003",  # consent for another scope
    "0677100004",  # consent, cap reached
    "0677100005",  # consent, refusal
    "0677100006",  # consent, opposition
    "0262100007",  # La Réunion, consent
    "0692100008",  # Réunion/Mayotte mobile, no consent
    "0677100009",  # consent, Bloctel listed
    "0677100010",  # consent, linked to 0677100004 (its attempts count)
    "0677100011",  # consent, call-back asked at FRIDAY
    "0677100012",  # Bloctel returned (not listed), no consent
    "0677100013",  # consent of another principal only, and a current contract
    "0677100014",  # consent, a running suspension and one that ended
    "0677100015",  # consent, three Bloctel scrubs (returned, listed, one dated in 2027)
    "0677100016",  # consent, attempts in and out of the window, linked to 0677100017,
                   # a call-back two hours after FRIDAY (outside the tolerance)
    "0677100017",  # consent, Bloctel listed (counts for itself, not for 0677100016)
    "0262100018",  # La Réunion, consent, a suspension and an attempt on the edge of its day
    "12345", "not a number", "112", "+44 20 7946 0000", "0677100001",
]


@pytest.fixture
async def db(database_url):
    async with role_database(database_url, "service") as database:
        yield database


@pytest.fixture
async def population(db):
    directory = Directory(db)
    if (await directory.classify(None, "sc-prospect")).campaign is not None:
        return directory  # the database is shared by the run's tests
    await directory.add_principal(P, "ACME")
    await directory.set_campaign("sc-prospect", P, "prospecting", "manual", "0162123456",
                                 scope="energie")
    await hold_number(db, P)
    contacts = ContactService(db, PinnedClock(FRIDAY - dt.timedelta(days=3)), RULES)
    collected = dt.datetime(2026, 6, 1, 10, tzinfo=dt.UTC)
    for n in ("0677100001", "0677100003", "0677100004", "0677100005", "0677100006",
              "0262100007", "0677100009", "0677100010", "0677100011"):
        await contacts.add_consent(P, n, scopes=["telecom" if n.endswith("3") else "energie"],
                                   collected_at=collected, channel="web", wording="v1",
                                   proof_ref=f"sc-{n}")
    for day in range(4):
        await contacts.record_external_attempt(
            P, "0677100004", FRIDAY - dt.timedelta(days=day + 1), reference=f"sc-a{day}")
    await contacts.record_block("refusal", "0677100005", P, source="api")
    await contacts.record_block("opposition", "0677100006", P, source="api")
    await contacts.link_numbers(["0677100004", "0677100010"])
    await contacts.add_callback(P, "0677100011", FRIDAY + dt.timedelta(minutes=1), "sc-cb")
    async with db.connection() as conn:
        await conn.executemany(
            "INSERT INTO bloctel_scrubs (principal, number_e164, scrubbed_on, listed) "
            "VALUES ($1, $2, '2026-07-20', $3)",
            [(P, "+33677100009", True), (P, "+33677100012", False)])
    # The facts list scrubbing assembles by itself (store/scrub_facts.py), each kind once.
    for n in ("0677100014", "0677100015", "0677100016", "0677100017", "0262100018"):
        await contacts.add_consent(P, n, scopes=["energie"], collected_at=collected,
                                   channel="web", wording="v1", proof_ref=f"sc-{n}")
    await contacts.add_consent("sc-other", "0677100013", scopes=["energie"],
                               collected_at=collected, channel="web", wording="v1",
                               proof_ref="sc-other-13")
    await contacts.add_contract(P, "0677100013", scopes=["energie"],
                                started_on=dt.date(2025, 1, 1), ended_on=None,
                                reference="sc-k13")
    await contacts.record_block("suspension", "0677100014", P, source="api", days=60)
    await contacts.record_block("suspension", "0677100014", P, source="api", days=2,
                                at=FRIDAY - dt.timedelta(days=40))
    for day in (1, 2, 35, 40, 41):
        await contacts.record_external_attempt(
            P, "0677100016", FRIDAY - dt.timedelta(days=day), reference=f"sc-b{day}")
    await contacts.record_external_attempt(P, "0677100017", FRIDAY - dt.timedelta(days=3),
                                           reference="sc-c3")
    await contacts.link_numbers(["0677100016", "0677100017"])
    await contacts.add_callback(P, "0677100016", FRIDAY + dt.timedelta(hours=2), "sc-cb16")
    async with db.connection() as conn:
        await conn.executemany(
            "INSERT INTO bloctel_scrubs (principal, number_e164, scrubbed_on, listed) "
            "VALUES ($1, $2, $3, $4)",
            [(P, "+33677100015", dt.date(2026, 7, 20), False),
             (P, "+33677100015", dt.date(2026, 9, 1), True),
             (P, "+33677100015", dt.date(2026, 11, 28), False),
             (P, "+33677100015", dt.date(2027, 1, 10), False),
             (P, "+33677100017", dt.date(2026, 7, 20), True)])
        # Read with the batch's widest bounds, kept or not by each number's own day: at the
        # evening instant, La Réunion's 28th drops what its 27th would keep.
        await conn.execute(
            "INSERT INTO contact_blocks (principal, number_e164, kind, recorded_at, local_day, "
            "until_day, source, reference) VALUES ($1, '+262262100018', 'suspension', "
            "'2026-11-20T08:00:00Z', '2026-11-20', '2026-11-27', 'api', 'sc-s18')", P)
    await contacts.record_external_attempt(
        P, "0262100018", dt.datetime(2026, 10, 28, 8, 0, tzinfo=dt.UTC), reference="sc-d18")
    return directory


async def _table_counts(db) -> dict[str, int]:
    async with db.connection() as conn:
        tables = await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        return {t["tablename"]: await conn.fetchval(f'SELECT count(*) FROM "{t["tablename"]}"')
                for t in tables}


async def test_scrub_verdicts_equal_the_gates_dry_run_and_record_nothing(db, population,
                                                                         tmp_path):
    before = await _table_counts(db)
    seen_codes: set[str] = set()
    for at in INSTANTS:
        scrubber = Scrubber(db, population, PinnedClock(at), RULES, batch=5)
        lines = [line async for line in scrubber.scrub(NUMBERS, "sc-prospect")]
        gate = Gate(db=db, directory=population, spool=Spool(tmp_path / "spool"),
                    clock=PinnedClock(at), rules=RULES, node="t")
        contacts = ContactService(db, PinnedClock(at), RULES)
        campaign = (await population.classify(None, "sc-prospect")).campaign
        assert [line.number for line in lines] == [n.strip() for n in NUMBERS]
        for line in lines:
            decided = await gate.check(CallRequest(line.number, "api",
                                                   campaign_name="sc-prospect"), record=False)
            assert (line.callable, list(line.reasons)) == \
                (decided.verdict.allowed, decided.verdict.codes), (at, line.number)
            seen_codes.update(line.reasons)
            if line.e164 is not None:
                nxt = (await contacts.history(line.number, campaign)).next_callable
                expected = at if decided.verdict.allowed else nxt.at
                assert line.next_at == expected, (at, line.number)
    assert {"NO_CONSENT", "CONSENT_SCOPE_MISMATCH", "FREQUENCY_CAP", "INVALID_NUMBER",
            "PUBLIC_HOLIDAY", "BLOCTEL_LISTED", "EMERGENCY_NUMBER", "NON_FR_DESTINATION",
            "CONSENT_WITHDRAWN", "CONSUMER_OPPOSED", "ALLOWED_SCHEDULED_CALLBACK",
            "OUTSIDE_CALL_WINDOW"} <= seen_codes, sorted(seen_codes)
    assert await _table_counts(db) == before
    assert not (tmp_path / "spool").exists() or not any((tmp_path / "spool").iterdir())


async def test_the_memo_never_mixes_numbers_of_different_facts(db, population):
    """A batch where consented and unconsented numbers of one block alternate."""
    scrubber = Scrubber(db, population, PinnedClock(FRIDAY), RULES, batch=3)
    numbers = ["0677100001", "0677100002", "0677100001", "0677100002", "0677100004"] * 3
    lines = [line async for line in scrubber.scrub(numbers, "sc-prospect")]
    assert [line.callable for line in lines] == [True, False, True, False, False] * 3


async def test_batch_facts_equal_the_live_history_of_each_number(db, population):
    """store/scrub_facts assembles each number's history from one statement per batch; it
    must equal what the gate reads for that number alone (astguard_contact_facts)."""
    e164s = {}
    for n in NUMBERS:
        try:
            e164s[n] = plan_of(n.strip())[0]
        except NumberError:
            continue
    for at in INSTANTS:
        days = {e: consumer_today(CallRequest(n.strip(), "t"), at, RULES)[1]
                for n, e in e164s.items()}
        first, last = min(days.values()), max(days.values())
        async with db.connection() as conn, conn.transaction(readonly=True):
            facts = await scrub_facts.batch_facts(
                conn, P, sorted(days), first - dt.timedelta(days=RULES.cap_days), first, last,
                at - RULES.callback_tolerance, at + RULES.callback_tolerance, at)
        for e164, today in days.items():
            async with db.transaction() as conn:
                live = (await contact_store.load_history(
                    conn, P, e164, today, at, RULES.callback_tolerance, RULES.cap_days)).history
            found = facts.facts_of(e164, today, today - dt.timedelta(days=RULES.cap_days))
            batch = scrub_facts.history(found[1]) if found else ContactHistory()
            assert _ordered(batch) == _ordered(live), (at, e164)


def _ordered(history: ContactHistory) -> ContactHistory:
    """The history with its unordered parts sorted (the SQL function aggregates blocks,
    consents and contracts in no particular order)."""
    return dataclasses.replace(
        history, blocks=tuple(sorted(history.blocks, key=repr)),
        consents=tuple(sorted(history.consents, key=lambda c: c.id)),
        contracts=tuple(sorted(history.contracts, key=repr)))


def _api(db, directory, tmp_path, at, max_numbers=10_000_000, scrub=True) -> Api:
    gate = Gate(db=db, directory=directory, spool=Spool(tmp_path), clock=PinnedClock(at),
                rules=RULES, node="t")
    return Api(gate=gate, contacts=ContactService(db, PinnedClock(at), RULES),
               directory=Campaigns(directory),
               caller_ids=CallerIds(CallerIdStore(db, shipped_tables().npv_roots),
                                    PinnedClock(at), RULES),
               read_tokens=frozenset({"read-token-0123456789"}), write_tokens=frozenset(),
               scrubber=Scrubber(db, directory, PinnedClock(at), RULES,
                                 max_numbers=max_numbers) if scrub else None)


class _C:  # what cli_scrub.run reads of the components: the root's scrubber
    def __init__(self, db, directory, at):
        self.scrubber = Scrubber(db, directory, PinnedClock(at), RULES)


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
async def test_cli_and_api_give_the_same_bytes(db, population, tmp_path, fmt):
    path = tmp_path / "list.csv"
    path.write_text("id;numero\n" + "".join(f"{i};{n}\n" for i, n in enumerate(NUMBERS)),
                    encoding="utf-8")
    out = io.StringIO()
    args = argparse.Namespace(file=str(path), campaign="sc-prospect", at=None, format=fmt)
    assert await cli_scrub.run(_C(db, population, FRIDAY), args, out) == 0
    accept = {"Accept": "application/x-ndjson"} if fmt == "jsonl" else {}
    async with TestClient(TestServer(_api(db, population, tmp_path, FRIDAY).app())) as client:
        resp = await client.post("/v1/scrub?campaign=sc-prospect", data=path.read_bytes(),
                                 headers={"Authorization": "Bearer read-token-0123456789",
                                          **accept})
        assert resp.status == 200
        body = await resp.text()
    assert body == out.getvalue()
    rows = body.splitlines()
    if fmt == "jsonl":
        first = json.loads(rows[0])
        assert first == {"number": "0677100001", "e164": "+33677100001", "callable": True,
                         "reasons": [], "next_callable_at": FRIDAY.isoformat()}
        assert json.loads(rows[NUMBERS.index("12345")])["reasons"] == ["INVALID_NUMBER"]
    else:
        assert rows[0] == "number,e164,callable,reasons,next_callable_at"
        assert rows[1] == f"0677100001,+33677100001,oui,,{FRIDAY.isoformat()}"
        assert len(rows) == len(NUMBERS) + 1


@pytest.mark.parametrize(("query", "body", "status", "message"), [
    ("campaign=nope", b"0677100001\n", 400, "campagne 'nope' inconnue"),
    ("", b"0677100001\n", 400, "paramètre 'campaign' (campagne) manquant"),
    ("campaign=sc-prospect&format=xml", b"0677100001\n", 400,
     "valeur 'xml' inconnue ; valeurs acceptées : csv, jsonl"),
    ("campaign=sc-prospect&campagne=x", b"0677100001\n", 400, "paramètre inconnu : campagne"),
    ("campaign=sc-prospect&at=demain", b"0677100001\n", 400, "date ISO-8601 attendue"),
    ("campaign=sc-prospect", b"0677100001\n" * 4, 400, "trop de numéros"),
    ("campaign=sc-prospect", b"\xff\xfe0677\n", 400, "UTF-8 attendu"),
])
async def test_api_refuses_bad_input_in_french(db, population, tmp_path, query, body, status,
                                               message):
    api = _api(db, population, tmp_path, FRIDAY, max_numbers=3)
    async with TestClient(TestServer(api.app())) as client:
        resp = await client.post(f"/v1/scrub?{query}", data=body,
                                 headers={"Authorization": "Bearer read-token-0123456789"})
        assert resp.status == status
        assert message in (await resp.json())["error"]


async def test_the_format_parameter_wins_over_accept(db, population, tmp_path):
    async with TestClient(TestServer(_api(db, population, tmp_path, FRIDAY).app())) as client:
        resp = await client.post("/v1/scrub?campaign=sc-prospect&format=csv",
                                 data=b"0677100001\n",
                                 headers={"Authorization": "Bearer read-token-0123456789",
                                          "Accept": "application/x-ndjson"})
        assert resp.status == 200
        assert resp.headers["Content-Type"] == "text/csv; charset=utf-8"
        assert (await resp.text()).startswith("number,e164,")


async def test_api_without_a_scrubber_and_without_a_token_answers_in_french(db, population,
                                                                             tmp_path):
    api = _api(db, population, tmp_path, FRIDAY, scrub=False)
    async with TestClient(TestServer(api.app())) as client:
        resp = await client.post("/v1/scrub?campaign=sc-prospect", data=b"0677100001\n",
                                 headers={"Authorization": "Bearer read-token-0123456789"})
        assert resp.status == 404
        assert "non configurée" in (await resp.json())["error"]
        resp = await client.post("/v1/scrub?campaign=sc-prospect", data=b"0677100001\n")
        assert resp.status == 401


def test_the_openapi_document_describes_scrub():
    from astguard.surfaces.openapi import openapi_document
    op = openapi_document()["paths"]["/v1/scrub"]["post"]
    assert op["operationId"] == "scrub_list"
    assert set(op["requestBody"]["content"]) == {"application/octet-stream"}
    assert "colonne numero" in op["requestBody"]["description"]
    assert set(op["responses"]["200"]["content"]) == {"text/csv", "application/x-ndjson"}
    assert {p["name"]: p["required"] for p in op["parameters"]} == \
        {"campaign": True, "at": False, "format": False}
    assert "reste l'autorité" in op["description"]
    assert {"400", "401", "404", "500", "503"} <= set(op["responses"])


async def test_cli_refuses_a_missing_file_and_an_unknown_campaign(db, population, tmp_path):
    c = _C(db, population, FRIDAY)
    with pytest.raises(InputError, match="fichier illisible"):
        await cli_scrub.run(c, argparse.Namespace(file=str(tmp_path / "none"),
                                                  campaign="sc-prospect", at=None,
                                                  format="csv"), io.StringIO())
    path = tmp_path / "l.txt"
    path.write_text("0677100001\n")
    out = io.StringIO()
    with pytest.raises(InputError, match="campagne 'nope' inconnue"):
        await cli_scrub.run(c, argparse.Namespace(file=str(path), campaign="nope", at=None,
                                                  format="csv"), out)
    assert out.getvalue() == ""  # nothing half-written


def test_the_command_line_knows_scrub():
    from astguard.surfaces.cli import _parser
    args = _parser().parse_args(["scrub", "l.txt", "--campaign", "c", "--format", "jsonl",
                                 "--at", "2026-11-27T10:00:00+01:00"])
    assert (args.command, args.file, args.campaign, args.format) == ("scrub", "l.txt", "c",
                                                                     "jsonl")
    assert _parser().parse_args(["scrub", "l.txt", "--campaign", "c", "--json"]).json


async def test_cli_json_is_json_lines(db, population, tmp_path):
    path = tmp_path / "l.txt"
    path.write_text("0677100001\n")
    out = io.StringIO()
    args = argparse.Namespace(file=str(path), campaign="sc-prospect", at=None, format="csv",
                              json=True)
    assert await cli_scrub.run(_C(db, population, FRIDAY), args, out) == 0
    assert json.loads(out.getvalue())["e164"] == "+33677100001"
