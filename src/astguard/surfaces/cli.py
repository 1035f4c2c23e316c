"""The `astguard` command. Exit status: 0 done/allowed, 1 refused, 2 bad input or
configuration, 3 PostgreSQL unreachable (EXIT_CODES, shown by --help)."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from collections.abc import Sequence
from zoneinfo import ZoneInfo

import asyncpg

from astguard import __version__, config_file, logs
from astguard.clock import PinnedClock
from astguard.errors import AstguardError, ConfigError, InputError, StoreUnavailable
from astguard.policy import DialMode, Purpose
from astguard.app import operations
from astguard.controller import Components, components
from astguard.service import serve
from astguard.settings import Settings, mask_url
from astguard.instants import period
from astguard.policy.numbers import NumberError, fast_e164
from astguard.surfaces import (
    cli_callerid,
    cli_contacts,
    cli_dialplan,
    cli_inbound,
    cli_install,
    cli_reports,
    cli_scrub,
    dry_run,
)
from astguard import labels
from astguard.surfaces.cli_parser import FrenchParser
from astguard.surfaces.table import json_option, print_json, render_decision, render_rows
from astguard.values import DecisionFilter

PARIS = ZoneInfo("Europe/Paris")
EXIT_DATABASE = 3


EXIT_CODES = """codes de sortie :
  0  fait, ou appel autorisé
  1  appel refusé (ou vérification en échec : audit, asterisk check)
  2  entrée ou configuration invalide (le message dit laquelle)
  3  PostgreSQL injoignable (un appel est alors refusé : GUARD_UNAVAILABLE)

configuration : /etc/astguard/astguard.conf (lignes CLÉ=valeur), ou le fichier donné par
--config FICHIER ou ASTGUARD_CONFIG ; les variables d'environnement ASTGUARD_* l'emportent
sur le fichier ; un secret peut venir d'un fichier (ASTGUARD_DATABASE_URL_FILE=/chemin)."""


