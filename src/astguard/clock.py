"""The clock handed to the policy: real, pinned, or started at an instant and running.

Pinned and started clocks exist for tests and demos ("a call on a Saturday", "at 19:59"); every
decision records which clock made it, so evidence is never mistaken for a real call.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Protocol

from astguard.settings import ClockSetting


class Clock(Protocol):
    mode: str

    def now(self) -> dt.datetime: ...


class SystemClock:
    mode = "system"

    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC)


class PinnedClock:
    mode = "pinned"

    def __init__(self, instant: dt.datetime) -> None:
        self._instant = instant.astimezone(dt.UTC)

    def now(self) -> dt.datetime:
        return self._instant


class StartedClock:
    """Starts at `instant` when built and runs at the real pace from there."""

    mode = "started"

    def __init__(self, instant: dt.datetime) -> None:
        self._origin = instant.astimezone(dt.UTC)
        self._t0 = time.monotonic()

    def now(self) -> dt.datetime:
        return self._origin + dt.timedelta(seconds=time.monotonic() - self._t0)


def build_clock(setting: ClockSetting) -> Clock:
    if setting.pinned is not None:
        return PinnedClock(setting.pinned)
    if setting.start is not None:
        return StartedClock(setting.start)
    return SystemClock()
