"""What keeps the dashboard's sign-in safe: server-side sessions, a login throttle, CSRF tokens
and the Content-Security-Policy.

Sessions live in this process's memory (no table): a restart of astguard signs every
supervisor out, which costs one sign-in and keeps no credential at rest. The browser's cookie
holds a random session id, never an API token, so a stolen cookie expires with its session and
never grants writes.
"""

from __future__ import annotations

import hmac
import secrets
import time
from collections import OrderedDict, deque
from collections.abc import Callable

SESSION_COOKIE = "astguard_session"
CSRF_COOKIE = "astguard_csrf"
SESSION_LIFETIME = 8 * 3600.0  # seconds: one working day, then sign in again
MAX_SESSIONS = 10_000  # the oldest go first beyond this (a token holder looping on sign-ins)
LOGIN_FAILURES = 5  # failed sign-ins per client address ...
LOGIN_WINDOW = 60.0  # ... per this many seconds, then 429
MAX_TRACKED_ADDRESSES = 10_000


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def same_secret(given: str, expected: str) -> bool:
    """Constant-time comparison that accepts any text (non-ASCII included) and never raises."""
    if not given or not expected:
        return False
    return hmac.compare_digest(given.encode("utf-8", "surrogateescape"),
                               expected.encode("utf-8", "surrogateescape"))


class Sessions:
    """Signed-in browsers: session id -> (right, expiry), in memory."""

    def __init__(self, lifetime: float = SESSION_LIFETIME,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.lifetime = lifetime
        self._clock = clock
        self._open: OrderedDict[str, tuple[str, float]] = OrderedDict()

    def open(self, right: str) -> str:
        now = self._clock()
        for sid, (_, until) in list(self._open.items()):
            if until > now:
                break  # in opening order, so the rest expire later
            del self._open[sid]
        while len(self._open) >= MAX_SESSIONS:
            self._open.popitem(last=False)
        sid = new_secret()
        self._open[sid] = (right, now + self.lifetime)
        return sid

    def right(self, sid: str) -> str | None:
        found = self._open.get(sid) if sid else None
        if found is None:
            return None
        right, until = found
        if until <= self._clock():
            del self._open[sid]
            return None
        return right

    def close(self, sid: str) -> None:
        self._open.pop(sid, None)


class LoginThrottle:
    """At most LOGIN_FAILURES failed sign-ins per client address in a sliding window."""

    def __init__(self, limit: int = LOGIN_FAILURES, window: float = LOGIN_WINDOW,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._limit = limit
        self._window = window
        self._clock = clock
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()

    def _recent(self, address: str) -> deque[float]:
        seen = self._failures.get(address)
        if seen is None:
            return deque()
        horizon = self._clock() - self._window
        while seen and seen[0] <= horizon:
            seen.popleft()
        if not seen:
            del self._failures[address]
        return seen

    def blocked(self, address: str) -> bool:
        return len(self._recent(address)) >= self._limit

    def failed(self, address: str) -> None:
        seen = self._recent(address)
        seen.append(self._clock())
        self._failures[address] = seen
        self._failures.move_to_end(address)
        while len(self._failures) > MAX_TRACKED_ADDRESSES:
            self._failures.popitem(last=False)


def content_security_policy(nonce: str) -> str:
    """Dashboard pages: nothing but their own nonce'd style and script, the live stream from
    the same origin, forms posting to the same origin, no framing."""
    return (f"default-src 'none'; script-src 'nonce-{nonce}'; style-src 'nonce-{nonce}'; "
            "img-src 'self' data:; connect-src 'self'; form-action 'self'; "
            "frame-ancestors 'none'; base-uri 'none'")


def security_headers(nonce: str) -> dict[str, str]:
    return {"Content-Security-Policy": content_security_policy(nonce),
            "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
            "Cache-Control": "no-store"}
