"""The composition root: builds every object once and hands each its dependencies.

Nothing else in astguard constructs a store, a client or a clock; surfaces ask for a Components.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
from aiohttp import web

from astguard.app.recording import RecordingService
from astguard.background import bounded, supervised
from astguard.clock import Clock, PinnedClock, build_clock
from astguard.app.contacts import ContactService
from astguard.errors import StoreUnavailable
from astguard.app.gate import Gate
from astguard.metrics import Metrics
from astguard.readiness import Readiness
from astguard.settings import Settings
from astguard.store import schema
from astguard.store.caller_ids import CallerIdStore
from astguard.store.database import Database
from astguard.store.directory import Directory
from astguard.store.evidence import EvidenceStore
from astguard.store.live import DecisionFeed
from astguard.store.reports import Reports
from astguard.store.spool import Spool
from astguard.surfaces.dashboard import Dashboard
from astguard.surfaces.http import Api
from astguard.telephony.agi_binding import ChannelBinding
from astguard.telephony.ari import AriClient
from astguard.telephony.call_token import CallTokens, load_secret
from astguard.telephony.fastagi import (
    ContactsAgi,
    HardenedFastAGI,
    InboundAgi,
    OutboundAgi,
    serve_fastagi,
)
from astguard.store.inbound import SPOOL_KIND as INBOUND_SPOOL_KIND
from astguard.store.inbound import InboundStore, replay_inbound
from astguard.telephony.inbound import InboundStasisApp, RecordingPaths
from astguard.telephony.outbound_recording import OutboundRecordingAgi
from astguard.telephony.recorder import AmiRecorder
from astguard.telephony.stasis import OutboundStasisApp
from astguard.telephony.watchdog import TrunkWatchdog
from astguard.store.unguarded import UnguardedStore, replay_unguarded

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Components:
    settings: Settings
    db: Database
    directory: Directory
    evidence: EvidenceStore
    spool: Spool
    clock: Clock
    gate: Gate
    contacts: ContactService
    caller_ids: CallerIdStore
    metrics: Metrics
    reports: Reports
    read_db: Database  # the readers' own pool (reports, audit, dashboard, history)

    def gate_at(self, clock: Clock) -> Gate:
        """The same gate with another clock (dry runs "at" a given moment)."""
        return Gate(db=self.db, directory=self.directory, spool=self.spool, clock=clock,
                    rules=self.settings.rules, node=socket.gethostname())


@contextlib.asynccontextmanager
async def components(settings: Settings, clock: Clock | None = None) -> AsyncIterator[Components]:
    db = Database(settings.database_url, timeout=settings.db_timeout)
    read_db = Database(settings.read_database_url or settings.database_url,
                       timeout=settings.db_timeout, max_size=settings.read_pool_size,
                       statement_timeout=settings.read_statement_timeout)
    directory = Directory(db)
    evidence = EvidenceStore(db)
    spool = Spool(settings.spool_dir)
    clock = clock or build_clock(settings.clock)
    metrics = Metrics()
    gate = Gate(db=db, directory=directory, spool=spool, clock=clock,
                rules=settings.rules, node=socket.gethostname(), metrics=metrics)
    contacts = ContactService(db, clock, settings.rules, reader=read_db, spool=spool)
    spool.register("code", contacts.replay_code)  # agents' codes keyed during an outage
    spool.register(INBOUND_SPOOL_KIND, replay_inbound)  # recording evidence (R-I2)
    spool.register("unguarded_call", replay_unguarded)  # the watchdog's rows (issue 17)
    try:
        yield Components(settings, db, directory, evidence, spool, clock, gate, contacts,
                         CallerIdStore(db, settings.rules.numbering.npv_roots), metrics,
                         Reports(read_db, settings.rules.opt_in_from), read_db)
    finally:
        await db.close()
        await read_db.close()


def api_app(c: Components, readiness: Readiness | None = None) -> web.Application:
    """The API and the dashboard on one aiohttp application."""
    settings = c.settings
    readers = Directory(c.read_db)  # classification for history pages, on the readers' pool
    api = Api(gate=c.gate, contacts=c.contacts, directory=readers, caller_ids=c.caller_ids,
              read_tokens=settings.api_read_tokens, write_tokens=settings.api_write_tokens,
              gate_at=lambda at: c.gate_at(PinnedClock(at)), metrics=c.metrics,
              reports=c.reports, clock=c.clock, db=c.read_db,
              readiness=readiness.report if readiness else None)
    app = api.app()
    # LISTEN on the primary: a standby (ASTGUARD_READ_DATABASE_URL) gets no notifications.
    Dashboard(api=api, reports=c.reports, contacts=c.contacts, directory=readers,
              clock=c.clock, feed=DecisionFeed(c.db, c.reports)).install(app)
    return app


def fastagi_app(c: Components, inbound: InboundStasisApp,
                tokens: CallTokens | None = None) -> HardenedFastAGI:
    """The FastAGI server's routes, each request bound to its own call."""
    s = c.settings
    agi = HardenedFastAGI(read_timeout=s.agi_read_timeout, allowed_peers=s.agi_allowed_peers,
                          max_connections=s.agi_max_connections, metrics=c.metrics)
    binding = ChannelBinding(c.db)
    OutboundAgi(c.gate, binding, tokens).install(agi)
    ContactsAgi(c.contacts, binding).install(agi)
    InboundAgi(inbound).install(agi)
    OutboundRecordingAgi(inbound.recording, inbound, binding).install(agi)
    return agi


