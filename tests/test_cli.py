"""The `astguard` command: dry run (exit 0/1/2, --json), management, against real PostgreSQL."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.db


@pytest.fixture(scope="module")
def cli_env(database_url: str, tmp_path_factory) -> dict[str, str]:
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": os.pathsep.join(sys.path),
           "ASTGUARD_CONFIG": os.devnull,  # not /etc/astguard/astguard.conf, if any
           "ASTGUARD_DATABASE_URL": database_url,
           "ASTGUARD_SPOOL_DIR": str(tmp_path_factory.mktemp("spool"))}
    for argv in (["principal", "add", "cli-acme", "--name", "ACME"],
                 ["campaign", "set", "cli-prospect", "--principal", "cli-acme",
                  "--purpose", "prospecting", "--scope", "energie",
                  "--caller-id", "01 62 12 34 56"],
                 ["endpoint", "set", "cli-agent", "--campaign", "cli-prospect"],
                 ["callerid", "add", "01 62 12 34 56", "--principal", "cli-acme",
                  "--mandate", "M-1", "--from", "2025-01-01"],
                 ["consent", "add", "0612345678", "--principal", "cli-acme", "--scope", "energie",
                  "--collected-at", "2026-09-01T10:00:00+02:00", "--channel", "web",
                  "--wording", "v1", "--proof", "cli-proof"]):
        done = run(env, *argv)
        assert done.returncode == 0, done.stderr
    return env


def run(env: dict[str, str], *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "astguard", *argv], env=env, text=True,
                          capture_output=True, timeout=60)


def test_check_allowed_json(cli_env):
    done = run(cli_env, "check", "06 12 34 56 78", "--campaign", "cli-prospect",
               "--at", "2026-11-27T19:59:59+01:00", "--json")
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["decision"] == "allow" and out["reasons"] == []
    assert out["number"] == "+33612345678" and out["caller_id"] == "+33162123456"
    assert out["local_times"] == [{"zone": "Europe/Paris", "local": "2026-11-27T19:59:59+01:00"}]


def test_check_refused_json_lists_every_reason(cli_env):
    done = run(cli_env, "check", "0692123456", "--purpose", "prospecting",
               "--principal", "cli-acme", "--scope", "energie", "--caller-id", "0162123456",
               "--at", "2026-12-25T06:00", "--json")  # 08:00/09:00 local
    assert done.returncode == 1
    out = json.loads(done.stdout)
    assert out["decision"] == "deny"
    assert out["reasons"] == ["PUBLIC_HOLIDAY", "OUTSIDE_CALL_WINDOW", "NO_CONSENT"]
    assert out["zones"] == ["Indian/Mayotte", "Indian/Reunion"]


def test_check_text_is_french(cli_env):
    done = run(cli_env, "check", "0612345678", "--endpoint", "cli-agent",
               "--at", "2026-11-28T11:00")
    assert done.returncode == 1
    assert "REFUSÉ" in done.stdout and "lundi au vendredi" in done.stdout


def test_check_records_nothing(cli_env):
    before = run(cli_env, "decisions", "--number", "+33699999999", "--json")
    run(cli_env, "check", "0699999999", "--campaign", "cli-prospect")
    after = run(cli_env, "decisions", "--number", "+33699999999", "--json")
    assert json.loads(before.stdout) == json.loads(after.stdout) == []


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["check", "0612345678", "--at", "bientôt"], "date ISO-8601"),
        (["check", "0612345678", "--purpose", "prospecting"],
         "une finalité et un donneur d'ordre ensemble"),
        (["campaign", "set", "x", "--principal", "nobody", "--purpose", "service"],
         "donneur d'ordre inconnu"),
        (["campaign", "set", "bad name", "--principal", "cli-acme", "--purpose", "service"],
         "invalide"),
        (["campaign", "set", "y", "--principal", "cli-acme", "--purpose", "service",
          "--caller-id", "12"], "numéro présenté"),
        (["endpoint", "set", "ep", "--campaign", "nope"], "campagne inconnue"),
    ],
)
def test_bad_input_exits_2_with_a_clear_message(cli_env, argv, message):
    done = run(cli_env, *argv)
    assert done.returncode == 2
    assert message in done.stderr and "Traceback" not in done.stderr


def test_invalid_number_is_a_refusal_not_a_crash(cli_env):
    done = run(cli_env, "check", "06-12-xx", "--campaign", "cli-prospect", "--json")
    assert done.returncode == 1
    assert json.loads(done.stdout)["reasons"] == ["INVALID_NUMBER"]


def test_database_down_exits_3_for_management_and_fails_closed_for_check(cli_env):
    env = {**cli_env, "ASTGUARD_DATABASE_URL": "postgresql://postgres@127.0.0.1:1/x",
           "ASTGUARD_DB_TIMEOUT": "1"}
    done = run(env, "campaign", "list")
    assert done.returncode == 3 and "indisponible" in done.stderr
    # A moment inside the call window, so that the store's absence is the only reason.
    done = run(env, "check", "0612345678", "--campaign", "cli-prospect", "--json",
               "--at", "2026-11-27T11:00")
    assert done.returncode == 3  # refused, because PostgreSQL is unreachable
    assert json.loads(done.stdout)["reasons"] == ["GUARD_UNAVAILABLE"]


def test_missing_configuration_exits_2():
    done = subprocess.run([sys.executable, "-m", "astguard", "check", "0612345678"],
                          env={"PATH": os.environ.get("PATH", ""),
                               "PYTHONPATH": os.pathsep.join(sys.path),
                               "ASTGUARD_CONFIG": os.devnull},
                          text=True, capture_output=True, timeout=60)
    assert done.returncode == 2 and "ASTGUARD_DATABASE_URL est obligatoire" in done.stderr


def test_db_status_and_migrate(cli_env):
    assert "schéma à jour" in run(cli_env, "db", "status").stdout
    assert "aucune, le schéma est déjà à jour" in run(cli_env, "db", "migrate").stdout
    status = run(cli_env, "db", "status", "--json")
    assert status.returncode == 0 and json.loads(status.stdout) == {"current": True}


def test_migrations_run_as_the_owner_never_as_the_service(cli_env):
    import asyncio

    from tests.conftest import as_service, db_url, recreate_database

    asyncio.run(recreate_database("astguard_test_migrate_roles", migrate=False))
    owner = db_url("astguard_test_migrate_roles")
    env = {**cli_env, "ASTGUARD_DATABASE_URL": as_service(owner)}
    refused = run(env, "db", "migrate")
    assert refused.returncode == 2
    assert "ne peut pas modifier le schéma" in refused.stderr
    assert "ASTGUARD_MIGRATE_DATABASE_URL ou --url" in refused.stderr
    done = run(env, "db", "migrate", "--url", owner)
    assert done.returncode == 0 and "0008_least_privilege" in done.stdout, done.stderr
    again = run({**env, "ASTGUARD_MIGRATE_DATABASE_URL": owner}, "db", "migrate")
    assert again.returncode == 0 and "aucune" in again.stdout
    assert "schéma à jour" in run(env, "db", "status").stdout  # the service reads it


def test_serve_refuses_a_database_whose_schema_is_behind(cli_env):
    import asyncio

    from tests.conftest import db_url, recreate_database

    asyncio.run(recreate_database("astguard_test_unmigrated", migrate=False))
    env = {**cli_env, "ASTGUARD_DATABASE_URL": db_url("astguard_test_unmigrated"),
           "ASTGUARD_AGI_ENABLED": "false", "ASTGUARD_ARI_URL": "http://127.0.0.1:1/ari"}
    done = run(env, "serve")
    assert done.returncode == 2
    assert "en attente 0001_initial" in done.stderr and "astguard db migrate" in done.stderr



@pytest.mark.parametrize(("key", "value"), [
    ("ASTGUARD_CLOCK_PIN", "2026-11-27T11:00:00+01:00"),
    ("ASTGUARD_CLOCK_START", "2026-11-27T11:00:00+01:00"),
    ("ASTGUARD_REGIME", "bloctel"),
])
def test_serve_refuses_test_clocks_and_forced_regimes_outside_the_lab(cli_env, key, value):
    env = {**cli_env, key: value, "ASTGUARD_AGI_ENABLED": "false",
           "ASTGUARD_HTTP_ENABLED": "false", "ASTGUARD_ARI_URL": "http://127.0.0.1:1/ari"}
    done = run(env, "serve")
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"astguard: {key} est réservé aux tests et démonstrations : "
        "refus de démarrer sans ASTGUARD_LAB=1"]


def test_serve_accepts_a_test_clock_in_the_lab(cli_env):
    import asyncio

    from tests.conftest import db_url, recreate_database

    # Past the lab check, serve stops at the next one: an unmigrated database.
    asyncio.run(recreate_database("astguard_test_unmigrated", migrate=False))
    env = {**cli_env, "ASTGUARD_DATABASE_URL": db_url("astguard_test_unmigrated"),
           "ASTGUARD_CLOCK_PIN": "2026-11-27T11:00:00+01:00", "ASTGUARD_REGIME": "bloctel",
           "ASTGUARD_LAB": "1", "ASTGUARD_AGI_ENABLED": "false",
           "ASTGUARD_ARI_URL": "http://127.0.0.1:1/ari"}
    done = run(env, "serve")
    assert done.returncode == 2
    assert "réservé aux tests" not in done.stderr and "en attente 0001_initial" in done.stderr

@pytest.mark.parametrize(
    ("argv", "rc", "expected"),
    [
        (["0145678901", "--mode", "predictive", "--principal", "cli-acme"], 1, "NPV_REQUIRED"),
        (["0612345678", "--mode", "broadcast", "--principal", "cli-acme"], 1,
         "MOBILE_CLI_NOT_ALLOWED"),
        (["0899123456", "--mode", "manual", "--principal", "cli-acme"], 1,
         "CALLER_ID_FORBIDDEN_RANGE"),
        # A service campaign's number follows R-F2 to R-F5 too (rules-fr 2026-11-26).
        (["0145678901", "--mode", "predictive", "--principal", "cli-acme", "--purpose",
          "service"], 1, "NPV_REQUIRED"),
        (["0162123456", "--mode", "predictive", "--principal", "cli-acme"], 0, "AUTORISÉ"),
        (["0162123499", "--mode", "predictive", "--principal", "cli-acme"], 1,
         "CALLER_ID_NOT_AUTHORISED"),
    ],
)
def test_callerid_check_explains_a_verdict(cli_env, argv, rc, expected):
    done = run(cli_env, "callerid", "check", *argv)
    assert done.returncode == rc, done.stderr
    assert expected in done.stdout and "vérifiées le 2026-11-25" in done.stdout


def test_callerid_inventory_commands(cli_env):
    done = run(cli_env, "callerid", "add", "0948123456", "--principal", "cli-acme",
               "--mandate", "M-2", "--from", "2026-01-01", "--trunk", "t1")
    assert done.returncode == 0 and "(npv)" in done.stdout
    listing = run(cli_env, "callerid", "list", "--principal", "cli-acme").stdout
    assert "+33948123456" in listing and "+33162123456" in listing
    bad = run(cli_env, "callerid", "add", "0948123456", "--principal", "cli-acme",
              "--mandate", "M-2", "--from", "2026-13-01")
    assert bad.returncode == 2 and "AAAA-MM-JJ" in bad.stderr
    assert run(cli_env, "callerid", "alerts").returncode == 0
