"""The demo: real Asterisk 22, PostgreSQL, astguard and SIPp calls across the interesting cases.

Each scenario pins astguard's clock (ASTGUARD_CLOCK_PIN) to the moment it needs, places a real
SIP call from an agent's softphone, and reads back what reached the carrier and what astguard
recorded in PostgreSQL. Run it with scripts/demo.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg

from astguard.app.supervision import AuditResult, InspectionReport
from astguard.controller import Components, components
from astguard.instants import period
from astguard.settings import Settings
from astguard.surfaces.report_render import render_html
from astguard.surfaces.table import render_rows
from lab.asterisk import AMI_ASTGUARD_SECRET, ARI_PASSWORD, LabAsterisk, ensure_rootfs
from lab.database import as_service, fresh_database
from lab.sipp import Carrier, agent_call

PG = os.environ.get("ASTGUARD_DEMO_PG", "postgresql://astguard:astguard@127.0.0.1:5432")
DEMO_DB = "astguard_demo"
WORK = Path(tempfile.mkdtemp(prefix="astguard-demo-"))


@dataclass
class Call:
    title: str
    number: str
    agent: str = "agent1"
    headers: dict[str, str] = field(default_factory=dict)
    expect: int | None = None  # None: answered by the carrier
    dtmf: str = ""  # in-call feature code the agent presses (SIP INFO)


@dataclass
class Scene:
    clock: str | None  # None: astguard is not running at all
    label: str
    calls: list[Call]
    env: dict[str, str] = field(default_factory=dict)


SCENES = [
    Scene("2026-11-27T11:00:00+01:00", "ven. 27/11/2026 11:00 Paris", [
        Call("prospection, mobile métropole", "0612345601"),
        Call("mobile 0692 : Réunion 14:00 mais Mayotte 13:00", "0692123456", expect=403),
        Call("Guadeloupe : 06:00 sur place", "0590201234", expect=403),
        Call("poste sans campagne", "0612345602", agent="agent-nocampaign", expect=403),
        Call("campagne de service par en-tête SIP", "0612345603",
             headers={"X-Astguard-Campaign": "demo-service"}),
        Call("numéro invalide", "0612", expect=403),
        Call("urgence 112 (jamais bloqué)", "112"),
        Call("même décision via FastAGI", "0612345604", agent="agi-agent1"),
        Call("numérotation prédictive présentant un 01 (non NPV)", "0612345640",
             agent="agent2", headers={"P-Asserted-Identity": "<sip:0145678901@127.0.0.1>"},
             expect=403),
        Call("numérotation prédictive présentant le NPV 01 62", "0612345641",
             agent="agent2", headers={"P-Asserted-Identity": "<sip:0162123456@127.0.0.1>"}),
    ]),
    Scene("2026-11-30T11:00:00+01:00", "lun. 30/11/2026 11:00 Paris", [
        Call("sans consentement (opt-in depuis le 11/08/2026)", "0612345620", expect=403),
        *[Call(f"tentative {i} sur 30 jours", "0612345621") for i in (1, 2, 3, 4)],
        Call("5e tentative : plafond atteint", "0612345621", expect=403),
        Call("le client refuse : l'agent tape *81 en ligne", "0612345622", dtmf="*81"),
        Call("rappel après le refus", "0612345622", expect=403),
    ]),
    Scene("2026-07-28T11:00:00+02:00", "mar. 28/07/2026 11:00 Paris (régime Bloctel)", [
        Call("numéro vérifié, absent de Bloctel", "0612345630"),
        Call("numéro inscrit sur Bloctel", "0612345631", expect=403),
    ]),
    Scene("2026-11-27T19:59:59+01:00", "ven. 27/11/2026 19:59:59 Paris", [
        Call("dernière seconde de la plage", "0612345605"),
    ]),
    Scene("2026-11-27T20:00:00+01:00", "ven. 27/11/2026 20:00:00 Paris", [
        Call("fin de plage (exclue)", "0612345606", expect=403),
    ]),
    Scene("2026-11-28T11:00:00+01:00", "sam. 28/11/2026 11:00 Paris", [
        Call("prospection le samedi", "0612345607", expect=403),
        Call("appel de service le samedi", "0612345608",
             headers={"X-Astguard-Campaign": "demo-service"}),
    ]),
    Scene("2026-12-25T11:00:00+01:00", "ven. 25/12/2026 11:00 Paris", [
        Call("Noël", "0612345609", expect=403),
    ]),
    Scene("2027-03-26T11:00:00+01:00", "ven. 26/03/2027 11:00 Paris (Vendredi saint)", [
        Call("fixe 03 87 (Moselle)", "0387123456", expect=403),
        Call("fixe 01 (Paris)", "0145678901"),
    ]),
    Scene("2026-11-27T11:00:00+01:00", "PostgreSQL injoignable", [
        Call("prospection refusée par sécurité", "0612345610", expect=503),
        Call("urgence 112", "112"),
    ], env={"ASTGUARD_DATABASE_URL": "postgresql://astguard@127.0.0.1:1/unreachable",
            "ASTGUARD_DB_TIMEOUT": "1"}),
    Scene(None, "astguard arrêté", [
        Call("le plan de numérotation refuse seul", "0612345611", expect=503),
        Call("urgence 112", "112"),
    ]),
]


async def prepare_database() -> str:
    url = await fresh_database(PG, DEMO_DB)
    async with components(_settings(url)) as c:
        await _seed(c)
    return url


def _settings(url: str) -> Settings:
    """The demo's own use of astguard goes through the composition root, as the CLI's does."""
    return Settings.from_env({"ASTGUARD_DATABASE_URL": url, "ASTGUARD_LAB": "1",
                              "ASTGUARD_SPOOL_DIR": str(WORK / "seed-spool")})


async def _seed(c: Components) -> None:
    d = c.campaigns
    await d.add_principal("acme", "ACME Énergie")
    await d.set_campaign("demo-prospect", "acme", "prospecting", "manual", "01 62 12 34 56",
                         scope="energie")
    await d.set_campaign("demo-service", "acme", "service", "manual", "01 45 67 89 01")
    # The numbers ACME may present (R-F2): an NPV for prospecting, a geographic one for service.
    inventory = c.caller_ids
    for number in ("01 62 12 34 56", "01 45 67 89 01"):
        await inventory.add(number, "acme", mandate_ref="ARCEP-2025-0042", trunk="carrier",
                            valid_from=dt.date(2025, 1, 1))
    for agent in ("agent1", "agi-agent1"):
        await d.set_endpoint(agent, "demo-prospect", ["demo-service"], agent)
    # A predictive campaign that refuses a wrong presented number instead of rewriting it.
    await d.set_campaign("demo-predictif", "acme", "prospecting", "predictive",
                         "01 62 12 34 56", scope="energie", cli_policy="refuse")
    await d.set_endpoint("agent2", "demo-predictif", [], "dialer")
    await d.set_endpoint("agent-nocampaign", None, [], None)
    # Consents (R-B) for every demo consumer but the one that shows NO_CONSENT.
    contacts = c.contacts
    numbers = {c.number for scene in SCENES for c in scene.calls} - {"0612", "112", "0612345620"}
    for number in sorted(numbers):
        await contacts.add_consent("acme", number, scopes=["energie"],
                                   collected_at=dt.datetime(2026, 1, 5, tzinfo=dt.UTC),
                                   channel="web", wording="v3", proof_ref=f"form-{number}",
                                   valid_until=dt.datetime(2028, 1, 5, tzinfo=dt.UTC))
    # The Bloctel scrub of July 2026 (R-C2): 0612345631 is missing from the returned file.
    submitted, returned = WORK / "bloctel-submitted.txt", WORK / "bloctel-returned.txt"
    submitted.write_text("0612345630\n0612345631\n")
    returned.write_text("0612345630\n")
    await c.importer.bloctel("acme", submitted, returned, dt.date(2026, 7, 20), progress=False)


async def decisions(url: str) -> list[dict]:
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch("SELECT * FROM decisions ORDER BY recorded_at")
    finally:
        await conn.close()
    return [dict(r) for r in rows]


def start_guard(url: str, scene: Scene, n: int) -> subprocess.Popen[bytes]:
    env = {"PATH": os.environ["PATH"], "ASTGUARD_DATABASE_URL": as_service(url),
           "ASTGUARD_ARI_PASSWORD": ARI_PASSWORD,
           "ASTGUARD_AMI_SECRET": AMI_ASTGUARD_SECRET, "ASTGUARD_CLOCK_PIN": scene.clock or "",
           "ASTGUARD_LAB": "1",
           "ASTGUARD_SPOOL_DIR": str(WORK / "spool"), "ASTGUARD_SPOOL_FLUSH_INTERVAL": "0.5",
           **scene.env}
    log = WORK / f"astguard-{n}.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "astguard", "serve"], env=env,
                                stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 20
    while "ARI websocket connected" not in log.read_text(errors="replace"):
        if time.monotonic() > deadline or proc.poll() is not None:
            sys.exit(f"astguard did not start; see {log}")
        time.sleep(0.1)
    return proc


def stop_guard(proc: subprocess.Popen[bytes] | None) -> None:
    if proc is not None:
        proc.terminate()
        proc.wait(10)


def main() -> int:
    url = asyncio.run(prepare_database())
    asterisk = LabAsterisk(ensure_rootfs(), WORK / "asterisk")
    asterisk.install()
    asterisk.start()
    carrier = Carrier(WORK / "carrier")
    carrier.start()
    results = []
    try:
        for n, scene in enumerate(SCENES):
            guard = start_guard(url, scene, n) if scene.clock else None
            try:
                for call in scene.calls:
                    before = len(carrier.invites())
                    outcome = agent_call(WORK / "calls", call.number, agent=call.agent,
                                         headers=call.headers, expect=call.expect,
                                         hold_ms=3500 if call.dtmf else 200, dtmf=call.dtmf)
                    statuses = outcome.statuses()
                    final = next((s for s in reversed(statuses) if s >= 200), None)
                    reached = carrier.invites()[before:]
                    results.append((scene, call, outcome.ok, final, reached))
            finally:
                stop_guard(guard)
        time.sleep(0.5)
        # The evidence spooled while PostgreSQL was "away" is written by the next astguard.
        flusher = start_guard(url, Scene("2026-11-27T11:00:00+01:00", "", []), 99)
        time.sleep(1.5)
        stop_guard(flusher)
        evidence = asyncio.run(decisions(url))
        inspection = asyncio.run(inspect(url))
    finally:
        carrier.stop()
        asterisk.stop()
        asterisk.unmount()
    print_report(results, evidence)
    print_inspection(*inspection)
    failed = [r for r in results if not r[2]]
    print(f"\n{len(results)} appels, {len(failed)} hors du scénario attendu. "
          f"Journaux : {WORK}")
    return 1 if failed else 0


async def inspect(url: str) -> tuple[InspectionReport, AuditResult, Path]:
    """What an inspector would ask for: the report of the demo's principal, and the chain."""
    async with components(_settings(url)) as c:
        start, end = period("2026-07-01", "2026-12-31", dt.date(2026, 12, 31))
        async with c.supervision.open_inspection("acme", start, end) as run:
            report, html = run.report, await render_html(run)
        checked = await c.supervision.verify_chain()
    path = WORK / "rapport-inspection-acme.html"
    path.write_text(html, encoding="utf-8")
    return report, checked, path


