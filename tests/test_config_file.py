"""The configuration file read by `astguard serve` and every command: format, precedence,
--config / ASTGUARD_CONFIG, secrets from files, and French errors."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from astguard import config_file
from astguard.errors import ConfigError
from astguard.settings import Settings


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_file_then_environment(tmp_path):
    conf = write(tmp_path / "a.conf", "# comment\n\nASTGUARD_DATABASE_URL=postgresql://f@h/db\n"
                 "export ASTGUARD_HTTP_PORT=9000\nASTGUARD_ARI_APP = 'guard two'\n"
                 'ASTGUARD_LOG_LEVEL="DEBUG"\n')
    settings = Settings.load(str(conf), {"ASTGUARD_HTTP_PORT": "9100"})
    assert settings.database_url == "postgresql://f@h/db"
    assert settings.http_port == 9100  # the environment wins
    assert settings.ari_app == "guard two" and settings.log_level == "DEBUG"


def test_astguard_config_names_the_file_and_the_default_may_be_absent(tmp_path, monkeypatch):
    conf = write(tmp_path / "b.conf", "ASTGUARD_DATABASE_URL=postgresql://b@h/db\n")
    assert Settings.load(None, {"ASTGUARD_CONFIG": str(conf)}).database_url.startswith(
        "postgresql://b@")
    monkeypatch.setattr(config_file, "DEFAULT_PATH", tmp_path / "absent.conf")
    assert Settings.load(None, {"ASTGUARD_DATABASE_URL": "postgresql://e@h/d"}).database_url \
        == "postgresql://e@h/d"
    with pytest.raises(ConfigError, match="introuvable"):
        Settings.load(str(tmp_path / "nope.conf"), {})


def test_secrets_from_files(tmp_path):
    secret = write(tmp_path / "ari-password", "s3cret-from-file\n")
    url = write(tmp_path / "db-url", "postgresql://astguard:pw@127.0.0.1/astguard\n")
    conf = write(tmp_path / "c.conf", f"ASTGUARD_DATABASE_URL_FILE={url}\n")
    settings = Settings.load(str(conf), {"ASTGUARD_ARI_PASSWORD_FILE": str(secret)})
    assert settings.ari_password == "s3cret-from-file"
    assert settings.database_url == "postgresql://astguard:pw@127.0.0.1/astguard"
    with pytest.raises(ConfigError, match="ASTGUARD_ARI_PASSWORD et ASTGUARD_ARI_PASSWORD_FILE"):
        Settings.load(str(conf), {"ASTGUARD_ARI_PASSWORD_FILE": str(secret),
                                  "ASTGUARD_ARI_PASSWORD": "other"})
    with pytest.raises(ConfigError, match="ASTGUARD_AMI_SECRET_FILE : .* illisible"):
        Settings.load(str(conf), {"ASTGUARD_AMI_SECRET_FILE": str(tmp_path / "missing")})


@pytest.mark.parametrize(("text", "message"), [
    ("DATABASE_URL=x\n", "ligne 1 .* n'est pas de la forme"),
    ("# ok\nASTGUARD_X=1\nASTGUARD_X=2\n", "ligne 3 : ASTGUARD_X est déjà donnée"),
    ("ASTGUARD_X='open\n", "guillemet non fermé"),
])
def test_bad_lines_are_named_in_french(tmp_path, text, message):
    with pytest.raises(ConfigError, match=message):
        Settings.load(str(write(tmp_path / "d.conf", text)), {})


def run(*argv: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "astguard", *argv], text=True,
                          capture_output=True, timeout=60,
                          env={"PATH": os.environ.get("PATH", ""),
                               "PYTHONPATH": os.pathsep.join(sys.path), **env})


def test_every_command_reads_the_file_given_before_or_after_it(tmp_path):
    conf = write(tmp_path / "e.conf", "ASTGUARD_DATABASE_URL=postgresql://u:hidden@h/db\n"
                 "ASTGUARD_HTTP_PORT=9123\n")
    for argv in (("--config", str(conf), "config"), ("config", "--config", str(conf)),
                 (f"--config={conf}", "config")):
        done = run(*argv, env={})
        assert done.returncode == 0, done.stderr
        assert "http_port = 9123" in done.stdout and "hidden" not in done.stdout
    done = run("config", env={"ASTGUARD_CONFIG": str(conf)})
    assert "http_port = 9123" in done.stdout
    bad = run("config", "--config", str(tmp_path / "missing.conf"), env={})
    assert bad.returncode == 2 and "fichier de configuration introuvable" in bad.stderr


def test_a_world_readable_file_with_secrets_is_warned_about(tmp_path, caplog):
    conf = write(tmp_path / "f.conf", "ASTGUARD_DATABASE_URL=postgresql://u:pw@h/db\n")
    conf.chmod(0o644)
    Settings.load(str(conf), {})
    assert "lisible par tous" in caplog.text and "ASTGUARD_DATABASE_URL" in caplog.text
    caplog.clear()
    conf.chmod(0o640)
    Settings.load(str(conf), {})
    assert "lisible par tous" not in caplog.text
