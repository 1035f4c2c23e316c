"""Two PBX nodes, a PostgreSQL failover and a chaos soak (issue 14). As root:

    python -m bench.soak --short              # about four minutes, every fault once
    python -m bench.soak --duration 900 --rate 2

The harness makes hosts of its own (lab/netns.py): node A and node B (Asterisk + astguard
each), the database host (a primary and a pg_basebackup standby, lab/pg_cluster.py), and the
SIPp agents and carrier. The agents dial a mixed population on both nodes at a steady rate
while a schedule injects faults; at the end the invariants are counted (bench/soak_checks.py)
and a French summary is printed. It stops by itself: bounded in time and in calls, and
everything it made is removed, even after a failure. Exit 0 only with 0 violations.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from lab.netns import Network, netns_impossible

REPO = Path(__file__).resolve().parent.parent
CYCLE = 150.0  # seconds: one pass of the fault schedule


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.soak",
                                description="Soak à deux nœuds avec pannes injectées.")
    p.add_argument("--short", action="store_true",
                   help="profil court (CI) : 150 s d'appels, chaque panne une fois")
    p.add_argument("--duration", type=float, default=600.0,
                   help="secondes d'appels (défaut 600 ; --short : 150)")
    p.add_argument("--rate", type=float, default=1.5, help="appels par seconde (défaut 1,5)")
    p.add_argument("--max-calls", type=int, default=5000, help="plafond d'appels (défaut 5000)")
    p.add_argument("--seed", type=int, default=14)
    p.add_argument("--report", type=Path, help="écrire les chiffres en JSON dans ce fichier")
    p.add_argument("--keep", action="store_true", help="garder le dossier de travail")
    p.add_argument("--skip-if-impossible", action="store_true",
                   help="sortir 0 avec un message si ip netns est impossible ici")
    p.add_argument("--inner", type=Path, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.short:
        args.duration = min(args.duration, CYCLE)
    return args


# -- outside the namespaces: make them, run the soak inside, always remove them ---------
def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    if args.inner:
        return _inner(args)
    why = netns_impossible()
    if why:
        print(f"soak ignoré : {why}", file=sys.stderr)
        return 0 if args.skip_if_impossible else 2
    for tool in ("sipp", "chroot", "runuser", "curl", "unshare"):
        if shutil.which(tool) is None:
            print(f"soak : {tool} manquant (scripts/setup)", file=sys.stderr)
            return 2
    from lab.asterisk import ensure_rootfs
    rootfs = ensure_rootfs()
    workdir = Path(tempfile.mkdtemp(prefix="astguard-soak-"))
    net = Network(tag=f"ag{os.getpid() % 100000}")  # two soaks on one machine never collide
    config = workdir / "config.json"
    config.write_text(json.dumps({"rootfs": str(rootfs), "workdir": str(workdir),
                                  "hosts": net.hosts, "tag": net.tag}))
    limit = args.duration + 480  # set-up, drain and checks included
    try:
        net.up()
        cmd = [*net.exec_prefix("sip"), sys.executable, "-m", "bench.soak", "--inner",
               str(config), "--duration", str(args.duration), "--rate", str(args.rate),
               "--max-calls", str(args.max_calls), "--seed", str(args.seed)]
        if args.report:
            cmd += ["--report", str(args.report.resolve())]
        try:
            return subprocess.run(cmd, cwd=REPO, timeout=limit, check=False,
                                  env={**os.environ, "PYTHONPATH": str(REPO)}).returncode
        except subprocess.TimeoutExpired:
            print(f"soak : arrêté après {limit:.0f} s (borne de durée)", file=sys.stderr)
            return 3
    finally:
        net.down()
        for root in workdir.glob("node-*/root"):
            subprocess.run(["umount", "-l", str(root / "proc")], check=False,
                           capture_output=True)
            subprocess.run(["umount", "-l", str(root)], check=False, capture_output=True)
        if args.keep:
            print(f"dossier de travail gardé : {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


# -- inside the agents' host ----------------------------------------------------------------
def _inner(args: argparse.Namespace) -> int:
    from bench.soak_run import Soak
    config = json.loads(args.inner.read_text())
    net = Network(tag=config["tag"], hosts=config["hosts"])
    soak = Soak(args, net, Path(config["workdir"]), Path(config["rootfs"]))
    try:
        return soak.run_sync()
    finally:
        soak.teardown()


if __name__ == "__main__":
    sys.exit(main())