def print_inspection(report: InspectionReport, checked: AuditResult,
                     path: Path) -> None:
    s = report.summary
    print(f"\nRapport d'inspection (acme, juillet à décembre 2026) : {s.decisions} décisions, "
          f"{s.allowed} autorisées, {s.denied} refusées ; refus par règle : "
          + ", ".join(f"{t.rule} {t.count}" for t in report.totals_by_rule))
    print(f"  version imprimable : {path}")
    state = ("intacte" if checked.ok else f"ROMPUE ({checked.first_break.describe()})")
    print(f"Chaîne de preuves : {state}, {checked.checked} maillons vérifiés, "
          f"tête {checked.head_seq} {(checked.head_hash or '')[:16]}…")


def _motifs(row: dict) -> str:
    """Refused: the codes that refused. Allowed: notes (out of scope, caller ID rewritten)."""
    details = json.loads(row["reasons"]) if isinstance(row["reasons"], str) else row["reasons"]
    if row["decision"] == "deny":
        return ", ".join(d["code"] for d in details if d["effect"] == "deny")
    notes = [d["code"] for d in details if "rewritten_to" not in d["inputs"]]
    if any("rewritten_to" in d["inputs"] for d in details):
        notes.append(f"numéro présenté réécrit ({row['caller_id_requested']} -> "
                     f"{row['caller_id']})")
    return ", ".join(notes) or "-"


