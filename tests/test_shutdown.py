"""`astguard serve` stops well inside systemd's stop timeout (90 s, TimeoutStopSec) even with
a supervisor's live stream open: the HTTP server does not wait a minute for it (issue 14)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from lab.database import as_service

pytestmark = pytest.mark.db

READ_TOKEN = "lecture-arret-0123456789abcdef"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_stops_promptly_with_a_live_stream_open(database_url, tmp_path: Path):
    http = free_port()
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": os.pathsep.join(sys.path),
           "ASTGUARD_DATABASE_URL": as_service(database_url),
           "ASTGUARD_ARI_URL": f"http://127.0.0.1:{free_port()}/ari",
           "ASTGUARD_AMI_PORT": str(free_port()), "ASTGUARD_AMI_SECRET": "x",
           "ASTGUARD_AGI_PORT": str(free_port()), "ASTGUARD_HTTP_PORT": str(http),
           "ASTGUARD_API_READ_TOKENS": READ_TOKEN,
           "ASTGUARD_SPOOL_DIR": str(tmp_path / "spool"), "ASTGUARD_CONFIG": os.devnull}
    proc = subprocess.Popen([sys.executable, "-m", "astguard", "serve"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    stream = None
    try:
        deadline = time.monotonic() + 30
        while stream is None:
            try:
                request = urllib.request.Request(
                    f"http://127.0.0.1:{http}/tableau/flux",
                    headers={"Authorization": f"Bearer {READ_TOKEN}"})
                stream = urllib.request.urlopen(request, timeout=10)  # noqa: S310
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, "never served"
                time.sleep(0.2)
        assert stream.readline() == b"retry: 2000\n"  # the live stream is open
        t0 = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        proc.wait(90)
        took = time.monotonic() - t0
        assert took < 30, f"stop took {took:.1f} s"
    finally:
        if stream is not None:
            stream.close()
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
