"""The HTTP API for CRMs and dialers (aiohttp): the same decision path and the same contact
actions as the CLI and the agents' codes.

Bearer tokens: a read token may check calls and read histories; a write token may also record.
Bad input is a 4xx with a French message; a database that is away is a 503.
"""

from __future__ import annotations

import datetime as dt
import hmac
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from astguard.contacts import ContactService
from astguard.errors import InputError, StoreUnavailable
from astguard.gate import Gate
from astguard.instants import input_day, input_instant
from astguard.metrics import Metrics
from astguard.policy import CallRequest, Campaign, DialMode, Purpose
from astguard.store.caller_ids import CallerIdStore
from astguard.store.directory import Directory

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_READ, _WRITE = "read", "write"


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status,
                             dumps=lambda o: json.dumps(o, ensure_ascii=False))


def _ok(payload: Any, status: int = 200) -> web.Response:
    return web.json_response(payload, status=status,
                             dumps=lambda o: json.dumps(o, ensure_ascii=False, default=str))


class Body:
    """Typed access to a JSON object, with a French message naming the bad field."""

    def __init__(self, data: Any) -> None:
        if not isinstance(data, dict):
            raise InputError("le corps doit être un objet JSON")
        self._data = data

    def text(self, name: str, *, required: bool = True) -> str | None:
        value = self._data.get(name)
        if value is None or value == "":
            if required:
                raise InputError(f"champ {name!r} manquant")
            return None
        if not isinstance(value, str):
            raise InputError(f"champ {name!r} : texte attendu")
        return value

    def integer(self, name: str) -> int:
        value = self._data.get(name)
        if not isinstance(value, int) or isinstance(value, bool):
            raise InputError(f"champ {name!r} : nombre entier attendu")
        return value

    def instant(self, name: str, *, required: bool = True) -> dt.datetime | None:
        text = self.text(name, required=required)
        if text is None:
            return None
        return input_instant(text, f"champ {name!r}")

    def strings(self, name: str) -> list[str]:
        value = self._data.get(name)
        if not isinstance(value, list) or not value or \
                not all(isinstance(v, str) and v for v in value):
            raise InputError(f"champ {name!r} : liste de textes attendue")
        return value


