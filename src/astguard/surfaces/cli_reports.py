"""`astguard report …` (the inspection report) and `astguard audit …` (the evidence chain)."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime as dt
import json
import sys
from pathlib import Path
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from astguard.errors import InputError
from astguard.labels import EVIDENCE_KIND, label
from astguard.instants import PARIS, input_instant, period
from astguard.app.supervision import parse_anchor
from astguard.surfaces import cli_dialplan
from astguard.surfaces.report_render import stream_csv, stream_html
from astguard.surfaces.table import json_option, print_json

if TYPE_CHECKING:
    from astguard.controller import Components

COMMANDS = ("report", "audit")


def add_parsers(sub: argparse._SubParsersAction) -> None:
    rp = sub.add_parser("report", help="rapport d'inspection d'un donneur d'ordre sur une "
                                       "période")
    rp.add_argument("--principal", required=True, help="le donneur d'ordre")
    rp.add_argument("--from", dest="first", help="premier jour, AAAA-MM-JJ (Paris)")
    rp.add_argument("--to", dest="last", help="dernier jour, inclus (défaut : aujourd'hui)")
    rp.add_argument("--format", choices=("html", "csv", "json"), default="html",
                    help="html (à imprimer, défaut), csv (tableur) ou json")
    rp.add_argument("--json", action="store_true", help="comme --format json")
    rp.add_argument("--output", "-o", metavar="FICHIER",
                    help="fichier à écrire (défaut : la sortie standard)")

    au = sub.add_parser("audit", help="preuve d'intégrité : la chaîne d'empreintes des preuves")
    au_sub = au.add_subparsers(dest="audit_cmd", required=True, metavar="ACTION")
    ve = au_sub.add_parser("verify", help="vérifier les maillons d'une période ; nommer le "
                                          "premier rompu")
    ve.add_argument("--from", dest="first", help="premier jour, AAAA-MM-JJ (défaut : le début)")
    ve.add_argument("--to", dest="last", help="dernier jour, inclus (défaut : aujourd'hui)")
    json_option(ve)
    ve.add_argument("--expect", metavar="SEQ:EMPREINTE",
                    help="une tête conservée ailleurs (astguard audit head) : elle doit être "
                         "encore dans la chaîne")
    hd = au_sub.add_parser("head", help="le dernier maillon de la chaîne : à conserver ailleurs "
                                        "comme ancre")
    json_option(hd)
    ca = au_sub.add_parser("calls", help="chaque appel vers l'opérateur dans les "
                                         "enregistrements d'Asterisk avait une décision "
                                         "d'autorisation ; lister ceux qui n'en avaient pas")
    ca.add_argument("--from", dest="first", help="AAAA-MM-JJ (Paris) ou un instant ISO-8601")
    ca.add_argument("--to", dest="last", help="AAAA-MM-JJ (inclus) ou un instant ISO-8601")
    ca.add_argument("--cdr", metavar="FICHIER",
                    help="le fichier CDR d'Asterisk (défaut : ASTGUARD_CDR_FILE)")
    json_option(ca)
    cli_dialplan.add_parser(au_sub)


async def run(c: Components, args: argparse.Namespace) -> int:
    today = c.clock.now().astimezone(PARIS).date()
    if args.command == "report":
        start, end = period(args.first, args.last, today, default_days=30)
        reconciliation = None
        if c.settings.cdr_file and c.settings.trunk_endpoints:
            # Asterisk's own records, when astguard can read them: every trunk call had a
            # decision (the watchdog's rows alone miss what went out while it was stopped).
            reconciliation = (await c.supervision.audit_calls(c.settings.cdr_file, start,
                                                              end)).as_dict()
        async with c.supervision.open_inspection(args.principal, start, end) as run:
            run.report = dataclasses.replace(run.report, call_reconciliation=reconciliation)
            if args.format == "json" or args.json:
                report = await run.collect()
                chunks = _once(json.dumps(report.as_dict(), ensure_ascii=False, indent=2,
                                          default=str))
            elif args.format == "csv":
                chunks = stream_csv(run)
            else:
                chunks = stream_html(run)
            # Written as it is read: a month of a million calls never sits in memory.
            with (open(args.output, "w", encoding="utf-8", newline="") if args.output
                  else contextlib.nullcontext(sys.stdout)) as out:
                async for chunk in chunks:
                    out.write(chunk)
        if args.output:
            print(f"rapport écrit dans {args.output} ({run.report.summary.decisions} "
                  "décisions)")
        return 0
    if args.audit_cmd == "calls":
        return await _audit_calls(c, args)
    if args.audit_cmd == "head":
        seq, digest = await c.supervision.chain_head()
        if args.json:
            print_json({"seq": seq, "hash": digest})
        else:
            print(f"maillon {seq} {digest}" if seq else "chaîne vide")
        return 0
    start = end = None
    anchor = parse_anchor(args.expect) if args.expect else None
    if args.first or args.last:
        start, end = period(args.first or "1970-01-01", args.last, today)
    result = await c.supervision.verify_chain(start, end)
    lost = await c.supervision.anchor_problem(*anchor) if anchor else None
    if args.json:
        extra = {"expect": args.expect, "expect_problem": lost} if anchor else {}
        print(json.dumps({**result.as_dict(), **extra}, ensure_ascii=False, indent=2))
    elif result.ok:
        kinds = ", ".join(f"{label(EVIDENCE_KIND, k)} {n}"
                          for k, n in sorted(result.by_kind.items()))
        print(f"chaîne intacte : {result.checked} maillon(s) vérifié(s) ({kinds or 'aucun'}); "
              f"tête : maillon {result.head_seq} {result.head_hash}")
    else:
        assert result.first_break is not None
        print(f"CHAÎNE ROMPUE après {result.checked} maillon(s) intact(s) — premier "
              f"enregistrement en cause : {result.first_break.describe()}")
    if anchor and not args.json:
        print(f"TÊTE CONSERVÉE INTROUVABLE : {lost}" if lost
              else f"tête conservée présente : maillon {anchor[0]} inchangé")
    return 0 if result.ok and lost is None else 1



async def _once(text: str) -> AsyncIterator[str]:
    yield text


def _bounds(first: str | None, last: str | None) -> tuple[dt.datetime, dt.datetime]:
    """Days (Paris) or instants; Asterisk's records are on the real clock, so is the default
    (the last 7 days)."""
    today = dt.datetime.now(PARIS).date()
    start, end = period(None if first and "T" in first else first,
                        None if last and "T" in last else last, today)
    if first and "T" in first:
        start = input_instant(first, "--from")
    if last and "T" in last:
        end = input_instant(last, "--to")
    if end <= start:
        raise InputError(f"période vide : {start.isoformat()} n'est pas avant {end.isoformat()}")
    return start, end


async def _audit_calls(c: Components, args: argparse.Namespace) -> int:
    settings = c.settings
    path = Path(args.cdr) if args.cdr else settings.cdr_file
    if path is None:
        raise InputError("donner --cdr FICHIER ou ASTGUARD_CDR_FILE (les enregistrements "
                         "d'appels d'Asterisk, docs/operations.md)")
    if not settings.trunk_endpoints:
        raise InputError("ASTGUARD_TRUNK_ENDPOINTS est vide : quels endpoints sont des "
                         "lignes opérateur ?")
    start, end = _bounds(args.first, args.last)
    result = await c.supervision.audit_calls(path, start, end)
    if args.json:
        print(json.dumps(result.as_dict(), ensure_ascii=False, indent=2))
        return 0 if result.ok else 1
    print(f"{result.checked} appel(s) vers l'opérateur du {start.isoformat()} au "
          f"{end.isoformat()} : {result.by_token} avec jeton et décision, "
          f"{result.by_number} rapproché(s) par numéro et heure, "
          f"{len(result.emergency)} vers un numéro d'urgence")
    if not settings.trunk_inbound_contexts:
        print("note : ASTGUARD_TRUNK_INBOUND_CONTEXTS vide, une origination directe décrochée "
              "n'est reconnue que si le CDR la marque « (Outgoing Line) »")
    if result.ok:
        print("aucun appel sans décision")
        return 0
    print(f"APPELS SANS DÉCISION : {len(result.unguarded)}")
    for finding in result.unguarded:
        print("  " + finding.describe())
    return 1
