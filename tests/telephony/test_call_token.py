"""The call token: only astguard's secret makes one, for one decision and one number, for a while."""

from __future__ import annotations

import pytest

from astguard.errors import ConfigError
from astguard.settings import Settings
from astguard.telephony.call_token import CallTokens, load_secret, trunk_number

SECRET = "s" * 40
DECISION = "0b5c4a9e-6f0e-4d8e-9d43-7c1f1c1d2e3f"
NOW = 1_795_000_000.0


def test_a_token_verifies_for_its_number_in_any_written_form():
    tokens = CallTokens(SECRET, 300)
    token = tokens.issue(DECISION, "+33612345678", now=NOW)
    for number in ("+33612345678", "0612345678", "0033612345678"):
        check = tokens.verify(token, number, now=NOW + 5)
        assert check.valid and check.decision_id == DECISION and check.problem == ""


@pytest.mark.parametrize(("token", "number", "problem"), [
    ("", "+33612345678", "aucun jeton astguard"),
    ("garbage", "+33612345678", "jeton illisible"),
    # Moved to another number: the destination is inside the MAC.
    (None, "+33612345679", "jeton falsifié ou émis pour un autre numéro"),
])
def test_missing_unreadable_or_moved_tokens_are_refused(token, number, problem):
    tokens = CallTokens(SECRET, 300)
    token = tokens.issue(DECISION, "+33612345678", now=NOW) if token is None else token
    check = tokens.verify(token, number, now=NOW)
    assert not check.valid and check.problem == problem


def test_a_token_made_with_another_secret_is_refused():
    forged = CallTokens("f" * 40, 300).issue(DECISION, "+33612345678", now=NOW)
    check = CallTokens(SECRET, 300).verify(forged, "+33612345678", now=NOW)
    assert not check.valid and check.decision_id == DECISION and "falsifié" in check.problem


def test_a_token_with_an_altered_decision_or_time_is_refused():
    tokens = CallTokens(SECRET, 300)
    decision, issued, mac = tokens.issue(DECISION, "+33612345678", now=NOW).split(".")
    other = "1" + decision[1:]
    assert not tokens.verify(f"{other}.{issued}.{mac}", "+33612345678", now=NOW).valid
    assert not tokens.verify(f"{decision}.{int(issued) + 1000}.{mac}", "+33612345678",
                             now=NOW).valid


def test_an_old_token_is_refused_live_but_readable_by_the_reconciliation():
    tokens = CallTokens(SECRET, 300)
    token = tokens.issue(DECISION, "+33612345678", now=NOW)
    late = tokens.verify(token, "+33612345678", now=NOW + 301)
    assert not late.valid and late.problem.startswith("jeton expiré")
    assert tokens.verify(token, "+33612345678", now=NOW + 86400, check_age=False).valid


def test_short_secret_is_refused():
    with pytest.raises(ConfigError, match="32"):
        CallTokens("short", 300)


def test_trunk_number_forms():
    assert trunk_number("0612345678") == "+33612345678"
    assert trunk_number("112") == "112"
    assert trunk_number("desk") == "desk"


def test_secret_is_created_once_in_the_spool_folder(tmp_path):
    with pytest.raises(ConfigError, match="ASTGUARD_CALL_TOKEN_SECRET"):
        load_secret("", tmp_path, create=False)
    first = load_secret("", tmp_path, create=True)
    assert len(first) >= 32 and (tmp_path / "call-token.secret").stat().st_mode & 0o777 == 0o600
    assert load_secret("", tmp_path, create=True) == first
    assert load_secret("", tmp_path, create=False) == first
    assert load_secret(SECRET, tmp_path, create=True) == SECRET


def test_settings_read_the_secret_or_its_file_and_fail_fast(tmp_path):
    base = {"ASTGUARD_DATABASE_URL": "postgresql://x/y"}
    assert Settings.from_env(base).call_token_secret == ""
    assert Settings.from_env({**base, "ASTGUARD_CALL_TOKEN_SECRET": SECRET}) \
        .call_token_secret == SECRET
    path = tmp_path / "secret"
    path.write_text(SECRET + "\n")
    settings = Settings.from_env({**base, "ASTGUARD_CALL_TOKEN_SECRET_FILE": str(path)})
    assert settings.call_token_secret == SECRET and SECRET not in repr(settings)
    with pytest.raises(ConfigError, match="ASTGUARD_CALL_TOKEN_SECRET : au moins"):
        Settings.from_env({**base, "ASTGUARD_CALL_TOKEN_SECRET": "short"})
    with pytest.raises(ConfigError, match="s'excluent"):
        Settings.from_env({**base, "ASTGUARD_CALL_TOKEN_SECRET": SECRET,
                           "ASTGUARD_CALL_TOKEN_SECRET_FILE": str(path)})
    with pytest.raises(ConfigError, match="ASTGUARD_CALL_TOKEN_SECRET_FILE"):
        Settings.from_env({**base, "ASTGUARD_CALL_TOKEN_SECRET_FILE": str(tmp_path / "no")})
    with pytest.raises(ConfigError, match="ASTGUARD_WATCHDOG_MODE"):
        Settings.from_env({**base, "ASTGUARD_WATCHDOG_MODE": "kill"})
    settings = Settings.from_env({**base, "ASTGUARD_TRUNK_ENDPOINTS": "carrier, backup"})
    assert settings.trunk_endpoints == {"carrier", "backup"} and settings.watchdog_mode == "hangup"


def test_an_unreadable_secret_file_is_a_config_error(tmp_path):
    (tmp_path / "call-token.secret").mkdir()  # unreadable as a file, even for root
    with pytest.raises(ConfigError, match="illisible"):
        load_secret("", tmp_path, create=False)
