"""`astguard report …` (the inspection report) and `astguard audit …` (the evidence chain)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from astguard.instants import PARIS, period
from astguard.store import audit
from astguard.store.reports import Reports
from astguard.surfaces.report_render import inspection_csv, inspection_html

COMMANDS = ("report", "audit")


def add_parsers(sub: argparse._SubParsersAction) -> None:
    rp = sub.add_parser("report", help="inspection report of a principal over a period")
    rp.add_argument("--principal", required=True)
    rp.add_argument("--from", dest="first", help="first day, YYYY-MM-DD (Paris)")
    rp.add_argument("--to", dest="last", help="last day, included (default: today)")
    rp.add_argument("--format", choices=("html", "csv", "json"), default="html")
    rp.add_argument("--output", "-o", help="file to write (default: standard output)")

    au = sub.add_parser("audit", help="tamper evidence: the hash chain of the evidence")
    au_sub = au.add_subparsers(dest="audit_cmd", required=True)
    ve = au_sub.add_parser("verify", help="check a period's links; name the first broken one")
    ve.add_argument("--from", dest="first", help="first day, YYYY-MM-DD (default: the start)")
    ve.add_argument("--to", dest="last", help="last day, included (default: today)")
    ve.add_argument("--json", action="store_true")
    ve.add_argument("--expect", metavar="SEQ:HASH",
                    help="a head kept elsewhere (astguard audit head): must still be in the chain")
    au_sub.add_parser("head", help="the chain's last link: keep it elsewhere as an anchor")


async def run(c: Any, args: argparse.Namespace) -> int:
    today = c.clock.now().astimezone(PARIS).date()
    if args.command == "report":
        start, end = period(args.first, args.last, today, default_days=30)
        report = await Reports(c.db, c.settings.rules.opt_in_from).inspection(
            args.principal, start, end)
        if args.format == "json":
            text = json.dumps(report, ensure_ascii=False, indent=2, default=str)
        elif args.format == "csv":
            text = inspection_csv(report)
        else:
            text = inspection_html(report)
        if args.output:
            Path(args.output).write_text(text, encoding="utf-8")
            print(f"rapport écrit dans {args.output} ({report['summary']['decisions']} "
                  "décisions)")
        else:
            sys.stdout.write(text)
        return 0
    if args.audit_cmd == "head":
        seq, digest = await audit.head(c.db)
        print(f"maillon {seq} {digest}" if seq else "chaîne vide")
        return 0
    start = end = None
    anchor = audit.parse_anchor(args.expect) if args.expect else None
    if args.first or args.last:
        start, end = period(args.first or "1970-01-01", args.last, today)
    result = await audit.verify(c.db, start, end)
    lost = await audit.anchor_problem(c.db, *anchor) if anchor else None
    if args.json:
        extra = {"expect": args.expect, "expect_problem": lost} if anchor else {}
        print(json.dumps({**result.as_dict(), **extra}, ensure_ascii=False, indent=2))
    elif result.ok:
        kinds = ", ".join(f"{audit.KIND_LABELS[k]} {n}" for k, n in sorted(result.by_kind.items()))
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

