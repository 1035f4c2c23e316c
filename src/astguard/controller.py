"""The composition root: builds every object once and hands each its dependencies.

Nothing else in astguard constructs a store, a pool, a client or a clock. The CLI asks for
`components()` (the use cases on their pools); `astguard serve` asks for `runtime()` (the same,
plus the ARI clients, the Stasis and FastAGI applications, the watchdog and the HTTP
application), which service.py only starts and stops.
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

from astguard.app.caller_ids import CallerIds
from astguard.app.campaigns import Campaigns
from astguard.app.contacts import ContactService
from astguard.app.gate import Gate
from astguard.app.importer import Importer
from astguard.app.recording import RecordingService
from astguard.app.operations import Operations
from astguard.app.scrub import Scrubber
from astguard.app.supervision import Supervision
from astguard.clock import Clock, PinnedClock, build_clock
from astguard.metrics import Metrics
from astguard.readiness import Readiness
from astguard.settings import Settings
from astguard.store.bindings import DecisionBindings
from astguard.store.caller_ids import CallerIdStore
from astguard.store.database import Database
from astguard.store.directory import Directory
from astguard.store.evidence import EvidenceStore
from astguard.store.inbound import SPOOL_KIND as INBOUND_SPOOL_KIND
from astguard.store.inbound import InboundStore, replay_inbound
from astguard.store.reports import Reports
from astguard.store.spool import Spool
from astguard.store.trunk_audit import TrunkAuditStore
from astguard.store.unguarded import UnguardedStore, replay_unguarded
from astguard.surfaces.dashboard import Dashboard
from astguard.surfaces.http import Api
from astguard.telephony.agi_binding import ChannelBinding
from astguard.telephony.ari import AriClient
from astguard.telephony.call_token import CallTokens, load_secret
from astguard.telephony.fastagi import ContactsAgi, HardenedFastAGI, InboundAgi, OutboundAgi
from astguard.telephony.inbound import InboundStasisApp, RecordingPaths
from astguard.telephony.outbound_recording import OutboundRecordingAgi
from astguard.telephony.ami import AmiClient
from astguard.telephony.kept_codes import KeptCodes
from astguard.telephony.recorder import AmiRecorder
from astguard.telephony.stasis import OutboundStasisApp
from astguard.telephony.watchdog import TrunkWatchdog


@dataclass(slots=True)
class Components:
    """The use cases (what the surfaces and the telephony adapters call) and, for the
    runtime's wiring only, the pools and stores they were built on."""

    settings: Settings
    clock: Clock
    metrics: Metrics
    gate: Gate
    contacts: ContactService
    campaigns: Campaigns
    caller_ids: CallerIds
    supervision: Supervision
    recordings: RecordingService
    importer: Importer
    operations: Operations
    scrubber: Scrubber  # list scrubbing, on the readers' pool (CLI and API)
    # infrastructure
    db: Database
    read_db: Database  # the readers' own pool (reports, audit, dashboard, history)
    spool: Spool
    directory: Directory
    inbound_store: InboundStore
    unguarded: UnguardedStore

    def gate_at(self, clock: Clock) -> Gate:
        """The same gate with another clock (dry runs "at" a given moment)."""
        return Gate(db=self.db, directory=self.directory, spool=self.spool, clock=clock,
                    rules=self.settings.rules, node=socket.gethostname(),
                    metrics=self.metrics)


@contextlib.asynccontextmanager
async def components(settings: Settings, clock: Clock | None = None
                     ) -> AsyncIterator[Components]:
    """Every use case, built once on the two pools; `clock`: a pinned clock for a dry run
    (default: the one the settings name)."""
    db = Database(settings.database_url, timeout=settings.db_timeout)
    read_db = Database(settings.read_database_url or settings.database_url,
                       timeout=settings.db_timeout, max_size=settings.read_pool_size,
                       statement_timeout=settings.read_statement_timeout)
    try:
        yield _build(settings, clock or build_clock(settings.clock), db, read_db)
    finally:
        await db.close()
        await read_db.close()


def _build(settings: Settings, clock: Clock, db: Database, read_db: Database) -> Components:
    rules = settings.rules
    directory = Directory(db)
    spool = Spool(settings.spool_dir)
    metrics = Metrics()
    inbound_store = InboundStore(db)
    unguarded = UnguardedStore(db)
    gate = Gate(db=db, directory=directory, spool=spool, clock=clock, rules=rules,
                node=socket.gethostname(), metrics=metrics)
    contacts = ContactService(db, clock, rules, reader=read_db, spool=spool)
    spool.register("code", contacts.replay_code)  # agents' codes keyed during an outage
    spool.register(INBOUND_SPOOL_KIND, replay_inbound)  # recording evidence (R-I2)
    spool.register("unguarded_call", replay_unguarded)  # the watchdog's rows (issue 17)
    supervision = Supervision(
        reports=Reports(read_db, rules.opt_in_from), evidence=EvidenceStore(db),
        reader=read_db, unguarded=UnguardedStore(read_db),
        trunk_audit=TrunkAuditStore(read_db), settings=settings, listener=db)
    return Components(
        settings=settings, clock=clock, metrics=metrics, gate=gate, contacts=contacts,
        campaigns=Campaigns(directory),
        caller_ids=CallerIds(CallerIdStore(db, rules.numbering.npv_roots), clock, rules),
        supervision=supervision,
        recordings=RecordingService(inbound_store, clock, spool),
        importer=Importer(db), operations=Operations(db, spool, settings.spool_dir),
        scrubber=Scrubber(read_db, Directory(read_db), clock, rules),
        db=db, read_db=read_db, spool=spool, directory=directory,
        inbound_store=inbound_store, unguarded=unguarded)


