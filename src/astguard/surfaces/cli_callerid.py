"""`astguard callerid …`: the inventory of presentable numbers, the network's refusals, and a
check that explains a number's verdict for a dial mode (R-F, R-G)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from astguard.app.caller_ids import KINDS
from astguard.instants import input_day
from astguard.policy.model import DialMode, Purpose
from astguard import labels
from astguard.surfaces.table import json_option, print_json, render_rows

if TYPE_CHECKING:
    from astguard.controller import Components


def add_parsers(sub: argparse._SubParsersAction) -> None:
    ci = sub.add_parser("callerid", help="numéros que le centre peut présenter (R-F)")
    ci_sub = ci.add_subparsers(dest="callerid_cmd", required=True, metavar="ACTION")
    add = ci_sub.add_parser("add", help="inscrire un numéro à l'inventaire")
    add.add_argument("number", metavar="NUMÉRO")
    add.add_argument("--principal", required=True, help="le donneur d'ordre")
    add.add_argument("--mandate", required=True, help="référence d'attribution ou de mandat")
    add.add_argument("--from", dest="valid_from", required=True,
                     help="premier jour de validité, AAAA-MM-JJ")
    add.add_argument("--to", dest="valid_to", help="dernier jour de validité")
    add.add_argument("--trunk", help="la ligne opérateur qui le présente")
    add.add_argument("--operator", help="l'opérateur qui l'a attribué")
    add.add_argument("--kind", choices=KINDS, help="déduit du numéro s'il est absent")
    ls = ci_sub.add_parser("list", help="l'inventaire, avec les refus récents du réseau")
    ls.add_argument("--principal", help="ceux d'un donneur d'ordre")
    json_option(ls)
    chk = ci_sub.add_parser("check", help="expliquer le verdict d'un numéro pour un mode de "
                                          "numérotation")
    chk.add_argument("number", metavar="NUMÉRO")
    chk.add_argument("--mode", default="manual", choices=[m.value for m in DialMode],
                     help="mode de numérotation (défaut : manual)")
    chk.add_argument("--principal", required=True, help="l'inventaire de qui (R-F2)")
    chk.add_argument("--purpose", default="prospecting", choices=[p.value for p in Purpose],
                     help="finalité (défaut : prospecting)")
    chk.add_argument("--date", help="AAAA-MM-JJ (défaut : aujourd'hui)")
    json_option(chk)
    al = ci_sub.add_parser("alerts", help="numéros que le réseau refuse sans cesse (R-G1)")
    al.add_argument("--all", action="store_true", help="aussi les alertes closes")
    json_option(al)
    cl = ci_sub.add_parser("clear", help="clore une alerte CALL_BLOCKED_BY_NETWORK")
    cl.add_argument("number", metavar="NUMÉRO")
    cl.add_argument("--by", required=True, help="qui la clôt")


async def run(c: Components, args: argparse.Namespace) -> int:
    service = c.caller_ids
    cmd = args.callerid_cmd
    if cmd == "add":
        saved = await service.add(args.number, args.principal, mandate_ref=args.mandate,
                                  valid_from=input_day(args.valid_from, "--from"),
                                  valid_to=input_day(args.valid_to, "--to"), trunk=args.trunk,
                                  operator=args.operator, kind=args.kind)
        print(f"{saved['number']} ({saved['kind']}) ajouté pour {saved['principal']}")
    elif cmd == "list":
        rows = await service.list(args.principal)
        if args.json:
            print_json(rows)
        else:
            print(render_rows(rows, ["number", "principal", "kind", "trunk", "mandate_ref",
                                     "valid_from", "valid_to", "recent_refusals",
                                     "blocked_by_network"]))
    elif cmd == "check":
        return await _check(c, args)
    elif cmd == "alerts":
        rows = await service.alerts(open_only=not args.all)
        if args.json:
            print_json(rows)
        else:
            print(render_rows(rows, ["caller_id", "raised_at", "refusals", "cleared_at",
                                     "cleared_by"]))
    elif cmd == "clear":
        print(f"{await service.clear(args.number, args.by)} alerte(s) levée(s)")
    return 0


async def _check(c: Components, args: argparse.Namespace) -> int:
    found = await c.caller_ids.check(args.number, mode=args.mode, principal=args.principal,
                                     purpose=args.purpose, day=input_day(args.date, "--date"))
    if args.json:
        print_json(found.as_dict())
        return 0 if found.allowed else 1
    print(f"{args.number} en mode {labels.DIAL_MODE[args.mode]} pour {args.principal} : "
          + ("AUTORISÉ" if found.allowed else "REFUSÉ")
          + f" (tables NPV et tranches vérifiées le {found.tables_checked.isoformat()})")
    for r in found.reasons:
        effect = labels.EFFECT.get(r.resolved_effect.value, r.resolved_effect.value)
        print(f"  [{r.code.value}] ({effect}) {r.text}")
    return 0 if found.allowed else 1
