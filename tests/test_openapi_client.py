"""What a CRM does with /v1/openapi.json: generate a client with a standard OpenAPI generator
(openapi-python-client), then call the running API through it, against the real PostgreSQL:
a decision dry run, a consent recorded, the call allowed, a history read, and errors parsed as
the document says (French messages)."""

from __future__ import annotations

import datetime as dt
import importlib
import json
import subprocess
import sys
from pathlib import Path

import pytest
from aiohttp.test_utils import TestServer

from astguard.store.directory import Directory
from tests.conftest import hold_number, role_database
from tests.test_http import READ, WRITE, api_for

pytestmark = pytest.mark.db

PACKAGE = "astguard_client"


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> object:
    """The client package, generated from the document the API serves (the same function),
    imported from a temporary folder and forgotten afterwards."""
    from astguard.surfaces.openapi import openapi_document

    root = tmp_path_factory.mktemp("client")
    spec = root / "openapi.json"
    spec.write_text(json.dumps(openapi_document(), ensure_ascii=False), encoding="utf-8")
    config = root / "config.yml"
    # No formatter hook: the generated code is imported, not read.
    config.write_text(f"post_hooks: []\npackage_name_override: {PACKAGE}\n", encoding="utf-8")
    generator = Path(sys.executable).with_name("openapi-python-client")
    done = subprocess.run(
        [str(generator), "generate", "--path", str(spec), "--config", str(config),
         "--meta", "none", "--output-path", str(root / PACKAGE)],
        capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Warning" not in done.stdout + done.stderr, done.stdout + done.stderr
    sys.path.insert(0, str(root))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(root))
        for name in [n for n in sys.modules if n == PACKAGE or n.startswith(PACKAGE + ".")]:
            del sys.modules[name]


@pytest.fixture
async def server(database_url, tmp_path):
    async with role_database(database_url, "service") as db:
        d = Directory(db)
        await d.add_principal("gen-acme", "ACME")
        await d.set_campaign("gen-prospect", "gen-acme", "prospecting", "manual",
                             "0162123456", scope="energie")
        await hold_number(db, "gen-acme")
        async with TestServer(api_for(db, tmp_path).app(), host="127.0.0.1") as srv:
            yield str(srv.make_url("")).rstrip("/")


def _module(name: str):
    return importlib.import_module(f"{PACKAGE}.{name}")


async def test_a_generated_client_checks_records_and_reads(generated, server):
    client_mod, models = _module("client"), _module("models")
    check_call = _module("api.appels.check_call")
    record_consent = _module("api.contacts.record_consent")
    get_history = _module("api.contacts.get_history")
    number = "0670000031"
    async with client_mod.AuthenticatedClient(base_url=server, token=READ) as reader, \
            client_mod.AuthenticatedClient(base_url=server, token=WRITE) as writer:
        body = models.CheckRequest(number=number, campaign="gen-prospect")
        first = await check_call.asyncio_detailed(client=reader, body=body)
        assert first.status_code == 200
        assert isinstance(first.parsed, models.Verdict)
        assert first.parsed.reasons == ["NO_CONSENT"]
        assert first.parsed.decision == models.VerdictDecision.DENY
        assert first.parsed.details[0].code == "NO_CONSENT"

        consent = models.ConsentRequest(
            number=number, principal="gen-acme", scopes=["energie"],
            collected_at=dt.datetime(2026, 10, 1, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=2))),
            channel="web", wording="v3", proof_ref="crm-gen-1")
        recorded = await record_consent.asyncio_detailed(client=writer, body=consent)
        assert recorded.status_code == 201 and recorded.parsed.new is True
        again = await record_consent.asyncio_detailed(client=writer, body=consent)
        assert again.status_code == 200 and again.parsed.new is False

        allowed = await check_call.asyncio(client=reader, body=body)
        assert allowed.decision == models.VerdictDecision.ALLOW
        assert allowed.number == "+33670000031" and allowed.caller_id == "+33162123456"

        history = await get_history.asyncio(number, client=reader, campaign="gen-prospect")
        assert isinstance(history, models.History)
        assert history.number == "+33670000031"
        consents = history.principals["gen-acme"].consents
        assert [c.proof_ref for c in consents] == ["crm-gen-1"]
        assert consents[0].state == models.HistoryConsentState.VALABLE
        assert history.next_callable.now is True


async def test_errors_reach_the_generated_client_as_documented(generated, server):
    client_mod, models = _module("client"), _module("models")
    record_refusal = _module("api.contacts.record_refusal")
    list_decisions = _module("api.supervision.list_decisions")
    async with client_mod.AuthenticatedClient(base_url=server, token=READ) as reader, \
            client_mod.AuthenticatedClient(base_url=server, token=WRITE) as writer:
        refusal = models.BlockRequest(number="0670000032", principal="gen-acme")
        forbidden = await record_refusal.asyncio_detailed(client=reader, body=refusal)
        assert forbidden.status_code == 403
        assert isinstance(forbidden.parsed, models.Error)
        assert forbidden.parsed.error == "ce jeton ne permet que la lecture"
        bad = await record_refusal.asyncio_detailed(
            client=writer, body=models.BlockRequest(number="06", principal="gen-acme"))
        assert bad.status_code == 400 and "invalide" in bad.parsed.error
        # No reports on this node (api_for builds none): a documented 404, in French.
        missing = await list_decisions.asyncio_detailed(client=reader)
        assert missing.status_code == 404
        assert missing.parsed.error == "rapports non configurés sur ce nœud"
