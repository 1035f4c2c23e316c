"""The token an allowed call carries to the trunk: proof, on the channel, that astguard decided it.

When astguard allows a call it sets `__ASTGUARD_TOKEN` (contract.INHERITED_TOKEN_VARIABLE) on
the deciding channel (the double
underscore makes every channel it dials inherit it). The token is

    <decision id>.<issued at, UNIX seconds>.<HMAC-SHA256(secret, "v1|id|E.164|issued")>

so nothing without astguard's secret can produce one, and a token cannot be moved to another
number (the destination is inside the MAC) nor kept for later (it expires). The watchdog
(telephony/watchdog.py) and the reconciliation (`astguard audit calls`) check it.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

from astguard.errors import ConfigError
from astguard.policy.numbers import NumberError, normalise_digits, parse_number

SECRET_FILE_NAME = "call-token.secret"
MIN_SECRET_LENGTH = 32
_SHAPE = re.compile(r"([0-9A-Za-z-]{1,64})\.(\d{1,12})\.([0-9a-f]{64})")


def trunk_number(text: str) -> str:
    """The number a trunk channel dials, in one comparable form: E.164 when it parses (a
    national 06… and +336… are the same consumer), else its digits, else the text itself."""
    try:
        return parse_number(text).e164
    except NumberError:
        pass
    try:
        return normalise_digits(text)
    except NumberError:
        return text.strip()


@dataclass(frozen=True, slots=True)
class TokenCheck:
    valid: bool
    decision_id: str | None  # the decision the token names (None when it does not parse)
    problem: str  # in French, for the evidence and the report; "" when valid


class CallTokens:
    def __init__(self, secret: str, ttl_seconds: int) -> None:
        if len(secret) < MIN_SECRET_LENGTH:
            raise ConfigError(f"le secret des jetons d'appel a au moins {MIN_SECRET_LENGTH} "
                              "caractères")
        self._key = secret.encode()
        self._ttl = ttl_seconds

    def _mac(self, decision_id: str, number: str, issued: int) -> str:
        message = f"v1|{decision_id}|{trunk_number(number)}|{issued}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    def issue(self, decision_id: str, destination: str, *, now: float | None = None) -> str:
        issued = int(time.time() if now is None else now)
        return f"{decision_id}.{issued}.{self._mac(decision_id, destination, issued)}"

    def verify(self, token: str, number: str, *, now: float | None = None,
               check_age: bool = True) -> TokenCheck:
        """Is `token` a token astguard issued for a call to `number`, recently enough?
        `check_age=False` for the reconciliation, which reads old records."""
        token = token.strip()
        if not token:
            return TokenCheck(False, None, "aucun jeton astguard")
        match = _SHAPE.fullmatch(token)
        if match is None:
            return TokenCheck(False, None, "jeton illisible")
        decision_id, issued_text, mac = match.groups()
        issued = int(issued_text)
        expected = self._mac(decision_id, number, issued)
        if not hmac.compare_digest(mac, expected):
            return TokenCheck(False, decision_id,
                              "jeton falsifié ou émis pour un autre numéro")
        if check_age:
            age = (time.time() if now is None else now) - issued
            if age > self._ttl or age < -60:
                return TokenCheck(False, decision_id,
                                  f"jeton expiré (émis il y a {int(age)} s)")
        return TokenCheck(True, decision_id, "")


def load_secret(configured: str, spool_dir: Path, *, create: bool) -> str:
    """The configured secret, else the one kept in the spool folder (created once, mode 0600,
    when `create`: a single-node installation needs no setting; several nodes must share
    ASTGUARD_CALL_TOKEN_SECRET)."""
    if configured:
        return configured
    path = spool_dir / SECRET_FILE_NAME
    try:
        return _read_secret(path)
    except FileNotFoundError:
        if not create:
            raise ConfigError(f"pas de secret des jetons d'appel : donner ASTGUARD_CALL_TOKEN_SECRET ou "
                              f"lancer `astguard serve` une fois (il écrit {path})") from None
    spool_dir.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_hex(32)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process wrote it first: use theirs
        return _read_secret(path)
    with os.fdopen(fd, "w") as out:
        out.write(secret + "\n")
    return secret


def _read_secret(path: Path) -> str:
    try:
        secret = path.read_text().strip()
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise ConfigError(f"{path} illisible ({exc.strerror}) : lancer sous l'utilisateur astguard ou "
                          "donner ASTGUARD_CALL_TOKEN_SECRET_FILE") from None
    if len(secret) < MIN_SECRET_LENGTH:
        raise ConfigError(f"{path} : le secret des jetons d'appel a au moins "
                          f"{MIN_SECRET_LENGTH} caractères")
    return secret
