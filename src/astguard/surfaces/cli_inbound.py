"""`astguard inbound …` and `astguard purge`: recording policies per DID, an inbound call's
evidence, and the retention purge (R-I)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from astguard.policy.recording import CNIL_QUALITY_DAYS, MODES
from astguard.surfaces.table import json_option, print_json

if TYPE_CHECKING:
    from astguard.controller import Components


def add_parsers(sub: argparse._SubParsersAction) -> None:
    ib = sub.add_parser("inbound", help="politique d'enregistrement des numéros entrants (R-I)")
    ib_sub = ib.add_subparsers(dest="inbound_cmd", required=True, metavar="ACTION")
    st = ib_sub.add_parser("set", help="la politique d'enregistrement d'un numéro appelé ou "
                                       "d'une file")
    st.add_argument("did", metavar="NUMÉRO")
    st.add_argument("--mode", required=True, choices=MODES,
                    help="off (jamais), announce (toujours, après l'annonce), sampled "
                         "(un appel sur N)")
    st.add_argument("--sample-percent", type=int, default=100,
                    help="avec sampled : la part des appels enregistrés, en %% (défaut : 100)")
    st.add_argument("--prompt", default="annonce-enregistrement",
                    help="l'annonce jouée avant tout enregistrement")
    st.add_argument("--objection-key", default="1",
                    help="la touche par laquelle l'appelant s'oppose (défaut : 1)")
    st.add_argument("--retention-days", type=int, default=CNIL_QUALITY_DAYS,
                    help=f"durée de conservation en jours (défaut : {CNIL_QUALITY_DAYS})")
    st.add_argument("--legal-basis", help=f"obligatoire au-delà de {CNIL_QUALITY_DAYS} jours")
    sh = ib_sub.add_parser("show", help="la preuve d'un appel enregistré")
    sh.add_argument("call_id", metavar="APPEL")
    json_option(sh)
    pu = sub.add_parser("purge", help="supprimer les enregistrements dont la durée de "
                                      "conservation est échue, chacun journalisé")
    json_option(pu)


async def run(c: Components, args: argparse.Namespace) -> int:
    if args.command == "purge":
        done = await c.recordings.purge(c.settings.recording_dir)
        if args.json:
            print_json(done)
            return 0
        for item in done:
            print(f"supprimé {item['file']} ({item['result']})")
        print(f"{len(done)} enregistrement(s) purgé(s)")
    elif args.inbound_cmd == "set":
        await c.recordings.set_policy(args.did, args.mode, sample_percent=args.sample_percent,
                                      prompt=args.prompt, objection_key=args.objection_key,
                                      retention_days=args.retention_days,
                                      legal_basis=args.legal_basis)
        print(f"politique d'enregistrement de {args.did} : {args.mode}")
    else:
        # The evidence is a nested record: JSON is its one readable form (--json or not).
        print_json(await c.recordings.call_evidence(args.call_id))
    return 0
