"""The supervisors' dashboard against the real PostgreSQL: sign-in, every page, the read-only
cookie, and, in a real headless Chromium, the live stream and a consumer's page."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestClient, TestServer

from astguard.clock import PinnedClock
from astguard.app.contacts import ContactService
from astguard.app.gate import Gate
from astguard.policy import CallRequest, RuleSettings
from astguard.controller import api_app, components
from astguard.settings import DEFAULT_EMERGENCY
from astguard.store.database import Database
from astguard.store.directory import Directory
from astguard.store.spool import Spool
from lab.browser import chromium
from lab.database import fresh_database
from tests.conftest import PG_SERVER, give_consent, hold_number, service_settings

pytestmark = pytest.mark.db

RULES = RuleSettings(emergency_numbers=frozenset(DEFAULT_EMERGENCY))
NAME = "astguard_test_dashboard"
FRIDAY = dt.datetime(2026, 11, 27, 10, 0, tzinfo=dt.UTC)  # 11:00 in Paris
READ = "read-token-dashboard-0123"
WRITE = "write-token-dashboard-0123"
P = "tb-acme"


@pytest.fixture
async def env(tmp_path) -> AsyncIterator[tuple[str, Gate, ContactService]]:
    url = await fresh_database(PG_SERVER, NAME)
    db = Database(url, timeout=5.0)
    d = Directory(db)
    await d.add_principal(P, "ACME Énergie")
    await hold_number(db, P)
    await d.set_campaign("tb-prospect", P, "prospecting", "manual", "0162123456",
                         scope="energie")
    await d.set_endpoint("tb-alice", "tb-prospect", [], "Alice")
    await d.set_endpoint("tb-bob", "tb-prospect", [], "Bob")
    for n in ("+33612000001", "+33612000002"):
        await give_consent(db, P, n)
    gate = Gate(db=db, directory=d, spool=Spool(tmp_path / "spool"),
                clock=PinnedClock(FRIDAY), rules=RULES, node="test")
    yield url, gate, ContactService(db, PinnedClock(FRIDAY), RULES)
    await db.close()


@pytest.fixture
async def client(env, tmp_path) -> AsyncIterator[TestClient]:
    settings = service_settings(env[0], tmp_path, read=READ, write=WRITE)
    async with components(settings, PinnedClock(FRIDAY + dt.timedelta(hours=1))) as c:
        app = api_app(c)
        async with TestClient(TestServer(app)) as cl:
            yield cl


async def csrf_of_login_form(client: TestClient) -> str:
    form = await (await client.get("/tableau/connexion")).text()
    return re.search(r'name=csrf value="([^"]+)"', form)[1]


async def _login(client: TestClient, token: str = READ) -> None:
    resp = await client.post("/tableau/connexion",
                             data={"jeton": token, "csrf": await csrf_of_login_form(client)},
                             allow_redirects=False)
    assert resp.status == 303 and resp.headers["Location"] == "/tableau/"
    cookie = resp.cookies["astguard_session"]
    assert cookie["httponly"] and cookie["samesite"] == "Strict"


async def test_pages_need_a_signed_in_browser(client):
    for path in ("/tableau/", "/tableau/refus", "/tableau/consommateur", "/tableau/campagnes",
                 "/tableau/campagne/tb-prospect", "/tableau/rapport"):
        resp = await client.get(path, allow_redirects=False)
        assert resp.status == 303 and resp.headers["Location"] == "/tableau/connexion", path
    assert (await client.get("/tableau/flux")).status == 401
    resp = await client.post("/tableau/connexion",
                             data={"jeton": "nope", "csrf": await csrf_of_login_form(client)})
    assert resp.status == 401 and "Jeton inconnu" in await resp.text()


async def test_the_cookie_reads_but_never_writes(client):
    await _login(client, READ)
    assert (await client.get("/v1/decisions")).status == 200
    resp = await client.post("/v1/refusals", json={"number": "0612000001", "principal": P})
    assert resp.status == 401


async def test_every_page_renders_in_french(client, env):
    _, gate, _ = env
    await gate.check(CallRequest("0612000001", "ari", endpoint="tb-alice"), record=True)
    await gate.check(CallRequest("0612000009", "ari", endpoint="tb-bob"), record=True)
    await _login(client)
    live = await client.get("/tableau/")
    text = await live.text()
    assert live.status == 200 and "<html lang=fr>" in text
    assert "+33612000009" in text and "NO_CONSENT" in text and "data-seq=" in text
    refus = await (await client.get("/tableau/refus?from=2026-11-27&to=2026-11-27")).text()
    assert re.search(r'id="par-motif".*<svg role=img.*R-B1 NO_CONSENT', refus, re.S)
    assert re.search(r'id="par-agent".*Bob', refus, re.S)
    assert re.search(r"id=total-refus>1<", refus)
    campaign = await (await client.get("/tableau/campagne/tb-prospect?from=2026-11-27")).text()
    assert re.search(r"id=volume>2<", campaign) and "50.0 %" in campaign
    assert "+33162123456" in campaign
    consumer = await (await client.get("/tableau/consommateur?numero=0612000001"
                                       "&campagne=tb-prospect")).text()
    assert re.search(r'class=tentatives-30j data-principal="tb-acme">1<', consumer)
    report = await (await client.get(f"/tableau/rapport?principal={P}&from=2026-11-01"
                                     "&to=2026-11-30")).text()
    assert "Rapport d'inspection" in report and "Totaux par règle" in report
    csv_link = re.search(r'id=csv href="([^"]+)"', report)[1].replace("&amp;", "&")
    resp = await client.get(csv_link)
    assert resp.status == 200 and resp.content_type == "text/csv"


async def test_bad_input_on_a_page_is_a_french_400(client):
    await _login(client)
    resp = await client.get("/tableau/consommateur?numero=12ab")
    assert resp.status == 400 and "class=error" in await resp.text()
    resp = await client.get("/tableau/refus?from=2026-02-30")
    assert resp.status == 400
    resp = await client.get("/tableau/campagne/inconnue")
    assert resp.status == 400 and "campagne inconnue" in await resp.text()
    assert (await client.get("/tableau/flux?depuis=x")).status == 400


async def test_stream_sends_decisions_made_after_it_opened(client, env):
    _, gate, _ = env
    await _login(client)
    resp = await client.get("/tableau/flux")
    assert resp.content_type == "text/event-stream"
    await resp.content.readuntil(b"\n\n")  # retry:
    decided = await gate.check(CallRequest("0612000002", "ari", endpoint="tb-alice"),
                               record=True)
    text = ""
    async with asyncio.timeout(10):
        while decided.decision_id not in text:
            text += (await resp.content.readuntil(b"\n\n")).decode()
    assert "event: decision" in text and '"decision_fr": "autorisé"' in text
    resp.close()


# In a real browser -------------------------------------------------------------------------

@pytest.fixture
async def live_server(env, tmp_path) -> AsyncIterator[str]:
    settings = service_settings(env[0], tmp_path, read=READ)
    async with components(settings, PinnedClock(FRIDAY + dt.timedelta(hours=1))) as c:
        server = TestServer(api_app(c), host="127.0.0.1")
        await server.start_server()
        yield f"http://127.0.0.1:{server.port}"
        await server.close()


async def browser_login(page, base: str) -> None:
    await page.goto(f"{base}/tableau/connexion")
    await page.evaluate(f"document.getElementById('jeton').value = '{READ}'; "
                        "document.querySelector('form').submit(); true")
    await page.wait_for("location.pathname === '/tableau/' && "
                        "document.getElementById('etat').textContent.startsWith('en direct')",
                        what="the live page, connected")


async def test_browser_shows_a_new_decision_within_seconds(env, live_server, tmp_path):
    _, gate, _ = env
    async with chromium() as page:
        await browser_login(page, live_server)
        decided = await gate.check(CallRequest("0612000003", "ari", endpoint="tb-bob"),
                                   record=True)
        row = await page.wait_for(
            f"(r => r && r.innerText)(document.querySelector("
            f"'#flux tbody tr[data-decision-id=\"{decided.decision_id}\"]'))",
            timeout=5, what="the new decision in the live table")
        assert "+33612000003" in row and "refusé" in row and "NO_CONSENT" in row
        assert await page.evaluate("document.getElementById('nb-refus').textContent") == "1"
        await page.screenshot(tmp_path / "direct.png")


async def test_browser_consumer_page_counts_and_next_callable_moment(env, live_server):
    _, gate, contacts = env
    for _ in range(2):
        d = await gate.check(CallRequest("0612000001", "ari", endpoint="tb-alice"), record=True)
        assert d.verdict.allowed
    await contacts.record_block("suspension", "0612000001", P, source="agent", agent="Alice",
                                days=30)
    async with chromium() as page:
        await browser_login(page, live_server)
        await page.goto(f"{live_server}/tableau/consommateur")
        await page.evaluate("document.querySelector('input[name=numero]').value = "
                            "'06 12 00 00 01'; document.querySelector('select[name=campagne]')"
                            ".value = 'tb-prospect'; document.querySelector('form').submit(); "
                            "true")
        count = await page.wait_for(
            "(e => e && e.textContent)(document.querySelector('.tentatives-30j'))",
            what="the attempts count")
        assert count == "2"
        # Suspended for 30 days on Friday 27 November (Paris): blocked to Sunday 27 December,
        # callable from the first window of Monday 28 December, 10:00 in Paris.
        at = await page.evaluate("document.getElementById('prochain').dataset.at")
        assert at, await page.evaluate("document.body.innerText")
        assert dt.datetime.fromisoformat(at) == dt.datetime(2026, 12, 28, 9, 0, tzinfo=dt.UTC)
        text = await page.evaluate("document.body.innerText")
        assert "28/12/2026 10:00" in text and "REFUSAL_COOLDOWN" in text
        assert "suspension" in await page.evaluate(
            "document.getElementById('blocages-tb-acme').innerText")


async def test_a_stale_cursor_replays_only_the_latest_links(client, env, monkeypatch):
    from astguard.surfaces import dashboard
    _, gate, _ = env
    ids = [(await gate.check(CallRequest(f"061200001{i}", "ari", endpoint="tb-alice"),
                             record=True)).decision_id for i in range(3)]
    monkeypatch.setattr(dashboard, "STREAM_REPLAY", 1)
    await _login(client)
    resp = await client.get("/tableau/flux?depuis=0")
    await resp.content.readuntil(b"\n\n")  # retry:
    async with asyncio.timeout(10):
        first = (await resp.content.readuntil(b"\n\n")).decode()
    assert ids[2] in first and ids[0] not in first and ids[1] not in first
    resp.close()


async def test_database_away_is_said_on_pages_stream_and_api(tmp_path):
    from tests.conftest import UNREACHABLE_DB
    settings = service_settings(UNREACHABLE_DB, tmp_path, read=READ, ASTGUARD_DB_TIMEOUT="1")
    async with components(settings, PinnedClock(FRIDAY)) as c:
        async with TestClient(TestServer(api_app(c))) as client:
            await _login(client)  # signing in needs no database
            page = await client.get("/tableau/")
            assert page.status == 503 and "Base de données indisponible" in await page.text()
            api = await client.get("/v1/decisions")
            assert api.status == 503 and "indisponible" in (await api.json())["error"]
            resp = await client.get("/tableau/flux")
            await resp.content.readuntil(b"\n\n")  # retry:
            async with asyncio.timeout(10):
                event = (await resp.content.readuntil(b"\n\n")).decode()
            assert event.startswith("event: etat") and "indisponible" in event
            resp.close()


async def test_recorded_text_is_escaped_not_run(client, env):
    url, gate, _ = env
    db = Database(url, timeout=5.0)
    try:
        await Directory(db).set_endpoint("tb-evil", "tb-prospect", [], "<script>alert(1)</script>")
    finally:
        await db.close()
    await gate.check(CallRequest("0612000001", "ari", endpoint="tb-evil"), record=True)
    await _login(client)
    for path in ("/tableau/", "/tableau/refus?from=2026-11-27&to=2026-11-27",
                 f"/tableau/rapport?principal={P}&from=2026-11-01&to=2026-11-30"):
        text = await (await client.get(path)).text()
        assert "<script>alert(1)</script>" not in text, path
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text


async def test_consumer_never_callable_again_says_why(client, env):
    _, _, contacts = env
    await contacts.record_block("opposition", "0612000002", P, source="agent")
    await _login(client)
    text = await (await client.get("/tableau/consommateur?numero=0612000002"
                                   "&campagne=tb-prospect")).text()
    found = re.search(r"<p id=prochain>([^<]*)</p>", text)
    assert found and "aucun" in found[1] and "CONSUMER_OPPOSED" in found[1]


async def test_the_live_page_counts_calls_that_reached_a_trunk_without_a_decision(client, env):
    from astguard.store.unguarded import UnguardedCall, UnguardedStore

    url, _, _ = env
    await _login(client)
    assert re.search(r"id=nb-sans-decision>0<", await (await client.get("/tableau/")).text())
    db = Database(url, timeout=5.0)
    try:
        at = FRIDAY + dt.timedelta(minutes=5)
        for number, emergency in (("0612000003", False), ("112", True)):
            await UnguardedStore(db).record(UnguardedCall(
                channel_id=f"c-{number}", channel="PJSIP/carrier-00000001", endpoint="carrier",
                dialled=number, number_e164=None, caller=None, originator=None, linkedid=None,
                token_decision_id=None, problem="aucun jeton astguard", mode="hangup",
                action="emergency_kept" if emergency else "hung_up", emergency=emergency,
                created_at=at, detected_at=at, hung_up_at=None if emergency else at, node="t"))
    finally:
        await db.close()
    text = await (await client.get("/tableau/")).text()
    assert re.search(r"id=nb-sans-decision class=deny>1<", text)  # emergency not counted


HOSTILE = "<script>alert('x')</script>"


async def test_hostile_text_is_escaped_on_every_page_and_in_the_report(client, env):
    """Issue 13 item 7: whatever an operator or a CRM wrote (a principal's name, an agent's
    name, a consent's proof, a block's agent) reaches every page and the printable report
    escaped by the templates, never as markup."""
    url, gate, contacts = env
    db = Database(url, timeout=5.0)
    try:
        d = Directory(db)
        await d.add_principal(P, HOSTILE)
        await d.set_endpoint("tb-evil", "tb-prospect", [], HOSTILE)
        await contacts.add_consent(P, "0612000004", scopes=["energie"],
                                   collected_at=FRIDAY - dt.timedelta(days=1), channel="web",
                                   wording=HOSTILE, proof_ref=HOSTILE)
    finally:
        await db.close()
    await gate.check(CallRequest("0612000004", "ari", endpoint="tb-evil"), record=True)
    await gate.check(CallRequest("0612000009", "ari", endpoint="tb-evil"), record=True)
    await contacts.record_block("suspension", "0612000004", P, source="agent", agent=HOSTILE,
                                days=3)
    await _login(client)
    escaped = "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"
    pages = {
        "/tableau/": True, "/tableau/refus?from=2026-11-27&to=2026-11-27": True,
        "/tableau/consommateur?numero=0612000004&campagne=tb-prospect": True,
        "/tableau/campagnes": False, "/tableau/campagne/tb-prospect?from=2026-11-27": False,
        f"/tableau/rapport?principal={P}&from=2026-11-01&to=2026-11-30": True,
        f"/tableau/consommateur?numero={HOSTILE}": True,  # the error page repeats the input
        f"/v1/reports/inspection?principal={P}&from=2026-11-01&to=2026-11-30&format=html":
            True,
    }
    for path, shows_it in pages.items():
        text = await (await client.get(path)).text()
        assert "<script>alert" not in text, path
        if shows_it:
            assert escaped in text, path
    csv_text = await (await client.get(
        f"/v1/reports/inspection?principal={P}&from=2026-11-01&to=2026-11-30&format=csv")).text()
    assert HOSTILE in csv_text  # CSV is data, not markup: kept as written


async def test_a_closed_stream_leaves_no_task_and_no_queue(client, env, monkeypatch):
    """Every browser shares the process's one feed; when the last one goes, its queue and
    the listening task go with it."""
    from astguard.surfaces import dashboard
    monkeypatch.setattr(dashboard, "STREAM_KEEPALIVE", 0.2)  # a gone browser is seen sooner
    _, gate, _ = env
    await _login(client)
    feed = client.server.app[dashboard.DASHBOARD].feed
    streams = [await client.get("/tableau/flux") for _ in range(3)]
    for resp in streams:
        await resp.content.readuntil(b"\n\n")  # retry:
    assert feed.subscribers == 3 and feed.running and feed.connections == 1
    decided = await gate.check(CallRequest("0612000002", "ari", endpoint="tb-alice"),
                               record=True)
    for resp in streams:  # one notification, fanned out to every browser
        text = ""
        async with asyncio.timeout(10):
            while decided.decision_id not in text:
                text += (await resp.content.readuntil(b"\n\n")).decode()
        resp.close()
    async with asyncio.timeout(10):
        while feed.subscribers or feed.running:
            await asyncio.sleep(0.05)
    assert feed.connections == 1
    names = [t.get_name() for t in asyncio.all_tasks()]
    assert "astguard-decision-feed" not in names
