"""A PostgreSQL primary and its streaming standby, private to one harness run.

Made with the machine's own PostgreSQL binaries (/usr/lib/postgresql/*/bin), run as the
`postgres` user, in data directories under a temporary folder and on ports of their own: the
shared server on 127.0.0.1:5432 is never touched. The standby is a `pg_basebackup -R` of the
primary. The faults the soak injects are methods here: stop the primary (fast or immediate),
promote the standby, restart, read-only, connection exhaustion; `teardown` always runs.

`prefix` runs every server command inside something else (`ip netns exec NS`), so that the same
cluster lives on a database host of the harness's own (lab/netns.py).
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg

OWNER = ("astguard", "astguard")  # the tables' owner, as scripts/setup makes it
SERVICE = ("astguard_app", "astguard-app")  # the service's login role (migration 0008)


class ClusterError(RuntimeError):
    pass


def bindir() -> Path:
    """The newest PostgreSQL installed on this machine."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"),
                   key=lambda p: int(Path(p).parent.parent.name))
    if not found:
        raise ClusterError("no PostgreSQL binaries under /usr/lib/postgresql/*/bin")
    return Path(found[-1]).parent


@dataclass
class Node:
    name: str
    port: int
    data: Path
    role: str  # "primary", "standby", or "down"

    @property
    def log(self) -> Path:
        return self.data.parent / f"{self.name}.log"


