"""Hosts of the harness's own: Linux network namespaces on a private bridge.

Each host is a namespace with its loopback and one veth whose other end sits on a bridge in a
hub namespace. Addresses are in a private /24 that exists only inside these namespaces; there is
no default route, so traffic goes only between them and each one's loopback. The host's own
network is never touched. `down` removes everything (killing what still runs inside), even
after a failure, and every command is bounded in time.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from dataclasses import dataclass, field

SUBNET = "10.213.7"
COMMAND_TIMEOUT = 10.0


class NetnsError(RuntimeError):
    pass


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    out = subprocess.run(["ip", *args], text=True, capture_output=True,
                         timeout=COMMAND_TIMEOUT, check=False)
    if check and out.returncode != 0:
        raise NetnsError(f"ip {' '.join(args)}: {out.stderr.strip()}")
    return out


def netns_impossible() -> str | None:
    """Why namespaces cannot be made here (not root, no `ip`, no permission), or None."""
    if os.geteuid() != 0:
        return "il faut être root (ip netns)"
    name = f"agprobe{os.getpid() % 100000}"
    try:
        _ip("netns", "add", name)
    except (NetnsError, FileNotFoundError, subprocess.TimeoutExpired) as exc:
        return f"ip netns impossible ici : {exc}"
    _ip("netns", "del", name, check=False)
    return None


@dataclass
class Network:
    """`hosts` maps a short role (db, a, b, sip) to the last byte of its address."""

    tag: str = "ag"
    hosts: dict[str, int] = field(default_factory=lambda: {"db": 10, "a": 11, "b": 12,
                                                           "sip": 13})
    made: list[str] = field(default_factory=list)

    def ns(self, host: str) -> str:
        return f"{self.tag}-{host}"

    def address(self, host: str) -> str:
        return f"{SUBNET}.{self.hosts[host]}"

    def exec_prefix(self, host: str) -> tuple[str, ...]:
        return ("ip", "netns", "exec", self.ns(host))

    @property
    def hub(self) -> str:
        return f"{self.tag}-hub"

    def up(self) -> None:
        try:
            self._up()
        except BaseException:
            self.down()
            raise

    def _up(self) -> None:
        for name in [self.hub, *(self.ns(h) for h in self.hosts)]:
            _ip("netns", "del", name, check=False)  # left by an interrupted run
            _ip("netns", "add", name)
            self.made.append(name)
            _ip("-n", name, "link", "set", "lo", "up")
        _ip("-n", self.hub, "link", "add", "br0", "type", "bridge")
        _ip("-n", self.hub, "link", "set", "br0", "up")
        for i, host in enumerate(self.hosts):
            outer, inner = f"{self.tag}{i}h", f"{self.tag}{i}n"
            _ip("link", "del", outer, check=False)
            _ip("link", "add", outer, "type", "veth", "peer", "name", inner)
            _ip("link", "set", outer, "netns", self.hub)
            _ip("link", "set", inner, "netns", self.ns(host))
            _ip("-n", self.hub, "link", "set", outer, "master", "br0", "up")
            _ip("-n", self.ns(host), "link", "set", inner, "name", "eth0")
            _ip("-n", self.ns(host), "addr", "add", f"{self.address(host)}/24", "dev", "eth0")
            _ip("-n", self.ns(host), "link", "set", "eth0", "up")

    # -- faults -------------------------------------------------------------------------
    def partition(self, host: str, peer: str) -> None:
        """`host` loses `peer` silently (packets dropped, as a broken link would)."""
        _ip("-n", self.ns(host), "route", "add", "blackhole", f"{self.address(peer)}/32")

    def heal(self, host: str, peer: str) -> None:
        _ip("-n", self.ns(host), "route", "del", "blackhole", f"{self.address(peer)}/32",
            check=False)

    # -- the end ------------------------------------------------------------------------
    def pids(self, name: str) -> list[int]:
        out = _ip("netns", "pids", name, check=False)
        return [int(p) for p in out.stdout.split() if p.isdigit()]

    def down(self) -> None:
        """Kill what still runs in our namespaces, then delete them (their veths go too)."""
        for name in reversed(self.made):
            for pid in self.pids(name):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and any(self.pids(n) for n in self.made):
            time.sleep(0.1)
        for name in reversed(self.made):
            _ip("netns", "del", name, check=False)
        self.made.clear()

    def __enter__(self) -> Network:
        self.up()
        return self

    def __exit__(self, *exc: object) -> None:
        self.down()
