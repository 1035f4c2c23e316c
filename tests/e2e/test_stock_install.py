"""From `pip install` to a guarded call on Asterisk as Debian ships it (issue 12).

Debian's own /etc/asterisk, untouched; astguard's wheel built from this checkout and installed
in a fresh virtualenv; `astguard asterisk install`; one agent and one trunk added to pjsip.conf
the way an administrator would; astguard started from its configuration file; SIPp calls.
The same PBX without the install step: `astguard asterisk check` names what is missing.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import venv
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from lab.asterisk import ensure_rootfs
from lab.database import fresh_database
from lab.sipp import agent_call
from lab.stock import StockAsterisk
from lab.wheel import build_wheel
from tests.conftest import PG_SERVER
from tests.e2e.conftest import OPEN, SATURDAY, wait_for

pytestmark = pytest.mark.e2e

# What an administrator appends to Debian's pjsip.conf: a transport, an agent's softphone in
# astguard's context, and the carrier's trunk with the caller ID in P-Asserted-Identity.
ADMIN_PJSIP = """
[transport-udp]
type=transport
protocol=udp
bind=127.0.0.1:5060

[poste-101]
type=endpoint
context={agent_context}
disallow=all
allow=ulaw,alaw
language={language}
direct_media=no

[operateur]
type=endpoint
context=default
disallow=all
allow=ulaw,alaw
aors=operateur
direct_media=no
{pai}trust_id_outbound=yes

[operateur]
type=aor
contact=sip:127.0.0.1:5080
"""


def admin_pjsip(agent_context: str = "astguard-agents", language: str = "fr",
                pai: bool = True) -> str:
    return ADMIN_PJSIP.format(agent_context=agent_context, language=language,
                              pai="send_pai=yes\n" if pai else "")


@pytest.fixture(scope="module")
def astguard_venv(tmp_path_factory) -> Path:
    """A fresh virtualenv with the wheel built from this checkout, as on a new PBX."""
    work = tmp_path_factory.mktemp("wheel")
    wheel = build_wheel(work)
    env_dir = work / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    subprocess.run([str(env_dir / "bin/pip"), "install", "--quiet", str(wheel)], check=True)
    return env_dir / "bin/astguard"


@dataclass
class Admin:
    """An administrator's shell: the installed astguard command with its configuration."""

    command: Path
    config: Path
    workdir: Path

    def run(self, *argv: str, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(self.command), "--config", str(self.config), *argv],
                              env={"PATH": os.environ.get("PATH", ""), **env}, text=True,
                              capture_output=True, timeout=120)

    def ok(self, *argv: str) -> str:
        done = self.run(*argv)
        assert done.returncode == 0, (argv, done.stdout, done.stderr)
        return done.stdout

    def serve(self, clock: str) -> subprocess.Popen[bytes]:
        log = self.workdir / f"serve-{clock[:10]}.log"
        with open(log, "ab") as out:
            proc = subprocess.Popen(
                [str(self.command), "serve"], stdout=out, stderr=subprocess.STDOUT,
                env={"PATH": os.environ.get("PATH", ""), "ASTGUARD_CONFIG": str(self.config),
                     "ASTGUARD_CLOCK_PIN": clock, "ASTGUARD_LAB": "1"})
        wait_for(lambda: "ARI websocket connected" in log.read_text(errors="replace"), 30,
                 what=f"astguard serve connected to ARI\n{log.read_text(errors='replace')}")
        return proc


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


@pytest.fixture
def stock(lab, carrier, tmp_path) -> Iterator[StockAsterisk]:
    """Debian's Asterisk on the lab's ports: the lab's own Asterisk is paused meanwhile (the
    carrier, a SIPp process, stays)."""
    lab.stop()
    pbx = StockAsterisk(ensure_rootfs(), tmp_path / "stock")
    try:
        pbx.install()
        yield pbx
    finally:
        pbx.remove()
        lab.start()


@pytest.fixture
def admin(astguard_venv, tmp_path) -> Admin:
    url = asyncio.run(fresh_database(PG_SERVER, "astguard_stock", migrate=False))
    config = tmp_path / "etc-astguard" / "astguard.conf"
    config.parent.mkdir()
    # What the administrator types after reading the example: the database and folders.
    config.write_text(f"ASTGUARD_DATABASE_URL={url}\n"
                      f"ASTGUARD_SPOOL_DIR={tmp_path / 'spool'}\n"
                      f"ASTGUARD_RECORDING_DIR={tmp_path / 'recordings'}\n")
    return Admin(astguard_venv, config, tmp_path)


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_install_on_stock_asterisk_then_guarded_calls(stock, admin, carrier, tmp_path):
    before = snapshot(stock.etc)
    dry = admin.ok("asterisk", "install", "--etc", str(stock.etc), "--sounds",
                   str(stock.sounds), "--trunk", "operateur", "--dry-run")
    assert "+#include astguard.conf" in dry and "+password=***" in dry
    assert snapshot(stock.etc) == before and not (stock.sounds / "fr/astguard").exists()
    out = admin.ok("asterisk", "install", "--etc", str(stock.etc), "--sounds",
                   str(stock.sounds), "--trunk", "operateur")
    assert "annonce installée" in out
    again = admin.ok("asterisk", "install", "--etc", str(stock.etc), "--sounds",
                     str(stock.sounds), "--trunk", "operateur")
    assert "rien à changer" in again
    with open(stock.etc / "pjsip.conf", "a") as pjsip:
        pjsip.write(admin_pjsip())
    stock.start()

    admin.ok("db", "migrate")
    admin.ok("principal", "add", "acme", "--name", "ACME Énergie")
    admin.ok("callerid", "add", "01 62 12 34 56", "--principal", "acme",
             "--mandate", "ARCEP-1", "--from", "2025-01-01")
    admin.ok("campaign", "set", "printemps", "--principal", "acme", "--purpose", "prospecting",
             "--caller-id", "01 62 12 34 56", "--scope", "energie")
    admin.ok("endpoint", "set", "poste-101", "--campaign", "printemps")
    admin.ok("consent", "add", "0612900101", "--principal", "acme", "--scope", "energie",
             "--collected-at", "2026-09-01T10:00:00+02:00", "--channel", "web",
             "--wording", "v1", "--proof", "preuve-1")

    # astguard not started yet: the installed dialplan refuses on its own (503, "contrôle
    # indisponible"), and an emergency number still reaches the carrier. (0612 9… numbers:
