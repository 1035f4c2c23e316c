"""Recording over AMI (panoramisk): MixMonitor on a channel, StopMixMonitor on objection.

MixMonitor records both parties once the call is bridged and keeps going when the channel leaves
Stasis for the queue or the agent, which an ARI recording of the channel alone would not.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Protocol

from panoramisk import Manager

from astguard.errors import TelephonyError

log = logging.getLogger(__name__)


class RecorderError(TelephonyError):
    pass


class Recorder(Protocol):
    async def start(self, channel: str, file: str) -> None: ...

    async def stop(self, channel: str) -> None: ...


class AmiRecorder:
    def __init__(self, host: str, port: int, user: str, secret: str,
                 timeout: float = 3.0) -> None:
        self._args = {"host": host, "port": port, "username": user, "secret": secret}
        self._timeout = timeout
        self._manager: Manager | None = None
        self._lock = asyncio.Lock()

    async def _connected(self) -> Manager:
        async with self._lock:
            if self._manager is None:
                manager = Manager(loop=asyncio.get_running_loop(), **self._args)
                try:
                    await asyncio.wait_for(manager.connect(), self._timeout)
                except (OSError, asyncio.TimeoutError) as exc:
                    manager.close()
                    raise RecorderError(f"AMI unreachable: {exc}") from exc
                self._manager = manager
            return self._manager

    async def _action(self, action: dict[str, str]) -> dict[str, Any]:
        manager = await self._connected()
        try:
            reply = await asyncio.wait_for(manager.send_action(action), self._timeout)
        except (OSError, asyncio.TimeoutError) as exc:
            self.close()  # reconnect next time
            raise RecorderError(f"AMI {action['Action']}: {exc}") from exc
        reply = reply[-1] if isinstance(reply, list) else reply
        if reply.get("Response") != "Success":
            raise RecorderError(f"AMI {action['Action']}: {reply.get('Message')}")
        return dict(reply)

    async def start(self, channel: str, file: str) -> None:
        await self._action({"Action": "MixMonitor", "Channel": channel, "File": file})

    async def stop(self, channel: str) -> None:
        await self._action({"Action": "StopMixMonitor", "Channel": channel})

    def close(self) -> None:
        if self._manager is not None:
            self._manager.close()
            self._manager = None