async def check_schema_if_reachable(db: Database) -> bool:
    """Raise SchemaError on a reachable database at the wrong version; False if unreachable."""
    try:
        async with db.connection() as conn:
            await schema.check(conn)
    except StoreUnavailable:
        return False
    return True


async def warn_if_privileged(db: Database) -> None:
    """`astguard serve` under the tables' owner or a superuser works, but could alter the
    evidence's guards: say so at start-up (least privilege, migration 0008)."""
    try:
        async with db.connection() as conn:
            problem = await schema.privilege_problem(conn)
    except StoreUnavailable:
        return
    if problem:
        log.warning("least privilege: %s", problem)


PURGE_INTERVAL = 3600.0  # seconds between retention purges in the running service (R-I4)


async def run_purges(recording: RecordingService, folder: Path,
                     interval: float = PURGE_INTERVAL) -> None:
    """Forever: delete recordings past their retention at the clock's now (files in `folder`
    only), each deletion logged."""
    while True:
        try:
            await recording.purge(folder)
        except StoreUnavailable:
            pass  # what was not marked yet is found again next time
        except Exception:
            log.exception("retention purge failed")
        await asyncio.sleep(interval)


SHUTDOWN_STEP_SECONDS = 15.0


async def serve(settings: Settings, stop: asyncio.Event) -> None:
    """Run the Stasis application, the FastAGI server and the spool flusher until `stop`."""
    async with components(settings) as c, aiohttp.ClientSession() as session:
        c.spool.prepare()
        if await check_schema_if_reachable(c.db):
            await warn_if_privileged(c.db)
        else:
            log.warning("PostgreSQL unreachable at start-up: prospecting calls are refused "
                        "(GUARD_UNAVAILABLE) until it answers; decisions are spooled")
        if c.clock.mode != "system":
            log.warning("clock is %s (now %s): for tests and demos only", c.clock.mode,
                        c.clock.now().isoformat())
        ari = AriClient(session, settings.ari_url, settings.ari_user, settings.ari_password,
                        settings.ari_app)
        tokens = CallTokens(load_secret(settings.call_token_secret, settings.spool_dir,
                                        create=True), settings.call_token_ttl)
        stasis = OutboundStasisApp(ari, c.gate, tokens)
        recorder = AmiRecorder(settings.ami_host, settings.ami_port, settings.ami_user,
                               settings.ami_secret)
        recording = RecordingService(InboundStore(c.db), c.clock, c.spool)
        inbound = InboundStasisApp(
            ari, recording, recorder,
            RecordingPaths(settings.asterisk_recording_dir or str(settings.recording_dir),
                           settings.recording_dir, settings.prompts_dir))

        def dispatch(event: dict) -> None:
            stasis.handle(event)
            inbound.handle(event)

        c.metrics.gauges["astguard_ari_connected"] = lambda: ari.connected.is_set()
        # Read off the event loop by the flusher: a scrape never waits on the disk.
        c.metrics.gauges["astguard_spool_depth"] = lambda: c.spool.last_depth
        c.metrics.gauges["astguard_spool_kept_aside"] = lambda: c.spool.kept_aside

        def crashed(name: str) -> None:
            c.metrics.task_restart(name)

        tasks = [asyncio.create_task(supervised(name, start, on_crash=crashed), name=name)
                 for name, start in (
                     ("ari", lambda: ari.run(dispatch)),
                     ("spool", lambda: c.spool.run_flusher(c.db, settings.spool_flush_interval)),
                     ("purge", lambda: run_purges(recording, settings.recording_dir)))]
        watchdog = None
        if settings.trunk_endpoints:
            watchdog_ari = AriClient(session, settings.ari_url, settings.ari_user,
                                     settings.ari_password, settings.watchdog_app,
                                     subscribe_all=True)
            watchdog = TrunkWatchdog(
                watchdog_ari, tokens, UnguardedStore(c.db), c.metrics,
                trunks=settings.trunk_endpoints, mode=settings.watchdog_mode,
                emergency_numbers=settings.rules.emergency_numbers, node=socket.gethostname(),
                spool=c.spool)
            c.metrics.gauges["astguard_watchdog_connected"] = watchdog_ari.connected.is_set
            tasks.append(asyncio.create_task(
                supervised("watchdog", lambda: watchdog_ari.run(watchdog.handle),
                           on_crash=crashed), name="watchdog"))
            log.info("watchdog on trunk endpoints %s (mode %s)",
                     ", ".join(sorted(settings.trunk_endpoints)), settings.watchdog_mode)
        else:
            log.warning("no ASTGUARD_TRUNK_ENDPOINTS: calls that reach the trunk without "
                        "astguard are not watched (docs/operations.md, Watchdog)")
        server = None
        if settings.agi_enabled:
            agi = fastagi_app(c, inbound, tokens)
            c.metrics.gauges["astguard_agi_connections"] = lambda: agi.active
            server = await serve_fastagi(agi, settings.agi_host, settings.agi_port)
            log.info("FastAGI listening on %s:%d", settings.agi_host, settings.agi_port)
        runner = None
        if settings.http_enabled:
            readiness = Readiness(settings, c.db, c.spool, ari.connected.is_set,
                                  server.is_serving if server is not None else None)
            runner = web.AppRunner(api_app(c, readiness), access_log=None)
            await runner.setup()
            await web.TCPSite(runner, settings.http_host, settings.http_port).start()
            log.info("HTTP API on %s:%d (%d read, %d write tokens)", settings.http_host,
                     settings.http_port, len(settings.api_read_tokens),
                     len(settings.api_write_tokens))
        log.info("astguard serving (ARI %s, app %s)", settings.ari_url, settings.ari_app)
        try:
            await stop.wait()
        finally:
            log.info("astguard stopping")
            if server is not None:
                server.close()
                await server.wait_closed()
            if runner is not None:
                await runner.cleanup()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            # In order, each step bounded, well inside systemd's stop timeout (90 s): the
            # decisions in flight, then the recordings, then the spool (what is not flushed
            # stays on disk and is written at the next start).
            await bounded("decisions in flight", stasis.drain(), SHUTDOWN_STEP_SECONDS)
            await bounded("inbound calls", inbound.drain(), SHUTDOWN_STEP_SECONDS)
            if watchdog is not None:
                await bounded("watchdog", watchdog.drain(), SHUTDOWN_STEP_SECONDS)
            recorder.close()
            with contextlib.suppress(StoreUnavailable):
                await bounded("spool flush", c.spool.flush(c.db), SHUTDOWN_STEP_SECONDS)