def _parser() -> argparse.ArgumentParser:
    p = FrenchParser(
        prog="astguard", epilog=EXIT_CODES, formatter_class=argparse.RawDescriptionHelpFormatter,
        description="astguard : contrôle de conformité des appels sortants pour Asterisk.")
    p.add_argument("--version", action="version", version=f"astguard {__version__}",
                   help="afficher la version et quitter")
    p.add_argument("--config", metavar="FICHIER",
                   help="fichier de configuration (défaut : /etc/astguard/astguard.conf) ; "
                        "accepté aussi après la commande")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMANDE")

    sub.add_parser("serve", help="faire tourner l'application Stasis, FastAGI, l'API et la "
                                 "file locale")
    cfg = sub.add_parser("config", help="afficher la configuration en vigueur (secrets masqués)")
    json_option(cfg)

    db = sub.add_parser("db", help="schéma de la base").add_subparsers(
        dest="db_cmd", required=True, metavar="ACTION")
    mig = db.add_parser("migrate", help="appliquer les migrations en attente (rôle "
                                        "propriétaire des tables)")
    mig.add_argument("--url", help="URL PostgreSQL du rôle propriétaire (défaut : "
                                   "ASTGUARD_MIGRATE_DATABASE_URL, sinon ASTGUARD_DATABASE_URL)")
    json_option(db.add_parser("status", help="dire si le schéma est à jour"))

    chk = sub.add_parser("check", help="essai : décider un appel comme s'il était composé "
                                       "maintenant, sans rien enregistrer")
    chk.add_argument("number", metavar="NUMÉRO")
    chk.add_argument("--at", help="instant ISO-8601 (sans décalage : heure de Paris)")
    chk.add_argument("--campaign", help="la campagne de l'appel")
    chk.add_argument("--purpose", choices=[p.value for p in Purpose],
                     help="avec --principal : finalité d'une campagne d'essai")
    chk.add_argument("--principal", help="avec --purpose : le donneur d'ordre")
    chk.add_argument("--scope", help="avec --purpose : le périmètre de la campagne (R-B2)")
    chk.add_argument("--sector", help="avec --purpose : le secteur de la campagne (R-B6)")
    chk.add_argument("--press", action="store_true",
                     help="avec --purpose : abonnement à un journal ou périodique (R-B5)")
    chk.add_argument("--dial-mode", choices=[m.value for m in DialMode],
                     help="mode de numérotation de l'appel")
    chk.add_argument("--caller-id", help="le numéro que l'appel demande à présenter")
    chk.add_argument("--endpoint", help="le poste de l'agent (sa campagne par défaut s'applique)")
    chk.add_argument("--department", help="le département du consommateur, si l'adresse est "
                                          "connue")
    json_option(chk)

    pr = sub.add_parser("principal", help="donneurs d'ordre (le professionnel pour qui l'on "
                                          "appelle)")
    pr_sub = pr.add_subparsers(dest="principal_cmd", required=True, metavar="ACTION")
    pr_add = pr_sub.add_parser("add", help="créer ou renommer un donneur d'ordre")
    pr_add.add_argument("id", metavar="IDENTIFIANT")
    pr_add.add_argument("--name", required=True, help="raison sociale")

    ca = sub.add_parser("campaign", help="campagnes")
    ca_sub = ca.add_subparsers(dest="campaign_cmd", required=True, metavar="ACTION")
    ca_set = ca_sub.add_parser("set", help="créer ou modifier une campagne")
    ca_set.add_argument("name", metavar="NOM")
    ca_set.add_argument("--principal", required=True, help="le donneur d'ordre")
    ca_set.add_argument("--purpose", required=True, choices=[p.value for p in Purpose],
                        help="finalité : prospection, service client, enquête, entre "
                             "professionnels")
    ca_set.add_argument("--dial-mode", default="manual", choices=[m.value for m in DialMode],
                        help="mode de numérotation (défaut : manual)")
    ca_set.add_argument("--caller-id", help="le numéro que présente cette campagne")
    ca_set.add_argument("--inactive", action="store_true", help="campagne suspendue")
    ca_set.add_argument("--scope", help="nature des biens ou services (comparée aux "
                                        "consentements)")
    ca_set.add_argument("--sector", help="par exemple renovation-energetique (interdictions "
                                         "sectorielles, R-B6)")
    ca_set.add_argument("--press", action="store_true",
                        help="abonnements à des journaux ou périodiques (exception R-B5)")
    ca_set.add_argument("--cli-policy", default="rewrite", choices=["rewrite", "refuse"],
                        help="un numéro présenté erroné est remplacé par --caller-id "
                             "(rewrite) ou refusé (refuse)")
    json_option(ca_sub.add_parser("list", help="lister les campagnes"))

    ep = sub.add_parser("endpoint", help="postes des agents (softphones) et leurs campagnes")
    ep_sub = ep.add_subparsers(dest="endpoint_cmd", required=True, metavar="ACTION")
    ep_set = ep_sub.add_parser("set", help="créer ou modifier un poste")
    ep_set.add_argument("endpoint", metavar="POSTE")
    ep_set.add_argument("--campaign", help="campagne par défaut de ce poste")
    ep_set.add_argument("--allow", action="append", default=[],
                        help="une autre campagne qu'un appel peut nommer (répétable)")
    ep_set.add_argument("--agent", help="le nom de l'agent")
    json_option(ep_sub.add_parser("list", help="lister les postes"))

    de = sub.add_parser("decisions", help="décisions enregistrées, les plus récentes d'abord")
    de.add_argument("--number", help="un numéro appelé")
    de.add_argument("--limit", type=int, default=20, help="combien au plus (défaut : 20)")
    json_option(de)
    de.add_argument("--from", dest="first", help="premier jour, AAAA-MM-JJ (Paris)")
    de.add_argument("--to", dest="last", help="dernier jour, inclus")
    de.add_argument("--campaign", help="une campagne")
    de.add_argument("--agent", help="le nom ou le poste de l'agent")
    de.add_argument("--reason", help="un motif, par exemple FREQUENCY_CAP")
    de.add_argument("--decision", choices=("allow", "deny"), help="autorisées ou refusées")

    cli_contacts.add_parsers(sub)
    cli_callerid.add_parsers(sub)
    cli_inbound.add_parsers(sub)
    cli_reports.add_parsers(sub)
    cli_scrub.add_parsers(sub)
    cli_install.add_parsers(sub)

    sp = sub.add_parser("spool", help="la file locale des preuves (PostgreSQL absent)")
    sp_sub = sp.add_subparsers(dest="spool_cmd", required=True, metavar="ACTION")
    json_option(sp_sub.add_parser("status", help="ce qui attend d'être écrit"))
    json_option(sp_sub.add_parser("flush", help="écrire maintenant ce qui attend"))
    return p