def api_app(c: Components, readiness: Readiness | None = None) -> web.Application:
    """The API and the dashboard on one aiohttp application."""
    settings = c.settings
    # Classification for history pages, on the readers' pool.
    readers = Campaigns(Directory(c.read_db))
    api = Api(gate=c.gate, contacts=c.contacts, directory=readers, caller_ids=c.caller_ids,
              read_tokens=settings.api_read_tokens, write_tokens=settings.api_write_tokens,
              gate_at=lambda at: c.gate_at(PinnedClock(at)), metrics=c.metrics,
              reports=c.supervision, clock=c.clock,
              readiness=readiness.report if readiness else None, scrubber=c.scrubber)
    app = api.app()
    Dashboard(api=api, reports=c.supervision, contacts=c.contacts, directory=readers,
              clock=c.clock).install(app)
    return app


def fastagi_app(c: Components, inbound: InboundStasisApp,
                tokens: CallTokens | None = None) -> HardenedFastAGI:
    """The FastAGI server's routes, each request bound to its own call."""
    s = c.settings
    agi = HardenedFastAGI(read_timeout=s.agi_read_timeout, allowed_peers=s.agi_allowed_peers,
                          max_connections=s.agi_max_connections, metrics=c.metrics)
    binding = ChannelBinding(DecisionBindings(c.db))
    OutboundAgi(c.gate, binding, tokens).install(agi)
    ContactsAgi(c.contacts, binding).install(agi)
    InboundAgi(inbound).install(agi)
    OutboundRecordingAgi(c.recordings, inbound, binding).install(agi)
    return agi


@dataclass(slots=True)
class Runtime:
    """What `astguard serve` runs: built here, started and stopped by service.serve."""

    c: Components
    ari: AriClient
    tokens: CallTokens
    stasis: OutboundStasisApp
    recorder: AmiRecorder
    kept_codes: KeptCodes  # agents' codes the dialplan kept while astguard was away
    inbound: InboundStasisApp
    watchdog_ari: AriClient | None
    watchdog: TrunkWatchdog | None
    agi: HardenedFastAGI | None
    http: web.Application | None
    agi_server: Any = field(default=None)  # the listening FastAGI server, once started


@contextlib.asynccontextmanager
async def runtime(settings: Settings) -> AsyncIterator[Runtime]:
    async with components(settings) as c, aiohttp.ClientSession() as session:
        ari = AriClient(session, settings.ari_url, settings.ari_user, settings.ari_password,
                        settings.ari_app)
        tokens = CallTokens(load_secret(settings.call_token_secret, settings.spool_dir,
                                        create=True), settings.call_token_ttl)
        ami = AmiClient(settings.ami_host, settings.ami_port, settings.ami_user,
                        settings.ami_secret)
        recorder = AmiRecorder(ami)
        inbound = InboundStasisApp(
            ari, c.recordings, recorder,
            RecordingPaths(settings.asterisk_recording_dir or str(settings.recording_dir),
                           settings.recording_dir, settings.prompts_dir))
        watchdog_ari = watchdog = None
        if settings.trunk_endpoints:
            watchdog_ari = AriClient(session, settings.ari_url, settings.ari_user,
                                     settings.ari_password, settings.watchdog_app,
                                     subscribe_all=True)
            watchdog = TrunkWatchdog(
                watchdog_ari, tokens, c.unguarded, c.metrics, trunks=settings.trunk_endpoints,
                mode=settings.watchdog_mode,
                emergency_numbers=settings.rules.emergency_numbers, node=socket.gethostname(),
                spool=c.spool)
        rt = Runtime(c, ari, tokens, OutboundStasisApp(ari, c.gate, tokens), recorder,
                     KeptCodes(ami, c.contacts, c.clock), inbound,
                     watchdog_ari, watchdog,
                     fastagi_app(c, inbound, tokens) if settings.agi_enabled else None, None)
        if settings.http_enabled:
            agi_serving = (lambda: rt.agi_server is not None and rt.agi_server.is_serving()) \
                if settings.agi_enabled else None
            rt.http = api_app(c, Readiness(settings, c.db, c.spool, ari.connected.is_set,
                                           agi_serving))
        yield rt
