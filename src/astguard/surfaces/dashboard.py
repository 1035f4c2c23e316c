"""The supervisors' dashboard, in French, served by the same application as the API.

Pages are rendered on the server (plain HTML, inline SVG charts, no external asset) so that they
work on a locked-down supervisor PC and print well. The live stream is Server-Sent Events fed
from the evidence chain's sequence, so a decision made on any PBX node appears, in commit
order, within about a second. A supervisor signs in with a read token (write tokens are
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
from html import escape
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from astguard.clock import Clock
from astguard.app.contacts import ContactService
from astguard.errors import InputError, StoreUnavailable
from astguard.instants import PARIS, period
from astguard.policy.reasons import text_of
from astguard.app.campaigns import Campaigns
from astguard.app.supervision import Supervision
from astguard.instants import local_time_text
from astguard.values import DecisionFilter
from astguard.surfaces.http import Api
from astguard.surfaces.report_render import DECISION_FR, inspection_html, paris
from astguard.surfaces.web_security import (
    CSRF_COOKIE,
    SESSION_COOKIE,
    LoginThrottle,
    new_secret,
    same_secret,
    security_headers,
)

log = logging.getLogger(__name__)
STREAM_INTERVAL = 1.0  # seconds between two looks at the evidence chain
STREAM_REPLAY = 500  # chain links a reconnecting browser may catch up on

_CSS = """
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
"""

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
            "decision": row["decision"], "decision_fr": DECISION_FR[row["decision"]],
            "jour": _paris(row["decided_at"], "%Y-%m-%d"),
            "motifs": _motifs(row), "numero_presente": row["caller_id"] or "—"}


def bar_chart(title: str, items: list[tuple[str, int]], *, color: str = "#000091",
              ident: str = "") -> str:
    """A horizontal bar chart as inline SVG, with its numbers written out."""
    if not items:
        return (f"<figure class=chart id=\"{escape(ident)}\"><figcaption>{escape(title)}"
                "</figcaption><p class=muted>Aucun refus sur la période.</p></figure>")
    top = max(n for _, n in items) or 1
    row_h, label_w, bar_w = 22, 260, 300
    parts = [f"<svg role=img aria-label=\"{escape(title)}\" width={label_w + bar_w + 60} "
             f"height={row_h * len(items) + 6} xmlns=\"http://www.w3.org/2000/svg\">"]
    for i, (label, n) in enumerate(items):
        y = i * row_h + 3
        w = max(2, round(bar_w * n / top))
        parts.append(
            f"<text x=0 y={y + 15} font-size=12>{escape(label[:40])}</text>"
            f"<rect x={label_w} y={y} width={w} height={row_h - 6} fill=\"{color}\">"
            f"<title>{escape(label)} : {n}</title></rect>"
            f"<text x={label_w + w + 4} y={y + 15} font-size=12 class=n>{n}</text>")
    parts.append("</svg>")
    return (f"<figure class=chart id=\"{escape(ident)}\"><figcaption>{escape(title)}"
            f"</figcaption>{''.join(parts)}</figure>")


def _table(header: list[str], rows: list[list[str]], *, ident: str = "",
           row_attrs: list[str] | None = None) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = []
    for i, row in enumerate(rows):
        attrs = row_attrs[i] if row_attrs else ""
        body.append(f"<tr{attrs}>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>")
    return (f"<table id=\"{escape(ident)}\"><thead><tr>{head}</tr></thead>"
            f"<tbody>{''.join(body)}</tbody></table>")


def _decision_cell(decision: str) -> str:
    return f"<span class={decision}>{escape(DECISION_FR[decision])}</span>"


class Dashboard:
    def __init__(self, *, api: Api, reports: Supervision, contacts: ContactService,
                 directory: Campaigns, clock: Clock,
                 stream_interval: float = STREAM_INTERVAL,
                 throttle: LoginThrottle | None = None) -> None:
        self._api = api
        self._throttle = throttle or LoginThrottle()
        self._reports = reports
        self._contacts = contacts
        self._directory = directory
        self._clock = clock
        self._interval = stream_interval

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

    # Sign-in -------------------------------------------------------------------------------

    async def _home(self, request: web.Request) -> web.StreamResponse:
        raise web.HTTPFound("/tableau/")

    async def _login_form(self, request: web.Request, error: str = "",
                          status: int = 200) -> web.Response:
        # The form carries a fresh CSRF token, also set as a cookie (double submit): a
        # cross-site form cannot read it, so it cannot sign a browser in with its own token.
        csrf = new_secret()
        message = f"<p class=error>{escape(error)}</p>" if error else ""
        body = (f"{message}<form method=post action=/tableau/connexion class=inline>"
                f"<input type=hidden name=csrf value=\"{csrf}\">"
                "<label>Jeton d'accès<input type=password name=jeton id=jeton size=40 "
                "autocomplete=off required></label><button type=submit>Entrer</button></form>"
                "<p class=muted>Un jeton de lecture (ASTGUARD_API_READ_TOKENS) : le tableau de "
                "bord ne modifie rien, et un jeton d'écriture n'y ouvre pas de session.</p>")
        resp = self._html("Connexion", body, status=status, nav=False)
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

    def _html(self, title: str, body: str, *, status: int = 200, nav: bool = True,
              seq: int | None = None, script: str = "", day: str = "") -> web.Response:
        links = "".join(f"<a href=\"{h}\">{t}</a>" for h, t in (
            ("/tableau/", "Direct"), ("/tableau/refus", "Refus"),
            ("/tableau/consommateur", "Consommateur"), ("/tableau/campagnes", "Campagnes"),
            ("/tableau/rapport", "Rapport d'inspection"),
            ("/tableau/deconnexion", "Déconnexion"))) if nav else ""
        data = (f" data-seq=\"{seq}\" data-jour=\"{escape(day)}\"" if seq is not None
                else "")
        nonce = new_secret()  # the page's own style and script, nothing injected (CSP)
        text = (f"<!doctype html><html lang=fr><head><meta charset=utf-8>"
                f"<meta name=viewport content=\"width=device-width\">"
                f"<title>astguard — {escape(title)}</title>"
                f"<style nonce=\"{nonce}\">{_CSS}</style></head>"
                f"<body{data}><header><b>astguard</b>{links}</header><main>"
                f"<h1>{escape(title)}</h1>{body}</main>"
                f"{f'<script nonce={nonce}>{script}</script>' if script else ''}</body></html>")
        return web.Response(text=text, status=status, content_type="text/html", charset="utf-8",
                            headers=security_headers(nonce))

    def _page(self, title: str, render: Callable[[web.Request], Awaitable[tuple[str, dict]]]
              ) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def page(request: web.Request) -> web.StreamResponse:
            if self._api.token_right(request) is None:
                raise web.HTTPSeeOther("/tableau/connexion")
            try:
                body, extra = await render(request)
            except InputError as exc:
                return self._html(title, f"<p class=error>{escape(str(exc))}</p>", status=400)
            except StoreUnavailable as exc:
                return self._html(title, "<p class=error>Base de données indisponible : "
                                  f"{escape(str(exc))}</p>", status=503)
            return self._html(extra.pop("title", title), body, **extra)
        return page

    def _today(self) -> dt.date:
        return self._clock.now().astimezone(PARIS).date()

    @staticmethod
    def _period_form(start: dt.datetime, end: dt.datetime, extra: str = "") -> str:
        last = (end - dt.timedelta(days=1)).astimezone(PARIS).date()
        return (f"<form class=inline method=get>{extra}<label>Du<input type=date name=from "
                f"value=\"{start.astimezone(PARIS).date()}\"></label><label>Au<input type=date "
                f"name=to value=\"{last}\"></label><button>Afficher</button></form>")

    # Pages ---------------------------------------------------------------------------------

    async def live(self, request: web.Request) -> tuple[str, dict]:
        seq = await self._reports.head_seq()
        today = self._today()
        start, end = period(None, None, today, default_days=1)
        recent = await self._reports.decisions(DecisionFilter(start - dt.timedelta(days=6), end,
                                                              limit=50))
        stats = await self._reports.refusal_stats(start, end)
        unguarded = await self._reports.unguarded_count(start, end)
        items = [stream_item(r) for r in recent["decisions"]]
        rows = [[escape(i["heure"]), escape(i["numero"]), escape(i["heure_locale"]),
                 escape(i["campagne"]), escape(i["agent"]),
                 _decision_cell(i["decision"]), escape(i["motifs"]),
                 escape(i["numero_presente"])] for i in items]
        attrs = [f" data-decision-id=\"{escape(i['id'])}\"" for i in items]
        body = (
            f"<div class=cards><div class=card>Décisions aujourd'hui<b id=nb-decisions>"
            f"{stats['decisions']}</b></div><div class=card>Refusées<b id=nb-refus>"
            f"{stats['denied']}</b></div><div class=card>Autorisées<b id=nb-autorisees>{stats['allowed']}</b>"
            f"</div><div class=card>Appels sans décision (vigie)<b id=nb-sans-decision"
            f"{' class=deny' if unguarded else ''}>{unguarded}</b></div></div><p>Flux des décisions : <span id=etat>connexion…</span></p>"
            + _table(["Heure", "Numéro", "Heure du consommateur", "Campagne", "Agent",
                      "Décision", "Motifs de refus", "Numéro présenté"], rows, ident="flux",
                     row_attrs=attrs))
        return body, {"seq": seq, "script": _STREAM_JS, "day": today.isoformat()}

    async def refusals(self, request: web.Request) -> tuple[str, dict]:
        start, end = period(request.query.get("from"), request.query.get("to"),
                            self._today())
        s = await self._reports.refusal_stats(start, end, request.query.get("principal"))
        rate = f"{100 * s['denied'] / s['decisions']:.1f} %" if s["decisions"] else "—"
        body = (
            self._period_form(start, end)
            + f"<div class=cards><div class=card>Décisions<b>{s['decisions']}</b></div>"
            f"<div class=card>Refusées<b id=total-refus>{s['denied']}</b></div>"
            f"<div class=card>Taux de refus<b>{rate}</b></div></div><div class=charts>"
            + bar_chart("Refus par motif", [(f"{r['rule']} {r['code']}", r["count"])
                                             for r in s["by_reason"]], ident="par-motif")
            + bar_chart("Refus par campagne", [(r["campaign"], r["count"])
                                                for r in s["by_campaign"]],
                        color="#6a6af4", ident="par-campagne")
            + bar_chart("Refus par agent", [(r["agent"], r["count"]) for r in s["by_agent"]],
                        color="#c9191e", ident="par-agent")
            + "</div>"
            + _table(["Règle", "Code", "Motif", "Refus"], [
                [escape(r["rule"]), escape(r["code"]), escape(r["text"]), str(r["count"])]
                for r in s["by_reason"]], ident="table-motifs"))
        return body, {}

    async def consumer(self, request: web.Request) -> tuple[str, dict]:
        number = request.query.get("numero", "").strip()
        campaign_name = request.query.get("campagne", "").strip()
        campaigns = await self._directory.list_campaigns()
        options = "".join(
            f"<option value=\"{escape(c['name'])}\""
            f"{' selected' if c['name'] == campaign_name else ''}>{escape(c['name'])}</option>"
            for c in campaigns)
        form = (f"<form class=inline method=get><label>Numéro<input name=numero "
                f"value=\"{escape(number)}\" required></label><label>Campagne (pour le "
                f"prochain moment appelable)<select name=campagne><option value=\"\">—</option>"
                f"{options}</select></label><button>Afficher</button></form>")
        if not number:
            return form, {}
        campaign = None
        if campaign_name:
            found = await self._directory.classify(None, campaign_name)
            if found.campaign is None:
                raise InputError(found.how)
            campaign = found.campaign
        h = await self._contacts.history(number, campaign)
        parts = [form, f"<p>Numéro <b id=numero>{escape(h['number'])}</b> "
                       f"(numéros liés : {escape(', '.join(h['numbers']))}) — aujourd'hui "
                       f"{escape(h['today'])}</p>"]
        nxt = h["next_callable"]
        if nxt is None:
            parts.append("<p class=muted>Choisir une campagne pour calculer le prochain "
                         "moment appelable.</p>")
        elif nxt["at"] is None:
            parts.append(f"<p id=prochain>Prochain moment appelable : aucun — "
                         f"{escape(nxt.get('detail', ''))} ; bloqué par : "
                         f"{escape(', '.join(nxt.get('reasons_now', [])))}</p>")
        else:
            when = "maintenant" if nxt["now"] else _paris(nxt["at"], "%d/%m/%Y %H:%M")
            local = local_time_text(nxt.get("local_times", []))
            parts.append(
                f"<p>Prochain moment appelable : <b id=prochain data-at=\"{escape(nxt['at'])}\">"
                f"{escape(when)}</b> (heure de Paris{'; ' + escape(local) if local else ''})"
                + (f" — bloqué maintenant par : {escape(', '.join(nxt['reasons_now']))}"
                   if nxt.get("reasons_now") else "") + "</p>")
        if not h["principals"]:
            parts.append("<p class=muted>Aucune tentative, aucun refus, aucun consentement.</p>")
        for principal, e in sorted(h["principals"].items()):
            parts.append(
                f"<h2>Donneur d'ordre {escape(principal)}</h2><div class=cards>"
                f"<div class=card>Tentatives sur 30 jours<b class=tentatives-30j "
                f"data-principal=\"{escape(principal)}\">{e['attempts_last_30_days']}</b></div>"
                f"<div class=card>Refus / suspensions / oppositions en cours<b>"
                f"{len(e['blocks'])}</b></div></div>")
            parts.append(_table(["Date", "Numéro", "Source", "Campagne", "Issue"], [
                [escape(_paris(a["at"])), escape(a["number"]), escape(a["source"]),
                 escape(a["campaign"] or "—"),
                 escape("décroché" if a["answered"] else (a["dial_status"] or "—"))]
                for a in e["attempts"]], ident=f"tentatives-{principal}"))
            kinds = {"refusal": "refus", "suspension": "suspension", "opposition": "opposition"}
            parts.append(_table(["Type", "Depuis", "Jusqu'au", "Source", "Agent"], [
                [escape(kinds.get(b["kind"], b["kind"])), escape(b["since"]),
                 escape(b["until"] or "définitif"), escape(b["source"]), escape(b["agent"] or "—")]
                for b in e["blocks"]], ident=f"blocages-{principal}"))
            parts.append(_table(["Consentement", "Périmètres", "État", "Recueilli le",
                                 "Valable jusqu'au", "Preuve"], [
                [str(c["id"]), escape(", ".join(c["scopes"])), escape(c["state"]),
                 escape(_paris(c["collected_at"], "%d/%m/%Y")),
                 escape(_paris(c["valid_until"], "%d/%m/%Y")), escape(c["proof_ref"])]
                for c in e["consents"]], ident=f"consentements-{principal}"))
        return "".join(parts), {}

    async def campaigns(self, request: web.Request) -> tuple[str, dict]:
        rows = [[f"<a href=\"/tableau/campagne/{escape(c['name'])}\">{escape(c['name'])}</a>",
                 escape(c["principal_id"]), escape(c["purpose"]), escape(c["dial_mode"]),
                 escape(c["caller_id"] or "—"), "oui" if c["active"] else "non"]
                for c in await self._directory.list_campaigns()]
        return _table(["Campagne", "Donneur d'ordre", "Finalité", "Numérotation",
                       "Numéro présenté", "Active"], rows, ident="campagnes"), {}

    async def campaign(self, request: web.Request) -> tuple[str, dict]:
        name = request.match_info["name"]
        start, end = period(request.query.get("from"), request.query.get("to"),
                            self._today(), default_days=30)
        c = await self._reports.campaign(name, start, end)
        rate = f"{100 * c['refusal_rate']:.1f} %" if c["refusal_rate"] is not None else "—"
        body = (
            self._period_form(start, end)
            + f"<p>Donneur d'ordre {escape(c['campaign']['principal_id'])}, finalité "
            f"{escape(c['campaign']['purpose'])}, numérotation "
            f"{escape(c['campaign']['dial_mode'])}</p><div class=cards>"
            f"<div class=card>Décisions<b id=volume>{c['decisions']}</b></div>"
            f"<div class=card>Refusées<b>{c['denied']}</b></div>"
            f"<div class=card>Taux de refus<b id=taux-refus>{rate}</b></div>"
            f"<div class=card>Décrochés<b>{c['answered']}</b></div>"
            f"<div class=card>Refus réseau (403/603/608)<b id=refus-reseau>"
            f"{c['network_refusals']}</b></div></div><div class=charts>"
            + bar_chart("Décisions par jour", [(d["day"], d["decisions"]) for d in c["per_day"]],
                        ident="par-jour")
            + bar_chart("Refus par motif", [(f"{r['rule']} {r['code']}", r["count"])
                                             for r in c["by_reason"]], color="#c9191e",
                        ident="motifs-campagne")
            + "</div><h2>Numéros présentés</h2>"
            + _table(["Numéro présenté", "Appels", "Refus réseau", "Alerte"], [
                [escape(r["caller_id"]), str(r["calls"]), str(r["network_refusals"]),
                 "<span class=deny>CALL_BLOCKED_BY_NETWORK</span>" if r["alert"] else "—"]
                for r in c["caller_ids"]], ident="numeros-presentes"))
        return body, {"title": f"Campagne {name}"}

    async def report(self, request: web.Request) -> tuple[str, dict]:
        principal = request.query.get("principal", "").strip()
        start, end = period(request.query.get("from"), request.query.get("to"),
                            self._today(), default_days=30)
        form = self._period_form(
            start, end,
            extra=f"<label>Donneur d'ordre<input name=principal value=\"{escape(principal)}\" "
                  "required></label>")
        if not principal:
            return form, {}
        report = await self._reports.inspection(principal, start, end)
        query = urlencode({"principal": principal,
                           "from": start.astimezone(PARIS).date().isoformat(),
                           "to": (end - dt.timedelta(days=1)).astimezone(PARIS).date()
                           .isoformat()})
        links = (f"<p><a id=csv href=\"/v1/reports/inspection?format=csv&amp;{escape(query)}\">"
                 f"Télécharger en CSV</a> · <a id=imprimable target=_blank "
                 f"href=\"/v1/reports/inspection?format=html&amp;{escape(query)}\">Version "
                 "imprimable (PDF par l'impression du navigateur)</a></p>")
        html = inspection_html(report)
        inner = html[html.index("<body>") + 6:html.index("</body>")]
        return form + links + f"<div class=rapport>{inner}</div>", {}

    # Live stream ---------------------------------------------------------------------------

    async def stream(self, request: web.Request) -> web.StreamResponse:
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
        healthy, started = True, False
        if cursor < 0:
            # The head before the first byte is sent: a decision made once the browser sees
            # the stream open is always streamed (reading it later raced with such decisions).
            with contextlib.suppress(StoreUnavailable):
                cursor = await self._reports.head_seq()
                started = True
        await resp.prepare(request)
        await resp.write(b"retry: 2000\n\n")
        while True:
            try:
                if cursor < 0:
                    cursor = await self._reports.head_seq()
                elif not started:  # a stale cursor replays at most the last links
                    cursor = max(cursor, await self._reports.head_seq() - STREAM_REPLAY)
                started = True
                cursor, rows = await self._reports.since(cursor)
                if not healthy:
                    await resp.write("event: etat\ndata: en direct\n\n".encode())
                    healthy = True
                for row in rows:
                    payload = json.dumps(stream_item(row), ensure_ascii=False)
                    await resp.write(f"id: {row['seq']}\nevent: decision\ndata: {payload}\n\n"
                                     .encode())
                if not rows:
                    await resp.write(b": veille\n\n")
            except StoreUnavailable:
                healthy = False
                await resp.write("event: etat\ndata: base de données indisponible — nouvelle "
                                 "tentative\n\n".encode())
            except ConnectionResetError:
                break  # the browser went away
            await asyncio.sleep(self._interval)
        return resp

