"""Typed settings, read once from the configuration file and the environment (ASTGUARD_*),
failing fast with the key's name (config_file.py: the file, `--config`, secrets from files).

Secrets (database password, ARI password) are never logged: `Settings.describe()` masks them.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from astguard import config_file
from astguard.errors import ConfigError
from astguard.policy.caller_id import NumberingTables, load_tables
from astguard.policy.model import Regime, RuleSettings

# R-A: emergency numbers, and the public-interest numbers 3114 (suicide prevention) and 3919
# (violence against women) (2026-11-26). The dialplan's [astguard-emergency] context lists the
# same numbers (tests/test_emergency_list.py keeps them in step).
DEFAULT_EMERGENCY = (
    "15", "17", "18", "112", "114", "115", "116000", "116006", "116117", "119", "191", "196", "197",
    "3114", "3919",
)


IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
DEFAULT_AGI_PEERS: tuple[IpNetwork, ...] = (ipaddress.ip_network("127.0.0.0/8"),
                                            ipaddress.ip_network("::1/128"))


@dataclass(frozen=True, slots=True)
class ClockSetting:
    """Pinned (frozen) or started at an instant then running; None fields mean the real clock."""

    pinned: dt.datetime | None = None
    start: dt.datetime | None = None


@dataclass(frozen=True)  # no slots: from_env reads the class defaults
class Settings:
    database_url: str
    ari_url: str = "http://127.0.0.1:8088/ari"
    ari_user: str = "astguard"
    ari_password: str = field(default="", repr=False)
    ari_app: str = "astguard"
    agi_host: str = "127.0.0.1"
    agi_port: int = 4573
    agi_enabled: bool = True
    agi_read_timeout: float = 5.0
    db_timeout: float = 2.0
    # Readers (reports, chain audit, dashboard, history and decision listings) have their own
    # pool, which may point at a standby, and bounded statements: they never wait on the gate's.
    read_database_url: str = ""  # empty: database_url
    migrate_database_url: str = ""  # the tables' owner, for `astguard db migrate` only (0008)
    read_pool_size: int = 4
    read_statement_timeout: float = 30.0  # seconds, per statement, enforced by the server
    spool_dir: Path = Path("/var/spool/astguard")
    spool_flush_interval: float = 2.0
    clock: ClockSetting = ClockSetting()
    rules: RuleSettings = RuleSettings(emergency_numbers=frozenset(DEFAULT_EMERGENCY))
    log_level: str = "INFO"
    log_format: str = "text"  # or "json": one object per line
    ami_host: str = "127.0.0.1"
    ami_port: int = 5038
    ami_user: str = "astguard"
    ami_secret: str = field(default="", repr=False)
    recording_dir: Path = Path("/var/spool/asterisk/monitor/astguard")
    asterisk_recording_dir: str = ""  # empty: the same path as recording_dir
    prompts_dir: Path = Path("/usr/share/asterisk/sounds/fr/astguard")
    http_enabled: bool = True
    http_host: str = "127.0.0.1"
    http_port: int = 8090
    api_read_tokens: frozenset[str] = field(default=frozenset(), repr=False)
    api_write_tokens: frozenset[str] = field(default=frozenset(), repr=False)
    # Security settings (issue 11): FastAGI peers and connection cap, lab-only switches.
    agi_allowed_peers: tuple[IpNetwork, ...] = DEFAULT_AGI_PEERS
    agi_max_connections: int = 256
    lab: bool = False  # ASTGUARD_LAB=1: test clocks and a forced regime are accepted by serve
    # Watchdog on the trunks (docs/operations.md, "Watchdog"): empty trunk list = off.
    call_token_secret: str = field(default="", repr=False)  # empty: kept in spool_dir
    call_token_ttl: int = 300
    trunk_endpoints: frozenset[str] = frozenset()
    watchdog_mode: str = "hangup"  # or "alert"
    watchdog_app: str = "astguard-watchdog"
    cdr_file: Path | None = None
    trunk_inbound_contexts: frozenset[str] = frozenset()

    @classmethod
    def load(cls, config: str | None = None, env: Mapping[str, str] | None = None, *,
             require_database: bool = True) -> Settings:
        """The configuration file (`config`, ASTGUARD_CONFIG or /etc/astguard/astguard.conf)
        overridden by the environment."""
        values, _ = config_file.merged(config, env)
        return cls.from_env(values, require_database=require_database)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, *,
                 require_database: bool = True) -> Settings:
        env = os.environ if env is None else env
        reader = _Reader(env)
        settings = cls(
            database_url=reader.text("ASTGUARD_DATABASE_URL", required=require_database),
            ari_url=reader.text("ASTGUARD_ARI_URL", cls.ari_url).rstrip("/"),
            ari_user=reader.text("ASTGUARD_ARI_USER", cls.ari_user),
            ari_password=reader.text("ASTGUARD_ARI_PASSWORD", ""),
            ari_app=reader.text("ASTGUARD_ARI_APP", cls.ari_app),
            agi_host=reader.text("ASTGUARD_AGI_HOST", cls.agi_host),
            agi_port=reader.integer("ASTGUARD_AGI_PORT", cls.agi_port, 0, 65535),
            agi_enabled=reader.boolean("ASTGUARD_AGI_ENABLED", cls.agi_enabled),
            agi_read_timeout=reader.number("ASTGUARD_AGI_READ_TIMEOUT", cls.agi_read_timeout),
            db_timeout=reader.number("ASTGUARD_DB_TIMEOUT", cls.db_timeout),
            read_database_url=reader.text("ASTGUARD_READ_DATABASE_URL", ""),
            migrate_database_url=reader.text("ASTGUARD_MIGRATE_DATABASE_URL", ""),
            read_pool_size=reader.integer("ASTGUARD_READ_POOL_SIZE", cls.read_pool_size, 1, 100),
            read_statement_timeout=reader.number("ASTGUARD_READ_STATEMENT_TIMEOUT",
                                                 cls.read_statement_timeout),
            spool_dir=Path(reader.text("ASTGUARD_SPOOL_DIR", str(cls.spool_dir))),
            spool_flush_interval=reader.number("ASTGUARD_SPOOL_FLUSH_INTERVAL",
                                               cls.spool_flush_interval),
            clock=ClockSetting(
                pinned=reader.instant("ASTGUARD_CLOCK_PIN"),
                start=reader.instant("ASTGUARD_CLOCK_START"),
            ),
            rules=RuleSettings(
                emergency_numbers=reader.word_set("ASTGUARD_EMERGENCY_NUMBERS", DEFAULT_EMERGENCY),
                allowed_foreign_regions=reader.word_set("ASTGUARD_ALLOWED_FOREIGN_REGIONS", ()),
                local_holidays=reader.boolean("ASTGUARD_LOCAL_HOLIDAYS", True),
                alsace_moselle_when_unknown=reader.boolean(
                    "ASTGUARD_ALSACE_MOSELLE_WHEN_UNKNOWN", True),
                window_end_margin=dt.timedelta(
                    seconds=reader.integer("ASTGUARD_WINDOW_END_MARGIN_SECONDS", 0, 0, 3600)),
                regime=_regime(reader.choice("ASTGUARD_REGIME", "AUTO",
                                             ("AUTO", "BLOCTEL", "CONSENT"))),
                callback_tolerance=dt.timedelta(minutes=reader.integer(
                    "ASTGUARD_CALLBACK_TOLERANCE_MINUTES", 10, 0, 120)),
                numbering=_numbering(reader.text("ASTGUARD_NUMBERING_FILE", "")),
                network_refusal_threshold=reader.integer(
                    "ASTGUARD_NETWORK_REFUSAL_THRESHOLD", 3, 1, 1000),
                network_refusal_window=dt.timedelta(hours=reader.integer(
                    "ASTGUARD_NETWORK_REFUSAL_WINDOW_HOURS", 24, 1, 24 * 30)),
                survey_days_hours_cap=reader.boolean("ASTGUARD_SURVEY_DAYS_HOURS_CAP", True),
            ),
            log_level=reader.choice("ASTGUARD_LOG_LEVEL", "INFO",
                                    ("DEBUG", "INFO", "WARNING", "ERROR")),
            log_format=reader.choice("ASTGUARD_LOG_FORMAT", "TEXT", ("TEXT", "JSON")).lower(),
            ami_host=reader.text("ASTGUARD_AMI_HOST", "127.0.0.1"),
            ami_port=reader.integer("ASTGUARD_AMI_PORT", 5038, 1, 65535),
            ami_user=reader.text("ASTGUARD_AMI_USER", "astguard"),
            ami_secret=reader.text("ASTGUARD_AMI_SECRET", ""),
            recording_dir=Path(reader.text("ASTGUARD_RECORDING_DIR",
                                           "/var/spool/asterisk/monitor/astguard")),
            asterisk_recording_dir=reader.text("ASTGUARD_ASTERISK_RECORDING_DIR", ""),
            prompts_dir=Path(reader.text("ASTGUARD_PROMPTS_DIR",
                                         "/usr/share/asterisk/sounds/fr/astguard")),
            http_enabled=reader.boolean("ASTGUARD_HTTP_ENABLED", True),
            http_host=reader.text("ASTGUARD_HTTP_HOST", "127.0.0.1"),
            http_port=reader.integer("ASTGUARD_HTTP_PORT", 8090, 0, 65535),
            api_read_tokens=reader.word_set("ASTGUARD_API_READ_TOKENS", ()),
            api_write_tokens=reader.word_set("ASTGUARD_API_WRITE_TOKENS", ()),
            agi_allowed_peers=reader.networks("ASTGUARD_AGI_ALLOWED_PEERS", DEFAULT_AGI_PEERS),
            agi_max_connections=reader.integer("ASTGUARD_AGI_MAX_CONNECTIONS", 256, 1, 10000),
            lab=reader.boolean("ASTGUARD_LAB", False),
            call_token_secret=reader.secret("ASTGUARD_CALL_TOKEN_SECRET"),
            call_token_ttl=reader.integer("ASTGUARD_CALL_TOKEN_TTL_SECONDS", 300, 10, 86400),
            trunk_endpoints=reader.word_set("ASTGUARD_TRUNK_ENDPOINTS", ()),
            watchdog_mode=reader.choice("ASTGUARD_WATCHDOG_MODE", "HANGUP",
                                        ("HANGUP", "ALERT")).lower(),
            watchdog_app=reader.text("ASTGUARD_WATCHDOG_APP", cls.watchdog_app),
            cdr_file=Path(cdr) if (cdr := reader.text("ASTGUARD_CDR_FILE", "")) else None,
            trunk_inbound_contexts=reader.word_set("ASTGUARD_TRUNK_INBOUND_CONTEXTS", ()),
        )
        for token in settings.api_read_tokens | settings.api_write_tokens:
            if len(token) < 16:
                raise ConfigError("les jetons de l'API ont au moins 16 caractères")
        if settings.clock.pinned and settings.clock.start:
            raise ConfigError("ASTGUARD_CLOCK_PIN et ASTGUARD_CLOCK_START s'excluent")
        return settings

    def lab_only_in_force(self) -> list[str]:
        """The lab-only variables set: a test clock or a forced regime (refused by serve
        without ASTGUARD_LAB=1)."""
        found = []
        if self.clock.pinned:
            found.append("ASTGUARD_CLOCK_PIN")
        if self.clock.start:
            found.append("ASTGUARD_CLOCK_START")
        if self.rules.regime is not None:
            found.append("ASTGUARD_REGIME")
        return found

    def __repr__(self) -> str:
        return "Settings(" + ", ".join(f"{k}={v}" for k, v in self.describe().items()) + ")"

    def describe(self) -> dict[str, str]:
        """For logs and `astguard config`: every setting, secrets masked."""
        out: dict[str, str] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in ("ari_password", "ami_secret", "call_token_secret"):
                value = "***" if value else ""
            elif f.name in ("api_read_tokens", "api_write_tokens"):
                value = f"{len(value)} token(s)"
            elif f.name in ("database_url", "read_database_url", "migrate_database_url"):
                value = mask_url(value)
            elif f.name == "agi_allowed_peers":
                value = " ".join(map(str, value))
            out[f.name] = str(value)
        return out


def _numbering(path: str) -> NumberingTables:
    """The NPV and forbidden-range tables: the shipped file, or the administrator's."""
    try:
        return load_tables(Path(path) if path else None)
    except (OSError, KeyError, ValueError) as exc:
        raise ConfigError(f"ASTGUARD_NUMBERING_FILE {path!r} illisible : {exc}") from None


