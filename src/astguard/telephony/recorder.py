"""Recording over AMI (panoramisk): MixMonitor on a channel, StopMixMonitor on objection.

MixMonitor records both parties once the call is bridged and keeps going when the channel leaves
Stasis for the queue or the agent, which an ARI recording of the channel alone would not.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

from astguard.telephony.ami import AmiClient, AmiError

log = logging.getLogger(__name__)


class RecorderError(AmiError):
    pass


class Recorder(Protocol):
    async def start(self, channel: str, file: str) -> None: ...

    async def stop(self, channel: str) -> None: ...


class AmiRecorder:
    def __init__(self, ami: AmiClient) -> None:
        self._ami = ami

    async def _action(self, action: dict[str, str]) -> dict[str, Any]:
        try:
            return await self._ami.action(action)
        except AmiError as exc:
            raise RecorderError(str(exc)) from exc

    async def start(self, channel: str, file: str) -> None:
        await self._action({"Action": "MixMonitor", "Channel": channel, "File": file})

    async def stop(self, channel: str) -> None:
        await self._action({"Action": "StopMixMonitor", "Channel": channel})

    def close(self) -> None:
        self._ami.close()
