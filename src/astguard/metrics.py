"""Prometheus metrics (prometheus_client), one registry per service instance.

Counters and a histogram are updated on the decision path; gauges registered in `gauges` are
read at scrape time. The registry also carries the process metrics (memory, CPU, open files)
and `astguard_build_info` (version and rule book). Each `Metrics` has its own registry, never
the library's global one, so that two services (or two tests) in one process never mix their
counts. bench/metrics.py measures what an update costs the decision path (docs/benchmarks.md).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    Info,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from astguard import __version__
from astguard.policy import RULEBOOK_VERSION

_LATENCY_BUCKETS = (0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)

# Gauges the service registers, with their help text (others get a generic one).
_GAUGE_HELP = {
    "astguard_ari_connected": "1 si le websocket ARI est connecté (sinon le dialplan refuse).",
    "astguard_watchdog_connected": "1 si le websocket ARI du chien de garde est connecté.",
    "astguard_spool_depth": "Décisions en attente d'écriture dans la file locale.",
    "astguard_spool_kept_aside": "Lignes de la file locale mises de côté (illisibles).",
    "astguard_agi_connections": "Connexions FastAGI ouvertes.",
}


class _ScrapeGauges(Collector):
    """The gauges read at scrape time; one that cannot be read is left out, not a failed
    scrape."""

    def __init__(self, gauges: dict[str, Callable[[], float]]) -> None:
        self._gauges = gauges

    def collect(self) -> Iterator[GaugeMetricFamily]:
        for name, read in sorted(self._gauges.items()):
            try:
                value = float(read())
            except Exception:
                continue
            yield GaugeMetricFamily(name, _GAUGE_HELP.get(name, "Jauge lue à la collecte."),
                                    value=value)


class Metrics:
    def __init__(self) -> None:
        self.registry = r = CollectorRegistry()
        self._decisions = Counter(
            "astguard_decisions_total", "Décisions par verdict et par source.",
            ["decision", "source"], registry=r)
        self._reasons = Counter(
            "astguard_decision_reasons_total", "Codes motifs des décisions, par effet.",
            ["code", "effect"], registry=r)
        self._latency = Histogram(
            "astguard_decision_seconds", "Temps pour décider et enregistrer un appel.",
            buckets=_LATENCY_BUCKETS, registry=r)
        self._db_errors = Counter(
            "astguard_database_errors_total", "Fois où PostgreSQL n'a pas pu servir.",
            registry=r)
        self._spool_failures = Counter(
            "astguard_spool_write_failures_total",
            "Preuves que la file locale n'a pas pu écrire (disque plein) : appels refusés.",
            registry=r)
        self._network_alerts = Counter(
            "astguard_caller_id_blocked_by_network_total",
            "Alertes CALL_BLOCKED_BY_NETWORK levées.", registry=r)
        self._agi_refused = Counter(
            "astguard_agi_refused_total",
            "Connexions ou requêtes FastAGI refusées (pair non autorisé, trop de connexions, "
            "canal qui n'est pas celui de l'appel).", ["reason"], registry=r)
        self._task_restarts = Counter(
            "astguard_task_restarts_total",
            "Tâches de fond (ari, spool, purge) tombées ou terminées, puis relancées.",
            ["task"], registry=r)
        self._unguarded = Counter(
            "astguard_unguarded_calls_total",
            "Canaux de trunk sans jeton astguard valide, par point d'accès et par action du "
            "chien de garde.", ["endpoint", "action"], registry=r)
        self._trunk_checks = Counter(
            "astguard_trunk_channels_checked_total",
            "Canaux de trunk contrôlés par le chien de garde, par résultat.", ["result"],
            registry=r)
        Info("astguard_build", "Version d'astguard et du référentiel de règles appliqué.",
             registry=r).info({"version": __version__, "rulebook_version": RULEBOOK_VERSION})
        ProcessCollector(registry=r)
        self.gauges: dict[str, Callable[[], float]] = {}
        r.register(_ScrapeGauges(self.gauges))
        # The decision path's labelled children, kept here: prometheus_client's `labels()`
        # costs more than the increment itself (bench/metrics.py). Few label sets exist
        # (verdict x source, code x effect).
        self._children: dict[tuple[str, ...], Any] = {}

    # Updates --------------------------------------------------------------------------------

    def decision(self, decision: str, source: str, reasons: list[tuple[str, str]],
                 seconds: float) -> None:
        children = self._children
        key = ("d", decision, source)
        child = children.get(key)
        if child is None:
            child = children[key] = self._decisions.labels(decision, source)
        child.inc()
        for code, effect in reasons:
            key = ("r", code, effect)
            child = children.get(key)
            if child is None:
                child = children[key] = self._reasons.labels(code, effect)
            child.inc()
        self._latency.observe(seconds)

    def db_error(self) -> None:
        self._db_errors.inc()

    def spool_failure(self) -> None:
        self._spool_failures.inc()

    def network_alerts(self, raised: int) -> None:
        if raised:
            self._network_alerts.inc(raised)

    def agi_refusal(self, reason: str) -> None:
        self._agi_refused.labels(reason).inc()

    def task_restart(self, task: str) -> None:
        self._task_restarts.labels(task).inc()

    def unguarded_call(self, endpoint: str, action: str) -> None:
        self._unguarded.labels(endpoint, action).inc()

    def trunk_check(self, result: str) -> None:
        self._trunk_checks.labels(result).inc()

    # Reads ----------------------------------------------------------------------------------

    def value(self, name: str, **labels: str) -> float:
        """A sample's current value (0 if never counted): for tests and the CLI."""
        found = self.registry.get_sample_value(name, labels)
        return 0.0 if found is None else found

    def exposition(self) -> tuple[bytes, str]:
        """The scrape's body and content type (Prometheus text format 0.0.4)."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST

    def render(self) -> str:
        return generate_latest(self.registry).decode()
