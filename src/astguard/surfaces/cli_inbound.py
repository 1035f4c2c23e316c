"""`astguard inbound …` and `astguard purge`: recording policies per DID, an inbound call's
evidence, and the retention purge (R-I)."""

from __future__ import annotations

import argparse
import json
from typing import Any

from astguard.app.recording import RecordingService
from astguard.policy.recording import CNIL_QUALITY_DAYS, MODES
from astguard.store.inbound import InboundStore


def add_parsers(sub: argparse._SubParsersAction) -> None:
    ib = sub.add_parser("inbound", help="recording policy of inbound numbers (R-I)")
    ib_sub = ib.add_subparsers(dest="inbound_cmd", required=True)
    st = ib_sub.add_parser("set", help="the recording policy of a called number or queue")
    st.add_argument("did")
    st.add_argument("--mode", required=True, choices=MODES)
    st.add_argument("--sample-percent", type=int, default=100)
    st.add_argument("--prompt", default="annonce-enregistrement")
    st.add_argument("--objection-key", default="1")
    st.add_argument("--retention-days", type=int, default=CNIL_QUALITY_DAYS)
    st.add_argument("--legal-basis", help=f"required beyond {CNIL_QUALITY_DAYS} days")
    sh = ib_sub.add_parser("show", help="an inbound call's evidence")
    sh.add_argument("call_id")
    sub.add_parser("purge", help="delete recordings past their retention, logging each")


async def run(c: Any, args: argparse.Namespace) -> int:
    recording = RecordingService(InboundStore(c.db), c.clock)
    if args.command == "purge":
        done = await recording.purge(c.settings.recording_dir)
        for item in done:
            print(f"supprimé {item['file']} ({item['result']})")
        print(f"{len(done)} enregistrement(s) purgé(s)")
    elif args.inbound_cmd == "set":
        await recording.set_policy(args.did, args.mode, sample_percent=args.sample_percent,
                               prompt=args.prompt, objection_key=args.objection_key,
                               retention_days=args.retention_days,
                               legal_basis=args.legal_basis)
        print(f"politique d'enregistrement de {args.did} : {args.mode}")
    else:
        print(json.dumps(await recording.call_evidence(args.call_id), default=str,
                         ensure_ascii=False, indent=2))
    return 0
