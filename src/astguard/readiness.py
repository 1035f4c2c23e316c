"""GET /v1/ready: whether this node can decide calls now, each part with its state.

Ready when ARI is connected, FastAGI listens (if enabled), PostgreSQL answers with the schema
this code needs, and AMI accepts astguard's login (when an AMI secret is set: AMI only serves
recordings). The spool's depth is reported, not judged: evidence waiting there is written as
soon as PostgreSQL answers. Liveness is GET /v1/health.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from astguard.errors import SchemaError, StoreUnavailable
from astguard.settings import Settings
from astguard.store import schema
from astguard.store.database import Database
from astguard.store.spool import Spool

TIMEOUT = 2.0


def _state(ok: bool | None, detail: str) -> dict[str, str]:
    return {"state": "disabled" if ok is None else ("ok" if ok else "down"), "detail": detail}


class Readiness:
    def __init__(self, settings: Settings, db: Database, spool: Spool,
                 ari_connected: Callable[[], bool],
                 agi_serving: Callable[[], bool] | None) -> None:
        self._settings = settings
        self._db = db
        self._spool = spool
        self._ari_connected = ari_connected
        self._agi_serving = agi_serving

    async def report(self) -> dict[str, Any]:
        checks: dict[str, Any] = {}
        ari = self._ari_connected()
        checks["ari"] = _state(ari, "websocket connecté" if ari else "websocket non connecté : "
                               "le dialplan refuse les appels")
        if self._agi_serving is None:
            checks["fastagi"] = _state(None, "désactivé (ASTGUARD_AGI_ENABLED)")
        else:
            serving = self._agi_serving()
            checks["fastagi"] = _state(serving, "à l'écoute" if serving else "arrêté")
        checks["ami"] = await self._ami()
        checks["postgresql"], checks["schema"] = await self._database()
        depth = self._spool.depth()
        checks["spool"] = {"state": "ok" if depth == 0 else "pending", "depth": depth,
                           "detail": "vide" if depth == 0 else
                           f"{depth} décision(s) en attente d'écriture"}
        ready = all(c["state"] in ("ok", "disabled", "pending") for c in checks.values())
        return {"ready": ready, "checks": checks}

    async def _database(self) -> tuple[dict[str, str], dict[str, str]]:
        try:
            async with self._db.connection() as conn:
                try:
                    await schema.check(conn)
                except SchemaError as exc:
                    return _state(True, "joignable"), _state(False, str(exc))
        except StoreUnavailable as exc:
            return (_state(False, f"injoignable : {exc}"),
                    _state(False, "inconnu (PostgreSQL injoignable)"))
        return _state(True, "joignable"), _state(True, "à jour")

    async def _ami(self) -> dict[str, str]:
        s = self._settings
        if not s.ami_secret:
            return _state(None, "non configuré (ASTGUARD_AMI_SECRET vide : pas d'enregistrement)")
        try:
            return await asyncio.wait_for(self._ami_login(), TIMEOUT)
        except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError) as exc:
            return _state(False, f"injoignable sur {s.ami_host}:{s.ami_port} ({exc or 'délai'})")

    async def _ami_login(self) -> dict[str, str]:
        s = self._settings
        reader, writer = await asyncio.open_connection(s.ami_host, s.ami_port)
        try:
            await reader.readline()  # "Asterisk Call Manager/x.y"
            writer.write(f"Action: Login\r\nUsername: {s.ami_user}\r\nSecret: {s.ami_secret}"
                         "\r\nEvents: off\r\n\r\n".encode())
            await writer.drain()
            reply = (await reader.readuntil(b"\r\n\r\n")).decode(errors="replace")
            if "Response: Success" not in reply:
                return _state(False, f"identification refusée pour « {s.ami_user} »")
            writer.write(b"Action: Logoff\r\n\r\n")
            await writer.drain()
            return _state(True, "identification acceptée")
        finally:
            writer.close()
            try:
                await writer.wait_closed()
            except OSError:
                pass
