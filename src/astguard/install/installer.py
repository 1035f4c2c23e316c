"""`astguard asterisk install`: astguard's part of an existing Asterisk, rendered from the
settings, written with backups, idempotent (a second run changes nothing).

What it writes, under the configuration folder (default /etc/asterisk):
  astguard.conf, astguard-features.conf (and astguard-trunk.conf with --trunk): astguard's own
  extensions.conf, features.conf: an #include each, in a marked block
  http.conf, ari.conf, manager.conf: the built-in HTTP server on loopback, astguard's ARI and
    AMI users (secrets generated once and written to astguard's configuration file)
and the French prompts under <sounds>/fr/astguard/ (a prompt already there is kept: it may be
the administrator's own recording).
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from astguard import config_file
from astguard.errors import ConfigError
from astguard.install import files
from astguard.install.kit import (
    PROMPTS,
    Wiring,
    data_path,
    prompt_files,
    render_dialplan,
    render_features,
    render_trunk,
)
from astguard.settings import Settings

DEFAULT_ETC = Path("/etc/asterisk")
DEFAULT_SOUNDS = Path("/usr/share/asterisk/sounds")
TRUNK_FILE = "astguard-trunk.conf"


@dataclass(slots=True)
class Plan:
    changes: list[files.FileChange] = field(default_factory=list)
    prompts: list[tuple[Path, Path]] = field(default_factory=list)  # (shipped, target)
    kept_prompts: list[Path] = field(default_factory=list)  # differ from ours: not touched
    unchanged: list[Path] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.changes and not self.prompts


@dataclass(frozen=True, slots=True)
class Target:
    etc: Path = DEFAULT_ETC
    sounds: Path = DEFAULT_SOUNDS
    trunk: str | None = None
    config: Path = config_file.DEFAULT_PATH


def plan(settings: Settings, target: Target) -> Plan:
    wiring = Wiring.from_settings(settings)
    ari_password = settings.ari_password or secrets.token_urlsafe(24)
    ami_secret = settings.ami_secret or secrets.token_urlsafe(24)
    hidden = (ari_password, ami_secret)
    out = Plan()

    def propose(path: Path, after: str, *, mode: int = 0o644, secret: bool = False,
                group: str | None = None) -> None:
        before = files.read(path)
        if before == after:
            out.unchanged.append(path)
        else:
            out.changes.append(files.FileChange(path, before, after, mode,
                                                hidden if secret else (), group))

    etc = target.etc
    propose(etc / "astguard.conf", render_dialplan(wiring))
    features = files.read(etc / "features.conf") or ""
    propose(etc / "astguard-features.conf", render_features(
        wiring, add_to_existing="applicationmap" in files.sections(files.without_block(features))))
    includes = ["#include astguard.conf"]
    if target.trunk:
        propose(etc / TRUNK_FILE, render_trunk(target.trunk))
    if target.trunk or (etc / TRUNK_FILE).exists():
        includes.append(f"#include {TRUNK_FILE}")
    _block(propose, etc / "extensions.conf", lambda _: "\n".join(includes))
    _block(propose, etc / "features.conf", lambda _: "#include astguard-features.conf")
    _block(propose, etc / "http.conf", lambda outside: _http(outside, settings.ari_url))
    _block(propose, etc / "ari.conf",
           lambda outside: _ari(outside, settings.ari_user, ari_password), secret=True)
    _block(propose, etc / "manager.conf",
           lambda outside: _manager(outside, settings, ami_secret), secret=True)

    config_updates = {}
    if not settings.ari_password:
        config_updates["ASTGUARD_ARI_PASSWORD"] = ari_password
    if not settings.ami_secret:
        config_updates["ASTGUARD_AMI_SECRET"] = ami_secret
    prompts_dir = target.sounds / "fr" / "astguard"
    if prompts_dir != settings.prompts_dir:
        config_updates["ASTGUARD_PROMPTS_DIR"] = str(prompts_dir)
    if config_updates:
        base = files.read(target.config)
        if base is None:  # a new configuration file: the shipped example, completed
            base = data_path("astguard.conf.example").read_text()
        text = config_file.set_keys(base, config_updates)
        propose(target.config, text, mode=0o640, secret=True, group="astguard")

    for shipped in prompt_files():
        placed = prompts_dir / shipped.name
        if not placed.exists():
            out.prompts.append((shipped, placed))
        elif placed.read_bytes() != shipped.read_bytes():
            out.kept_prompts.append(placed)
    return out


def apply(plan_: Plan, now: dt.datetime) -> list[str]:
    """Carry the plan out; return one French line per thing done."""
    stamp = files.stamp(now)
    done = []
    for change in plan_.changes:
        backup = change.apply(stamp)
        done.append(f"modifié : {change.path} (sauvegarde : {backup})" if backup
                    else f"créé : {change.path}")
    for shipped, placed in plan_.prompts:
        placed.parent.mkdir(parents=True, exist_ok=True)
        placed.write_bytes(shipped.read_bytes())
        placed.chmod(0o644)
        done.append(f"annonce installée : {placed}")
    return done


def _block(propose, path: Path, body, *, secret: bool = False) -> None:
    before = files.read(path)
    outside = files.without_block(before or "")
    propose(path, files.with_block(before, body(outside)), secret=secret,
            mode=0o640 if secret else 0o644)


def _http(outside: str, ari_url: str) -> str:
    url = urlsplit(ari_url)
    general = files.section_values(outside, "general")
    lines = ["; astguard talks to ARI through Asterisk's HTTP server, on loopback.",
             files.header("general", outside), "enabled=yes"]
    if "bindaddr" not in general:
        lines.append(f"bindaddr={url.hostname or '127.0.0.1'}")
    if "bindport" not in general:
        lines.append(f"bindport={url.port or 8088}")
    return "\n".join(lines)


def _ari(outside: str, user: str, password: str) -> str:
    if user in files.sections(outside):
        raise ConfigError(f"ari.conf a déjà une section [{user}] : retirez-la, ou donnez à "
                          "astguard un autre utilisateur (ASTGUARD_ARI_USER)")
    return "\n".join([files.header("general", outside), "enabled=yes", "",
                      f"[{user}]", "type=user", "read_only=no", f"password={password}",
                      "password_format=plain"])


def _manager(outside: str, settings: Settings, secret: str) -> str:
    user = settings.ami_user
    if user in files.sections(outside):
        raise ConfigError(f"manager.conf a déjà une section [{user}] : retirez-la, ou donnez "
                          "à astguard un autre utilisateur (ASTGUARD_AMI_USER)")
    general = files.section_values(outside, "general")
    lines = [files.header("general", outside), "enabled=yes"]
    if "bindaddr" not in general:
        lines.append(f"bindaddr={settings.ami_host}")
    if "port" not in general:
        lines.append(f"port={settings.ami_port}")
    # system,call: MixMonitor for recordings and the doctor's PJSIP questions; reporting:
    # ShowDialPlan, so that `astguard asterisk check` sees the dialplan Asterisk loaded.
    lines += ["", f"[{user}]", f"secret={secret}", "deny=0.0.0.0/0.0.0.0",
              "permit=127.0.0.1/255.255.255.255", "read=system,call,reporting",
              "write=system,call,reporting"]
    return "\n".join(lines)


__all__ = ["DEFAULT_ETC", "DEFAULT_SOUNDS", "PROMPTS", "Plan", "Target", "apply", "plan"]
