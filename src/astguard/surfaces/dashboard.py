"""The supervisors' dashboard, in French, served by the same application as the API.

Pages are rendered on the server (plain HTML, inline SVG charts, no external asset) so that they
work on a locked-down supervisor PC and print well. The live stream is Server-Sent Events fed
from the evidence chain's sequence through one LISTEN connection per process (store/live.py),
so a decision made on any PBX node appears, in chain order, as soon as it is committed.
Every page is a Jinja2 template (templates/dashboard_*.html) with autoescaping. A supervisor signs in with a read token (write tokens are
refused); the browser then holds only a server-side session id in an HttpOnly, SameSite=Strict
cookie that only ever grants reads (web_security.py: sessions, throttle, CSRF, CSP).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlencode

from aiohttp import web
from markupsafe import Markup

from astguard.clock import Clock
from astguard.app.contacts import ContactService
from astguard.app.history import PrincipalHistory
from astguard.errors import InputError, StoreUnavailable
from astguard.instants import PARIS, period
from astguard.labels import (
    ATTEMPT_SOURCE,
    BLOCK_KIND,
    DECISION,
    DIAL_MODE,
    DIAL_STATUS,
    PURPOSE,
    YES_NO,
    label,
)
from astguard.policy.reasons import text_of
from astguard.app.campaigns import Campaigns
from astguard.app.supervision import DecisionFeed, Subscription, Supervision
from astguard.instants import local_time_text
from astguard.surfaces import templates
from astguard.values import DecisionFilter
from astguard.surfaces.http import Api
from astguard.surfaces.report_render import paris, render_html
from astguard.surfaces.web_security import (
    CSRF_COOKIE,
    SESSION_COOKIE,
    LoginThrottle,
    new_secret,
    same_secret,
    security_headers,
)

log = logging.getLogger(__name__)
STREAM_KEEPALIVE = 15.0  # seconds of silence before a comment line (finds gone browsers)
STREAM_REPLAY = 500  # chain links a reconnecting browser may catch up on

Page = tuple[str, dict[str, Any]]  # a template and its context

_CSS = Markup("""
*{box-sizing:border-box} body{font-family:system-ui,"DejaVu Sans",Arial,sans-serif;margin:0;
color:#1b1b1b;background:#f6f6f4} header{background:#000091;color:#fff;padding:.6em 1.2em;
display:flex;gap:1.5em;align-items:center;flex-wrap:wrap} header a{color:#fff;text-decoration:none}
header b{font-size:1.2em;margin-right:1em} main{padding:1em 1.2em;max-width:1400px}
table{border-collapse:collapse;width:100%;background:#fff;margin:.5em 0 1.2em}
th,td{border-bottom:1px solid #ddd;padding:4px 6px;text-align:left;font-size:.92em;vertical-align:top}
th{background:#eee} .deny{color:#b00020;font-weight:600} .allow{color:#18753c;font-weight:600}
.cards{display:flex;gap:1em;flex-wrap:wrap;margin:.5em 0 1em} .card{background:#fff;padding:.6em 1em;
border:1px solid #ddd;min-width:10em} .card b{display:block;font-size:1.6em}
form.inline{display:flex;gap:.6em;align-items:end;flex-wrap:wrap;margin:.5em 0 1em}
label{display:flex;flex-direction:column;font-size:.85em} input,select,button{font:inherit;padding:3px}
.charts{display:flex;gap:2em;flex-wrap:wrap} .chart{background:#fff;border:1px solid #ddd;padding:.5em}
.error{background:#fde8e8;border:1px solid #b00020;padding:.6em 1em} #etat{font-size:.85em}
.muted{color:#666} @media print{header,form{display:none}}
""")

_STREAM_JS = """
(function(){
  var body = document.body, tbody = document.querySelector('#flux tbody'),
      etat = document.getElementById('etat');
  var es = new EventSource('/tableau/flux?depuis=' + body.dataset.seq);
  function cell(tr, text, cls){ var td = document.createElement('td'); td.textContent = text;
    if (cls) td.className = cls; tr.appendChild(td); }
  es.onopen = function(){ etat.textContent = 'en direct'; };
  es.onerror = function(){ etat.textContent = 'connexion perdue, nouvelle tentative…'; };
  es.addEventListener('etat', function(e){ etat.textContent = e.data; });
  es.addEventListener('decision', function(e){
    var d = JSON.parse(e.data), tr = document.createElement('tr');
    tr.dataset.decisionId = d.id;
    cell(tr, d.heure); cell(tr, d.numero); cell(tr, d.heure_locale); cell(tr, d.campagne);
    cell(tr, d.agent); cell(tr, d.decision_fr, d.decision); cell(tr, d.motifs);
    cell(tr, d.numero_presente);
    tbody.insertBefore(tr, tbody.firstChild);
    [['nb-decisions', true], ['nb-refus', d.decision === 'deny'],
     ['nb-autorisees', d.decision === 'allow']].forEach(function(c){
      var el = document.getElementById(c[0]);
      if (el && c[1] && d.jour === body.dataset.jour) el.textContent = +el.textContent + 1; });
    while (tbody.rows.length > 200) tbody.deleteRow(-1);
    etat.textContent = 'en direct — dernière décision ' + d.heure;
  });
})();
"""


def _paris(value: str | dt.datetime | None, fmt: str = "%d/%m/%Y %H:%M:%S") -> str:
    return paris(value, fmt)


def _motifs(row: dict[str, Any]) -> str:
    return ", ".join(f"{c} ({text_of(c)})" for c in row["deny_codes"]) or "—"


def stream_item(row: dict[str, Any]) -> dict[str, Any]:
    """One decision as the live stream and the first page render show it."""
    return {"id": row["id"], "heure": _paris(row["decided_at"], "%H:%M:%S"),
            "numero": row["number_e164"] or row["dialled"],
            "heure_locale": local_time_text(row["local_times"]),
            "campagne": row["campaign"] or "—", "agent": row["agent"] or "—",
            "decision": row["decision"], "decision_fr": DECISION[row["decision"]],
            "jour": _paris(row["decided_at"], "%Y-%m-%d"),
            "motifs": _motifs(row), "numero_presente": row["caller_id"] or "—"}


def bar_chart(title: str, items: list[tuple[str, int]], *, color: str = "#000091",
              ident: str = "") -> dict[str, Any]:
    """A horizontal bar chart's geometry, drawn as inline SVG by dashboard_macros.html."""
    top = max((n for _, n in items), default=0) or 1
    row_h, label_w, bar_w = 22, 260, 300
    return {"title": title, "ident": ident, "color": color, "row_h": row_h,
            "label_w": label_w, "width": label_w + bar_w + 60,
            "height": row_h * len(items) + 6,
            "bars": [{"label": str(label), "n": n, "y": i * row_h + 3,
                      "w": max(2, round(bar_w * n / top))}
                     for i, (label, n) in enumerate(items)]}


def _decision_cell(decision: str) -> dict[str, str]:
    return {"cls": decision, "text": DECISION[decision]}


def _rate(denied: int, decisions: int) -> str:
    return f"{100 * denied / decisions:.1f} %" if decisions else "—"


class Dashboard:
    def __init__(self, *, api: Api, reports: Supervision, contacts: ContactService,
                 directory: Campaigns, clock: Clock, feed: DecisionFeed | None = None,
                 keepalive: float | None = None,
                 throttle: LoginThrottle | None = None) -> None:
        self._api = api
        self._throttle = throttle or LoginThrottle()
        self._reports = reports
        self._contacts = contacts
        self._directory = directory
        self._clock = clock
        self.feed = feed or reports.live_feed()
        self._keepalive = keepalive  # None: STREAM_KEEPALIVE

    def install(self, app: web.Application) -> None:
        r = app.router
        r.add_get("/", self._home)
        r.add_get("/tableau/connexion", self._login_form)
        r.add_post("/tableau/connexion", self._login)
        r.add_get("/tableau/deconnexion", self._logout)
        r.add_get("/tableau/", self._page("Direct", self.live))
        r.add_get("/tableau/refus", self._page("Refus", self.refusals))
        r.add_get("/tableau/consommateur", self._page("Consommateur", self.consumer))
        r.add_get("/tableau/campagnes", self._page("Campagnes", self.campaigns))
        r.add_get("/tableau/campagne/{name}", self._page("Campagne", self.campaign))
        r.add_get("/tableau/rapport", self._page("Rapport d'inspection", self.report))
        r.add_get("/tableau/flux", self.stream)
        app[DASHBOARD] = self

        async def close_feed(_app: web.Application) -> None:
            await self.feed.close()
        app.on_cleanup.append(close_feed)

    # Sign-in -------------------------------------------------------------------------------

    async def _home(self, request: web.Request) -> web.StreamResponse:
        raise web.HTTPFound("/tableau/")

    async def _login_form(self, request: web.Request, error: str = "",
                          status: int = 200) -> web.Response:
        # The form carries a fresh CSRF token, also set as a cookie (double submit): a
        # cross-site form cannot read it, so it cannot sign a browser in with its own token.
        csrf = new_secret()
        resp = await self._html("dashboard_login.html", "Connexion", status=status, nav=False,
                                error=error, csrf=csrf)
        resp.set_cookie(CSRF_COOKIE, csrf, httponly=True, samesite="Strict",
                        path="/tableau/connexion", secure=request.secure)
        return resp

    async def _login(self, request: web.Request) -> web.StreamResponse:
        address = request.remote or "?"
        if self._throttle.blocked(address):
            log.warning("dashboard sign-in throttled for %s", address)
            return await self._login_form(
                request, "Trop d'essais de connexion depuis cette adresse : réessayer dans "
                "une minute.", status=429)
        form = await request.post()
        if not same_secret(str(form.get("csrf", "")), request.cookies.get(CSRF_COOKIE, "")):
            self._throttle.failed(address)
            return await self._login_form(
                request, "Formulaire expiré ou venu d'ailleurs : saisir le jeton à nouveau.",
                status=403)
        right = self._api.right_of(str(form.get("jeton", "")).strip())
        if right is None:
            self._throttle.failed(address)
            return await self._login_form(request, "Jeton inconnu.", status=401)
        if right != "read":
            self._throttle.failed(address)
            return await self._login_form(
                request, "Un jeton d'écriture n'ouvre pas le tableau de bord : utiliser un "
                "jeton de lecture (ASTGUARD_API_READ_TOKENS).", status=403)
        old = request.cookies.get(SESSION_COOKIE, "")
        self._api.sessions.close(old)  # a new id at every sign-in (no session fixation)
        resp = web.HTTPSeeOther("/tableau/")
        resp.set_cookie(SESSION_COOKIE, self._api.sessions.open(right), httponly=True,
                        samesite="Strict", path="/", secure=request.secure,
                        max_age=int(self._api.sessions.lifetime))
        resp.del_cookie(CSRF_COOKIE, path="/tableau/connexion")
        raise resp

    async def _logout(self, request: web.Request) -> web.StreamResponse:
        self._api.sessions.close(request.cookies.get(SESSION_COOKIE, ""))
        resp = web.HTTPSeeOther("/tableau/connexion")
        resp.del_cookie(SESSION_COOKIE, path="/")
        raise resp

    # Page frame ----------------------------------------------------------------------------

    async def _html(self, template: str, title: str, *, status: int = 200, nav: bool = True,
                    seq: int | None = None, script: str = "", day: str = "",
                    **context: Any) -> web.Response:
        nonce = new_secret()  # the page's own style and script, nothing injected (CSP)
        text = await templates.pages.get_template(template).render_async(
            title=title, nav=nav, seq=seq, day=day, nonce=nonce, css=_CSS,
            script=Markup(script), paris=_paris, local_time_text=local_time_text, **context)
        return web.Response(text=text, status=status, content_type="text/html", charset="utf-8",
                            headers=security_headers(nonce))

    def _page(self, title: str, render: Callable[[web.Request], Awaitable[Page]]
              ) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def page(request: web.Request) -> web.StreamResponse:
            if self._api.token_right(request) is None:
                raise web.HTTPSeeOther("/tableau/connexion")
            try:
                template, context = await render(request)
            except InputError as exc:
                return await self._html("dashboard_error.html", title, status=400,
                                        message=str(exc))
            except StoreUnavailable as exc:
                return await self._html("dashboard_error.html", title, status=503,
                                        message=f"Base de données indisponible : {exc}")
            return await self._html(template, context.pop("title", title), **context)
        return page

    def _today(self) -> dt.date:
        return self._clock.now().astimezone(PARIS).date()

    @staticmethod
    def _period_form(start: dt.datetime, end: dt.datetime) -> dict[str, dt.date]:
        return {"first": start.astimezone(PARIS).date(),
                "last": (end - dt.timedelta(days=1)).astimezone(PARIS).date()}

    # Pages ---------------------------------------------------------------------------------

    async def live(self, request: web.Request) -> Page:
        seq = await self._reports.head_seq()
        today = self._today()
        start, end = period(None, None, today, default_days=1)
        recent = await self._reports.decisions(DecisionFilter(start - dt.timedelta(days=6), end,
                                                              limit=50))
        stats = await self._reports.refusal_stats(start, end)
        unguarded = await self._reports.unguarded_count(start, end)
        items = [stream_item(r) for r in recent.decisions]
        rows = [[i["heure"], i["numero"], i["heure_locale"], i["campagne"], i["agent"],
                 _decision_cell(i["decision"]), i["motifs"], i["numero_presente"]]
                for i in items]
        return "dashboard_live.html", {
            "stats": stats, "unguarded": unguarded, "rows": rows,
            "row_ids": [i["id"] for i in items],
            "seq": seq, "script": _STREAM_JS, "day": today.isoformat()}

    async def refusals(self, request: web.Request) -> Page:
        start, end = period(request.query.get("from"), request.query.get("to"),
                            self._today())
        s = await self._reports.refusal_stats(start, end, request.query.get("principal"))
        charts = [
            bar_chart("Refus par motif", [(f"{r.rule} {r.code}", r.count) for r in s.by_reason],
                      ident="par-motif"),
            bar_chart("Refus par campagne", [(r.key, r.count) for r in s.by_campaign],
                      color="#6a6af4", ident="par-campagne"),
            bar_chart("Refus par agent", [(r.key, r.count) for r in s.by_agent],
                      color="#c9191e", ident="par-agent")]
        return "dashboard_refusals.html", {
            "form": self._period_form(start, end), "s": s, "charts": charts,
            "rate": _rate(s.denied, s.decisions),
            "reasons": [[r.rule, r.code, r.text, r.count] for r in s.by_reason]}

    async def consumer(self, request: web.Request) -> Page:
        number = request.query.get("numero", "").strip()
        campaign_name = request.query.get("campagne", "").strip()
        campaigns = [c["name"] for c in await self._directory.list_campaigns()]
        context: dict[str, Any] = {"number": number, "campaign": campaign_name,
                                   "campaigns": campaigns, "h": None,
                                   "attempts_rows": _attempt_rows, "block_rows": _block_rows,
                                   "consent_rows": _consent_rows}
        if not number:
            return "dashboard_consumer.html", context
        campaign = None
        if campaign_name:
            found = await self._directory.classify(None, campaign_name)
            if found.campaign is None:
                raise InputError(found.how)
            campaign = found.campaign
        context["h"] = await self._contacts.history(number, campaign)
        return "dashboard_consumer.html", context

    async def campaigns(self, request: web.Request) -> Page:
        rows = [[{"href": f"/tableau/campagne/{c['name']}", "text": c["name"]},
                 c["principal_id"], label(PURPOSE, c["purpose"]),
                 label(DIAL_MODE, c["dial_mode"]), c["caller_id"] or "—",
                 YES_NO[bool(c["active"])]]
                for c in await self._directory.list_campaigns()]
        return "dashboard_campaigns.html", {"rows": rows}

    async def campaign(self, request: web.Request) -> Page:
        name = request.match_info["name"]
        start, end = period(request.query.get("from"), request.query.get("to"),
                            self._today(), default_days=30)
        c = await self._reports.campaign(name, start, end)
        rate = f"{100 * c.refusal_rate:.1f} %" if c.refusal_rate is not None else "—"
        charts = [
            bar_chart("Décisions par jour", [(d.day.isoformat(), d.decisions)
                                             for d in c.per_day], ident="par-jour"),
            bar_chart("Refus par motif", [(f"{r.rule} {r.code}", r.count) for r in c.by_reason],
                      color="#c9191e", ident="motifs-campagne")]
        caller_ids = [[r.caller_id, r.calls, r.network_refusals,
                       {"cls": "deny", "text": "CALL_BLOCKED_BY_NETWORK"} if r.alert else "—"]
                      for r in c.caller_ids]
        return "dashboard_campaign.html", {
            "title": f"Campagne {name}", "form": self._period_form(start, end), "c": c,
            "rate": rate, "charts": charts, "caller_ids": caller_ids}

    async def report(self, request: web.Request) -> Page:
        principal = request.query.get("principal", "").strip()
        start, end = period(request.query.get("from"), request.query.get("to"),
                            self._today(), default_days=30)
        context: dict[str, Any] = {"form": self._period_form(start, end),
                                   "principal": principal, "report": None, "query": ""}
        if not principal:
            return "dashboard_report.html", context
        async with self._reports.open_inspection(principal, start, end) as run:
            context["report"] = Markup(await render_html(run, fragment=True))
        context["query"] = urlencode({
            "principal": principal, "from": start.astimezone(PARIS).date().isoformat(),
            "to": (end - dt.timedelta(days=1)).astimezone(PARIS).date().isoformat()})
        return "dashboard_report.html", context

    # Live stream ---------------------------------------------------------------------------

    async def stream(self, request: web.Request) -> web.StreamResponse:
        """Server-sent events from the process's one DecisionFeed (LISTEN/NOTIFY). A browser
        that comes back with a cursor first catches up on the chain (at most STREAM_REPLAY
        links), then takes the feed's events after that cursor."""
        if self._api.token_right(request) is None:
            raise web.HTTPUnauthorized(text="jeton absent ou inconnu")
        try:
            cursor = int(request.headers.get("Last-Event-ID")
                         or request.query.get("depuis") or -1)
        except ValueError:
            raise web.HTTPBadRequest(text="paramètre 'depuis' : nombre entier attendu") from None
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream",
                                           "Cache-Control": "no-cache",
                                           "X-Accel-Buffering": "no"})
        # Subscribed before the head is read: a decision committed once the browser sees the
        # stream open is always streamed, either by the catch-up or by the feed.
        async with self.feed.subscribe() as sub:
            caught_up = False
            with contextlib.suppress(StoreUnavailable):
                cursor = await self._catch_up(cursor, None)
                caught_up = True
            await resp.prepare(request)
            try:
                await resp.write(b"retry: 2000\n\n")
                if caught_up and cursor >= 0:
                    cursor = await self._catch_up(cursor, resp)
                await self._follow(sub, cursor, resp)
            except (ConnectionResetError, ConnectionError):
                pass  # the browser went away
        return resp

    async def _catch_up(self, cursor: int, resp: web.StreamResponse | None) -> int:
        """Without `resp`: where to start (the head, or a stale cursor brought near it).
        With it: send the links after `cursor` that are already committed."""
        if resp is None:
            head = await self._reports.head_seq()
            return head if cursor < 0 else max(cursor, head - STREAM_REPLAY)
        while True:
            cursor, rows = await self._reports.since(cursor)
            for row in rows:
                await _send_decision(resp, row)
            if not rows:
                return cursor

    async def _follow(self, sub: Subscription, cursor: int,
                      resp: web.StreamResponse) -> None:
        while not sub.overflowed:
            try:
                async with asyncio.timeout(self._keepalive or STREAM_KEEPALIVE):
                    event = await sub.queue.get()
            except TimeoutError:
                await resp.write(b": veille\n\n")  # also how a gone browser is noticed
                continue
            if event.healthy is not None:
                if event.healthy and cursor < 0:
                    with contextlib.suppress(StoreUnavailable):
                        cursor = await self._reports.head_seq()
                text = ("en direct" if event.healthy
                        else "base de données indisponible — nouvelle tentative")
                await resp.write(f"event: etat\ndata: {text}\n\n".encode())
                continue
            if event.seq > cursor:  # cursor < 0: the head was unreadable, start from here
                assert event.row is not None
                await _send_decision(resp, event.row)
                cursor = event.seq


async def _send_decision(resp: web.StreamResponse, row: dict[str, Any]) -> None:
    payload = json.dumps(stream_item(row), ensure_ascii=False)
    await resp.write(f"id: {row['seq']}\nevent: decision\ndata: {payload}\n\n".encode())


def _attempt_rows(e: PrincipalHistory) -> list[list[Any]]:
    return [[_paris(a.at), a.number, label(ATTEMPT_SOURCE, a.source), a.campaign or "—",
             "décroché" if a.answered else label(DIAL_STATUS, a.dial_status)]
            for a in e.attempts]


def _block_rows(e: PrincipalHistory) -> list[list[Any]]:
    return [[label(BLOCK_KIND, b.kind), b.since.isoformat(),
             b.until.isoformat() if b.until else "définitif", b.source, b.agent or "—"]
            for b in e.blocks]


def _consent_rows(e: PrincipalHistory) -> list[list[Any]]:
    return [[c.id, ", ".join(c.scopes), c.state, _paris(c.collected_at, "%d/%m/%Y"),
             _paris(c.valid_until, "%d/%m/%Y"), c.proof_ref] for c in e.consents]


DASHBOARD = web.AppKey("astguard_dashboard", Dashboard)