async def _check(settings: Settings, args: argparse.Namespace) -> int:
    run = dry_run.build(
        number=args.number, at=args.at, campaign=args.campaign, purpose=args.purpose,
        principal=args.principal, scope=args.scope, sector=args.sector, press=args.press,
        dial_mode=args.dial_mode, caller_id=args.caller_id, endpoint=args.endpoint,
        department=args.department, source="cli")
    clock = PinnedClock(run.at) if run.at else None
    async with components(settings, clock) as c:
        decided = await c.gate.check(run.call, record=False, campaign=run.campaign)
    if args.json:
        print_json(decided.verdict.as_dict())
    else:
        print(render_decision(decided.verdict))
    if decided.verdict.allowed:
        return 0
    return EXIT_DATABASE if "GUARD_UNAVAILABLE" in decided.verdict.codes else 1


async def _migrate(args: argparse.Namespace) -> int:
    """Migrations run as the owner role, the service as a role that cannot alter the schema
    (migration 0008): the owner's URL comes from --url or ASTGUARD_MIGRATE_DATABASE_URL."""
    settings = Settings.load(args.config, require_database=False)
    url = args.url or settings.migrate_database_url or settings.database_url
    if not url:
        raise ConfigError("ASTGUARD_MIGRATE_DATABASE_URL (ou --url) manquant : l'URL PostgreSQL "
                          "du rôle propriétaire des tables")
    done = await operations.migrate(url, mask_url(url))
    print("appliquées : " + (", ".join(done) or "aucune, le schéma est déjà à jour"))
    return 0


async def _run(args: argparse.Namespace) -> int:
    if args.command in cli_install.COMMANDS:
        return await cli_install.run(args)
    if args.command == "audit" and args.audit_cmd == "dialplan":
        return cli_dialplan.run(args)  # no settings, no database: a file check
    if args.command == "db" and args.db_cmd == "migrate":
        return await _migrate(args)
    settings = Settings.load(args.config)
    logs.configure(settings.log_level, settings.log_format)
    if args.command == "config":
        path = str(config_file.config_path(args.config, os.environ)[0])
        if args.json:
            print_json({"file": path, "settings": settings.describe()})
            return 0
        print(f"# fichier : {path}")
        for key, value in settings.describe().items():
            print(f"{key} = {value}")
        return 0
    if args.command == "serve":
        return await _serve(settings)
    if args.command == "check":
        return await _check(settings, args)
    async with components(settings) as c:
        if args.command != "db":
            # A schema behind the code would fail half-way through: say so first.
            await c.operations.check_schema_if_reachable()
        return await _manage(c, args)


async def _serve(settings: Settings) -> int:
    lab_only = settings.lab_only_in_force()
    if lab_only and not settings.lab:
        # A pinned clock or a forced regime in production decides every call on a false
        # premise (hours, holidays, Bloctel or consent): refuse to start, do not just warn.
        raise ConfigError(f"{lab_only[0]} est réservé aux tests et démonstrations : "
                          "refus de démarrer sans ASTGUARD_LAB=1")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await serve(settings, stop)
    return 0


