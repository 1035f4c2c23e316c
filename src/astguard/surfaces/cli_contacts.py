"""`astguard` commands about consumers: refusals, oppositions, suspensions, consents,
contracts, call-backs, outside attempts, linked numbers, imports and the history."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from astguard.app.contacts import ContactService
from astguard.app.history import ConsumerHistory
from astguard.app.importer import KINDS, ImportReport
from astguard.errors import InputError
from astguard.instants import input_day, input_instant
from astguard.labels import ATTEMPT_SOURCE, BLOCK_KIND, DIAL_STATUS, label
from astguard.surfaces.table import json_option, print_json

if TYPE_CHECKING:
    from astguard.controller import Components


def add_parsers(sub: argparse._SubParsersAction) -> None:
    for kind, helptext in (("refusal", "le consommateur refuse : 60 jours sans appel (R-D7)"),
                           ("opposition", "le consommateur s'oppose : plus d'appels (R-B3)"),
                           ("suspend", "suspendre la prospection pendant N jours")):
        p = sub.add_parser(kind, help=helptext)
        p.add_argument("number", metavar="NUMÉRO")
        p.add_argument("--principal", required=True, help="le donneur d'ordre")
        p.add_argument("--agent", help="l'agent qui l'a recueilli")
        if kind == "suspend":
            p.add_argument("--days", type=int, required=True, help="nombre de jours")

    co = sub.add_parser("consent", help="le registre des consentements (R-B)")
    co_sub = co.add_subparsers(dest="consent_cmd", required=True, metavar="ACTION")
    add = co_sub.add_parser("add", help="enregistrer un consentement")
    add.add_argument("number", metavar="NUMÉRO")
    add.add_argument("--principal", required=True, help="le donneur d'ordre")
    add.add_argument("--scope", action="append", required=True, dest="scopes",
                     help="périmètre consenti (répétable)")
    add.add_argument("--collected-at", required=True, help="instant du recueil, ISO-8601")
    add.add_argument("--channel", required=True, help="canal de recueil (web, papier…)")
    add.add_argument("--wording", required=True, help="version ou empreinte du texte consenti")
    add.add_argument("--proof", required=True, help="référence de la preuve")
    add.add_argument("--valid-until", help="défaut : un an après le recueil")
    wd = co_sub.add_parser("withdraw", help="retirer les consentements d'un numéro")
    wd.add_argument("number", metavar="NUMÉRO")
    wd.add_argument("--principal", required=True, help="le donneur d'ordre")
    ls = co_sub.add_parser("list", help="les consentements d'un consommateur")
    ls.add_argument("number", metavar="NUMÉRO")
    json_option(ls)

    ct = sub.add_parser("contract", help="contrats en cours (exception R-B4)")
    ct_sub = ct.add_subparsers(dest="contract_cmd", required=True, metavar="ACTION")
    ca = ct_sub.add_parser("add", help="enregistrer un contrat")
    ca.add_argument("number", metavar="NUMÉRO")
    ca.add_argument("--principal", required=True, help="le donneur d'ordre")
    ca.add_argument("--scope", action="append", required=True, dest="scopes",
                    help="objet du contrat (répétable)")
    ca.add_argument("--start", required=True, help="premier jour, AAAA-MM-JJ")
    ca.add_argument("--end", help="dernier jour, AAAA-MM-JJ")
    ca.add_argument("--reference", required=True, help="référence du contrat")

    cb = sub.add_parser("callback", help="un rappel demandé par le consommateur (R-D5)")
    cb_sub = cb.add_subparsers(dest="callback_cmd", required=True, metavar="ACTION")
    cba = cb_sub.add_parser("add", help="enregistrer un rappel demandé")
    cba.add_argument("number", metavar="NUMÉRO")
    cba.add_argument("--principal", required=True, help="le donneur d'ordre")
    cba.add_argument("--at", required=True, help="l'heure demandée, ISO-8601")
    cba.add_argument("--proof", required=True, help="référence de la preuve de la demande")

    at = sub.add_parser("attempt", help="tentatives faites hors de ce PBX (R-D6)")
    at_sub = at.add_subparsers(dest="attempt_cmd", required=True, metavar="ACTION")
    ata = at_sub.add_parser("add", help="enregistrer une tentative extérieure")
    ata.add_argument("number", metavar="NUMÉRO")
    ata.add_argument("--principal", required=True, help="le donneur d'ordre")
    ata.add_argument("--at", required=True, help="instant de la tentative, ISO-8601")
    ata.add_argument("--reference", required=True, help="référence (idempotence)")

    cs = sub.add_parser("consumer", help="les numéros d'un consommateur")
    cs_sub = cs.add_subparsers(dest="consumer_cmd", required=True, metavar="ACTION")
    link = cs_sub.add_parser("link", help="ces numéros sont ceux d'un même consommateur")
    link.add_argument("numbers", nargs="+", metavar="NUMÉRO")

    im = sub.add_parser("import", help="importer un fichier, tout ou rien")
    im.add_argument("kind", choices=[*KINDS, "bloctel"], help="ce que contient le fichier")
    im.add_argument("file", nargs="?", metavar="FICHIER",
                    help="fichier CSV (consentements, oppositions, tentatives)")
    im.add_argument("--principal", help="bloctel : le professionnel qui a soumis le fichier")
    im.add_argument("--submitted", help="bloctel : le fichier soumis à Bloctel")
    im.add_argument("--returned", help="bloctel : le fichier rendu par Bloctel")
    im.add_argument("--date", help="bloctel : la date du fichier rendu")
    json_option(im)

    hi = sub.add_parser("history", help="l'historique d'un consommateur et le prochain moment "
                                        "où l'appeler")
    hi.add_argument("number", metavar="NUMÉRO")
    hi.add_argument("--campaign", help="la campagne pour laquelle chercher ce moment")
    json_option(hi)


FRENCH = BLOCK_KIND

COMMANDS = ("refusal", "opposition", "suspend", "consent", "contract", "callback", "attempt",
            "consumer", "import", "history")


async def run(c: Components, args: argparse.Namespace) -> int:
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
        if args.json:
            print_json({principal: entry["consents"] for principal, entry
                        in sorted(history.as_dict()["principals"].items())})
            return 0
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
        print_json(report.as_dict()) if args.json else print(report.summary())
    elif cmd == "history":
        campaign = await c.campaigns.named(args.campaign) if args.campaign else None
        history = await service.history(args.number, campaign)
        if args.json:
            print_json(history)
        else:
            print(render_history(history))
    return 0


async def _import(c: Components, args: argparse.Namespace) -> ImportReport:
    if args.kind == "bloctel":
        if not (args.principal and args.submitted and args.returned and args.date):
            raise InputError("import bloctel : --principal, --submitted, --returned et --date")
        return await c.importer.bloctel(args.principal, Path(args.submitted),
                                        Path(args.returned), input_day(args.date, "--date"))
    if not args.file:
        raise InputError(f"import {args.kind} : nom du fichier attendu")
    return await c.importer.file(args.kind, Path(args.file))


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
