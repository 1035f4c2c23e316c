"""The HTTP API for CRMs and dialers (aiohttp): the same decision path and the same contact
actions as the CLI and the agents' codes.

Bearer tokens: a read token may check calls and read histories; a write token may also record.
Routes, rights, inputs and answers come from one table (openapi.py `OPERATIONS`): each request
is validated by its pydantic model (api_models.py) and each JSON answer by its own
(api_responses.py), the same models the OpenAPI document is generated from. Bad input is a 4xx
with a French message naming the field; a database that is away is a 503; every error a client
reads is `{"error": "…"}` in French, aiohttp's own included.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from pydantic import ValidationError

from astguard.clock import Clock
from astguard.app.contacts import ContactService
from astguard.errors import InputError, StoreUnavailable
from astguard.app.gate import Gate
from astguard.instants import PARIS, period
from astguard.metrics import Metrics
from astguard.app.scrub import Scrubber
from astguard.surfaces import dry_run, http_scrub, scrub_format
from astguard.policy.numbers import NumberError, fast_e164
from astguard.app.caller_ids import CallerIds
from astguard.app.campaigns import Campaigns
from astguard.app.supervision import Supervision
from astguard.values import DecisionFilter
from astguard.surfaces import api_models as rq
from astguard.surfaces.api_errors import french_message
from astguard.surfaces.openapi import OPERATIONS, READ, WRITE, Operation, openapi_document
from astguard.surfaces.report_render import stream_csv, stream_html
from astguard.surfaces.web_security import (
    SESSION_COOKIE,
    Sessions,
    new_secret,
    same_secret,
)

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_JSON_MAX = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Reply:
    """A handler's JSON answer, checked against its operation's response model on the way out."""

    payload: Any
    status: int = 200


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


# aiohttp's own errors (unknown route, wrong method, body too large), said in French.
_HTTP_FRENCH = {400: "requête invalide", 401: "authentification requise",
                403: "accès refusé", 404: "ressource inconnue",
                405: "méthode non permise sur cette ressource",
                413: f"corps de requête trop volumineux ({_JSON_MAX // 1024} Kio au plus)",
                415: "type de contenu non pris en charge"}


async def _body(request: web.Request, model: type[rq.Body]) -> Any:
    """The JSON body, validated in strict JSON mode; a French 400 naming the field."""
    raw = await request.read()
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        raise InputError(french_message(exc, model)) from None


def _query(request: web.Request, model: type[rq.Query]) -> Any:
    # A parameter given twice is refused rather than read one way or the other.
    names = [name for name, _ in request.query.items()]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise InputError("paramètre(s) répété(s) : " + ", ".join(twice))
    try:
        return model.model_validate(dict(request.query))
    except ValidationError as exc:
        raise InputError(french_message(exc, model, where="paramètre")) from None


def _said(request: web.Request, status: int, message: str) -> web.Response:
    """An error as the path's clients read it: JSON on the API, plain text on the dashboard."""
    if request.path.startswith(("/v1/", "/metrics")):
        return _error(status, message)
    return web.Response(status=status, text=message, charset="utf-8")


def _iso(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v.isoformat() if isinstance(v, dt.date) else v for k, v in row.items()}


