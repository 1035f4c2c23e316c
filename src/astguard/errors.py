"""astguard's exceptions.

    AstguardError
    ├── ConfigError        a setting is missing or malformed (fail fast at start-up)
    ├── InputError         a caller gave bad input (CLI exit 2, HTTP 4xx)
    ├── StoreUnavailable   PostgreSQL cannot be reached or timed out (fail closed)
    ├── SchemaError        the database schema is not at the version this code needs
    └── AriError           an ARI request failed
"""

from __future__ import annotations

__all__ = [
    "AriError",
    "AstguardError",
    "ConfigError",
    "InputError",
    "SchemaError",
    "StoreUnavailable",
]


class AstguardError(Exception):
    pass


class ConfigError(AstguardError):
    pass


class InputError(AstguardError):
    pass


class StoreUnavailable(AstguardError):
    pass


class SchemaError(AstguardError):
    pass


class AriError(AstguardError):
    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status