async def _manage(c: Components, args: argparse.Namespace) -> int:
    cmd = args.command
    if cmd in cli_contacts.COMMANDS:
        return await cli_contacts.run(c, args)
    if cmd == "callerid":
        return await cli_callerid.run(c, args)
    if cmd in ("inbound", "purge"):
        return await cli_inbound.run(c, args)
    if cmd in cli_reports.COMMANDS:
        return await cli_reports.run(c, args)
    if cmd in cli_scrub.COMMANDS:
        return await cli_scrub.run(c, args)
    if cmd == "db":
        await c.operations.check_schema()
        if args.json:
            print_json({"current": True})
        else:
            print("schéma à jour")
        return 0
    if cmd == "principal":
        await c.campaigns.add_principal(args.id, args.name)
        print(f"donneur d'ordre {args.id} enregistré")
    elif cmd == "campaign" and args.campaign_cmd == "set":
        saved = await c.campaigns.set_campaign(args.name, args.principal, args.purpose,
                                               args.dial_mode, args.caller_id,
                                               active=not args.inactive, scope=args.scope,
                                               sector=args.sector, press=args.press,
                                               cli_policy=args.cli_policy)
        print(f"campagne {saved.name} enregistrée ({labels.PURPOSE[saved.purpose.value]}, "
              f"{labels.DIAL_MODE[saved.dial_mode.value]}, numéro présenté "
              f"{saved.caller_id or '-'})")
    elif cmd == "campaign":
        rows = await c.campaigns.list_campaigns()
        print_json(rows) if args.json else print(render_rows(rows, [
            "name", "principal_id", "purpose", "dial_mode", "caller_id", "cli_policy", "scope",
            "sector", "press", "active"]))
    elif cmd == "endpoint" and args.endpoint_cmd == "set":
        await c.campaigns.set_endpoint(args.endpoint, args.campaign, args.allow, args.agent)
        print(f"poste {args.endpoint} enregistré")
    elif cmd == "endpoint":
        rows = await c.campaigns.list_endpoints()
        print_json(rows) if args.json else print(render_rows(
            rows, ["endpoint", "default_campaign", "allowed_campaigns", "agent"]))
    elif cmd == "decisions" and any((args.first, args.last, args.campaign, args.agent,
                                     args.reason, args.decision)):
        start, end = period(args.first, args.last, c.clock.now().astimezone(PARIS).date())
        try:
            number = fast_e164(args.number) if args.number else None
        except NumberError as exc:
            raise InputError(f"--number : {exc}") from None
        found = await c.supervision.decisions(DecisionFilter(
            start, end, campaign=args.campaign, agent=args.agent, reason=args.reason,
            decision=args.decision, number=number, limit=args.limit))
        if args.json:
            print_json(found)
        else:
            print(render_rows(found.decisions, [
                "decided_at", "agent", "number_e164", "campaign", "decision", "deny_codes",
                "caller_id", "answered", "hangup_cause"]))
            print(f"{len(found.decisions)} sur {found.total}")
    elif cmd == "decisions":
        rows = await c.supervision.recent(args.limit, args.number)
        if args.json:
            print_json(rows)
        else:
            print(render_rows(rows, ["decided_at", "source", "endpoint", "number_e164",
                                     "campaign", "decision", "reason_codes", "caller_id",
                                     "answered", "hangup_cause"]))
    elif cmd == "spool":
        written = await c.operations.flush_spool() if args.spool_cmd == "flush" else None
        kept = c.operations.spool_kept_aside
        if args.json:
            print_json({"written": written, "kept_aside": kept,
                        "pending": c.operations.spool_depth()})
            return 0
        if written is not None:
            print(f"écrits : {written}")
            if kept:
                print(f"mis de côté : {kept} (voir {c.operations.spool_dir}/rejected)")
        print(f"en attente : {c.operations.spool_depth()}")
    return 0


def _config_anywhere(argv: list[str]) -> list[str]:
    """`--config FICHIER` is a global option: move it in front of the command, wherever it
    was typed (`astguard check … --config x` as well as `astguard --config x check …`)."""
    for i, arg in enumerate(argv):
        if arg == "--":
            break
        if arg == "--config" and i + 1 < len(argv):
            return ["--config", argv[i + 1], *argv[:i], *argv[i + 2:]]
        if arg.startswith("--config="):
            return [arg, *argv[:i], *argv[i + 1:]]
    return argv


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(_config_anywhere(list(sys.argv[1:] if argv is None else argv)))
    try:
        return asyncio.run(_run(args))
    except (ConfigError, InputError) as exc:
        print(f"astguard: {exc}", file=sys.stderr)
        return 2
    except StoreUnavailable as exc:
        print(f"astguard: base de données indisponible : {exc}", file=sys.stderr)
        return EXIT_DATABASE
    except AstguardError as exc:
        print(f"astguard: {exc}", file=sys.stderr)
        return 2
    except asyncpg.PostgresError as exc:
        print(f"astguard: PostgreSQL a refusé l'opération : {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
