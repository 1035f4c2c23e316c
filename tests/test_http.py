"""The HTTP API against the real PostgreSQL: auth, rights, bad input (4xx, never 500), and the
contact actions a CRM needs."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from aiohttp.test_utils import TestClient, TestServer

from astguard.clock import PinnedClock
from astguard.app.contacts import ContactService
from astguard.app.gate import Gate
from astguard.policy import RuleSettings
from astguard.settings import DEFAULT_EMERGENCY
from astguard.store.database import Database
from astguard.store.directory import Directory
from astguard.store.spool import Spool
from astguard.surfaces.http import Api
from astguard.policy.caller_id import shipped_tables
from astguard.app.caller_ids import CallerIds
from astguard.app.campaigns import Campaigns
from astguard.store.caller_ids import CallerIdStore
from tests.conftest import UNREACHABLE_DB, hold_number, role_database

pytestmark = pytest.mark.db

RULES = RuleSettings(emergency_numbers=frozenset(DEFAULT_EMERGENCY))
FRIDAY = dt.datetime(2026, 11, 27, 10, 0, tzinfo=dt.UTC)
READ = "read-token-0123456789"
WRITE = "write-token-0123456789"


@pytest.fixture
async def db(database_url):
    """The API is the service: it runs as its least-privileged role (migration 0008)."""
    async with role_database(database_url, "service") as database:
        yield database


def api_for(db: Database, tmp_path, when=FRIDAY) -> Api:
    directory = Directory(db)

    def gate(clock):
        return Gate(db=db, directory=directory, spool=Spool(tmp_path), clock=clock, rules=RULES, node="t")

    caller_ids = CallerIds(CallerIdStore(db, shipped_tables().npv_roots), PinnedClock(when),
                           RULES)
    return Api(gate=gate(PinnedClock(when)), contacts=ContactService(db, PinnedClock(when), RULES),
               directory=Campaigns(directory), caller_ids=caller_ids, read_tokens=frozenset({READ}),
               write_tokens=frozenset({WRITE}), gate_at=lambda at: gate(PinnedClock(at)))


@pytest.fixture
async def client(db, tmp_path):
    d = Directory(db)
    await d.add_principal("api-acme", "ACME")
    await d.set_campaign("api-prospect", "api-acme", "prospecting", "manual", "0162123456",
                         scope="energie")
    await hold_number(db, "api-acme")
    async with TestClient(TestServer(api_for(db, tmp_path).app())) as c:
        yield c


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize(
    ("headers", "status"),
    [({}, 401), ({"Authorization": "Bearer nope"}, 401), ({"Authorization": READ}, 401)],
)
async def test_authentication_required(client, headers, status):
    resp = await client.post("/v1/check", json={"number": "0612345678"}, headers=headers)
    assert resp.status == status
    assert "jeton" in (await resp.json())["error"]


async def test_read_token_is_refused_on_writes(client):
    resp = await client.post("/v1/refusals", headers=auth(READ),
                             json={"number": "0670000001", "principal": "api-acme"})
    assert resp.status == 403


async def test_check_is_the_live_decision_path(client):
    body = {"number": "0670000002", "campaign": "api-prospect"}
    resp = await client.post("/v1/check", json=body, headers=auth(READ))
    assert resp.status == 200
    assert (await resp.json())["reasons"] == ["NO_CONSENT"]
    resp = await client.post("/v1/consents", headers=auth(WRITE), json={
        "number": "0670000002", "principal": "api-acme", "scopes": ["energie"],
        "collected_at": "2026-10-01T10:00:00+02:00", "channel": "web", "wording": "v3",
        "proof_ref": "crm-77"})
    assert resp.status == 201
    out = await (await client.post("/v1/check", json=body, headers=auth(READ))).json()
    assert out["decision"] == "allow" and out["number"] == "+33670000002"
    saturday = await (await client.post("/v1/check", headers=auth(READ), json={
        **body, "at": "2026-11-28T11:00:00+01:00"})).json()
    assert saturday["reasons"] == ["OUTSIDE_CALL_DAYS"]


async def test_check_builds_the_request_as_the_cli_does(client):
    # rules-fr 2026-11-26: the same answer everywhere. A dial mode given with a named campaign
    # is honoured (it may only make the call more automated, R-F4)...
    body = {"number": "0670000012", "campaign": "api-prospect", "dial_mode": "broadcast"}
    out = await (await client.post("/v1/check", json=body, headers=auth(READ))).json()
    assert out["dial_mode"] == "broadcast"
    assert out["reasons"] == ["NO_CONSENT", "AUTOMATED_CALL_NO_CONSENT"]
    # ...an instant without an offset is Paris time, as on the command line...
    local = await (await client.post("/v1/check", headers=auth(READ), json={
        "number": "0670000012", "campaign": "api-prospect", "at": "2026-11-27T20:00"})).json()
    assert local["local_times"] == [{"zone": "Europe/Paris", "local": "2026-11-27T20:00:00+01:00"}]
    assert "OUTSIDE_CALL_WINDOW" in local["reasons"]
    # ...and an ad-hoc campaign carries its scope (R-B2: without one nothing matches).
    adhoc = {"number": "0670000012", "purpose": "prospecting", "principal": "api-acme"}
    bare = await (await client.post("/v1/check", json=adhoc, headers=auth(READ))).json()
    assert "CONSENT_SCOPE_MISMATCH" in bare["reasons"]
    scoped = await (await client.post("/v1/check", headers=auth(READ), json={
        **adhoc, "scope": "energie", "caller_id": "0162123456"})).json()
    assert scoped["reasons"] == ["NO_CONSENT"]


async def test_refusal_then_history(client):
    resp = await client.post("/v1/refusals", headers=auth(WRITE),
                             json={"number": "06 70 00 00 03", "principal": "api-acme",
                                   "agent": "crm"})
    assert resp.status == 201
    # From 2026-08-11 a refusal is a lasting objection (R-D7, rules-fr 2026-11-26).
    done = await resp.json()
    assert done["kind"] == "opposition" and done["until"] is None
    resp = await client.get("/v1/history/0670000003?campaign=api-prospect", headers=auth(READ))
    history = await resp.json()
    assert history["principals"]["api-acme"]["blocks"][0]["kind"] == "opposition"
    assert history["next_callable"]["reasons_now"] == ["CONSUMER_OPPOSED", "NO_CONSENT"]


async def test_suspension_opposition_attempt_withdraw(client):
    for path, extra in (("/v1/suspensions", {"days": 30}), ("/v1/oppositions", {})):
        resp = await client.post(path, headers=auth(WRITE),
                                 json={"number": "0670000004", "principal": "api-acme",
                                       **extra})
        assert resp.status == 201, await resp.text()
    body = {"number": "0670000004", "principal": "api-acme",
            "at": "2026-11-20T15:00:00+01:00", "reference": "sub-1"}
    assert (await client.post("/v1/attempts", json=body, headers=auth(WRITE))).status == 201
    assert (await client.post("/v1/attempts", json=body, headers=auth(WRITE))).status == 200
    resp = await client.post("/v1/consents/withdraw", headers=auth(WRITE),
                             json={"number": "0670000004", "principal": "api-acme"})
    assert (await resp.json()) == {"withdrawn": 0}


@pytest.mark.parametrize(
    ("path", "body", "message"),
    [
        ("/v1/check", "not json", "JSON illisible"),
        ("/v1/check", [1, 2], "objet JSON"),
        ("/v1/check", {}, "'number' manquant"),
        ("/v1/check", {"number": 612345678}, "texte attendu"),
        ("/v1/check", {"number": "0612345678", "purpose": "prospecting"}, "ensemble"),
        ("/v1/check", {"number": "0612345678", "purpose": "x", "principal": "p"}, "finalité"),
        ("/v1/check", {"number": "0612345678", "callerId": "0162123456"}, "callerId"),
        ("/v1/refusals", {"number": "0612345678", "principal": "api-acme", "agnet": "x"},
         "agnet"),
        ("/v1/check", {"number": "0612345678", "at": "demain"}, "ISO-8601"),
        ("/v1/suspensions", {"number": "0612345678", "principal": "api-acme", "days": "30"},
         "entier"),
        ("/v1/suspensions", {"number": "0612345678", "principal": "api-acme", "days": 0},
         "durée"),
        ("/v1/refusals", {"number": "06", "principal": "api-acme"}, "invalide"),
        ("/v1/refusals", {"number": "0612345678", "principal": "bad principal"}, "invalide"),
        ("/v1/consents", {"number": "0612345678", "principal": "api-acme", "scopes": "x",
                          "collected_at": "2026-10-01T10:00:00+02:00"}, "liste"),
        ("/v1/consents", {"number": "0612345678", "principal": "api-acme", "scopes": ["x"],
                          "collected_at": "2026-10-01T10:00:00"}, "fuseau"),
        ("/v1/attempts", {"number": "0612345678", "principal": "api-acme",
                          "at": "2026-10-01T10:00:00+02:00"}, "'reference' manquant"),
    ],
)
async def test_bad_input_is_a_400_with_a_clear_message(client, path, body, message):
    kwargs = {"data": body} if isinstance(body, str) else {"json": body}
    resp = await client.post(path, headers=auth(WRITE), **kwargs)
    assert resp.status == 400, await resp.text()
    assert message in (await resp.json())["error"]


async def test_unknown_campaign_in_history_is_a_400(client):
    resp = await client.get("/v1/history/0612345678?campaign=nope", headers=auth(READ))
    assert resp.status == 400 and "inconnue" in (await resp.json())["error"]


async def test_database_down_is_a_503_for_writes_and_a_refusal_for_checks(tmp_path):
    down = Database(UNREACHABLE_DB, timeout=1.0)
    async with TestClient(TestServer(api_for(down, tmp_path).app())) as c:
        resp = await c.post("/v1/refusals", headers=auth(WRITE),
                            json={"number": "0612345678", "principal": "api-acme"})
        assert resp.status == 503
        resp = await c.post("/v1/check", headers=auth(READ),
                            json={"number": "0612345678", "campaign": "api-prospect"})
        assert resp.status == 200
        assert (await resp.json())["reasons"] == ["GUARD_UNAVAILABLE"]
    await down.close()


async def test_caller_id_inventory_over_http(client):
    resp = await client.post("/v1/caller-ids", headers=auth(WRITE), json={
        "number": "0163123456", "principal": "api-acme", "mandate_ref": "M-9",
        "valid_from": "2026-01-01", "trunk": "t1"})
    assert resp.status == 201 and (await resp.json())["kind"] == "npv"
    listing = await (await client.get("/v1/caller-ids?principal=api-acme",
                                      headers=auth(READ))).json()
    assert {"+33163123456", "+33162123456"} <= {r["number"] for r in listing}
    bad = await client.post("/v1/caller-ids", headers=auth(WRITE), json={
        "number": "0163123456", "principal": "api-acme", "mandate_ref": "",
        "valid_from": "2026-01-01"})
    assert bad.status == 400


def test_the_documented_check_fields_are_the_accepted_ones():
    from astguard.surfaces.api_models import CheckRequest
    from astguard.surfaces.dry_run import FIELDS
    from astguard.surfaces.openapi import openapi_document as document

    doc = document()
    ref = doc["paths"]["/v1/check"]["post"]["requestBody"]["content"]["application/json"][
        "schema"]["$ref"]
    schema = doc["components"]["schemas"][ref.rsplit("/", 1)[1]]
    assert set(schema["properties"]) == FIELDS == set(CheckRequest.model_fields)
    assert schema["additionalProperties"] is False


@pytest.mark.parametrize(
    ("path", "body", "expected"),
    [
        ("/v1/check", {"number": "0612345678", "press": "oui"}, "champ 'press' : true ou false"),
        ("/v1/check", {"number": "0612345678", "dial_mode": "robot"},
         "champ 'dial_mode' (mode de numérotation) : valeur 'robot' inconnue ; valeurs "
         "acceptées : manual, preview"),
        ("/v1/consents", {"number": "0612345678", "principal": "api-acme", "scopes": [""],
                          "collected_at": "2026-10-01T10:00:00+02:00", "channel": "web",
                          "wording": "v1", "proof_ref": "p"},
         "champ 'scopes[0]' : texte non vide attendu"),
        ("/v1/consents", {"number": "0612345678", "principal": "api-acme", "scopes": [],
                          "collected_at": "2026-10-01T10:00:00+02:00", "channel": "web",
                          "wording": "v1", "proof_ref": "p"},
         "champ 'scopes' : au moins 1 élément(s) attendu(s)"),
        ("/v1/caller-ids", {"number": "0163123456", "principal": "api-acme",
                            "mandate_ref": "M", "valid_from": "1er janvier"},
         "champ 'valid_from' : date AAAA-MM-JJ attendue"),
        ("/v1/caller-ids", {"number": "0163123456", "principal": "api-acme",
                            "mandate_ref": "M", "valid_from": "2026-01-01", "kind": "fax"},
         "champ 'kind' (type) : valeur 'fax' inconnue"),
        # Every bad field is named at once, unknown ones first.
        ("/v1/attempts", {"principal": 3, "nombre": "0612345678"},
         "champ inconnu : nombre ; champs acceptés : at, number, principal, reference ; "
         "champ 'number' manquant ; champ 'principal' : texte attendu ; champ 'at' manquant"),
    ],
)
async def test_validation_errors_are_french_and_name_the_field(client, path, body, expected):
    resp = await client.post(path, headers=auth(WRITE), json=body)
    assert resp.status == 400
    message = (await resp.json())["error"]
    assert expected in message
    for english in ("Input should", "Field required", "Value error", "Extra inputs"):
        assert english not in message


async def test_query_parameters_are_validated_too(client):
    resp = await client.get("/v1/history/0612345678?campagne=api-prospect", headers=auth(READ))
    assert resp.status == 400
    assert (await resp.json())["error"] == ("paramètre inconnu : campagne ; paramètres "
                                            "acceptés : campaign")
    resp = await client.get("/v1/caller-ids?principal=a&principal=b", headers=auth(READ))
    assert resp.status == 400 and "répété" in (await resp.json())["error"]


async def test_aiohttp_own_errors_are_french_json(client):
    resp = await client.get("/v1/nope", headers=auth(READ))
    assert resp.status == 404
    assert await resp.json() == {"error": "ressource inconnue : GET /v1/nope"}
    resp = await client.delete("/v1/check", headers=auth(READ))
    assert resp.status == 405 and "POST" in resp.headers["Allow"]
    assert (await resp.json())["error"].startswith("méthode non permise")
    resp = await client.post("/v1/check", headers=auth(READ),
                             data=io.BytesIO(b"x" * (1024 * 1024 + 1)))
    assert resp.status == 413 and "trop volumineux" in (await resp.json())["error"]


async def test_an_answer_that_breaks_its_model_is_a_500_never_sent(db, tmp_path, monkeypatch,
                                                                   caplog):
    from astguard.policy.model import Verdict

    real = Verdict.as_dict
    monkeypatch.setattr(Verdict, "as_dict", lambda self: {**real(self), "secret": "x"})
    async with TestClient(TestServer(api_for(db, tmp_path).app())) as c:
        resp = await c.post("/v1/check", headers=auth(READ), json={"number": "0612345678"})
        assert resp.status == 500
        assert (await resp.json()) == {
            "error": "erreur interne : réponse non conforme (voir le journal)"}
    assert "does not match its model" in caplog.text


async def test_an_unexpected_failure_is_a_french_500(db, tmp_path, monkeypatch, caplog):
    async def broken(*args, **kwargs):
        raise RuntimeError("boom")

    api = api_for(db, tmp_path)
    monkeypatch.setattr(api._contacts, "withdraw_consent", broken)
    async with TestClient(TestServer(api.app())) as c:
        resp = await c.post("/v1/consents/withdraw", headers=auth(WRITE),
                            json={"number": "0612345678", "principal": "api-acme"})
        assert resp.status == 500
        assert (await resp.json()) == {"error": "erreur interne (voir le journal du service)"}
    assert "boom" in caplog.text


async def test_every_json_answer_is_its_documented_model(client):
    """The answers this module's calls got, read back through the response models the
    document is generated from (extra keys refused)."""
    from astguard.surfaces import api_responses as rs

    checked = await client.post("/v1/check", headers=auth(READ),
                                json={"number": "0670000040", "campaign": "api-prospect"})
    rs.Verdict.model_validate(await checked.json())
    history = await client.get("/v1/history/0670000040?campaign=api-prospect",
                               headers=auth(READ))
    rs.History.model_validate(await history.json())
    listing = await client.get("/v1/caller-ids?principal=api-acme", headers=auth(READ))
    rows = rs.CallerIds.model_validate(await listing.json()).root
    assert rows and rows[0].recorded_at[10] == "T"  # ISO-8601, not str(datetime)
    health = await client.get("/v1/health")
    assert await health.json() == {"status": "ok"}
    assert (await client.head("/v1/health")).status == 200


async def test_errors_outside_the_api_are_french_text(db, tmp_path):
    async with TestClient(TestServer(api_for(db, tmp_path).app())) as c:
        resp = await c.get("/tableau/nulle-part")
        assert resp.status == 404 and resp.content_type == "text/plain"
        assert await resp.text() == "ressource inconnue : GET /tableau/nulle-part"


def test_every_pydantic_error_is_said_in_french():
    """Errors of types the table does not list, or whose context lacks a key, still read
    French; pydantic's own text never does."""
    from pydantic import BaseModel, Field, ValidationError

    from astguard.surfaces.api_errors import french_message

    class Odd(BaseModel):
        ratio: float = Field(gt=0)
        when: dt.date
        tags: list[str] = Field(max_length=1)

    try:
        Odd.model_validate({"ratio": -1, "when": "hier", "tags": ["a", "b"]})
    except ValidationError as exc:
        message = french_message(exc, Odd)
    assert message == ("champ 'ratio' : valeur supérieure à 0.0 attendue ; champ 'when' : valeur "
                       "invalide ; champ 'tags' : au plus 1 élément(s) attendu(s)")