class Api:
    def __init__(self, *, gate: Gate, contacts: ContactService, directory: Directory,
                 caller_ids: CallerIdStore,
                 read_tokens: frozenset[str], write_tokens: frozenset[str],
                 gate_at: Callable[[dt.datetime], Gate] | None = None,
                 metrics: Metrics | None = None) -> None:
        self._gate = gate
        self._contacts = contacts
        self._directory = directory
        self._caller_ids = caller_ids
        self._read = read_tokens | write_tokens
        self._write = write_tokens
        self._gate_at = gate_at  # a gate whose clock is pinned at the request's "at"
        self._metrics = metrics

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._errors], client_max_size=1024 * 1024)
        r = app.router
        r.add_post("/v1/check", self._guard(_READ, self.check))
        r.add_get("/v1/history/{number}", self._guard(_READ, self.history))
        r.add_post("/v1/refusals", self._guard(_WRITE, self.refusal))
        r.add_post("/v1/oppositions", self._guard(_WRITE, self.opposition))
        r.add_post("/v1/suspensions", self._guard(_WRITE, self.suspension))
        r.add_post("/v1/consents", self._guard(_WRITE, self.consent))
        r.add_post("/v1/consents/withdraw", self._guard(_WRITE, self.withdraw))
        r.add_post("/v1/attempts", self._guard(_WRITE, self.attempt))
        r.add_get("/v1/caller-ids", self._guard(_READ, self.caller_ids))
        r.add_post("/v1/caller-ids", self._guard(_WRITE, self.add_caller_id))
        r.add_get("/v1/health", self.health)
        r.add_get("/metrics", self.prometheus)
        return app

    @web.middleware
    async def _errors(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except web.HTTPException:
            raise
        except InputError as exc:
            return _error(400, str(exc))
        except StoreUnavailable as exc:
            return _error(503, f"base de données indisponible : {exc}")

    def _guard(self, right: str, handler: Handler) -> Handler:
        allowed = self._write if right == _WRITE else self._read

        async def guarded(request: web.Request) -> web.StreamResponse:
            header = request.headers.get("Authorization", "")
            token = header.removeprefix("Bearer ").strip() if header.startswith("Bearer ") \
                else ""
            if not token or not any(hmac.compare_digest(token, t) for t in self._read):
                return _error(401, "jeton absent ou inconnu (Authorization: Bearer …)")
            if not any(hmac.compare_digest(token, t) for t in allowed):
                return _error(403, "ce jeton ne permet que la lecture")
            return await handler(request)

        return guarded

    @staticmethod
    async def _body(request: web.Request) -> Body:
        try:
            return Body(await request.json())
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise InputError("corps JSON illisible") from None

    async def prometheus(self, request: web.Request) -> web.Response:
        """Prometheus text format; no token (scrapers rarely send one): keep the API on
        loopback or behind a proxy that restricts /metrics."""
        text = self._metrics.render() if self._metrics else ""
        return web.Response(text=text, content_type="text/plain", charset="utf-8")

    async def health(self, request: web.Request) -> web.Response:
        return _ok({"status": "ok"})

    async def check(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        at = body.instant("at", required=False)
        gate = self._gate_at(at) if at and self._gate_at else self._gate
        campaign = None
        purpose, principal = body.text("purpose", required=False), \
            body.text("principal", required=False)
        if purpose or principal:
            if not (purpose and principal) or body.text("campaign", required=False):
                raise InputError("donner campaign, ou bien purpose et principal ensemble")
            try:
                campaign = Campaign("(api)", principal, Purpose(purpose),
                                    DialMode(body.text("dial_mode", required=False)
                                             or "manual"))
            except ValueError as exc:
                raise InputError(str(exc)) from None
        call = CallRequest(
            dialled=body.text("number") or "", source="api",
            endpoint=body.text("endpoint", required=False),
            campaign_name=body.text("campaign", required=False),
            caller_id=body.text("caller_id", required=False),
            department=body.text("department", required=False))
        decided = await gate.check(call, record=False, campaign=campaign)
        return _ok(decided.verdict.as_dict())

    async def history(self, request: web.Request) -> web.Response:
        campaign = None
        name = request.query.get("campaign")
        if name:
            found = await self._directory.classify(None, name)
            if found.campaign is None:
                raise InputError(found.how)
            campaign = found.campaign
        return _ok(await self._contacts.history(request.match_info["number"], campaign))

    async def _block(self, request: web.Request, kind: str) -> web.Response:
        body = await self._body(request)
        done = await self._contacts.record_block(
            kind, body.text("number") or "", body.text("principal") or "", source="http",
            days=body.integer("days") if kind == "suspension" else None,
            agent=body.text("agent", required=False),
            reference=body.text("reference", required=False))
        return _ok(done.as_dict(), status=201 if done.new else 200)

    async def refusal(self, request: web.Request) -> web.Response:
        return await self._block(request, "refusal")

    async def opposition(self, request: web.Request) -> web.Response:
        return await self._block(request, "opposition")

    async def suspension(self, request: web.Request) -> web.Response:
        return await self._block(request, "suspension")

    async def consent(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        new = await self._contacts.add_consent(
            body.text("principal") or "", body.text("number") or "",
            scopes=body.strings("scopes"), collected_at=body.instant("collected_at"),
            channel=body.text("channel") or "", wording=body.text("wording") or "",
            proof_ref=body.text("proof_ref") or "",
            valid_until=body.instant("valid_until", required=False))
        return _ok({"new": new}, status=201 if new else 200)

    async def withdraw(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        n = await self._contacts.withdraw_consent(body.text("principal") or "",
                                                  body.text("number") or "")
        return _ok({"withdrawn": n})

    async def caller_ids(self, request: web.Request) -> web.Response:
        return _ok(await self._caller_ids.list(request.query.get("principal")))

    async def add_caller_id(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        start = input_day(body.text("valid_from") or "", "champ 'valid_from'")
        end = input_day(body.text("valid_to", required=False), "champ 'valid_to'")
        saved = await self._caller_ids.add(
            body.text("number") or "", body.text("principal") or "",
            mandate_ref=body.text("mandate_ref") or "", valid_from=start, valid_to=end,
            trunk=body.text("trunk", required=False),
            operator=body.text("operator", required=False),
            kind=body.text("kind", required=False))
        return _ok(saved, status=201)

    async def attempt(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        new = await self._contacts.record_external_attempt(
            body.text("principal") or "", body.text("number") or "", body.instant("at"),
            body.text("reference") or "")
        return _ok({"new": new}, status=201 if new else 200)

