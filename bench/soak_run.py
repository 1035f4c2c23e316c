"""The soak itself, run inside the agents' host (bench/soak.py made the namespaces): start the
database cluster, the carrier and both nodes, dial at a steady rate while the fault schedule
runs, drain, then count the invariants."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import random
import subprocess
import sys
import threading
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import asyncpg

from bench import soak_checks as checks
from bench.soak_calls import REFUSAL_KEY, Dialler, Population
from bench.soak_lab import CARRIER_PORT, REPO, Node
from lab.netns import Network
from lab.pg_cluster import OWNER, PgCluster
from lab.sipp import _UAS_SCENARIO

CLOCK_ORIGIN = dt.datetime.fromisoformat("2026-11-27T15:00:00+01:00")  # a Friday afternoon
CYCLE = 150.0
AGENTS = ("agent1", "agent2", "agi-agent1")  # two over Stasis, one over FastAGI
PRINCIPAL, CAMPAIGN, CALLER_ID = "soak-acme", "soak-prospect", "0162123456"
SYSTEMD_STOP_TIMEOUT = 90.0


def say(text: str) -> None:
    print(f"[soak {time.strftime('%H:%M:%S')}] {text}", flush=True)


@dataclass
class Fault:
    name: str  # French, for the report
    at: float  # seconds into the cycle
    run: Callable[[], str | None]


@dataclass
class Injected:
    name: str
    start: float
    end: float
    detail: str


class Soak:
    def __init__(self, args: argparse.Namespace, net: Network, workdir: Path,
                 rootfs: Path) -> None:
        self.args = args
        self.net = net
        self.workdir = workdir
        self.rootfs = rootfs
        self.t0 = time.time()
        self.cluster = PgCluster(host=net.address("db"), ports=(5432, 5433),
                                 prefix=net.exec_prefix("db"), max_connections=60)
        self.population = Population(args.seed)
        self.dialler = Dialler(workdir / "agents", net.address("sip"))
        self.nodes: dict[str, Node] = {}
        self.carrier: subprocess.Popen[bytes] | None = None
        self.injected: list[Injected] = []
        self.samples: list[dict[str, Any]] = []
        self.stop_sampling = threading.Event()
        self.service_url = self.owner_url = ""

    # -- set-up ---------------------------------------------------------------------------
    def _setup(self) -> None:
        say("base de données : primaire et secours (pg_basebackup)")
        self.cluster.start()
        self.service_url = asyncio.run(self.cluster.create_database("astguard_soak"))
        database = self.service_url.rsplit("/", 1)[1].split("?")[0]
        self.owner_url = self.cluster.url(database, OWNER)
        asyncio.run(self._seed())
        say("opérateur SIPp")
        carrier_dir = self.workdir / "carrier"
        carrier_dir.mkdir(parents=True, exist_ok=True)
        (carrier_dir / "carrier.xml").write_text(_UAS_SCENARIO)
        self.carrier = subprocess.Popen(
            ["sipp", "-sf", str(carrier_dir / "carrier.xml"), "-i", self.net.address("sip"),
             "-p", str(CARRIER_PORT), "-mp", "40000", "-nostdin", "-trace_msg",
             "-message_file", str(self.carrier_log)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for name in ("a", "b"):
            node = Node(name, self.net, self.workdir / f"node-{name}", self.rootfs,
                        self.service_url, CLOCK_ORIGIN, self.t0, via_proxy=(name == "a"),
                        spool_tmpfs_kb=1024 if name == "a" else 0)
            self.nodes[name] = node
            say(f"nœud {name} : Asterisk, astguard")
            node.start_asterisk(self.net.address("sip"))
            if node.via_proxy:
                node.start_proxy()
            node.prepare_spool()
            node.start_guard()

    @property
    def carrier_log(self) -> Path:
        return self.workdir / "carrier" / "carrier-messages.log"

    async def _seed(self) -> None:
        conn = await asyncpg.connect(self.owner_url, timeout=10)
        try:
            await conn.execute("INSERT INTO principals (id, name) VALUES ($1, 'ACME Soak')",
                               PRINCIPAL)
            await conn.execute(
                """INSERT INTO caller_ids (number, principal, kind, mandate_ref, valid_from)
                   VALUES ('+33162123456', $1, 'npv', 'mandate-soak', '2020-01-01')""",
                PRINCIPAL)
        finally:
            await conn.close()
        from astguard.store.database import Database
        from astguard.store.directory import Directory
        db = Database(self.owner_url, timeout=10)
        try:
            directory = Directory(db)
            await directory.set_campaign(CAMPAIGN, PRINCIPAL, "prospecting", "manual",
                                         CALLER_ID, scope="energie")
            for agent in AGENTS:
                await directory.set_endpoint(agent, CAMPAIGN, [], agent)
        finally:
            await db.close()
        conn = await asyncpg.connect(self.owner_url, timeout=10)
        try:
            await conn.executemany(
                """INSERT INTO consents (principal, number_e164, scopes, collected_at, channel,
                                         wording, proof_ref, valid_until)
                   VALUES ($1, $2, '{energie}', '2026-09-01T10:00:00+02:00', 'web', 'v1',
                           'soak-' || $2, '2099-01-01T00:00:00+00:00')""",
                [(PRINCIPAL, c.e164) for c in self.population.consented()])
        finally:
            await conn.close()

    # -- faults -----------------------------------------------------------------------------
    def _schedule(self) -> list[Fault]:
        a, b = self.nodes["a"], self.nodes["b"]

        def failover() -> str:
            new = self.cluster.failover("immediate")
            return f"primaire arrêté (immediate), {new.name} promu, secours reconstruit"

        def pg_restart() -> str:
            self.cluster.restart(mode="fast")
            return "primaire redémarré (fast)"

        def exhaustion() -> str:
            async def hold() -> int:
                async with self.cluster.exhausted() as n:
                    await asyncio.sleep(8)
                    return n
            return f"{asyncio.run(hold())} connexions tenues 8 s"

        def read_only() -> str:
            self.cluster.read_only(True)
            try:
                time.sleep(8)
            finally:
                self.cluster.read_only(False)
            return "default_transaction_read_only 8 s"

        def in_flight(node: Node, timeout: float = 15.0) -> str:
            """Wait (bounded) until the node follows a call, so the fault hits one."""
            deadline = time.time() + timeout
            while time.time() < deadline:
                followed = node.metrics().get("astguard_channels_followed", 0)
                if followed >= 1:
                    return f"{followed:.0f} appel(s) en cours"
                time.sleep(0.2)
            return "aucun appel en cours"

        def kill9() -> str:
            # One call of its own: answered before the kill, its refusal keyed 4 s after the
            # answer, while astguard is down (the dialplan keeps it in AstDB: kept_codes.py).
            keyed = self.population.next_keyed()
            if keyed is not None:
                threading.Thread(target=self.dialler.call, daemon=True, args=(
                    a.name, a.ip, "agent1", keyed, REFUSAL_KEY),
                    kwargs={"dtmf_after_ms": 4000}).start()
            aimed = in_flight(a)
            time.sleep(1.5)  # the keyed call answered
            a.kill_guard()
            time.sleep(5)  # systemd's RestartSec would be 2 s; the refusal is keyed meanwhile
            a.start_guard()
            return (f"kill -9 de l'astguard du nœud A ({aimed}, un refus saisi pendant "
                    "l'arrêt), relancé")

        def ws_cut() -> str:
            aimed = in_flight(a)
            a.cut_websocket()
            return f"websocket ARI du nœud A coupée par le proxy TCP ({aimed})"

        def asterisk_restart() -> str:
            took = b.restart_asterisk()
            return f"Asterisk du nœud B redémarré ({took:.1f} s)"

        def spool_full() -> str:
            filled = a.fill_spool()
            try:
                self.cluster.read_only(True)
                time.sleep(6)
            finally:
                self.cluster.read_only(False)
                a.free_spool()
            return (f"disque du journal du nœud A plein (tmpfs, {filled} octets ajoutés) et base "
                    "en lecture seule 6 s")

        def partition() -> str:
            self.net.partition("b", "db")
            try:
                time.sleep(10)
            finally:
                self.net.heal("b", "db")
            return "nœud B coupé de la base 10 s (paquets perdus)"

        def bad_agi() -> str:
            proc = subprocess.Popen(
                [*self.net.exec_prefix("a"), sys.executable, "-m", "bench.soak_agi_clients",
                 "127.0.0.1:4573", "20", "10", "20"], cwd=REPO, stdout=subprocess.PIPE,
                text=True, env={**os.environ, "PYTHONPATH": str(REPO)})
            threading.Thread(target=proc.wait, daemon=True).start()
            return "20 clients FastAGI muets et 10 lents sur le nœud A pendant 20 s"

        return [Fault("coupure websocket ARI", 10, ws_cut),
                Fault("bascule du primaire", 20, failover),
                Fault("kill -9 astguard", 40, kill9),
                Fault("base en lecture seule", 55, read_only),
                Fault("connexions épuisées", 70, exhaustion),
                Fault("partition nœud B / base", 85, partition),
                Fault("clients FastAGI lents et muets", 100, bad_agi),
                Fault("redémarrage d'Asterisk", 105, asterisk_restart),
                Fault("disque du journal plein", 120, spool_full),
                Fault("redémarrage de PostgreSQL", 135, pg_restart)]

    def _run_faults(self, start: float, end: float) -> None:
        cycle = 0
        while True:
            for fault in self._schedule():
                at = start + cycle * CYCLE + fault.at
                if at >= end:
                    return
                time.sleep(max(0.0, at - time.time()))
                t = time.time()
                try:
                    detail = fault.run() or ""
                except Exception as exc:  # noqa: BLE001 (reported, the soak goes on)
                    detail = f"ÉCHEC de l'injection : {exc}"
                    traceback.print_exc()
                self.injected.append(Injected(fault.name, t, time.time(), detail))
                say(f"panne : {fault.name} — {detail}")
            cycle += 1

    # -- calls ------------------------------------------------------------------------------
    def _dial(self, start: float, end: float) -> None:
        rng = random.Random(self.args.seed)
        interval = 1.0 / self.args.rate
        with ThreadPoolExecutor(max_workers=48) as pool:
            n = 0
            while time.time() < end and n < self.args.max_calls:
                node = self.nodes["a" if n % 2 == 0 else "b"]
                consumer, keyed = self.population.draw()
                agent = "agent1" if keyed else rng.choice(AGENTS)
                pool.submit(self.dialler.call, node.name, node.ip, agent, consumer, keyed,
                            rng.choice((500, 1500, 3000, 6000)))
                n += 1
                time.sleep(max(0.0, start + n * interval - time.time()))

    def _sample(self) -> None:
        while not self.stop_sampling.is_set():
            self._take_sample("charge")
            self.stop_sampling.wait(5)

    def _take_sample(self, phase: str) -> None:
        for node in self.nodes.values():
            m = node.metrics()
            self.samples.append({
                "t": round(time.time() - self.t0, 1), "phase": phase, "node": node.name,
                "generation": node.generations, "rss_kb": node.rss_kb(),
                "tasks": m.get("astguard_asyncio_tasks"),
                "followed": m.get("astguard_channels_followed"),
                "inbound_followed": m.get("astguard_inbound_channels_followed"),
                "unsaved": m.get("astguard_outcomes_unsaved"),
                "spool_depth": m.get("astguard_spool_depth")})

    def _drained(self, timeout: float = 120.0) -> bool:
        from astguard.store.spool import Spool
        deadline = time.time() + timeout
        while time.time() < deadline:
            if all(Spool(n.spool).depth() == 0 for n in self.nodes.values()):
                return True
            time.sleep(1)
        return False

    # -- the run ----------------------------------------------------------------------------
    def run_sync(self) -> int:
        self._setup()
        self._take_sample("repos")
        sampler = threading.Thread(target=self._sample, daemon=True)
        sampler.start()
        start = time.time()
        end = start + self.args.duration
        say(f"appels : {self.args.rate}/s pendant {self.args.duration:.0f} s, deux nœuds")
        dialler = threading.Thread(target=self._dial, args=(start, end))
        dialler.start()
        self._run_faults(start, end)
        dialler.join()
        say(f"{len(self.dialler.records)} appels passés ; vidage des journaux")
        drained = self._drained()
        time.sleep(3)  # the last outcomes
        self.stop_sampling.set()
        sampler.join(10)
        self._take_sample("repos")
        stops = {name: node.stop_guard(SYSTEMD_STOP_TIMEOUT)
                 for name, node in self.nodes.items()}
        return self._report(asyncio.run(self._check(drained, stops)))

    async def _check(self, drained: bool, stops: dict[str, float | None]
                     ) -> list[checks.Invariant]:
        invites = checks.carrier_invites(self.carrier_log)
        logged = [r for node in self.nodes.values() for r in node.log_records()
                  if r.get("decision_id")]
        keyed = [r.consumer.e164 for r in self.dialler.records if r.keyed and r.final == 200]
        stored, self.unrecorded = await checks.decisions_are_stored(self.owner_url, logged)
        out = [await checks.every_invite_was_allowed_before(self.owner_url, invites,
                                                            CLOCK_ORIGIN, self.t0),
               await checks.cap_holds(self.owner_url, invites),
               stored,
               checks.Invariant("journal local non vidé à la fin", 2, 0 if drained else 1),
               await checks.outcomes_are_recorded(self.owner_url),
               await checks.keyed_refusals_are_recorded(self.owner_url, keyed),
               self._audit_verify(),
               checks.Invariant(f"arrêt plus long que le délai de systemd "
                                f"({SYSTEMD_STOP_TIMEOUT:.0f} s)", len(stops),
                                sum(1 for v in stops.values() if v is None),
                                [f"nœud {k} : {v}" for k, v in stops.items()])]
        out += [checks.no_leak(self.samples, name) for name in self.nodes]
        self.invites = invites
        self.stops = stops
        return out

    def _audit_verify(self) -> checks.Invariant:
        proc = subprocess.run([sys.executable, "-m", "astguard", "audit", "verify"],
                              env={**os.environ, "ASTGUARD_CONFIG": os.devnull,
                                   "ASTGUARD_DATABASE_URL": self.service_url,
                                   "PYTHONPATH": str(REPO)},
                              capture_output=True, text=True, timeout=120, check=False)
        return checks.Invariant("astguard audit verify", 1, 0 if proc.returncode == 0 else 1,
                                [(proc.stdout + proc.stderr).strip()[-300:]])

    def _report(self, invariants: list[checks.Invariant]) -> int:
        records = self.dialler.records
        answered = sum(1 for r in records if r.final == 200)
        refused = sum(1 for r in records if r.final and r.final != 200)
        # Codes the dialplan kept in AstDB while astguard was down, taken back (kept_codes.py).
        kept = sum(1 for node in self.nodes.values() for r in node.log_records()
                   if "kept by Asterisk while astguard was away" in str(r.get("msg", "")))
        figures = {
            "durée_s": self.args.duration, "débit_appels_s": self.args.rate,
            "codes_gardés_par_asterisk": kept,
            "appels": len(records), "décrochés": answered, "refusés": refused,
            "sans_réponse_finale": len(records) - answered - refused,
            "invites_opérateur": len(self.invites),
            "refusés_sans_trace_disque_plein": self.unrecorded,
            "arrêts_s": self.stops,
            "pannes": [{"panne": i.name, "début_s": round(i.start - self.t0, 1),
                        "durée_s": round(i.end - i.start, 1), "détail": i.detail}
                       for i in self.injected],
            "invariants": [{"invariant": i.name, "vérifiés": i.checked,
                            "violations": i.violations, "exemples": i.examples}
                           for i in invariants],
            "échantillons": self.samples,
        }
        if self.args.report:
            self.args.report.write_text(json.dumps(figures, ensure_ascii=False, indent=1,
                                                   default=str))
        say(f"appels {len(records)} : {answered} décrochés, {refused} refusés ; "
            f"{len(self.invites)} reçus par l'opérateur ; {kept} code(s) d'agent gardé(s) par "
            "Asterisk pendant un arrêt d'astguard, puis écrit(s)")
        for i in self.injected:
            say(f"  panne {i.name:32} à {i.start - self.t0:6.1f} s : {i.detail}")
        total = 0
        for inv in invariants:
            total += inv.violations
            say(f"  {inv.violations:4d} violation(s) / {inv.checked:5d}  {inv.name}"
                + (f"  ex. {inv.examples[:2]}" if inv.violations else ""))
        say("RÉSULTAT : " + ("0 violation" if total == 0 else f"{total} violation(s)"))
        return 0 if total == 0 else 1

    def teardown(self) -> None:
        self.stop_sampling.set()
        for node in self.nodes.values():
            node.teardown()
        if self.carrier is not None and self.carrier.poll() is None:
            self.carrier.kill()
        self.cluster.teardown()