@dataclass
class PgCluster:
    host: str = "127.0.0.1"
    ports: tuple[int, int] = (55432, 55433)
    prefix: tuple[str, ...] = ()
    max_connections: int = 40
    base: Path | None = None
    nodes: list[Node] = field(default_factory=list)

    # -- commands -----------------------------------------------------------------------
    def _run(self, argv: list[str], *, timeout: float = 60.0, check: bool = True
             ) -> subprocess.CompletedProcess[str]:
        cmd = [*self.prefix, "runuser", "-u", "postgres", "--", *argv]
        out = subprocess.run(cmd, text=True, capture_output=True, timeout=timeout,
                             cwd="/", check=False)
        if check and out.returncode != 0:
            raise ClusterError(f"{' '.join(argv[:2])} failed ({out.returncode}): "
                               f"{out.stderr.strip() or out.stdout.strip()}")
        return out

    def _bin(self, name: str) -> str:
        return str(bindir() / name)

    def _pg_ctl(self, node: Node, *args: str, timeout: float = 60.0, check: bool = True
                ) -> subprocess.CompletedProcess[str]:
        return self._run([self._bin("pg_ctl"), "-D", str(node.data), *args], timeout=timeout,
                         check=check)

    # -- lifecycle ----------------------------------------------------------------------
    def start(self) -> None:
        """initdb the primary, start it, make the roles, then base-backup and start the
        standby. Everything under a fresh temporary folder owned by postgres."""
        self.base = Path(tempfile.mkdtemp(prefix="astguard-pgha-"))
        shutil.chown(self.base, "postgres", "postgres")
        primary = Node("pg-a", self.ports[0], self.base / "pg-a", "primary")
        standby = Node("pg-b", self.ports[1], self.base / "pg-b", "standby")
        self.nodes = [primary, standby]
        self._run([self._bin("initdb"), "-D", str(primary.data), "-U", "postgres",
                   "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8"], timeout=120)
        self._configure(primary)
        with open(primary.data / "pg_hba.conf", "a") as hba:
            hba.write("host all all 0.0.0.0/0 trust\nhost replication all 0.0.0.0/0 trust\n")
        self._pg_ctl(primary, "start", "-w", "-t", "60", "-l", str(primary.log))
        self._psql(primary, f"""
            CREATE ROLE {OWNER[0]} LOGIN CREATEDB PASSWORD '{OWNER[1]}';
            CREATE ROLE astguard_service NOLOGIN;
            CREATE ROLE {SERVICE[0]} LOGIN PASSWORD '{SERVICE[1]}' IN ROLE astguard_service;
            """)
        self._base_backup(primary, standby)

    def _configure(self, node: Node) -> None:
        settings = {
            "listen_addresses": f"'{self.host}'", "port": str(node.port),
            "unix_socket_directories": f"'{node.data.parent}'",
            "max_connections": str(self.max_connections), "wal_level": "replica",
            "max_wal_senders": "5", "wal_keep_size": "'256MB'", "hot_standby": "on",
            "shared_buffers": "'32MB'", "fsync": "on", "synchronous_commit": "on",
            "logging_collector": "off", "log_min_messages": "warning",
        }
        with open(node.data / "postgresql.auto.conf", "a") as conf:
            for key, value in settings.items():
                conf.write(f"{key} = {value}\n")

    def _base_backup(self, source: Node, target: Node) -> None:
        shutil.rmtree(target.data, ignore_errors=True)
        self._run([self._bin("pg_basebackup"), "-D", str(target.data), "-h", self.host,
                   "-p", str(source.port), "-U", "postgres", "-X", "stream", "-R",
                   "--checkpoint=fast"], timeout=120)
        with open(target.data / "postgresql.auto.conf", "a") as conf:
            conf.write(f"port = {target.port}\n")
        self._pg_ctl(target, "start", "-w", "-t", "60", "-l", str(target.log))
        target.role = "standby"
        self._wait_streaming(source)

    def _wait_streaming(self, primary: Node, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._psql(primary, "SELECT count(*) FROM pg_stat_replication "
                                   "WHERE state = 'streaming'").strip() not in ("", "0"):
                return
            time.sleep(0.2)
        raise ClusterError("the standby is not streaming")

    def _psql(self, node: Node, sql: str, *, db: str = "postgres") -> str:
        return self._run([self._bin("psql"), "-h", str(node.data.parent), "-p", str(node.port),
                          "-d", db, "-v", "ON_ERROR_STOP=1", "-qAtX", "-c", sql]).stdout

    # -- what the harness and the tests read --------------------------------------------
    @property
    def primary(self) -> Node | None:
        return next((n for n in self.nodes if n.role == "primary"), None)

    @property
    def standby(self) -> Node | None:
        return next((n for n in self.nodes if n.role == "standby"), None)

    def server_url(self, user: tuple[str, str] = OWNER) -> str:
        """The current primary alone (no database part), for creating databases."""
        node = self.primary
        if node is None:
            raise ClusterError("no primary")
        return f"postgresql://{user[0]}:{user[1]}@{self.host}:{node.port}"

    def url(self, database: str, user: tuple[str, str] = SERVICE) -> str:
        """The URL astguard is given: every node, the read-write one wanted (libpq's and
        asyncpg's target_session_attrs), so it finds a promoted standby by itself."""
        hosts = ",".join(f"{self.host}:{p}" for p in self.ports)
        return (f"postgresql://{user[0]}:{user[1]}@{hosts}/{database}"
                "?target_session_attrs=read-write")

    async def create_database(self, name: str, user: tuple[str, str] = SERVICE) -> str:
        """A fresh database on the primary, migrated by the owner; the multi-host URL of it
        for `user` (the service's role by default)."""
        from lab.database import fresh_database
        made = await fresh_database(self.server_url(), name)
        return self.url(made.rsplit("/", 1)[1], user)

    # -- faults -------------------------------------------------------------------------
    def stop_primary(self, mode: str = "fast") -> Node:
        """Stop the primary (`fast`: clean shutdown; `immediate`: as if it crashed)."""
        node = self.primary
        if node is None:
            raise ClusterError("no primary to stop")
        self._pg_ctl(node, "stop", "-w", "-m", mode, "-t", "60")
        node.role = "down"
        return node

    def promote(self) -> Node:
        node = self.standby
        if node is None:
            raise ClusterError("no standby to promote")
        self._pg_ctl(node, "promote", "-w", "-t", "60")
        node.role = "primary"
        return node

    def failover(self, mode: str = "immediate") -> Node:
        """Stop the primary, promote the standby, then rebuild a standby from the new primary
        in the old one's place, so that the next failover has somewhere to go."""
        old = self.stop_primary(mode)
        new = self.promote()
        self._base_backup(new, old)
        return new

    def restart(self, node: Node | None = None, mode: str = "fast") -> None:
        node = node or self.primary
        if node is None:
            raise ClusterError("nothing to restart")
        self._pg_ctl(node, "restart", "-w", "-m", mode, "-t", "60", "-l", str(node.log))

    def read_only(self, on: bool) -> None:
        """The primary refuses writes (default_transaction_read_only), as a disk-full or an
        operator's safety switch would: astguard must fail closed and spool."""
        node = self.primary
        assert node is not None
        self._psql(node, f"ALTER SYSTEM SET default_transaction_read_only = {'on' if on else 'off'}")
        self._psql(node, "SELECT pg_reload_conf()")
        if on:  # sessions already open keep their value: end them so new ones see it
            self._psql(node, "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                             "WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()")

    @contextlib.asynccontextmanager
    async def exhausted(self, database: str = "postgres"):
        """Every connection slot taken (as a runaway client would), until the block ends."""
        node = self.primary
        assert node is not None
        held: list[asyncpg.Connection] = []
        try:
            while True:
                try:
                    held.append(await asyncpg.connect(
                        host=self.host, port=node.port, user="postgres", database=database,
                        timeout=5))
                except asyncpg.exceptions.TooManyConnectionsError:
                    break
                except asyncpg.PostgresError as exc:  # 53300 on the superuser slots too
                    if exc.sqlstate == "53300":
                        break
                    raise
                if len(held) > self.max_connections + 5:
                    raise ClusterError("connection limit never reached")
            yield len(held)
        finally:
            for conn in held:
                with contextlib.suppress(Exception):
                    await conn.close(timeout=2)

    # -- the end ------------------------------------------------------------------------
    def teardown(self) -> None:
        """Stop both servers whatever their state, and remove every file. Never raises."""
        for node in self.nodes:
            if (node.data / "postmaster.pid").exists():
                with contextlib.suppress(Exception):
                    self._pg_ctl(node, "stop", "-m", "immediate", "-t", "20", check=False,
                                 timeout=30)
        if self.base is not None:
            shutil.rmtree(self.base, ignore_errors=True)
            self.base = None

    def __enter__(self) -> PgCluster:
        try:
            self.start()
        except BaseException:
            self.teardown()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.teardown()


def postgres_available() -> str | None:
    """Why a private cluster cannot run here, or None."""
    if os.geteuid() != 0:
        return "needs root (runs PostgreSQL as the postgres user)"
    try:
        bindir()
    except ClusterError as exc:
        return str(exc)
    if shutil.which("runuser") is None:
        return "runuser missing"
    return None
