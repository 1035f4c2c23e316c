"""`astguard` commands about consumers: refusals, oppositions, suspensions, consents,
contracts, call-backs, outside attempts, linked numbers, imports and the history."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from astguard.app.contacts import ContactService
from astguard.app.history import ConsumerHistory
from astguard.errors import InputError
from astguard.app.bloctel import import_bloctel
from astguard.app.imports import KINDS, import_file
from astguard.instants import input_day, input_instant
from astguard.labels import ATTEMPT_SOURCE, BLOCK_KIND, DIAL_STATUS, label


def add_parsers(sub: argparse._SubParsersAction) -> None:
    for kind, helptext in (("refusal", "the consumer refused: 60 days of silence (R-D7)"),
                           ("opposition", "the consumer objects: no more calls (R-B3)"),
                           ("suspend", "suspend prospecting for N days")):
        p = sub.add_parser(kind, help=helptext)
        p.add_argument("number")
        p.add_argument("--principal", required=True)
        p.add_argument("--agent")
        if kind == "suspend":
            p.add_argument("--days", type=int, required=True)

    co = sub.add_parser("consent", help="the consent registry (R-B)")
    co_sub = co.add_subparsers(dest="consent_cmd", required=True)
    add = co_sub.add_parser("add")
    add.add_argument("number")
    add.add_argument("--principal", required=True)
    add.add_argument("--scope", action="append", required=True, dest="scopes")
    add.add_argument("--collected-at", required=True)
    add.add_argument("--channel", required=True)
    add.add_argument("--wording", required=True, help="version or hash of the consent text")
    add.add_argument("--proof", required=True, help="proof reference")
    add.add_argument("--valid-until", help="default: one year after collection")
    wd = co_sub.add_parser("withdraw")
    wd.add_argument("number")
    wd.add_argument("--principal", required=True)
    ls = co_sub.add_parser("list")
    ls.add_argument("number")

    ct = sub.add_parser("contract", help="current contracts (exception R-B4)")
    ct_sub = ct.add_subparsers(dest="contract_cmd", required=True)
    ca = ct_sub.add_parser("add")
    ca.add_argument("number")
    ca.add_argument("--principal", required=True)
    ca.add_argument("--scope", action="append", required=True, dest="scopes")
    ca.add_argument("--start", required=True)
    ca.add_argument("--end")
    ca.add_argument("--reference", required=True)

    cb = sub.add_parser("callback", help="a call-back the consumer asked for (R-D5)")
    cb_sub = cb.add_subparsers(dest="callback_cmd", required=True)
    cba = cb_sub.add_parser("add")
    cba.add_argument("number")
    cba.add_argument("--principal", required=True)
    cba.add_argument("--at", required=True)
    cba.add_argument("--proof", required=True)

    at = sub.add_parser("attempt", help="attempts made outside this PBX (R-D6)")
    at_sub = at.add_subparsers(dest="attempt_cmd", required=True)
    ata = at_sub.add_parser("add")
    ata.add_argument("number")
    ata.add_argument("--principal", required=True)
    ata.add_argument("--at", required=True)
    ata.add_argument("--reference", required=True)

    cs = sub.add_parser("consumer", help="a consumer's numbers")
    cs_sub = cs.add_subparsers(dest="consumer_cmd", required=True)
    link = cs_sub.add_parser("link", help="these numbers are one consumer's")
    link.add_argument("numbers", nargs="+")

    im = sub.add_parser("import", help="import a file, all or nothing")
    im.add_argument("kind", choices=[*KINDS, "bloctel"])
    im.add_argument("file", nargs="?", help="CSV file (consents, oppositions, attempts)")
    im.add_argument("--principal", help="bloctel: the professional who submitted the file")
    im.add_argument("--submitted", help="bloctel: the file submitted to Bloctel")
    im.add_argument("--returned", help="bloctel: the file Bloctel returned")
    im.add_argument("--date", help="bloctel: the date of the returned file")
    im.add_argument("--json", action="store_true")

    hi = sub.add_parser("history", help="a consumer's history and next callable moment")
    hi.add_argument("number")
    hi.add_argument("--campaign")
    hi.add_argument("--json", action="store_true")


FRENCH = BLOCK_KIND

COMMANDS = ("refusal", "opposition", "suspend", "consent", "contract", "callback", "attempt",
            "consumer", "import", "history")


async def run(c: Any, args: argparse.Namespace) -> int:
    service: ContactService = c.contacts
    cmd = args.command
    if cmd in ("refusal", "opposition", "suspend"):
        kind = "suspension" if cmd == "suspend" else cmd
        done = await service.record_block(kind, args.number, args.principal, source="cli",
                                          days=getattr(args, "days", None), agent=args.agent)
        until = f" jusqu'au {done.until.isoformat()} inclus" if done.until else ""
        print(f"{FRENCH[kind]} enregistré(e) pour {done.number} ({done.principal}){until}"
              + (f" ; {done.consents_withdrawn} consentement(s) retiré(s)"
                 if done.consents_withdrawn else ""))
    elif cmd == "consent" and args.consent_cmd == "add":
        new = await service.add_consent(
            args.principal, args.number, scopes=args.scopes,
            collected_at=input_instant(args.collected_at, "--collected-at"), channel=args.channel,
            wording=args.wording, proof_ref=args.proof,
            valid_until=input_instant(args.valid_until, "--valid-until") if args.valid_until else None)
        print("consentement enregistré" if new else "consentement déjà enregistré")
    elif cmd == "consent" and args.consent_cmd == "withdraw":
        n = await service.withdraw_consent(args.principal, args.number)
        print(f"{n} consentement(s) retiré(s)")
    elif cmd == "consent":
        history = await service.history(args.number)
        for entry in history.principals:
            for consent in entry.consents:
                print(f"{entry.principal}  {consent.state:<8} {','.join(consent.scopes)}  "
                      f"{consent.collected_at.isoformat()} -> "
                      f"{consent.valid_until.isoformat()}  {consent.channel}  "
                      f"{consent.proof_ref}")
    elif cmd == "contract":
        await service.add_contract(args.principal, args.number, scopes=args.scopes,
                                   started_on=input_day(args.start, "--start"),
                                   ended_on=input_day(args.end, "--end"), reference=args.reference)
        print("contrat enregistré")
    elif cmd == "callback":
        await service.add_callback(args.principal, args.number, input_instant(args.at, "--at"),
                                   args.proof)
        print("rappel enregistré")
    elif cmd == "attempt":
        new = await service.record_external_attempt(args.principal, args.number,
                                                     input_instant(args.at, "--at"), args.reference)
        print("tentative enregistrée" if new else "tentative déjà enregistrée")
    elif cmd == "consumer":
        print(f"consommateur {await service.link_numbers(args.numbers)}")
    elif cmd == "import":
        report = await _import(c, args)
        print(json.dumps(report.as_dict(), ensure_ascii=False) if args.json else report.summary())
    elif cmd == "history":
        campaign = None
        if args.campaign:
            found = await c.directory.classify(None, args.campaign)
            if found.campaign is None:
                raise InputError(found.how)
            campaign = found.campaign
        history = await service.history(args.number, campaign)
        if args.json:
            print(json.dumps(history.as_dict(), ensure_ascii=False, indent=2))
        else:
            print(render_history(history))
    return 0


async def _import(c: Any, args: argparse.Namespace):
    if args.kind == "bloctel":
        if not (args.principal and args.submitted and args.returned and args.date):
            raise InputError("import bloctel : --principal, --submitted, --returned et --date")
        return await import_bloctel(c.db, args.principal, Path(args.submitted),
                                    Path(args.returned), input_day(args.date, "--date"))
    if not args.file:
        raise InputError(f"import {args.kind} : nom du fichier attendu")
    return await import_file(c.db, args.kind, Path(args.file))


def render_history(h: ConsumerHistory) -> str:
    lines = [f"{h.number} (numéros liés : {', '.join(h.numbers)}) — jour local "
             f"{h.today.isoformat()}"]
    if not h.principals:
        lines.append("  aucun historique")
    for e in h.principals:
        lines.append(f"  {e.principal} : {e.attempts_in_window} tentative(s) sur 30 jours")
        for a in e.attempts:
            outcome = "décroché" if a.answered else label(DIAL_STATUS, a.dial_status, "-")
            lines.append(f"    tentative {a.at.isoformat()} ({label(ATTEMPT_SOURCE, a.source)}, "
                         f"{a.campaign or '-'}) {outcome}")
        for b in e.blocks:
            lines.append(f"    {label(BLOCK_KIND, b.kind)} depuis {b.since.isoformat()}"
                         + (f" jusqu'au {b.until.isoformat()} inclus" if b.until
                            else " (sans fin)"))
        for k in e.consents:
            lines.append(f"    consentement {k.state} ({','.join(k.scopes)}) jusqu'au "
                         f"{k.valid_until.isoformat()}, preuve {k.proof_ref}")
    nxt = h.next_callable
    if nxt is not None:
        if nxt.at is None:
            lines.append(f"  prochain appel possible : aucun ({nxt.detail}; "
                         f"motifs : {', '.join(nxt.reasons_now)})")
        elif nxt.now:
            lines.append("  prochain appel possible : maintenant")
        else:
            lines.append(f"  prochain appel possible : {nxt.at.isoformat()} "
                         f"(motifs actuels : {', '.join(nxt.reasons_now)})")
    return "\n".join(lines)