# outside fresh_number's range, so no other test dials them.)
    away = agent_call(tmp_path / "sipp", "0612900101", agent="poste-101", expect=503)
    assert away.ok, away.messages[-2000:]
    assert carrier.invites_to("+33612900101") == []
    earlier = len(carrier.invites_to("112"))  # the carrier serves the whole session
    assert agent_call(tmp_path / "sipp", "112", agent="poste-101").ok
    assert len(carrier.invites_to("112")) == earlier + 1

    # Saturday: refused, the French prompt as early media, nothing reaches the carrier.
    guard = admin.serve(SATURDAY)
    try:
        report = admin.run("asterisk", "check", "--etc", str(stock.etc))
        assert report.returncode == 0, report.stdout + report.stderr
        assert "rien ne manque" in report.stdout
        assert "dialplan et FastAGI d'accord (agi://127.0.0.1:4573/)" in report.stdout
        refused = agent_call(tmp_path / "sipp", "0612900101", agent="poste-101", expect=403)
        assert refused.ok, refused.messages[-2000:]
        assert refused.statuses()[-2:] == [183, 403]
        assert carrier.invites_to("+33612900101") == []
        log = (stock.logdir / "asterisk.log").read_text(errors="replace")
        assert "Playing 'astguard/refus-horaires.slin' (language 'fr')" in log or \
            "Playing 'astguard/refus-horaires.wav' (language 'fr')" in log, log[-3000:]
    finally:
        stop(guard)

    # Friday 11:00: allowed, the campaign's number in From and P-Asserted-Identity.
    guard = admin.serve(OPEN)
    try:
        allowed = agent_call(tmp_path / "sipp", "0612900101", agent="poste-101", hold_ms=500)
        assert allowed.ok, allowed.messages[-2000:]
        (invite,) = carrier.invites_to("+33612900101")
        assert "<sip:+33162123456@" in invite.headers["from"]
        assert "<sip:+33162123456@" in invite.headers["p-asserted-identity"]
    finally:
        stop(guard)
    decisions = admin.ok("decisions", "--number", "+33612900101", "--json")
    assert '"decision": "deny"' in decisions and '"decision": "allow"' in decisions


def test_check_names_what_a_stock_asterisk_lacks(stock, admin):
    with open(stock.etc / "pjsip.conf", "a") as pjsip:
        pjsip.write(admin_pjsip())
    stock.start()
    report = admin.run("asterisk", "check", "--etc", str(stock.etc),
                       ASTGUARD_PROMPTS_DIR=str(stock.sounds / "fr/astguard"))
    assert report.returncode == 1, report.stdout + report.stderr
    text = report.stdout
    assert "MANQUANT  ARI injoignable" in text
    assert "MANQUANT  annonces françaises absentes" in text
    assert "MANQUANT  features.conf n'inclut pas astguard-features.conf" in text
    assert "MANQUANT  AMI" in text


def test_check_names_each_misconfigured_endpoint(stock, admin):
    """Installed, but the agent's phone is in an unguarded context, then in French-less
    one, and the trunk does not send P-Asserted-Identity."""
    admin.ok("asterisk", "install", "--etc", str(stock.etc), "--sounds", str(stock.sounds),
             "--trunk", "operateur")
    with open(stock.etc / "pjsip.conf", "a") as pjsip:
        pjsip.write(admin_pjsip(agent_context="default", language="en", pai=False))
        pjsip.write("\n[poste-102]\ntype=endpoint\ncontext=astguard-agents\nlanguage=en\n")
    stock.start()
    report = admin.run("asterisk", "check", "--etc", str(stock.etc))
    assert report.returncode == 1
    text = report.stdout
    assert "l'application Stasis « astguard » n'est pas enregistrée" in text  # not started
    assert "le poste PJSIP « poste-101 » entre dans le contexte « default »" in text
    assert "le poste « poste-102 » a language=en" in text
    assert "la ligne opérateur « operateur » n'a pas send_pai=yes" in text
    assert "annonces françaises présentes" in text and "dialplan d'astguard chargé" in text
    # astguard moved to another FastAGI port without installing again: named too.
    moved = admin.run("asterisk", "check", "--etc", str(stock.etc), ASTGUARD_AGI_PORT="4600")
    assert "le dialplan appelle FastAGI à agi://127.0.0.1:4573/ mais astguard écoute à " \
        "agi://127.0.0.1:4600/" in moved.stdout
