"""The AMI connection astguard keeps (panoramisk): one lazily opened manager, each action
bounded by `timeout`; after a failure the next action reconnects. Used by the recorder
(MixMonitor) and by the reader of codes the dialplan kept while astguard was down."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from panoramisk import Manager

from astguard.errors import TelephonyError

log = logging.getLogger(__name__)


class AmiError(TelephonyError):
    """AMI unreachable, too slow, or it refused the action."""


class AmiClient:
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
                    raise AmiError(f"AMI unreachable: {exc}") from exc
                self._manager = manager
            return self._manager

    async def messages(self, action: dict[str, str]) -> list[dict[str, Any]]:
        """Every message the action's answer is made of (one, or an event list's events
        after the response), each as a dict. Raises AmiError when AMI fails."""
        manager = await self._connected()
        try:
            reply = await asyncio.wait_for(manager.send_action(action), self._timeout)
        except (OSError, asyncio.TimeoutError) as exc:
            self.close()  # reconnect next time
            raise AmiError(f"AMI {action['Action']}: {exc}") from exc
        return [dict(m) for m in (reply if isinstance(reply, list) else [reply])]

    async def action(self, action: dict[str, str]) -> dict[str, Any]:
        """A one-message action that must succeed; its response."""
        reply = (await self.messages(action))[-1]
        if reply.get("Response") != "Success":
            raise AmiError(f"AMI {action['Action']}: {reply.get('Message')}")
        return reply

    def close(self) -> None:
        if self._manager is not None:
            self._manager.close()
            self._manager = None
