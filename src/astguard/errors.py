"""astguard's exceptions: every one derives from AstguardError (tests/test_errors.py checks it).

    AstguardError
    ├── ConfigError        a setting is missing or malformed (fail fast at start-up)
    ├── InputError         a caller gave bad input (CLI exit 2, HTTP 4xx)
    │   ├── ImportFailed       an import refused, its report saying why (app/imports.py)
    │   └── KeptCodeError      an unreadable code kept in AstDB (telephony/kept_codes.py)
    ├── InvalidValue       a value the pure policy cannot read; also a ValueError
    │   ├── NumberError        not a valid telephone number (policy/numbers.py)
    │   └── DepartmentError    not a French department (policy/call_window.py)
    ├── StoreUnavailable   PostgreSQL cannot be reached or timed out (fail closed)
    ├── SchemaError        the database schema is not at the version this code needs
    ├── RecordRejected     a spooled record that cannot be written as it is (store/replay.py)
    └── TelephonyError     Asterisk did not do, or must not be asked to do, what was asked
        ├── AriError           an ARI request failed
        ├── AgiProtocolError   a FastAGI exchange broke off (telephony/fastagi.py)
        ├── AgiRefused         a FastAGI request names another call (telephony/agi_binding.py)
        ├── AmiError           an AMI action failed (telephony/ami.py)
        │   └── RecorderError      MixMonitor over AMI failed (telephony/recorder.py)
        └── AmiDenied          AMI refused the doctor's login or action (install/doctor.py)

The classes marked with a module live there, next to the code that raises them.
"""

from __future__ import annotations

__all__ = [
    "AriError",
    "AstguardError",
    "ConfigError",
    "InputError",
    "InvalidValue",
    "SchemaError",
    "StoreUnavailable",
    "TelephonyError",
]


class AstguardError(Exception):
    pass


class ConfigError(AstguardError):
    pass


class InputError(AstguardError):
    pass


class InvalidValue(AstguardError, ValueError):
    """Raised by the pure policy's parsers; a ValueError too, as callers catch it."""


class StoreUnavailable(AstguardError):
    pass


class SchemaError(AstguardError):
    pass


class TelephonyError(AstguardError):
    pass


class AriError(TelephonyError):
    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status
