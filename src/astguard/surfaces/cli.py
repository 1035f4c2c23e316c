"""The `astguard` command. Exit status: 0 done/allowed, 1 refused, 2 bad input or
configuration, 3 PostgreSQL unreachable (EXIT_CODES, shown by --help)."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
from collections.abc import Sequence
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg

from astguard import __version__, config_file, logs
from astguard.clock import PinnedClock
from astguard.errors import AstguardError, ConfigError, InputError, StoreUnavailable
from astguard.labels import DECISION, DIAL_MODE, PURPOSE, label
from astguard.policy import DialMode, Purpose
from astguard.service import check_schema_if_reachable, components, serve
from astguard.settings import Settings, mask_url
from astguard.instants import period
from astguard.policy.numbers import NumberError, fast_e164
from astguard.store import schema
from astguard.store.reports import DecisionFilter
from astguard.surfaces import (
    cli_callerid,
    cli_contacts,
    cli_dialplan,
    cli_inbound,
    cli_install,
    cli_reports,
    dry_run,
)
from astguard.surfaces.table import render_decision, render_rows

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
    p = argparse.ArgumentParser(
        prog="astguard", epilog=EXIT_CODES, formatter_class=argparse.RawDescriptionHelpFormatter,
        description="astguard : contrôle de conformité des appels sortants pour Asterisk.")
    p.add_argument("--version", action="version", version=f"astguard {__version__}")
    p.add_argument("--config", metavar="FICHIER",
                   help="fichier de configuration (défaut : /etc/astguard/astguard.conf) ; "
                        "accepté aussi après la commande")
    sub = p.add_subparsers(dest="command", required=True)

    sub.add_parser("serve", help="run the Stasis application, FastAGI and the spool flusher")
    sub.add_parser("config", help="print the settings in force (secrets masked)")

    db = sub.add_parser("db", help="database schema").add_subparsers(dest="db_cmd", required=True)
    mig = db.add_parser("migrate", help="apply pending migrations (as the tables' owner)")
    mig.add_argument("--url", help="the owner's PostgreSQL URL (default: "
                                   "ASTGUARD_MIGRATE_DATABASE_URL, else ASTGUARD_DATABASE_URL)")
    db.add_parser("status", help="say whether the schema is current")

    chk = sub.add_parser("check", help="dry run: decide a call as if dialled now, record nothing")
    chk.add_argument("number")
    chk.add_argument("--at", help="ISO-8601 instant (no offset: Europe/Paris time)")
    chk.add_argument("--campaign")
    chk.add_argument("--purpose", choices=[p.value for p in Purpose])
    chk.add_argument("--principal")
    chk.add_argument("--scope", help="with --purpose: the campaign's scope (R-B2)")
    chk.add_argument("--sector", help="with --purpose: the campaign's sector (R-B6)")
    chk.add_argument("--press", action="store_true",
                     help="with --purpose: a press subscription campaign (R-B5)")
    chk.add_argument("--dial-mode", choices=[m.value for m in DialMode])
    chk.add_argument("--caller-id")
    chk.add_argument("--endpoint", help="the agent endpoint whose default campaign applies")
    chk.add_argument("--department", help="the consumer's department, when the address is known")
    chk.add_argument("--json", action="store_true")

    pr = sub.add_parser("principal", help="principals (the professional the calls are for)")
    pr_sub = pr.add_subparsers(dest="principal_cmd", required=True)
    pr_add = pr_sub.add_parser("add")
    pr_add.add_argument("id")
    pr_add.add_argument("--name", required=True)

    ca = sub.add_parser("campaign", help="campaigns")
    ca_sub = ca.add_subparsers(dest="campaign_cmd", required=True)
    ca_set = ca_sub.add_parser("set", help="create or update a campaign")
    ca_set.add_argument("name")
    ca_set.add_argument("--principal", required=True)
    ca_set.add_argument("--purpose", required=True, choices=[p.value for p in Purpose])
    ca_set.add_argument("--dial-mode", default="manual", choices=[m.value for m in DialMode])
    ca_set.add_argument("--caller-id", help="the number this campaign presents")
    ca_set.add_argument("--inactive", action="store_true")
    ca_set.add_argument("--scope", help="nature of the goods or services (matched to consents)")
    ca_set.add_argument("--sector", help="e.g. renovation-energetique (sector bans, R-B6)")
    ca_set.add_argument("--press", action="store_true",
                        help="newspaper or periodical subscriptions (exception R-B5)")
    ca_set.add_argument("--cli-policy", default="rewrite", choices=["rewrite", "refuse"],
                        help="a wrong presented number is rewritten to --caller-id, or refused")
    ca_sub.add_parser("list")

    ep = sub.add_parser("endpoint", help="agent endpoints (softphones) and their campaigns")
    ep_sub = ep.add_subparsers(dest="endpoint_cmd", required=True)
    ep_set = ep_sub.add_parser("set")
    ep_set.add_argument("endpoint")
    ep_set.add_argument("--campaign", help="default campaign of this endpoint")
    ep_set.add_argument("--allow", action="append", default=[],
                        help="another campaign a call may name (repeatable)")
    ep_set.add_argument("--agent")
    ep_sub.add_parser("list")

    de = sub.add_parser("decisions", help="recorded decisions, newest first")
    de.add_argument("--number")
    de.add_argument("--limit", type=int, default=20)
    de.add_argument("--json", action="store_true")
    de.add_argument("--from", dest="first", help="first day, YYYY-MM-DD (Paris)")
    de.add_argument("--to", dest="last", help="last day, included")
    de.add_argument("--campaign")
    de.add_argument("--agent", help="the agent's name or endpoint")
    de.add_argument("--reason", help="a reason code, e.g. FREQUENCY_CAP")
    de.add_argument("--decision", choices=("allow", "deny"))

    cli_contacts.add_parsers(sub)
    cli_callerid.add_parsers(sub)
    cli_inbound.add_parsers(sub)
    cli_reports.add_parsers(sub)
    cli_install.add_parsers(sub)

    sp = sub.add_parser("spool", help="the local evidence spool")
    sp_sub = sp.add_subparsers(dest="spool_cmd", required=True)
    sp_sub.add_parser("status")
    sp_sub.add_parser("flush")
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
        out = decided.verdict.as_dict()
        print(json.dumps(out, ensure_ascii=False, indent=2))
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
    try:
        conn = await asyncpg.connect(url, timeout=10)
    except (OSError, asyncio.TimeoutError, asyncpg.PostgresError) as exc:
        raise StoreUnavailable(f"{mask_url(url)} : {exc}") from None
    try:
        done = await schema.migrate(conn)
    except asyncpg.InsufficientPrivilegeError as exc:
        role = await conn.fetchval("SELECT current_user")
        raise ConfigError(f"le rôle {role!r} ne peut pas modifier le schéma ({exc}) : migrer "
                          "avec le rôle propriétaire (ASTGUARD_MIGRATE_DATABASE_URL ou --url)"
                          ) from None
    finally:
        await conn.close()
    print("applied: " + (", ".join(f"{m.version:04d}_{m.name}" for m in done)
                         or "nothing, schema already current"))
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
        print(f"# fichier : {config_file.config_path(args.config, os.environ)[0]}")
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
            await check_schema_if_reachable(c.db)
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


async def _manage(c: Any, args: argparse.Namespace) -> int:
    cmd = args.command
    if cmd in cli_contacts.COMMANDS:
        return await cli_contacts.run(c, args)
    if cmd == "callerid":
        return await cli_callerid.run(c, args)
    if cmd in ("inbound", "purge"):
        return await cli_inbound.run(c, args)
    if cmd in cli_reports.COMMANDS:
        return await cli_reports.run(c, args)
    if cmd == "db":
        async with c.db.connection() as conn:
            await schema.check(conn)
            print("schema current")
        return 0
    if cmd == "principal":
        await c.directory.add_principal(args.id, args.name)
        print(f"principal {args.id} saved")
    elif cmd == "campaign" and args.campaign_cmd == "set":
        saved = await c.directory.set_campaign(args.name, args.principal, args.purpose,
                                               args.dial_mode, args.caller_id,
                                               active=not args.inactive, scope=args.scope,
                                               sector=args.sector, press=args.press,
                                               cli_policy=args.cli_policy)
        print(f"campagne {saved.name} enregistrée ({label(PURPOSE, saved.purpose.value)}, "
              f"numérotation {label(DIAL_MODE, saved.dial_mode.value)}, numéro présenté "
              f"{saved.caller_id or '-'})")
    elif cmd == "campaign":
        shown = [{**r, "purpose": label(PURPOSE, r["purpose"]),
                  "dial_mode": label(DIAL_MODE, r["dial_mode"])}
                 for r in await c.directory.list_campaigns()]
        print(render_rows(shown,
                          ["name", "principal_id", "purpose", "dial_mode", "caller_id",
                           "cli_policy", "scope", "sector", "press", "active"]))
    elif cmd == "endpoint" and args.endpoint_cmd == "set":
        await c.directory.set_endpoint(args.endpoint, args.campaign, args.allow, args.agent)
        print(f"endpoint {args.endpoint} saved")
    elif cmd == "endpoint":
        print(render_rows(await c.directory.list_endpoints(),
                          ["endpoint", "default_campaign", "allowed_campaigns", "agent"]))
    elif cmd == "decisions" and any((args.first, args.last, args.campaign, args.agent,
                                     args.reason, args.decision)):
        start, end = period(args.first, args.last, c.clock.now().astimezone(PARIS).date())
        try:
            number = fast_e164(args.number) if args.number else None
        except NumberError as exc:
            raise InputError(f"--number : {exc}") from None
        found = await c.reports.decisions(DecisionFilter(
            start, end, campaign=args.campaign, agent=args.agent, reason=args.reason,
            decision=args.decision, number=number, limit=args.limit))
        if args.json:
            print(json.dumps(found.as_dict(), default=str, ensure_ascii=False, indent=2))
        else:
            shown = [{**d, "decision": label(DECISION, d["decision"])} for d in found.decisions]
            print(render_rows(shown, [
                "decided_at", "agent", "number_e164", "campaign", "decision", "deny_codes",
                "caller_id", "answered", "hangup_cause"]))
            print(f"{len(found.decisions)} sur {found.total}")
    elif cmd == "decisions":
        rows = await c.evidence.recent(args.limit, args.number)
        if args.json:
            print(json.dumps(rows, default=str, ensure_ascii=False, indent=2))
        else:
            print(render_rows(rows, ["decided_at", "source", "endpoint", "number_e164",
                                     "campaign", "decision", "reason_codes", "caller_id",
                                     "answered", "hangup_cause"]))
    elif cmd == "spool":
        if args.spool_cmd == "flush":
            print(f"écrits : {await c.spool.flush(c.db)}")
            if c.spool.kept_aside:
                print(f"mis de côté : {c.spool.kept_aside} (voir {c.settings.spool_dir}/rejected)")
        print(f"en attente : {c.spool.depth()}")
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
