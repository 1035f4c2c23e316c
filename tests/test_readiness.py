"""Liveness and readiness: `astguard serve` starts without PostgreSQL (refusing until it
answers) and GET /v1/ready names each part that is down; a node with everything up is ready."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from astguard.readiness import Readiness
from astguard.store.database import Database
from astguard.store.spool import Spool
from tests.conftest import UNREACHABLE_DB, recreate_database, db_url, service_settings

pytestmark = pytest.mark.db


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=5) as reply:
            return reply.status, json.loads(reply.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_serve_starts_without_postgresql_and_says_it_is_not_ready(tmp_path):
    http, agi = free_port(), free_port()
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": os.pathsep.join(sys.path),
           "ASTGUARD_DATABASE_URL": UNREACHABLE_DB, "ASTGUARD_DB_TIMEOUT": "1",
           "ASTGUARD_ARI_URL": f"http://127.0.0.1:{free_port()}/ari",
           "ASTGUARD_AMI_PORT": str(free_port()), "ASTGUARD_AMI_SECRET": "x",
           "ASTGUARD_AGI_PORT": str(agi), "ASTGUARD_HTTP_PORT": str(http),
           "ASTGUARD_SPOOL_DIR": str(tmp_path / "spool"),
           "ASTGUARD_CONFIG": str(tmp_path / "none.conf")}
    (tmp_path / "none.conf").write_text("# empty: everything from the environment\n")
    proc = subprocess.Popen([sys.executable, "-m", "astguard", "serve"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                status, body = get(f"http://127.0.0.1:{http}/v1/health")
                break
            except (urllib.error.URLError, ConnectionError):
                assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else ""
                assert time.monotonic() < deadline, "astguard serve never answered"
                time.sleep(0.2)
        assert (status, body) == (200, {"status": "ok"})
        status, body = get(f"http://127.0.0.1:{http}/v1/ready")
        assert status == 503 and body["ready"] is False
        checks = body["checks"]
        assert checks["postgresql"]["state"] == "down"
        assert checks["schema"]["state"] == "down"
        assert checks["ari"]["state"] == "down" and checks["ami"]["state"] == "down"
        assert checks["fastagi"]["state"] == "ok" and checks["spool"]["depth"] == 0
    finally:
        proc.terminate()
        proc.wait(15)
        if proc.stdout:
            proc.stdout.close()


async def fake_ami(accept: bool) -> asyncio.Server:
    async def session(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"Asterisk Call Manager/9.0.0\r\n")
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"Response: Success\r\nMessage: Authentication accepted\r\n\r\n" if accept
                     else b"Response: Error\r\nMessage: Authentication failed\r\n\r\n")
        await writer.drain()
        writer.close()

    return await asyncio.start_server(session, "127.0.0.1", 0)


async def test_ready_when_every_part_answers(database_url, tmp_path):
    ami = await fake_ami(accept=True)
    port = ami.sockets[0].getsockname()[1]
    settings = service_settings(database_url, tmp_path, ASTGUARD_AMI_PORT=str(port),
                                ASTGUARD_AMI_SECRET="secret")
    db = Database(database_url)
    try:
        report = await Readiness(settings, db, Spool(tmp_path), lambda: True,
                                 lambda: True).report()
        assert report["ready"] is True, report
        assert {k: v["state"] for k, v in report["checks"].items()} == {
            "ari": "ok", "fastagi": "ok", "ami": "ok", "postgresql": "ok", "schema": "ok",
            "spool": "ok"}
        # ARI away: not ready (the dialplan refuses every call meanwhile).
        report = await Readiness(settings, db, Spool(tmp_path), lambda: False, None).report()
        assert report["ready"] is False and report["checks"]["fastagi"]["state"] == "disabled"
    finally:
        await db.close()
        ami.close()


async def test_not_ready_on_a_schema_behind_or_an_ami_login_refused(tmp_path):
    await recreate_database("astguard_ready_behind", migrate=False)
    url = db_url("astguard_ready_behind")
    ami = await fake_ami(accept=False)
    settings = service_settings(url, tmp_path, ASTGUARD_AMI_SECRET="wrong",
                                ASTGUARD_AMI_PORT=str(ami.sockets[0].getsockname()[1]))
    db = Database(url)
    try:
        report = await Readiness(settings, db, Spool(tmp_path), lambda: True,
                                 lambda: True).report()
        assert report["ready"] is False
        assert report["checks"]["postgresql"]["state"] == "ok"
        assert report["checks"]["schema"]["state"] == "down"
        assert "astguard db migrate" in report["checks"]["schema"]["detail"]
        assert report["checks"]["ami"]["state"] == "down"
        assert "refusée" in report["checks"]["ami"]["detail"]
    finally:
        await db.close()
        ami.close()
