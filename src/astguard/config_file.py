"""astguard's configuration file: /etc/astguard/astguard.conf, one `KEY=VALUE` per line
(the format of a systemd EnvironmentFile), read by `astguard serve` and every command.

Precedence, lowest first: the file, then the process environment. `--config PATH` (or
ASTGUARD_CONFIG) names another file; a named file must exist, the default one may not.
A secret setting may be given as a file instead: ASTGUARD_X_FILE=/path holds ASTGUARD_X.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping
from pathlib import Path

from astguard.errors import ConfigError

log = logging.getLogger(__name__)
DEFAULT_PATH = Path("/etc/astguard/astguard.conf")
# Settings that may come from a file (ASTGUARD_X_FILE): add new secrets here.
SECRET_KEYS = (
    "ASTGUARD_DATABASE_URL",
    "ASTGUARD_MIGRATE_DATABASE_URL",  # the tables' owner, for `astguard db migrate` only
    "ASTGUARD_ARI_PASSWORD",
    "ASTGUARD_AMI_SECRET",
    "ASTGUARD_API_READ_TOKENS",
    "ASTGUARD_API_WRITE_TOKENS",
)
_LINE = re.compile(r"^(?:export\s+)?(ASTGUARD_[A-Z0-9_]+)\s*=\s*(.*)$")


def config_path(explicit: str | None, env: Mapping[str, str]) -> tuple[Path, bool]:
    """The file to read, and whether it was asked for (then it must exist)."""
    if explicit:
        return Path(explicit), True
    if env.get("ASTGUARD_CONFIG"):
        return Path(env["ASTGUARD_CONFIG"]), True
    return DEFAULT_PATH, False


def parse(text: str, source: str) -> dict[str, str]:
    """KEY=VALUE lines; '#' comments and blank lines; values optionally quoted."""
    values: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        match = _LINE.match(line)
        if match is None:
            raise ConfigError(f"{source}, ligne {number} : « {line[:60]} » n'est pas de la "
                              "forme ASTGUARD_CLÉ=valeur")
        key, value = match[1], match[2].strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        elif value and value[0] in "'\"":
            raise ConfigError(f"{source}, ligne {number} : guillemet non fermé pour {key}")
        if key in values:
            raise ConfigError(f"{source}, ligne {number} : {key} est déjà donnée plus haut")
        values[key] = value
    return values


def read_file(path: Path, required: bool) -> dict[str, str]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        if required:
            raise ConfigError(f"fichier de configuration introuvable : {path}") from None
        return {}
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"fichier de configuration illisible : {path} ({exc})") from None
    values = parse(text, str(path))
    secrets = sorted(k for k in values if k in SECRET_KEYS and values[k])
    if secrets and path.stat().st_mode & 0o004:
        log.warning("%s est lisible par tous les utilisateurs alors qu'il contient des secrets "
                    "(%s) : chmod 640 %s", path, ", ".join(secrets), path)
    return values


def merged(explicit: str | None = None, env: Mapping[str, str] | None = None, *,
           allow_missing: bool = False) -> tuple[dict[str, str], Path]:
    """The settings' mapping: the file, overridden by the environment, secrets from files
    resolved. Returns it with the path of the file it read (or would have read).
    `allow_missing`: a named file may not exist yet (the installer creates it)."""
    env = os.environ if env is None else env
    path, required = config_path(explicit, env)
    values = read_file(path, required and not allow_missing)
    values.update({k: v for k, v in env.items() if k.startswith("ASTGUARD_")})
    for key in SECRET_KEYS:
        pointer = values.pop(f"{key}_FILE", "").strip()
        if not pointer:
            continue
        if values.get(key, "").strip():
            raise ConfigError(f"{key} et {key}_FILE sont donnés tous les deux : n'en garder "
                              "qu'un")
        try:
            values[key] = Path(pointer).read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{key}_FILE : {pointer} illisible ({exc})") from None
    return values, path


def set_keys(text: str, changes: Mapping[str, str]) -> str:
    """`text` with these keys set: a key's existing line is replaced where it is, a new key
    is appended. Comments and other lines are kept as they are."""
    lines = text.splitlines()
    pending = dict(changes)
    for i, line in enumerate(lines):
        match = _LINE.match(line.strip())
        if match and match[1] in pending:
            lines[i] = f"{match[1]}={pending.pop(match[1])}"
    lines += [f"{key}={value}" for key, value in pending.items()]
    return "\n".join(lines) + "\n"
