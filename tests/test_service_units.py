"""The systemd units shipped in the wheel, and `astguard install-service`."""

from __future__ import annotations

import configparser
import sys
from pathlib import Path

from astguard.install.kit import data_path
from astguard.settings import Settings
from astguard.surfaces.cli import main


def unit(name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # systemd keys are case-sensitive
    parser.read_string(data_path(f"systemd/{name}").read_text())
    return parser


def test_the_service_runs_unprivileged_and_starts_without_postgresql():
    service = unit("astguard.service")
    s = service["Service"]
    assert s["User"] == "astguard" and s["NoNewPrivileges"] == "yes"
    assert s["ExecStart"].endswith("/astguard serve") and s["Restart"] == "always"
    # Start-up must not wait for PostgreSQL: the gate fails closed until it answers.
    assert "ExecStartPre" not in s
    assert "postgresql" not in service["Unit"].get("Requires", "")
    defaults = Settings.from_env({"ASTGUARD_DATABASE_URL": "postgresql://x@h/x"})
    writable = s["ReadWritePaths"].split()
    assert str(defaults.spool_dir) in writable and str(defaults.recording_dir) in writable
    timer = unit("astguard-audit.timer")
    assert timer["Timer"]["OnCalendar"] == "daily"
    audit = unit("astguard-audit.service")["Service"]["ExecStart"]
    assert "/astguard audit verify" in audit and "--expect" in audit  # the head kept last time


def test_install_service_dry_run_shows_units_with_this_command(tmp_path, capsys, monkeypatch):
    conf = tmp_path / "astguard.conf"
    conf.write_text("ASTGUARD_SPOOL_DIR=/srv/astguard/spool\n")
    units = tmp_path / "units"
    units.mkdir()
    assert main(["install-service", "--dry-run", "--systemd-dir", str(units),
                 "--config", str(conf)]) == 0
    out = capsys.readouterr().out
    assert "+ReadWritePaths=/srv/astguard/spool /var/spool/asterisk/monitor/astguard" in out
    assert "+ dossier /srv/astguard/spool" in out
    here = Path(sys.executable).parent / "astguard"
    assert here.exists() and f"+ExecStart={here} serve" in out
    assert "/opt/astguard/venv/bin/astguard" not in out
    assert list(units.iterdir()) == []  # nothing written