def print_report(results, evidence) -> None:
    by_number: dict[str, list[dict]] = {}
    for row in evidence:
        by_number.setdefault(row["dialled"], []).append(row)
    table = []
    for scene, call, _ok, final, reached in results:
        rows = by_number.get(call.number, [])
        row = rows.pop(0) if rows and call.number != "112" else None
        if reached:
            from_header = reached[0].headers.get("from", "")
            seen = from_header.split("<sip:")[1].split("@")[0] if "<sip:" in from_header else "?"
        else:
            seen = "rien reçu"
        if row is not None:
            decision = row["decision"]
            reasons = _motifs(row)
            if row["spooled"]:
                reasons += " (journal local, puis PostgreSQL)"
        elif call.number == "112":
            decision, reasons = "allow", "urgence : routée sans passer par astguard"
        else:
            decision, reasons = "-", "pas de décision : le dialplan refuse seul"
        table.append({"moment": scene.label, "appel": call.title, "numéro": call.number,
                      "poste": call.agent, "SIP": final, "opérateur voit": seen,
                      "décision": decision, "motifs": reasons})
    print("\nastguard : démonstration sur un Asterisk 22 réel "
          "(SIPp agent -> Asterisk -> SIPp opérateur)\n")
    print(render_rows(table, ["moment", "appel", "numéro", "poste", "SIP", "opérateur voit",
                              "décision", "motifs"]))


if __name__ == "__main__":
    sys.exit(main())
