"""`astguard callerid …`: the inventory of presentable numbers, the network's refusals, and a
check that explains a number's verdict for a dial mode (R-F, R-G)."""

from __future__ import annotations

import argparse
import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from astguard.instants import input_day
from astguard.policy.caller_id import CallerIdRecord, CliPolicy, canonical, shipped_tables
from astguard.policy.decide import check_caller_id
from astguard.policy.model import Campaign, DialMode, Facts, Purpose
from astguard.store.caller_ids import KINDS
from astguard.store.directory import valid_identifier
from astguard.surfaces.table import render_rows

PARIS = ZoneInfo("Europe/Paris")


def add_parsers(sub: argparse._SubParsersAction) -> None:
    ci = sub.add_parser("callerid", help="numbers the centre may present (R-F)")
    ci_sub = ci.add_subparsers(dest="callerid_cmd", required=True)
    add = ci_sub.add_parser("add", help="add a number to the inventory")
    add.add_argument("number")
    add.add_argument("--principal", required=True)
    add.add_argument("--mandate", required=True, help="assignment or mandate reference")
    add.add_argument("--from", dest="valid_from", required=True)
    add.add_argument("--to", dest="valid_to")
    add.add_argument("--trunk")
    add.add_argument("--operator")
    add.add_argument("--kind", choices=KINDS, help="detected from the number when absent")
    ls = ci_sub.add_parser("list")
    ls.add_argument("--principal")
    chk = ci_sub.add_parser("check", help="explain a number's verdict for a dial mode")
    chk.add_argument("number")
    chk.add_argument("--mode", default="manual", choices=[m.value for m in DialMode])
    chk.add_argument("--principal", required=True, help="whose inventory (R-F2)")
    chk.add_argument("--purpose", default="prospecting", choices=[p.value for p in Purpose])
    chk.add_argument("--date", help="default: today")
    al = ci_sub.add_parser("alerts", help="numbers the network keeps refusing")
    al.add_argument("--all", action="store_true")
    cl = ci_sub.add_parser("clear", help="clear a CALL_BLOCKED_BY_NETWORK alert")
    cl.add_argument("number")
    cl.add_argument("--by", required=True)


async def run(c: Any, args: argparse.Namespace) -> int:
    store = c.caller_ids
    cmd = args.callerid_cmd
    if cmd == "add":
        saved = await store.add(args.number, args.principal, mandate_ref=args.mandate,
                                valid_from=input_day(args.valid_from, "--from"),
                                valid_to=input_day(args.valid_to, "--to"), trunk=args.trunk,
                                operator=args.operator, kind=args.kind)
        print(f"{saved['number']} ({saved['kind']}) ajouté pour {saved['principal']}")
    elif cmd == "list":
        print(render_rows(await store.list(args.principal),
                          ["number", "principal", "kind", "trunk", "mandate_ref", "valid_from",
                           "valid_to", "refusals_24h", "blocked_by_network"]))
    elif cmd == "check":
        return await _check(c, args)
    elif cmd == "alerts":
        print(render_rows(await store.alerts(open_only=not args.all),
                          ["caller_id", "raised_at", "refusals", "cleared_at", "cleared_by"]))
    elif cmd == "clear":
        print(f"{await store.clear(args.number, args.by)} alerte(s) levée(s)")
    return 0


async def _check(c: Any, args: argparse.Namespace) -> int:
    """The caller-ID rules exactly as a live call applies them (policy.decide.check_caller_id),
    with the principal's inventory and the network's alerts read from the store."""
    tables = c.settings.rules.numbering or shipped_tables()
    now = c.clock.now()
    day = input_day(args.date, "--date")
    if day is not None:
        now = dt.datetime.combine(day, dt.time(12), PARIS)
    valid_identifier(args.principal, "donneur d'ordre")
    shown = canonical(args.number)
    rows = await c.caller_ids.inventory_for(args.principal, [shown])
    inventory = tuple(CallerIdRecord(r["number"], r["principal"], r["valid_from"],
                                     r["valid_to"], r["trunk"], r["mandate_ref"]) for r in rows)
    blocked = frozenset(a["caller_id"] for a in await c.caller_ids.alerts(open_only=True))
    campaign = Campaign("(vérification)", args.principal, Purpose(args.purpose),
                        DialMode(args.mode), caller_id=None, cli_policy=CliPolicy.REFUSE)
    facts = Facts(campaign, "callerid check", inventory=inventory, blocked_caller_ids=blocked)
    _, reasons = check_caller_id(args.number, campaign, facts, now, c.settings.rules)
    denying = [r for r in reasons if r.resolved_effect.value == "deny"]
    print(f"{args.number} en mode {args.mode} pour {args.principal} : "
          + ("REFUSÉ" if denying else "AUTORISÉ")
          + f" (tables NPV et tranches vérifiées le {tables.last_checked.isoformat()})")
    for r in reasons:
        print(f"  [{r.code.value}] ({r.resolved_effect.value}) {r.text}")
    return 1 if denying else 0
