"""The soak's hosts: two PBX nodes (Asterisk + astguard each), the carrier, the database.

Each node is a network namespace with its own host name (a UTS namespace, so astguard's
`node` column tells the nodes apart), its own Asterisk (the shared debootstrap root filesystem
under an overlay of its own: the cache is never written), and its own `astguard serve`.
Node A's astguard reaches ARI through lab/tcp_proxy.py, so the websocket can be cut; its spool
can live on a small tmpfs, so its disk can be filled.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from lab.asterisk import AMI_ASTGUARD_SECRET, ARI_PASSWORD, LabAsterisk
from lab.netns import Network

REPO = Path(__file__).resolve().parent.parent
CARRIER_PORT = 5080


def _run(argv: list[str], timeout: float = 30.0) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, text=True, capture_output=True, timeout=timeout, check=False)


@dataclass
class Node:
    name: str  # "a" or "b": the Network host
    net: Network
    workdir: Path
    rootfs: Path
    database_url: str
    clock_origin: dt.datetime  # the test clock at t0 (every process keeps the same offset)
    t0: float
    via_proxy: bool = False
    spool_tmpfs_kb: int = 0
    asterisk: LabAsterisk | None = None
    guard: subprocess.Popen[bytes] | None = None
    proxy: subprocess.Popen[bytes] | None = None
    generations: int = 0
    shutdowns: list[float] = field(default_factory=list)
    mounts: list[Path] = field(default_factory=list)

    @property
    def hostname(self) -> str:
        return f"soak-node-{self.name}"

    @property
    def ip(self) -> str:
        return self.net.address(self.name)

    @property
    def spool(self) -> Path:
        return self.workdir / "spool"

    def prefix(self) -> tuple[str, ...]:
        """Run in this node's network namespace under its own host name."""
        return (*self.net.exec_prefix(self.name), "unshare", "--uts", "sh", "-c",
                f'hostname {self.hostname} && exec "$@"', "sh")

    # -- Asterisk -----------------------------------------------------------------------
    def start_asterisk(self, carrier_ip: str) -> None:
        upper, work, merged = (self.workdir / d for d in ("upper", "work", "root"))
        for d in (upper, work, merged):
            d.mkdir(parents=True, exist_ok=True)
        subprocess.run(["mount", "-t", "overlay", "overlay", "-o",
                        f"lowerdir={self.rootfs},upperdir={upper},workdir={work}", str(merged)],
                       check=True, timeout=30)
        self.mounts.append(merged)
        self.asterisk = LabAsterisk(merged, self.workdir / "asterisk", prefix=self.prefix())
        self.asterisk.install()
        etc = merged / "etc/asterisk"
        pjsip = (etc / "pjsip.conf").read_text()
        pjsip = pjsip.replace("bind=127.0.0.1:5060", "bind=0.0.0.0:5060")
        pjsip = pjsip.replace(f"contact=sip:127.0.0.1:{CARRIER_PORT}",
                              f"contact=sip:{carrier_ip}:{CARRIER_PORT}")
        (etc / "pjsip.conf").write_text(pjsip)
        with open(merged / "etc/hosts", "a") as hosts:
            hosts.write(f"127.0.1.1 {self.hostname}\n")
        self.asterisk.start()
        self.mounts.append(merged / "proc")

    def restart_asterisk(self) -> float:
        assert self.asterisk is not None
        t = time.monotonic()
        self.asterisk.restart()
        return time.monotonic() - t

    # -- the ARI proxy ------------------------------------------------------------------
    def start_proxy(self) -> None:
        log = open(self.workdir / "proxy.log", "ab")  # noqa: SIM115 (kept by the process)
        self.proxy = subprocess.Popen(
            [*self.net.exec_prefix(self.name), sys.executable, "-m", "lab.tcp_proxy",
             "127.0.0.1:8089", "127.0.0.1:8088"], stdout=log, stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONPATH": str(REPO)})
        log.close()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and "listening" not in self._read("proxy.log"):
            time.sleep(0.1)

    def cut_websocket(self) -> None:
        assert self.proxy is not None
        os.kill(self.proxy.pid, signal.SIGUSR1)

    # -- astguard -----------------------------------------------------------------------
    def prepare_spool(self) -> None:
        self.spool.mkdir(parents=True, exist_ok=True)
        if self.spool_tmpfs_kb:
            subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={self.spool_tmpfs_kb}k",
                            "tmpfs", str(self.spool)], check=True, timeout=10)
            self.mounts.append(self.spool)

    def env(self) -> dict[str, str]:
        now = self.clock_origin + dt.timedelta(seconds=time.time() - self.t0)
        port = 8089 if self.via_proxy else 8088
        return {
            "PATH": os.environ.get("PATH", ""),
            "ASTGUARD_CONFIG": os.devnull,
            "ASTGUARD_DATABASE_URL": self.database_url,
            "ASTGUARD_ARI_URL": f"http://127.0.0.1:{port}/ari",
            "ASTGUARD_ARI_PASSWORD": ARI_PASSWORD,
            "ASTGUARD_AMI_SECRET": AMI_ASTGUARD_SECRET,  # codes kept by the dialplan
            "ASTGUARD_SPOOL_DIR": str(self.spool),
            "ASTGUARD_SPOOL_FLUSH_INTERVAL": "0.5",
            "ASTGUARD_DB_TIMEOUT": "1.5",
            "ASTGUARD_LOG_LEVEL": "INFO",
            "ASTGUARD_LOG_FORMAT": "json",
            "PYTHONPATH": os.pathsep.join([str(REPO), *sys.path]),
            "ASTGUARD_LAB": "1",
            "ASTGUARD_CLOCK_START": now.isoformat(),
        }

    @property
    def guard_log(self) -> Path:
        return self.workdir / "astguard.log"

    def _read(self, name: str) -> str:
        path = self.workdir / name
        return path.read_text(errors="replace") if path.exists() else ""

    def start_guard(self, timeout: float = 30.0) -> None:
        connected = self._read("astguard.log").count("ARI websocket connected")
        log = open(self.guard_log, "ab")  # noqa: SIM115 (kept by the process)
        self.guard = subprocess.Popen([*self.prefix(), sys.executable, "-m", "astguard", "serve"],
                                      env=self.env(), stdout=log, stderr=subprocess.STDOUT)
        log.close()
        self.generations += 1
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._read("astguard.log").count("ARI websocket connected") > connected:
                return
            if self.guard.poll() is not None:
                break
            time.sleep(0.1)
        raise RuntimeError(f"astguard on node {self.name} did not connect to ARI:\n"
                           f"{self._read('astguard.log')[-3000:]}")

    def kill_guard(self) -> None:
        """kill -9, as the OOM killer or a crash would."""
        if self.guard is not None and self.guard.poll() is None:
            self.guard.send_signal(signal.SIGKILL)
            self.guard.wait(10)

    def stop_guard(self, timeout: float = 90.0) -> float | None:
        """SIGTERM, as systemd does; the time it took to exit (None: killed after timeout)."""
        if self.guard is None or self.guard.poll() is not None:
            return None
        t = time.monotonic()
        self.guard.terminate()
        try:
            self.guard.wait(timeout)
        except subprocess.TimeoutExpired:
            self.guard.kill()
            self.guard.wait(10)
            return None
        took = time.monotonic() - t
        self.shutdowns.append(took)
        return took

    def guard_pid(self) -> int | None:
        return self.guard.pid if self.guard is not None and self.guard.poll() is None else None

    def metrics(self) -> dict[str, float]:
        out = _run([*self.net.exec_prefix(self.name), "curl", "-s", "-m", "3",
                    "http://127.0.0.1:8090/metrics"], timeout=10).stdout
        found = {}
        for line in out.splitlines():
            if line and not line.startswith("#") and "{" not in line:
                name, _, value = line.partition(" ")
                try:
                    found[name] = float(value)
                except ValueError:
                    continue
        return found

    def rss_kb(self) -> int | None:
        pid = self.guard_pid()
        if pid is None:
            return None
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            return None
        match = re.search(r"^VmRSS:\s+(\d+)", status, re.M)
        return int(match[1]) if match else None

    def log_records(self) -> list[dict]:
        out = []
        for line in self._read("astguard.log").splitlines():
            if line.startswith("{"):
                try:
                    out.append(json.loads(line))
                except json.JSONDecodeError:
                    continue
        return out

    # -- faults on the spool's disk -----------------------------------------------------
    def fill_spool(self) -> int:
        """Fill the spool's tmpfs to the last byte; how many bytes that took."""
        fd = os.open(self.spool / "filler", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        written = 0
        try:
            for size in (65536, 1):
                while True:
                    try:
                        written += os.write(fd, b"\0" * size)
                    except OSError:
                        break
        finally:
            os.close(fd)
        return written

    def free_spool(self) -> None:
        (self.spool / "filler").unlink(missing_ok=True)

    # -- the end ------------------------------------------------------------------------
    def teardown(self) -> None:
        for proc in (self.guard, self.proxy):
            if proc is not None and proc.poll() is None:
                proc.kill()
                try:
                    proc.wait(5)
                except subprocess.TimeoutExpired:
                    pass
        if self.asterisk is not None:
            try:
                self.asterisk.stop()
            except Exception:  # noqa: BLE001 (the namespace kill below ends it anyway)
                self.asterisk.kill_stale()
        for mount in reversed(self.mounts):
            _run(["umount", "-l", str(mount)])
        shutil.rmtree(self.workdir / "upper", ignore_errors=True)