def _regime(value: str) -> Regime | None:
    """AUTO: by the call's date (R-B from 2026-08-11, R-C before); otherwise forced."""
    return None if value == "AUTO" else Regime(value.lower())


def mask_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return urlunsplit(parts._replace(netloc=netloc))


class _Reader:
    def __init__(self, env: Mapping[str, str]) -> None:
        self._env = env

    def _raw(self, key: str) -> str | None:
        value = self._env.get(key)
        return None if value is None or value.strip() == "" else value.strip()

    def text(self, key: str, default: str = "", *, required: bool = False) -> str:
        value = self._raw(key)
        if value is None:
            if required:
                raise ConfigError(f"{key} est obligatoire (voir le README, Configuration) : le donner dans "
                                  f"{config_file.DEFAULT_PATH} ou l'environnement")
            return default
        return value

    def integer(self, key: str, default: int, low: int, high: int) -> int:
        value = self._raw(key)
        if value is None:
            return default
        try:
            number = int(value)
        except ValueError:
            raise ConfigError(f"{key} : nombre entier attendu, pas {value!r}") from None
        if not low <= number <= high:
            raise ConfigError(f"{key} : entre {low} et {high} attendu, pas {number}")
        return number

    def number(self, key: str, default: float) -> float:
        value = self._raw(key)
        if value is None:
            return default
        try:
            number = float(value)
        except ValueError:
            raise ConfigError(f"{key} : nombre attendu, pas {value!r}") from None
        if number <= 0:
            raise ConfigError(f"{key} : nombre positif attendu, pas {number}")
        return number

    def secret(self, key: str, min_length: int = 32) -> str:
        """KEY, or the content of the file KEY_FILE (not both); empty when neither is set."""
        value, file_key = self._raw(key), key + "_FILE"
        path = self._raw(file_key)
        if value is not None and path is not None:
            raise ConfigError(f"{key} et {file_key} s'excluent")
        if path is not None:
            try:
                value = Path(path).read_text().strip()
            except OSError as exc:
                raise ConfigError(f"{file_key} {path!r} illisible : {exc.strerror}") from None
        if value is not None and len(value) < min_length:
            raise ConfigError(f"{key} : au moins {min_length} caractères")
        return value or ""

    def boolean(self, key: str, default: bool) -> bool:
        value = self._raw(key)
        if value is None:
            return default
        lowered = value.lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off"):
            return False
        raise ConfigError(f"{key} : true ou false attendu, pas {value!r}")

    def choice(self, key: str, default: str, allowed: tuple[str, ...]) -> str:
        value = (self._raw(key) or default).upper()
        if value not in allowed:
            raise ConfigError(f"{key} : une valeur parmi {', '.join(allowed)} attendue, pas {value!r}")
        return value

    def word_set(self, key: str, default: tuple[str, ...]) -> frozenset[str]:
        value = self._raw(key)
        if value is None:
            return frozenset(default)
        return frozenset(w for w in value.replace(",", " ").split() if w)

    def networks(self, key: str, default: tuple[IpNetwork, ...]) -> tuple[IpNetwork, ...]:
        value = self._raw(key)
        if value is None:
            return default
        out = []
        for word in value.replace(",", " ").split():
            try:
                out.append(ipaddress.ip_network(word, strict=False))
            except ValueError:
                raise ConfigError(f"{key} : {word!r} n'est ni une adresse ni un bloc CIDR "
                                  "(par exemple 127.0.0.1, 10.0.0.0/24)") from None
        return tuple(out)

    def instant(self, key: str) -> dt.datetime | None:
        value = self._raw(key)
        if value is None:
            return None
        try:
            instant = dt.datetime.fromisoformat(value)
        except ValueError:
            raise ConfigError(f"{key} : instant ISO-8601 attendu, pas {value!r}") from None
        if instant.tzinfo is None:
            raise ConfigError(f"{key} : décalage UTC attendu, par exemple 2026-11-27T19:59:00+01:00")
        return instant
