"""Background tasks that never die silently: each runs under a supervisor that logs an
unexpected exception with its traceback, counts it, and starts the task again after a pause
(doubling up to a cap). Cancellation (shutdown) passes through."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)


async def supervised(name: str, start: Callable[[], Awaitable[None]], *,
                     on_crash: Callable[[str], None] | None = None,
                     first_delay: float = 0.5, max_delay: float = 30.0) -> None:
    """Run `start()` forever; a return or a crash is logged and the task started again."""
    delay = first_delay
    while True:
        try:
            await start()
            log.error("background task %s returned: started again in %.1f s", name, delay)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("background task %s crashed: started again in %.1f s", name, delay)
        if on_crash is not None:
            on_crash(name)
        await asyncio.sleep(delay)
        delay = min(delay * 2, max_delay)


async def bounded(what: str, awaitable: Awaitable[object], seconds: float) -> bool:
    """Await `awaitable` at most `seconds` (shutdown steps must end before systemd's stop
    timeout); False, logged, when it did not finish."""
    try:
        await asyncio.wait_for(awaitable, seconds)
    except TimeoutError:
        log.error("shutdown: %s did not finish within %.0f s", what, seconds)
        return False
    except Exception:
        log.exception("shutdown: %s failed", what)
        return False
    return True
