"""`astguard audit dialplan FILE...`: the contexts that reach a trunk without astguard. Needs no
database (the install kit's doctor calls it on a fresh machine)."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from astguard.errors import InputError
from astguard.settings import DEFAULT_EMERGENCY
from astguard.surfaces.table import json_option
from astguard.telephony.dialplan_audit import audit_dialplan, endpoint_contexts, read_files


def add_parser(audit_sub: argparse._SubParsersAction) -> None:
    dp = audit_sub.add_parser("dialplan", help="contextes qui peuvent atteindre l'opérateur "
                                               "sans passer par astguard")
    dp.add_argument("files", nargs="+", metavar="FICHIER",
                    help="extensions.conf et les fichiers qu'il inclut (#include est suivi)")
    dp.add_argument("--trunk", action="append", default=[],
                    help="un point d'accès PJSIP d'opérateur (répétable ; défaut : "
                         "ASTGUARD_TRUNK_ENDPOINTS)")
    dp.add_argument("--pjsip", help="pjsip.conf, pour dire quels postes entrent dans chaque "
                                    "contexte")
    json_option(dp)


def run(args: argparse.Namespace) -> int:
    trunks = frozenset(args.trunk) or frozenset(
        os.environ.get("ASTGUARD_TRUNK_ENDPOINTS", "").replace(",", " ").split())
    if not trunks:
        raise InputError("donner --trunk NOM (ou ASTGUARD_TRUNK_ENDPOINTS) : les endpoints "
                         "PJSIP des lignes opérateur")
    emergency = frozenset(os.environ.get("ASTGUARD_EMERGENCY_NUMBERS", "").replace(",", " ")
                          .split()) or frozenset(DEFAULT_EMERGENCY)
    try:
        texts = read_files(Path(f) for f in args.files)
        endpoints = endpoint_contexts(Path(args.pjsip).read_text(encoding="utf-8")) \
            if args.pjsip else {}
    except OSError as exc:
        raise InputError(f"fichier illisible : {exc.filename} ({exc.strerror})") from None
    findings = audit_dialplan(texts, trunks, emergency_numbers=emergency,
                              endpoint_contexts=endpoints)
    if args.json:
        print(json.dumps({"trunks": sorted(trunks), "files": [t[0] for t in texts],
                          "findings": [{"context": f.context, "path": list(f.path),
                                        "dial": f.dial, "where": f.where,
                                        "entered_by": list(f.entered_by)}
                                       for f in findings]}, ensure_ascii=False, indent=2))
    elif findings:
        print(f"{len(findings)} contexte(s) atteignent l'opérateur sans passer par astguard :")
        for f in findings:
            print("  " + f.describe())
    else:
        print(f"aucun contexte n'atteint {', '.join(sorted(trunks))} sans passer par astguard "
              f"({len(texts)} fichier(s) lu(s))")
    return 1 if findings else 0
