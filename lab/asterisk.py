"""A real Asterisk 22 for tests, the demo and the benchmarks: Debian sid's package in a
debootstrap root filesystem, run with chroot (no container engine needed).

The root filesystem is cached under /var/cache/astguard, keyed by its package list, and rebuilt
only when that list changes. The configuration comes from docker/lab/asterisk/ and from the kit
astguard ships in its wheel (src/astguard/data/: the dialplan, the feature codes, the prompts):
the same files the container and `astguard asterisk install` use.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

from astguard.install.kit import PROMPTS, data_path
from astguard.telephony.contract import KEPT_CODES_FAMILY

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("asterisk", "asterisk-modules", "asterisk-core-sounds-en", "asterisk-core-sounds-fr")
SUITE = "sid"
CACHE = Path(os.environ.get("ASTGUARD_LAB_CACHE", "/var/cache/astguard"))
ARI_URL = "http://127.0.0.1:8088/ari"
ARI_USER = "astguard"
ARI_PASSWORD = "astguard-lab"
AMI = ("127.0.0.1", 5038, "dialer", "dialer-lab")
AMI_ASTGUARD_SECRET = "astguard-lab"
RECORDINGS_IN_ROOT = "var/spool/asterisk/monitor/astguard"  # Asterisk writes /var/spool/…


class LabError(RuntimeError):
    pass


def rootfs_path() -> Path:
    key = hashlib.sha256(f"{SUITE} {' '.join(PACKAGES)}".encode()).hexdigest()[:12]
    return CACHE / f"rootfs-{key}"


def ensure_rootfs(log=print) -> Path:
    """The cached root filesystem, built once. Several runs (parallel test sessions, CI beside a
    developer) may ask at the same time: one builds under a lock, the others wait for it."""
    root = rootfs_path()
    if (root / ".astguard-complete").exists():
        return root
    if shutil.which("debootstrap") is None:
        raise LabError("debootstrap is missing: apt-get install debootstrap")
    root.parent.mkdir(parents=True, exist_ok=True)
    with open(root.parent / f"{root.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (root / ".astguard-complete").exists():
            return root
        tmp = root.with_name(f"{root.name}.partial-{os.getpid()}")
        _umount_all(tmp)
        shutil.rmtree(tmp, ignore_errors=True)
        log(f"building the Asterisk root filesystem in {root} (about a minute, cached after)")
        try:
            subprocess.run(
                ["debootstrap", "--variant=minbase", f"--include={','.join(PACKAGES)}", SUITE,
                 str(tmp)],
                check=True, stdout=subprocess.DEVNULL,
            )
            (tmp / ".astguard-complete").write_text(" ".join(PACKAGES) + "\n")
            shutil.rmtree(root, ignore_errors=True)  # an incomplete one left by a killed run
            tmp.rename(root)
        finally:
            _umount_all(tmp)
            shutil.rmtree(tmp, ignore_errors=True)
    return root


def _umount_all(root: Path) -> None:
    for sub in ("proc",):
        target = root / sub
        if os.path.ismount(target):
            subprocess.run(["umount", "-l", str(target)], check=False)


class LabAsterisk:
    def __init__(self, root: Path, logdir: Path, prefix: tuple[str, ...] = ()) -> None:
        self.root = root
        self.logdir = logdir
        self.prefix = prefix  # e.g. ("ip", "netns", "exec", NS): a host of the soak's own
        self.proc: subprocess.Popen[bytes] | None = None

    # -- configuration ------------------------------------------------------------------
    def install(self) -> None:
        etc = self.root / "etc/asterisk"
        samples = self.root / "etc/asterisk.samples"
        if not samples.exists():
            shutil.copytree(etc, samples)
            for path in etc.iterdir():
                if path.name != "asterisk.conf" and path.is_file():
                    path.unlink()
        for path in (REPO / "docker/lab/asterisk").glob("*.conf"):
            shutil.copy(path, etc / path.name)
        shutil.copy(data_path("asterisk/astguard.conf"), etc / "astguard.conf")
        shutil.copy(data_path("asterisk/astguard-features.conf"), etc / "astguard-features.conf")
        shutil.copy(REPO / "lab/freepbx17.conf", etc / "freepbx17.conf")  # FreePBX 17's dialplan
        # Asterisk resolves its own host name on every call: without an entry it asks DNS.
        (self.root / "etc/hosts").write_text(
            f"127.0.0.1 localhost\n127.0.1.1 {socket.gethostname()}\n")
        staging = self.root / "tmp/astguard-sounds"
        shutil.rmtree(staging, ignore_errors=True)
        shutil.copytree(data_path(PROMPTS), staging)
        # sounds/fr is a symlink inside the root filesystem: copy from within it.
        self._chroot(["sh", "-c", "mkdir -p /usr/share/asterisk/sounds/fr/astguard && "
                      "cp /tmp/astguard-sounds/*.wav /usr/share/asterisk/sounds/fr/astguard/"])

    def _chroot(self, argv: list[str], **kw) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*self.prefix, "chroot", str(self.root), *argv], text=True,
                              capture_output=True, **kw)

    # -- process ------------------------------------------------------------------------
    def start(self, timeout: float = 60.0) -> None:
        self.kill_stale()
        proc_dir = self.root / "proc"
        if not os.path.ismount(proc_dir):
            subprocess.run(["mount", "-t", "proc", "proc", str(proc_dir)], check=True)
        self.logdir.mkdir(parents=True, exist_ok=True)
        log = open(self.logdir / "asterisk.log", "ab")  # noqa: SIM115 (kept for the process)
        self.proc = subprocess.Popen(
            [*self.prefix, "chroot", str(self.root), "/usr/sbin/asterisk", "-f", "-n", "-vvv",
             "-g"],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise LabError(f"Asterisk exited with {self.proc.returncode}; see "
                               f"{self.logdir / 'asterisk.log'}")
            out = self._chroot(["/usr/sbin/asterisk", "-rx", "core waitfullybooted"],
                               timeout=timeout)
            if out.returncode == 0 and "fully booted" in out.stdout:
                # The root filesystem is shared by every run: no agent's code kept by a
                # previous run's dialplan ([astguard-keep-code]) is taken by this one.
                self.cli(f"database deltree {KEPT_CODES_FAMILY}")
                return
            time.sleep(0.3)
        raise LabError("Asterisk did not finish booting in time")

    def cli(self, command: str) -> str:
        out = self._chroot(["/usr/sbin/asterisk", "-rx", command], timeout=30)
        return out.stdout

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self._chroot(["/usr/sbin/asterisk", "-rx", "core stop now"], timeout=30)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        self.proc = None
        self.kill_stale()

    def restart(self) -> None:
        self.stop()
        self.start()

    def kill_stale(self) -> None:
        """Stop any process left running in this root by an earlier, interrupted run."""
        root = self.root.resolve()
        killed = False
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit() or int(entry.name) == os.getpid():
                continue
            try:
                if (entry / "root").resolve() == root:
                    os.kill(int(entry.name), signal.SIGKILL)
                    killed = True
            except (ProcessLookupError, PermissionError, FileNotFoundError, OSError):
                continue
        if killed:
            time.sleep(0.5)

    def unmount(self) -> None:
        _umount_all(self.root)
