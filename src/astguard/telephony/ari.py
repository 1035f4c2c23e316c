"""A thin ARI client on aiohttp: REST calls and the event websocket, reconnecting with backoff.

Credentials go in a basic-auth header, never in URLs (they would end up in logs). The websocket
sends pings (heartbeat) so a silently dead connection is noticed, and every drop is followed by
a reconnection: the loop never stops by itself and never spins (the delay doubles up to a cap).
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import json
import logging
import random
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aiohttp

from astguard.errors import AriError

log = logging.getLogger(__name__)

EventHandler = Callable[[dict[str, Any]], None]


def event_time(event: dict[str, Any]) -> dt.datetime:
    """When Asterisk says an event happened (2026-11-25T16:12:03.123+0000), else now."""
    raw = event.get("timestamp")
    if raw:
        try:
            return dt.datetime.strptime(raw, "%Y-%m-%dT%H:%M:%S.%f%z")
        except ValueError:
            pass
    return dt.datetime.now(dt.UTC)


CONNECTED_EVENT = "AstguardConnected"  # sent by this client, not by Asterisk


def _deliver(handler: EventHandler, event: dict[str, Any]) -> None:
    try:
        handler(event)
    except Exception:
        log.exception("ARI event handler failed on %s", event.get("type"))


class AriClient:
    def __init__(
        self,
        session: aiohttp.ClientSession,
        base_url: str,
        user: str,
        password: str,
        app: str,
        *,
        request_timeout: float = 3.0,
        heartbeat: float = 5.0,
        backoff_initial: float = 0.2,
        backoff_max: float = 5.0,
        subscribe_all: bool = False,
    ) -> None:
        self._session = session
        self._base = base_url.rstrip("/")
        token = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
        self._headers = {"Authorization": f"Basic {token}"}
        self.app = app
        self._timeout = aiohttp.ClientTimeout(total=request_timeout)
        self._heartbeat = heartbeat
        self._backoff_initial = backoff_initial
        self._backoff_max = backoff_max
        self._subscribe_all = subscribe_all  # every event of every channel (the watchdog)
        self.connected = asyncio.Event()
        self.connections = 0  # how many times the websocket was (re)established

    # -- REST ------------------------------------------------------------------------------
    async def request(self, method: str, path: str, *, params: dict[str, str] | None = None,
                      body: dict[str, Any] | None = None) -> Any:
        url = f"{self._base}/{path.lstrip('/')}"
        try:
            async with self._session.request(method, url, params=params, json=body,
                                             headers=self._headers,
                                             timeout=self._timeout) as resp:
                text = await resp.text()
                if resp.status >= 400:
                    raise AriError(f"ARI {method} {path}: {resp.status} {text[:200]}",
                                   resp.status)
                return json.loads(text) if text else None
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            raise AriError(f"ARI {method} {path}: {type(exc).__name__} {exc}") from exc

    async def set_variable(self, channel_id: str, name: str, value: str) -> None:
        await self.request("POST", f"channels/{channel_id}/variable",
                           params={"variable": name, "value": value})

    async def get_variable(self, channel_id: str, name: str) -> str:
        """A channel variable's value; "" when it is not set (ARI answers 404 then)."""
        try:
            reply = await self.request("GET", f"channels/{channel_id}/variable",
                                       params={"variable": name})
        except AriError as exc:
            if exc.status == 404 and "variable was not found" in str(exc):
                return ""
            raise
        return str((reply or {}).get("value") or "")

    async def continue_in_dialplan(self, channel_id: str) -> None:
        await self.request("POST", f"channels/{channel_id}/continue")

    async def hangup(self, channel_id: str, reason_code: int) -> None:
        await self.request("DELETE", f"channels/{channel_id}",
                           params={"reason_code": str(reason_code)})

    async def answer(self, channel_id: str) -> None:
        await self.request("POST", f"channels/{channel_id}/answer")

    async def play(self, channel_id: str, media: str, playback_id: str) -> None:
        await self.request("POST", f"channels/{channel_id}/play",
                           params={"media": media, "playbackId": playback_id})

    async def stop_playback(self, playback_id: str) -> None:
        await self.request("DELETE", f"playbacks/{playback_id}")

    async def channel_info(self, channel_id: str) -> dict[str, Any] | None:
        """What Asterisk says of a live channel ({} when it says nothing), None when it ended
        (404). Raises AriError otherwise."""
        try:
            info = await self.request("GET", f"/channels/{channel_id}")
        except AriError as exc:
            if exc.status == 404:
                return None
            raise
        return info if isinstance(info, dict) else {}

    async def list_channels(self) -> list[dict[str, Any]]:
        """Every live channel, as Asterisk describes it (GET /channels). A reply that is not a
        list raises AriError: taken for "no channel", it would say every call ended."""
        reply = await self.request("GET", "channels")
        if not isinstance(reply, list):
            raise AriError(f"ARI GET channels: not a list ({type(reply).__name__})")
        return [c for c in reply if isinstance(c, dict)]

    async def subscribe_channel(self, channel_id: str) -> None:
        """Keep receiving a channel's events after it leaves Stasis (to see its outcome)."""
        await self.request("POST", f"applications/{self.app}/subscription",
                           params={"eventSource": f"channel:{channel_id}"})

    # -- events ----------------------------------------------------------------------------
    def _events_url(self) -> str:
        parts = urlsplit(self._base)
        scheme = "wss" if parts.scheme == "https" else "ws"
        return urlunsplit(parts._replace(scheme=scheme, path=parts.path + "/events"))

    async def run(self, handler: EventHandler) -> None:
        """Receive events forever, reconnecting after every drop. Cancel the task to stop."""
        delay = self._backoff_initial
        while True:
            try:
                async with self._session.ws_connect(
                    self._events_url(),
                    params={"app": self.app,
                            "subscribeAll": "true" if self._subscribe_all else "false"},
                    headers=self._headers,
                    heartbeat=self._heartbeat,
                    timeout=aiohttp.ClientWSTimeout(ws_close=2.0),
                ) as ws:
                    self.connections += 1
                    self.connected.set()
                    delay = self._backoff_initial
                    log.info("ARI websocket connected (app %s, connection %d)", self.app,
                             self.connections)
                    # A synthetic event, so that the application can look again at what it
                    # followed while the websocket was down (events are not replayed).
                    _deliver(handler, {"type": CONNECTED_EVENT, "connection": self.connections})
                    await self._pump(ws, handler)
                    log.warning("ARI websocket closed (code %s)", ws.close_code)
            except asyncio.CancelledError:
                self.connected.clear()
                raise
            except (aiohttp.ClientError, OSError, asyncio.TimeoutError) as exc:
                log.warning("ARI websocket unavailable: %s: %s", type(exc).__name__, exc)
            self.connected.clear()
            await asyncio.sleep(delay * (0.5 + random.random() / 2))
            delay = min(delay * 2, self._backoff_max)

    @staticmethod
    async def _pump(ws: aiohttp.ClientWebSocketResponse, handler: EventHandler) -> None:
        async for msg in ws:
            if msg.type is aiohttp.WSMsgType.TEXT:
                try:
                    event = json.loads(msg.data)
                except ValueError:
                    log.error("ARI sent a non-JSON event: %.200s", msg.data)
                    continue
                _deliver(handler, event)
            elif msg.type in (aiohttp.WSMsgType.ERROR, aiohttp.WSMsgType.CLOSED):
                break