class Api:
    def __init__(self, *, gate: Gate, contacts: ContactService, directory: Campaigns,
                 caller_ids: CallerIds,
                 read_tokens: frozenset[str], write_tokens: frozenset[str],
                 gate_at: Callable[[dt.datetime], Gate] | None = None,
                 metrics: Metrics | None = None, reports: Supervision | None = None,
                 clock: Clock | None = None,
                 sessions: Sessions | None = None,
                 readiness: Callable[[], Awaitable[dict[str, Any]]] | None = None,
                 scrubber: Scrubber | None = None) -> None:
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
        self.sessions = sessions or Sessions()  # the dashboard's signed-in browsers
        self._readiness = readiness  # the running service's probes (astguard.readiness)
        self._scrubber = scrubber  # list scrubbing (surfaces/http_scrub.py)

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._errors], client_max_size=_JSON_MAX)
        for op in OPERATIONS:
            if op.method == "get":  # and HEAD, as aiohttp's add_get always gave
                app.router.add_get(op.path, self._serve(op))
            else:
                app.router.add_route(op.method.upper(), op.path, self._serve(op))
        return app

    @web.middleware
    async def _errors(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except web.HTTPException as exc:
            return _http_error(request, exc)
        except InputError as exc:
            return _error(400, str(exc))
        except StoreUnavailable as exc:
            return _error(503, f"base de données indisponible : {exc}")
        except ValidationError:
            # An answer that does not match its model: a bug here, never the client's.
            log.exception("answer to %s %s does not match its model", request.method,
                          request.path)
            return _said(request, 500, "erreur interne : réponse non conforme (voir le journal)")
        except Exception:
            log.exception("%s %s failed", request.method, request.path)
            return _said(request, 500, "erreur interne (voir le journal du service)")

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
        return WRITE if any(same_secret(token, t) for t in self._write) else READ

    def _serve(self, op: Operation) -> Handler:
        """The operation's handler behind its token check, its input models and its answer
        model: what openapi.py documents is what runs."""
        handler = getattr(self, op.handler)

        async def serve(request: web.Request) -> web.StreamResponse:
            if op.right is not None:
                has = self.token_right(request)
                if has is None:
                    return _error(401, "jeton absent ou inconnu (Authorization: Bearer …)")
                if op.right == WRITE and has != WRITE:
                    return _error(403, "ce jeton ne permet que la lecture")
            inputs: dict[str, Any] = {}
            if op.query is not None:
                inputs["query"] = _query(request, op.query)
            if op.body is not None:
                inputs["body"] = await _body(request, op.body)
            answer = await handler(request, **inputs)
            if not isinstance(answer, Reply):
                return answer
            if op.ok is None:
                raise TypeError(f"{op.operation_id} has no JSON answer")
            text = op.ok.model_validate(answer.payload).model_dump_json(
                by_alias=True, exclude_unset=True)
            return web.Response(text=text, status=answer.status,
                                content_type="application/json", charset="utf-8")

        return serve

    # The service itself ---------------------------------------------------------------------

    async def prometheus(self, request: web.Request) -> web.Response:
        """Prometheus text format; no token (scrapers rarely send one): keep the API on
        loopback or behind a proxy that restricts /metrics."""
        if self._metrics is None:
            return web.Response(text="", content_type="text/plain", charset="utf-8")
        body, content_type = self._metrics.exposition()
        return web.Response(body=body, headers={"Content-Type": content_type})

    async def health(self, request: web.Request) -> Reply:
        """Liveness: the process answers. No token."""
        return Reply({"status": "ok"})

    async def ready(self, request: web.Request) -> Reply:
        """Readiness: every part this node needs to decide calls, with its state; 503 when
        one is down. No token (states only, no data): keep the API on loopback."""
        if self._readiness is None:
            return Reply({"ready": False, "checks": {}}, status=503)
        report = await self._readiness()
        return Reply(report, status=200 if report["ready"] else 503)

    async def openapi(self, request: web.Request) -> Reply:
        return Reply(openapi_document())

    # Calls and contacts ---------------------------------------------------------------------

    async def check(self, request: web.Request, body: rq.CheckRequest) -> Reply:
        run = dry_run.build(
            number=body.number, at=body.at, campaign=body.campaign,
            purpose=body.purpose.value if body.purpose else None, principal=body.principal,
            scope=body.scope, sector=body.sector, press=body.press,
            dial_mode=body.dial_mode.value if body.dial_mode else None,
            caller_id=body.caller_id, endpoint=body.endpoint, department=body.department,
            source="api")
        gate = self._gate_at(run.at) if run.at and self._gate_at else self._gate
        decided = await gate.check(run.call, record=False, campaign=run.campaign)
        return Reply(decided.verdict.as_dict())

    async def history(self, request: web.Request, query: rq.HistoryQuery) -> Reply:
        campaign = None
        if query.campaign:
            found = await self._directory.classify(None, query.campaign)
            if found.campaign is None:
                raise InputError(found.how)
            campaign = found.campaign
        return Reply((await self._contacts.history(request.match_info["number"],
                                                   campaign)).as_dict())

    async def scrub(self, request: web.Request, query: rq.ScrubQuery) -> web.StreamResponse:
        """A list's verdicts, streamed (surfaces/http_scrub.py); nothing recorded."""
        if self._scrubber is None:
            raise _NotConfigured("vérification de listes non configurée sur ce nœud")
        scrub = scrub_format.ScrubRequest(query.campaign, query.at,
                                          http_scrub.negotiated(request, query.format))
        return await http_scrub.stream(request, self._scrubber, scrub)

    async def _block(self, kind: str, body: rq.BlockRequest) -> Reply:
        done = await self._contacts.record_block(
            kind, body.number, body.principal, source="http",
            days=body.days if isinstance(body, rq.SuspensionRequest) else None,
            agent=body.agent, reference=body.reference)
        return Reply(done.as_dict(), status=201 if done.new else 200)

    async def refusal(self, request: web.Request, body: rq.BlockRequest) -> Reply:
        return await self._block("refusal", body)

    async def opposition(self, request: web.Request, body: rq.BlockRequest) -> Reply:
        return await self._block("opposition", body)

    async def suspension(self, request: web.Request, body: rq.SuspensionRequest) -> Reply:
        return await self._block("suspension", body)

    async def consent(self, request: web.Request, body: rq.ConsentRequest) -> Reply:
        new = await self._contacts.add_consent(
            body.principal, body.number, scopes=list(body.scopes),
            collected_at=body.collected_at, channel=body.channel, wording=body.wording,
            proof_ref=body.proof_ref, valid_until=body.valid_until)
        return Reply({"new": new}, status=201 if new else 200)

    async def withdraw(self, request: web.Request, body: rq.WithdrawRequest) -> Reply:
        n = await self._contacts.withdraw_consent(body.principal, body.number)
        return Reply({"withdrawn": n})

    async def attempt(self, request: web.Request, body: rq.AttemptRequest) -> Reply:
        new = await self._contacts.record_external_attempt(
            body.principal, body.number, body.at, body.reference)
        return Reply({"new": new}, status=201 if new else 200)

    async def caller_ids(self, request: web.Request, query: rq.CallerIdsQuery) -> Reply:
        return Reply([_iso(row) for row in await self._caller_ids.list(query.principal)])

    async def add_caller_id(self, request: web.Request, body: rq.CallerIdRequest) -> Reply:
        saved = await self._caller_ids.add(
            body.number, body.principal, mandate_ref=body.mandate_ref,
            valid_from=body.valid_from, valid_to=body.valid_to, trunk=body.trunk,
            operator=body.operator, kind=body.kind)
        return Reply(saved, status=201)

    # Supervision and inspection (read-only) ------------------------------------------------

    def _need(self) -> tuple[Supervision, Clock]:
        if self._reports is None or self._clock is None:
            raise _NotConfigured("rapports non configurés sur ce nœud")
        return self._reports, self._clock

    def _period(self, query: rq.PeriodQuery, default_days: int = 7
                ) -> tuple[dt.datetime, dt.datetime]:
        _, clock = self._need()
        today = clock.now().astimezone(PARIS).date()
        return period(query.from_, query.to, today, default_days)

    async def decisions(self, request: web.Request, query: rq.DecisionsQuery) -> Reply:
        reports, _ = self._need()
        start, end = self._period(query)
        number = query.number
        if number:
            try:
                number = fast_e164(number)
            except NumberError as exc:
                raise InputError(f"paramètre 'number' : {exc}") from None
        found = await reports.decisions(DecisionFilter(
            start, end, campaign=query.campaign, agent=query.agent, reason=query.reason,
            decision=query.decision, principal=query.principal, number=number,
            limit=query.limit, offset=query.offset))
        return Reply({"from": start.isoformat(), "to": end.isoformat(), **found.as_dict()})

    async def refusal_stats(self, request: web.Request, query: rq.RefusalStatsQuery) -> Reply:
        reports, _ = self._need()
        start, end = self._period(query)
        return Reply((await reports.refusal_stats(start, end, query.principal)).as_dict())

    async def campaign_summary(self, request: web.Request, query: rq.PeriodQuery) -> Reply:
        reports, _ = self._need()
        start, end = self._period(query, default_days=30)
        return Reply((await reports.campaign(request.match_info["name"], start,
                                             end)).as_dict())

    async def inspection(self, request: web.Request,
                         query: rq.InspectionQuery) -> web.StreamResponse | Reply:
        reports, _ = self._need()
        start, end = self._period(query, default_days=30)
        if query.format == "json":
            return Reply((await reports.inspection(query.principal, start, end)).as_dict())
        # CSV and HTML stream from the store (constant memory, issue 15 item 6).
        name = f"inspection-{query.principal}-{start:%Y%m%d}-{end:%Y%m%d}"
        async with reports.open_inspection(query.principal, start, end) as run:
            if query.format == "csv":
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

    async def audit_verify(self, request: web.Request, query: rq.PeriodQuery) -> Reply:
        if self._reports is None:
            raise _NotConfigured("contrôle des preuves non configuré sur ce nœud")
        start = end = None
        if query.from_ is not None or query.to is not None:
            _, clock = self._need()
            today = clock.now().astimezone(PARIS).date()
            start, end = period(query.from_ or "1970-01-01", query.to, today)
        return Reply((await self._reports.verify_chain(start, end)).as_dict())


class _NotConfigured(web.HTTPNotFound):
    """A feature this node was built without (reports, audit): a French 404."""

    def __init__(self, message: str) -> None:
        super().__init__(text=message)


def _http_error(request: web.Request, exc: web.HTTPException) -> web.StreamResponse:
    """aiohttp's own answers (unknown route, wrong method, body too large) are English text:
    said in French, as JSON on the API's paths. Redirects and the dashboard's own French errors
    pass unchanged."""
    if isinstance(exc, _NotConfigured):
        return _error(404, exc.text or "")
    default = exc.text == f"{exc.status}: {exc.reason}"
    if exc.status < 400 or not (default or exc.status == 413):
        raise exc
    message = _HTTP_FRENCH.get(exc.status, f"erreur HTTP {exc.status}")
    if exc.status in (404, 405):
        message += f" : {request.method} {request.path}"
    response = _said(request, exc.status, message)
    if exc.status == 405 and "Allow" in exc.headers:
        response.headers["Allow"] = exc.headers["Allow"]
    return response
