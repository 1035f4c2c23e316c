"""A recording fake ARI for the adapter's unit tests: real HTTP and websocket on loopback.

It records every REST request, pushes events to connected websockets, and can drop them.
(The end-to-end tests run the real Asterisk; this only isolates the client's behaviour.)
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, str]
    auth: str | None


@dataclass
class FakeAri:
    user: str = "astguard"
    password: str = "secret"
    requests: list[Seen] = field(default_factory=list)
    sockets: list[web.WebSocketResponse] = field(default_factory=list)
    ws_connects: int = 0
    ws_attempts: int = 0
    refuse_ws: bool = False
    fail_paths: set[str] = field(default_factory=set)
    variables: dict[tuple[str, str], str] = field(default_factory=dict)  # (channel, name)
    channels: list[dict[str, Any]] = field(default_factory=list)  # what GET /channels lists
    # Seconds to hold a request's answer once it is recorded (applied): a client's timeout
    # then fails a request Asterisk did carry out.
    delay_for: Callable[[Seen], float] | None = None
    runner: web.AppRunner | None = None
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/ari"

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/ari/events", self._events)
        app.router.add_route("*", "/ari/{tail:.*}", self._rest)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        await self.drop()
        if self.runner:
            await self.runner.cleanup()

    def _authorised(self, request: web.Request) -> bool:
        expected = base64.b64encode(f"{self.user}:{self.password}".encode()).decode()
        return request.headers.get("Authorization") == f"Basic {expected}"

    async def _events(self, request: web.Request) -> web.StreamResponse:
        self.ws_attempts += 1
        if self.refuse_ws or not self._authorised(request):
            return web.Response(status=401 if not self._authorised(request) else 503)
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self.ws_connects += 1
        self.sockets.append(ws)
        async for msg in ws:
            if msg.type == WSMsgType.CLOSE:
                break
        return ws

    async def _rest(self, request: web.Request) -> web.Response:
        seen = Seen(request.method, "/" + request.match_info["tail"], dict(request.query),
                    request.headers.get("Authorization"))
        self.requests.append(seen)
        if not self._authorised(request):
            return web.json_response({"message": "Authentication required"}, status=401)
        if self.delay_for is not None and (delay := self.delay_for(seen)):
            await asyncio.sleep(delay)
        if any(seen.path.endswith(p) for p in self.fail_paths):
            return web.json_response({"message": "Channel not found"}, status=404)
        parts = seen.path.strip("/").split("/")
        if request.method == "GET" and parts == ["channels"]:
            return web.json_response(self.channels)
        if request.method == "GET" and len(parts) == 3 and parts[2] == "variable":
            value = self.variables.get((parts[1], seen.query.get("variable", "")))
            if value is None:
                return web.json_response({"message": "Provided variable was not found"},
                                         status=404)
            return web.json_response({"value": value})
        return web.Response(status=204)

    async def send(self, event: dict[str, Any]) -> None:
        for ws in list(self.sockets):
            if not ws.closed:
                await ws.send_json(event)

    async def drop(self) -> None:
        for ws in list(self.sockets):
            await ws.close()
        self.sockets.clear()

    async def wait_connects(self, n: int, timeout: float = 5.0) -> None:
        async with asyncio.timeout(timeout):
            while self.ws_connects < n:
                await asyncio.sleep(0.01)

    def paths(self, method: str | None = None) -> list[str]:
        return [r.path for r in self.requests if method is None or r.method == method]
