"""`astguard asterisk install|check` and `astguard install-service`: the administrator's kit.

These commands do not need PostgreSQL (exit 3 never comes from them)."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import subprocess
import sys
from pathlib import Path

from astguard import config_file
from astguard.errors import ConfigError, InputError
from astguard.install import doctor, files, installer
from astguard.install.kit import data_path
from astguard.settings import Settings
from astguard.surfaces.table import json_option, print_json

COMMANDS = ("asterisk", "install-service")
UNITS = ("astguard.service", "astguard-audit.service", "astguard-audit.timer")
SHIPPED_COMMAND = "/opt/astguard/venv/bin/astguard"
SHIPPED_PATHS = "ReadWritePaths=/var/spool/astguard /var/spool/asterisk/monitor/astguard"


def add_parsers(sub: argparse._SubParsersAction) -> None:
    ast = sub.add_parser("asterisk", help="installer et vérifier astguard dans Asterisk")
    ast_sub = ast.add_subparsers(dest="asterisk_cmd", required=True)
    ins = ast_sub.add_parser(
        "install", help="écrire le dialplan, les annonces, les utilisateurs ARI/AMI (avec "
                        "sauvegarde ; relançable sans effet)")
    ins.add_argument("--etc", default=str(installer.DEFAULT_ETC),
                     help="dossier de configuration d'Asterisk (défaut : /etc/asterisk)")
    ins.add_argument("--sounds", default=str(installer.DEFAULT_SOUNDS),
                     help="dossier des sons d'Asterisk (défaut : /usr/share/asterisk/sounds) ; "
                          "les annonces vont dans <sounds>/fr/astguard/")
    ins.add_argument("--trunk", help="point d'accès PJSIP de l'opérateur : génère "
                                     "[astguard-trunk] (sinon, écrivez-le vous-même)")
    ins.add_argument("--dry-run", action="store_true",
                     help="montrer les différences sans rien écrire (secrets masqués)")
    chk = ast_sub.add_parser("check", help="diagnostic : ce qui manque à Asterisk pour astguard "
                                           "(code 0 : rien ne manque, 1 : il manque quelque chose)")
    chk.add_argument("--etc", default=str(installer.DEFAULT_ETC),
                     help="dossier de configuration d'Asterisk (défaut : /etc/asterisk)")
    json_option(chk)
    svc = sub.add_parser("install-service",
                         help="installer les unités systemd, l'utilisateur astguard et ses "
                              "dossiers")
    svc.add_argument("--systemd-dir", default="/etc/systemd/system",
                     help="où écrire les unités (défaut : /etc/systemd/system)")
    svc.add_argument("--dry-run", action="store_true",
                     help="montrer ce qui serait fait sans rien faire")


async def run(args: argparse.Namespace) -> int:
    values, path = config_file.merged(args.config, os.environ, allow_missing=True)
    settings = Settings.from_env(values, require_database=False)
    if args.command == "install-service":
        return _install_service(settings, args, path)
    if args.asterisk_cmd == "check":
        report = await doctor.check(settings, Path(args.etc))
        if args.json:
            print_json({"ok": report.ok, "missing": report.missing})
        else:
            print(report.render())
        return 1 if report.missing else 0
    etc = Path(args.etc).absolute()
    if not etc.is_dir():
        raise InputError(f"--etc {etc} : dossier introuvable (Asterisk est-il installé ?)")
    target = installer.Target(etc=etc, sounds=Path(args.sounds).absolute(), trunk=args.trunk,
                              config=path.absolute())
    try:
        plan = installer.plan(settings, target)
    except OSError as exc:
        raise ConfigError(f"lecture impossible : {exc} (à lancer en root ?)") from None
    if args.dry_run:
        for change in plan.changes:
            sys.stdout.write(change.diff())
        for _, placed in plan.prompts:
            print(f"+ annonce {placed}")
        print("rien à changer" if plan.empty else "(essai : rien n'a été écrit)")
        return 0
    try:
        for line in installer.apply(plan, dt.datetime.now(dt.UTC)):
            print(line)
    except OSError as exc:
        raise ConfigError(f"écriture impossible : {exc} ; les fichiers déjà changés ont leur "
                          "sauvegarde .astguard-backup-*, relancez une fois corrigé") from None
    for kept in plan.kept_prompts:
        print(f"conservée (différente de celle d'astguard) : {kept}")
    if plan.empty:
        print("rien à changer : astguard est déjà installé dans Asterisk")
    else:
        print("redémarrez Asterisk (systemctl restart asterisk) puis lancez "
              "« astguard asterisk check »")
    return 0


def _this_command() -> str:
    """The astguard command of this installation (its virtualenv's), for ExecStart."""
    beside = Path(sys.executable).parent / "astguard"
    if beside.exists():
        return str(beside)
    return shutil.which("astguard") or f"{sys.executable} -m astguard"


def _install_service(settings: Settings, args: argparse.Namespace, config: Path) -> int:
    command = _this_command()
    changes = []
    for unit in UNITS:
        text = data_path(f"systemd/{unit}").read_text().replace(SHIPPED_COMMAND, command)
        # The folders it may write are the ones its settings name.
        text = text.replace(SHIPPED_PATHS, f"ReadWritePaths={settings.spool_dir} "
                                           f"{settings.recording_dir}")
        path = Path(args.systemd_dir) / unit
        if files.read(path) != text:
            changes.append(files.FileChange(path, files.read(path), text))
    folders = [settings.spool_dir, settings.recording_dir]
    has_user = subprocess.run(["id", "-u", "astguard"], capture_output=True).returncode == 0
    if args.dry_run:
        for change in changes:
            sys.stdout.write(change.diff())
        if not has_user:
            print("+ utilisateur système astguard")
        for folder in folders:
            print(f"+ dossier {folder} (propriétaire astguard)")
        if config.exists():
            print(f"+ {config} : groupe astguard, mode 640")
        return 0
    if not has_user:
        subprocess.run(["useradd", "--system", "--home-dir", "/var/lib/astguard",
                        "--shell", "/usr/sbin/nologin", "--user-group", "astguard"], check=True)
        print("utilisateur système astguard créé")
    for folder in folders:
        folder.mkdir(parents=True, exist_ok=True)
        shutil.chown(folder, "astguard", "astguard")
        folder.chmod(0o2770)
        print(f"dossier {folder} : propriétaire astguard")
    if config.exists():  # written before the user existed (asterisk install): let it read it
        shutil.chown(config, group="astguard")
        config.chmod(0o640)
        print(f"{config} : groupe astguard, mode 640")
    stamp = files.stamp(dt.datetime.now(dt.UTC))
    for change in changes:
        backup = change.apply(stamp)
        print(f"unité écrite : {change.path}" + (f" (sauvegarde : {backup})" if backup else ""))
    if shutil.which("systemctl") and Path("/run/systemd/system").exists():
        subprocess.run(["systemctl", "daemon-reload"], check=False)
    print("ensuite : systemctl enable --now astguard.service astguard-audit.timer")
    return 0
