"""The HTTP API for CRMs and dialers (aiohttp): the same decision path and the same contact
actions as the CLI and the agents' codes.

Bearer tokens: a read token may check calls and read histories; a write token may also record.
Bad input is a 4xx with a French message; a database that is away is a 503.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from aiohttp import web

from astguard.clock import Clock
from astguard.app.contacts import ContactService
from astguard.errors import InputError, StoreUnavailable
from astguard.app.gate import Gate
from astguard.instants import PARIS, input_day, input_instant, period
from astguard.metrics import Metrics
from astguard.surfaces import dry_run
from astguard.policy.numbers import NumberError, fast_e164
from astguard.store.caller_ids import CallerIdStore
from astguard.store import audit
from astguard.store.database import Database
from astguard.store.directory import Directory
from astguard.store.reports import DecisionFilter, Reports
from astguard.surfaces.openapi import openapi_document
from astguard.surfaces.report_render import stream_csv, stream_html
from astguard.surfaces.web_security import (
    SESSION_COOKIE,
    Sessions,
    new_secret,
    same_secret,
)

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_READ, _WRITE = "read", "write"


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status,
                             dumps=lambda o: json.dumps(o, ensure_ascii=False))


async def write_chunks(request: web.Request, resp: web.StreamResponse,
                       chunks: AsyncIterator[str], flush_at: int = 1 << 16) -> None:
    """Send text chunks as they come, in writes of about `flush_at` bytes."""
    await resp.prepare(request)
    pending: list[bytes] = []
    size = 0
    async for chunk in chunks:
        data = chunk.encode()
        pending.append(data)
        size += len(data)
        if size >= flush_at:
            await resp.write(b"".join(pending))
            pending, size = [], 0
    if pending:
        await resp.write(b"".join(pending))
    await resp.write_eof()


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

    def only(self, names: frozenset[str] | set[str]) -> None:
        """Refuse fields the operation does not know (a typo such as `callerId` would otherwise
        check a different call without a word)."""
        unknown = sorted(set(self._data) - set(names))
        if unknown:
            raise InputError("champ(s) inconnu(s) : " + ", ".join(unknown)
                             + " ; champs acceptés : " + ", ".join(sorted(names)))

    def flag(self, name: str) -> bool:
        value = self._data.get(name, False)
        if not isinstance(value, bool):
            raise InputError(f"champ {name!r} : true ou false attendu")
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
                 metrics: Metrics | None = None, reports: Reports | None = None,
                 clock: Clock | None = None, db: Database | None = None,
                 sessions: Sessions | None = None,
                 readiness: Callable[[], Awaitable[dict[str, Any]]] | None = None) -> None:
        self._gate = gate
        self._contacts = contacts
        self._directory = directory
        self._caller_ids = caller_ids
        self._read = read_tokens | write_tokens
        self._write = write_tokens
        self._gate_at = gate_at  # a gate whose clock is pinned at the request's "at"
        self._metrics = metrics
        self._reports = reports
        self._clock = clock
        self._db = db
        self.sessions = sessions or Sessions()  # the dashboard's signed-in browsers
        self._readiness = readiness  # the running service's probes (astguard.readiness)

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
        r.add_get("/v1/decisions", self._guard(_READ, self.decisions))
        r.add_get("/v1/stats/refusals", self._guard(_READ, self.refusal_stats))
        r.add_get("/v1/campaigns/{name}/summary", self._guard(_READ, self.campaign_summary))
        r.add_get("/v1/reports/inspection", self._guard(_READ, self.inspection))
        r.add_get("/v1/audit/verify", self._guard(_READ, self.audit_verify))
        r.add_get("/v1/openapi.json", self.openapi)
        r.add_get("/v1/health", self.health)
        r.add_get("/v1/ready", self.ready)
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

    def token_right(self, request: web.Request) -> str | None:
        """The right the request gives: a bearer token's, or (reads only, so that a forged
        cross-site form can never write) the dashboard's session cookie's."""
        header = request.headers.get("Authorization", "")
        token = header.removeprefix("Bearer ").strip() if header.startswith("Bearer ") else ""
        if token:
            return self.right_of(token)
        if request.method in ("GET", "HEAD"):
            return self.sessions.right(request.cookies.get(SESSION_COOKIE, ""))
        return None

    def right_of(self, token: str) -> str | None:
        """A token's right; any text (non-ASCII, control characters) is compared as bytes, so
        a malformed token is unknown (401), never a crash (500)."""
        if not token or not any(same_secret(token, t) for t in self._read):
            return None
        return _WRITE if any(same_secret(token, t) for t in self._write) else _READ

    def _guard(self, right: str, handler: Handler) -> Handler:
        async def guarded(request: web.Request) -> web.StreamResponse:
            has = self.token_right(request)
            if has is None:
                return _error(401, "jeton absent ou inconnu (Authorization: Bearer …)")
            if right == _WRITE and has != _WRITE:
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
        """Liveness: the process answers. No token."""
        return _ok({"status": "ok"})

    async def ready(self, request: web.Request) -> web.Response:
        """Readiness: every part this node needs to decide calls, with its state; 503 when
        one is down. No token (states only, no data): keep the API on loopback."""
        if self._readiness is None:
            return _ok({"ready": False, "checks": {}}, status=503)
        report = await self._readiness()
        return _ok(report, status=200 if report["ready"] else 503)

    async def check(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        body.only(dry_run.FIELDS)
        press = body.flag("press")
        run = dry_run.build(**{name: body.text(name, required=False)
                               for name in dry_run.FIELDS - {"number", "press"}},
                            number=body.text("number") or "", press=press, source="api")
        gate = self._gate_at(run.at) if run.at and self._gate_at else self._gate
        decided = await gate.check(run.call, record=False, campaign=run.campaign)
        return _ok(decided.verdict.as_dict())

    async def history(self, request: web.Request) -> web.Response:
        campaign = None
        name = request.query.get("campaign")
        if name:
            found = await self._directory.classify(None, name)
            if found.campaign is None:
                raise InputError(found.how)
            campaign = found.campaign
        return _ok((await self._contacts.history(request.match_info["number"],
                                                 campaign)).as_dict())

    async def _block(self, request: web.Request, kind: str) -> web.Response:
        body = await self._body(request)
        body.only({"number", "principal", "agent", "reference"}
                  | ({"days"} if kind == "suspension" else set()))
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
        body.only({"principal", "number", "scopes", "collected_at", "channel", "wording",
                   "proof_ref", "valid_until"})
        new = await self._contacts.add_consent(
            body.text("principal") or "", body.text("number") or "",
            scopes=body.strings("scopes"), collected_at=body.instant("collected_at"),
            channel=body.text("channel") or "", wording=body.text("wording") or "",
            proof_ref=body.text("proof_ref") or "",
            valid_until=body.instant("valid_until", required=False))
        return _ok({"new": new}, status=201 if new else 200)

    async def withdraw(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        body.only({"principal", "number"})
        n = await self._contacts.withdraw_consent(body.text("principal") or "",
                                                  body.text("number") or "")
        return _ok({"withdrawn": n})

    async def caller_ids(self, request: web.Request) -> web.Response:
        return _ok(await self._caller_ids.list(request.query.get("principal")))

    async def add_caller_id(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        body.only({"number", "principal", "mandate_ref", "valid_from", "valid_to", "trunk",
                   "operator", "kind"})
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
        body.only({"principal", "number", "at", "reference"})
        new = await self._contacts.record_external_attempt(
            body.text("principal") or "", body.text("number") or "", body.instant("at"),
            body.text("reference") or "")
        return _ok({"new": new}, status=201 if new else 200)

    # Supervision and inspection (read-only) ------------------------------------------------

    def _need(self) -> tuple[Reports, Clock]:
        if self._reports is None or self._clock is None:
            raise web.HTTPNotFound(text="reports are not configured")
        return self._reports, self._clock

    def _period(self, request: web.Request, default_days: int = 7
                ) -> tuple[dt.datetime, dt.datetime]:
        _, clock = self._need()
        today = clock.now().astimezone(PARIS).date()
        return period(request.query.get("from"), request.query.get("to"), today, default_days)

    @staticmethod
    def _int(request: web.Request, name: str, default: int) -> int:
        text = request.query.get(name)
        if text is None:
            return default
        try:
            return int(text)
        except ValueError:
            raise InputError(f"paramètre {name!r} : nombre entier attendu") from None

    async def decisions(self, request: web.Request) -> web.Response:
        reports, _ = self._need()
        start, end = self._period(request)
        q = request.query
        number = q.get("number")
        if number:
            try:
                number = fast_e164(number)
            except NumberError as exc:
                raise InputError(f"paramètre 'number' : {exc}") from None
        found = await reports.decisions(DecisionFilter(
            start, end, campaign=q.get("campaign"), agent=q.get("agent"),
            reason=q.get("reason"), decision=q.get("decision"), principal=q.get("principal"),
            number=number, limit=self._int(request, "limit", 200),
            offset=self._int(request, "offset", 0)))
        return _ok({"from": start.isoformat(), "to": end.isoformat(), **found.as_dict()})

    async def refusal_stats(self, request: web.Request) -> web.Response:
        reports, _ = self._need()
        start, end = self._period(request)
        return _ok((await reports.refusal_stats(start, end,
                                                request.query.get("principal"))).as_dict())

    async def campaign_summary(self, request: web.Request) -> web.Response:
        reports, _ = self._need()
        start, end = self._period(request, default_days=30)
        return _ok((await reports.campaign(request.match_info["name"], start, end)).as_dict())

    async def inspection(self, request: web.Request) -> web.Response:
        reports, _ = self._need()
        principal = request.query.get("principal")
        if not principal:
            raise InputError("paramètre 'principal' manquant")
        start, end = self._period(request, default_days=30)
        fmt = request.query.get("format", "json")
        if fmt not in ("json", "csv", "html"):
            raise InputError("format : json, csv ou html")
        if fmt == "json":
            return _ok((await reports.inspection(principal, start, end)).as_dict())
        # CSV and HTML stream from the store's cursor (constant memory, issue 15 item 6).
        name = f"inspection-{principal}-{start:%Y%m%d}-{end:%Y%m%d}"
        async with reports.open_inspection(principal, start, end) as run:
            if fmt == "csv":
                resp = web.StreamResponse(headers={
                    "Content-Type": "text/csv; charset=utf-8",
                    "Content-Disposition": f'attachment; filename="{name}.csv"'})
                chunks = stream_csv(run)
            else:
                nonce = new_secret()
                resp = web.StreamResponse(headers={
                    "Content-Type": "text/html; charset=utf-8",
                    "Content-Security-Policy": f"default-src 'none'; style-src "
                    f"'nonce-{nonce}'; frame-ancestors 'none'; base-uri 'none'; "
                    "form-action 'none'", "X-Content-Type-Options": "nosniff",
                    "Referrer-Policy": "no-referrer"})
                chunks = stream_html(run, csv_link=str(request.rel_url.update_query(
                    format="csv")), nonce=nonce)
            await write_chunks(request, resp, chunks)
        return resp

    async def audit_verify(self, request: web.Request) -> web.Response:
        if self._db is None:
            raise web.HTTPNotFound(text="audit is not configured")
        start = end = None
        if "from" in request.query or "to" in request.query:
            _, clock = self._need()
            today = clock.now().astimezone(PARIS).date()
            start, end = period(request.query.get("from", "1970-01-01"),
                                request.query.get("to"), today)
        return _ok((await audit.verify(self._db, start, end)).as_dict())

    async def openapi(self, request: web.Request) -> web.Response:
        return _ok(openapi_document())
