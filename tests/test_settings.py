"""Typed settings fail fast and name the key; secrets never show."""

from __future__ import annotations

import datetime as dt

import pytest

from astguard.clock import PinnedClock, StartedClock, SystemClock, build_clock
from astguard.errors import ConfigError
from astguard.settings import Settings

BASE = {"ASTGUARD_DATABASE_URL": "postgresql://astguard:s3cret@db/astguard"}


def test_database_url_is_required():
    with pytest.raises(ConfigError, match="ASTGUARD_DATABASE_URL est obligatoire"):
        Settings.from_env({})


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("ASTGUARD_AGI_PORT", "eighty", "ASTGUARD_AGI_PORT : nombre entier attendu"),
        ("ASTGUARD_AGI_PORT", "70000", "entre 0 et 65535"),
        ("ASTGUARD_AGI_ENABLED", "maybe", "ASTGUARD_AGI_ENABLED : true ou false attendu"),
        ("ASTGUARD_DB_TIMEOUT", "-1", "ASTGUARD_DB_TIMEOUT : nombre positif attendu"),
        ("ASTGUARD_CLOCK_PIN", "saturday", "ASTGUARD_CLOCK_PIN : instant ISO-8601"),
        ("ASTGUARD_CLOCK_PIN", "2026-11-28T11:00:00", "décalage UTC attendu"),
        ("ASTGUARD_LOG_LEVEL", "LOUD", "ASTGUARD_LOG_LEVEL : une valeur parmi"),
        ("ASTGUARD_REGIME", "sometimes", "ASTGUARD_REGIME : une valeur parmi"),
        ("ASTGUARD_API_WRITE_TOKENS", "short", "au moins 16 caractères"),
        ("ASTGUARD_AGI_ALLOWED_PEERS", "127.0.0.1 asterisk.lan",
         "ASTGUARD_AGI_ALLOWED_PEERS : 'asterisk.lan' n'est ni une adresse ni un bloc CIDR"),
        ("ASTGUARD_AGI_MAX_CONNECTIONS", "0", "entre 1 et 10000"),
    ],
)
def test_bad_values_name_their_key(key, value, message):
    with pytest.raises(ConfigError, match=message):
        Settings.from_env({**BASE, key: value})


def test_pin_and_start_exclude_each_other():
    with pytest.raises(ConfigError, match="s'excluent"):
        Settings.from_env({**BASE, "ASTGUARD_CLOCK_PIN": "2026-11-28T11:00:00+01:00",
                           "ASTGUARD_CLOCK_START": "2026-11-28T11:00:00+01:00"})


def test_rule_settings_are_read():
    s = Settings.from_env({**BASE, "ASTGUARD_ALLOWED_FOREIGN_REGIONS": "BE, CH",
                           "ASTGUARD_LOCAL_HOLIDAYS": "false",
                           "ASTGUARD_WINDOW_END_MARGIN_SECONDS": "300",
                           "ASTGUARD_EMERGENCY_NUMBERS": "112 15",
                           "ASTGUARD_REGIME": "bloctel",
                           "ASTGUARD_CALLBACK_TOLERANCE_MINUTES": "5"})
    assert s.rules.allowed_foreign_regions == {"BE", "CH"}
    assert s.rules.local_holidays is False
    assert s.rules.window_end_margin == dt.timedelta(minutes=5)
    assert s.rules.emergency_numbers == {"112", "15"}
    assert s.rules.regime == "bloctel"
    assert s.rules.callback_tolerance == dt.timedelta(minutes=5)
    assert Settings.from_env(BASE).rules.regime is None  # by the call's date


def test_secrets_are_masked():
    s = Settings.from_env({**BASE, "ASTGUARD_ARI_PASSWORD": "ari-secret"})
    shown = str(s.describe()) + repr(s)
    assert "s3cret" not in shown and "ari-secret" not in shown
    assert "postgresql://astguard:***@db/astguard" in shown


def test_clocks():
    pinned = build_clock(Settings.from_env(
        {**BASE, "ASTGUARD_CLOCK_PIN": "2026-11-28T11:00:00+01:00"}).clock)
    assert isinstance(pinned, PinnedClock) and pinned.now() == pinned.now()
    assert pinned.now() == dt.datetime(2026, 11, 28, 10, 0, tzinfo=dt.UTC)
    started = build_clock(Settings.from_env(
        {**BASE, "ASTGUARD_CLOCK_START": "2026-11-28T11:00:00+01:00"}).clock)
    assert isinstance(started, StartedClock)
    assert dt.timedelta(0) <= started.now() - dt.datetime(2026, 11, 28, 10, 0, tzinfo=dt.UTC) \
        < dt.timedelta(seconds=5)
    assert isinstance(build_clock(Settings.from_env(BASE).clock), SystemClock)


def test_fastagi_peers_default_to_loopback_and_take_cidr_blocks():
    assert Settings.from_env(BASE).describe()["agi_allowed_peers"] == "127.0.0.0/8 ::1/128"
    s = Settings.from_env({**BASE, "ASTGUARD_AGI_ALLOWED_PEERS": "10.0.0.5, 192.168.1.0/24"})
    assert [str(n) for n in s.agi_allowed_peers] == ["10.0.0.5/32", "192.168.1.0/24"]
