"""`astguard scrub FICHIER --campaign C [--at T] [--format csv|jsonl]`: a list's verdicts, by
the composition root's scrubber (controller.Components.scrubber)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from astguard.surfaces import scrub_format

if TYPE_CHECKING:
    from astguard.controller import Components

COMMANDS = ("scrub",)


def add_parsers(sub: argparse._SubParsersAction) -> None:
    sc = sub.add_parser(
        "scrub", help="vérifier une liste de numéros pour une campagne : verdict actuel, motifs "
                      "et prochain moment appelable, sans rien enregistrer (le contrôle au "
                      "moment de la numérotation reste l'autorité)")
    sc.add_argument("file", metavar="FICHIER",
                    help="un numéro par ligne, ou un CSV avec une colonne numero (UTF-8)")
    sc.add_argument("--campaign", required=True, help="la campagne pour laquelle vérifier")
    sc.add_argument("--at", help="instant ISO-8601 (défaut : maintenant ; sans décalage : "
                                 "heure de Paris)")
    sc.add_argument("--format", choices=tuple(scrub_format.FORMATS), default="csv",
                    help="csv (défaut) ou jsonl (un objet JSON par ligne)")
    sc.add_argument("--json", action="store_true", help="comme --format jsonl")


async def run(c: Components, args: argparse.Namespace, out: Any = None) -> int:
    out = out or sys.stdout
    request = scrub_format.build(campaign=args.campaign, at=args.at, format="jsonl" if getattr(args, "json", False) else args.format)
    async for text in scrub_format.scrubbed(c.scrubber, request, Path(args.file)):
        out.write(text)
    out.flush()
    return 0
