"""`astguard serve`: start what the composition root (controller.py) built, run it until told
to stop, and stop it in order, each step bounded."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path

from aiohttp import web

from astguard.app.recording import RecordingService
from astguard.background import bounded, supervised
from astguard.controller import runtime
from astguard.errors import StoreUnavailable
from astguard.settings import Settings
from astguard.telephony.fastagi import serve_fastagi

log = logging.getLogger(__name__)

PURGE_INTERVAL = 3600.0  # seconds between retention purges in the running service (R-I4)
SHUTDOWN_STEP_SECONDS = 15.0
SETTLE_SECONDS = 5.0  # at shutdown, for the outcomes of calls whose end went unseen


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


HTTP_SHUTDOWN_SECONDS = 3.0


async def serve(settings: Settings, stop: asyncio.Event) -> None:
    """Run the Stasis application, the FastAGI server and the spool flusher until `stop`."""
    async with runtime(settings) as rt:
        c = rt.c
        c.spool.prepare()
        if await c.operations.check_schema_if_reachable():
            await c.operations.warn_if_privileged()
        else:
            log.warning("PostgreSQL unreachable at start-up: prospecting calls are refused "
                        "(GUARD_UNAVAILABLE) until it answers; decisions are spooled")
        if c.clock.mode != "system":
            log.warning("clock is %s (now %s): for tests and demos only", c.clock.mode,
                        c.clock.now().isoformat())
        started_at = c.clock.now()  # calls decided before this belong to an earlier run

        def dispatch(event: dict) -> None:
            rt.stasis.handle(event)
            rt.inbound.handle(event)

        c.metrics.gauges["astguard_ari_connected"] = lambda: rt.ari.connected.is_set()
        # Read off the event loop by the flusher: a scrape never waits on the disk.
        c.metrics.gauges["astguard_spool_depth"] = lambda: c.spool.last_depth
        c.metrics.gauges["astguard_spool_kept_aside"] = lambda: c.spool.kept_aside
        # Leak watch (issue 14's soak): both must come back to their idle level after calls.
        c.metrics.gauges["astguard_asyncio_tasks"] = lambda: len(asyncio.all_tasks())
        c.metrics.gauges["astguard_channels_followed"] = lambda: rt.stasis.followed
        c.metrics.gauges["astguard_inbound_channels_followed"] = lambda: rt.inbound.followed
        c.metrics.gauges["astguard_outcomes_unsaved"] = lambda: c.gate.unsaved_outcomes

        def crashed(name: str) -> None:
            c.metrics.task_restart(name)

        tasks = [asyncio.create_task(supervised(name, start, on_crash=crashed), name=name)
                 for name, start in (
                     ("ari", lambda: rt.ari.run(dispatch)),
                     ("spool", lambda: c.spool.run_flusher(c.db,
                                                           settings.spool_flush_interval)),
                     ("purge", lambda: run_purges(c.recordings, settings.recording_dir)),
                     ("outcomes", lambda: rt.stasis.reconcile_earlier_forever(started_at)),
                     ("unconfirmed", rt.stasis.follow_unconfirmed_forever),
                     ("campaigns", c.gate.forget_inactive_campaigns_forever),
                     ("kept-codes", rt.kept_codes.run))]
        if rt.watchdog is not None and rt.watchdog_ari is not None:
            watchdog, watchdog_ari = rt.watchdog, rt.watchdog_ari
            c.metrics.gauges["astguard_watchdog_connected"] = watchdog_ari.connected.is_set
            tasks.append(asyncio.create_task(
                supervised("watchdog", lambda: watchdog_ari.run(watchdog.handle),
                           on_crash=crashed), name="watchdog"))
            log.info("watchdog on trunk endpoints %s (mode %s)",
                     ", ".join(sorted(settings.trunk_endpoints)), settings.watchdog_mode)
        else:
            log.warning("no ASTGUARD_TRUNK_ENDPOINTS: calls that reach the trunk without "
                        "astguard are not watched (docs/operations.md, Watchdog)")
        if rt.agi is not None:
            agi = rt.agi
            c.metrics.gauges["astguard_agi_connections"] = lambda: agi.active
            rt.agi_server = await serve_fastagi(agi, settings.agi_host, settings.agi_port)
            log.info("FastAGI listening on %s:%d", settings.agi_host, settings.agi_port)
        runner = None
        if rt.http is not None:
            # Open live streams (the dashboard's) are cut after HTTP_SHUTDOWN_SECONDS instead
            # of aiohttp's default minute, which alone outlived systemd's stop timeout.
            runner = web.AppRunner(rt.http, access_log=None,
                                   shutdown_timeout=HTTP_SHUTDOWN_SECONDS)
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
            if rt.agi_server is not None:
                rt.agi_server.close()
                await bounded("FastAGI server", rt.agi_server.wait_closed(),
                              SHUTDOWN_STEP_SECONDS)
            if runner is not None:
                await bounded("HTTP server", runner.cleanup(), SHUTDOWN_STEP_SECONDS)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            # In order, each step bounded, well inside systemd's stop timeout (90 s): the
            # decisions in flight, then the recordings, then the spool (what is not flushed
            # stays on disk and is written at the next start).
            await bounded("decisions in flight", rt.stasis.drain(), SHUTDOWN_STEP_SECONDS)
            # Short: every step together stays inside the 90 s; what is left, the next run
            # settles (reconcile_earlier).
            await bounded("calls ended unobserved", rt.stasis.settle_ended(),
                          SETTLE_SECONDS)
            await bounded("inbound calls", rt.inbound.drain(), SHUTDOWN_STEP_SECONDS)
            if rt.watchdog is not None:
                await bounded("watchdog", rt.watchdog.drain(), SHUTDOWN_STEP_SECONDS)
            rt.recorder.close()
            with contextlib.suppress(StoreUnavailable):
                await bounded("spool flush", c.spool.flush(c.db), SHUTDOWN_STEP_SECONDS)
