"""The Prometheus exposition (prometheus_client): the metric names dashboards use, HELP lines,
process metrics, build info, and one registry per instance."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from astguard import __version__
from astguard.metrics import Metrics
from astguard.policy import RULEBOOK_VERSION


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def test_counters_histogram_and_gauges():
    m = Metrics()
    m.decision("allow", "ari", [], 0.0015)
    m.decision("deny", "ari", [("OUTSIDE_CALL_DAYS", "deny")], 0.004)
    m.decision("deny", "agi", [("GUARD_UNAVAILABLE", "deny")], 3.0)
    m.db_error()
    m.gauges["astguard_spool_depth"] = lambda: 7
    m.gauges["astguard_broken"] = lambda: 1 / 0
    text = m.render()
    got = _samples(text)
    assert got[("astguard_decisions_total", (("decision", "deny"), ("source", "ari")))] == 1
    assert got[("astguard_decision_reasons_total",
                (("code", "OUTSIDE_CALL_DAYS"), ("effect", "deny")))] == 1
    buckets = {dict(labels)["le"]: v for (name, labels), v in got.items()
               if name == "astguard_decision_seconds_bucket"}
    assert (buckets["0.002"], buckets["0.005"], buckets["2.5"], buckets["+Inf"]) == (1, 2, 2, 3)
    assert got[("astguard_decision_seconds_count", ())] == 3
    assert got[("astguard_database_errors_total", ())] == 1
    assert got[("astguard_spool_depth", ())] == 7 and "astguard_broken" not in text


def test_every_other_counter_keeps_its_name():
    m = Metrics()
    m.spool_failure()
    m.network_alerts(2)
    m.network_alerts(0)
    m.agi_refusal("peer")
    m.task_restart("ari")
    m.unguarded_call("carrier", "hung_up")
    m.trunk_check("valid")
    got = _samples(m.render())
    assert got[("astguard_spool_write_failures_total", ())] == 1
    assert got[("astguard_caller_id_blocked_by_network_total", ())] == 2
    assert got[("astguard_agi_refused_total", (("reason", "peer"),))] == 1
    assert got[("astguard_task_restarts_total", (("task", "ari"),))] == 1
    assert got[("astguard_unguarded_calls_total",
                (("action", "hung_up"), ("endpoint", "carrier")))] == 1
    assert got[("astguard_trunk_channels_checked_total", (("result", "valid"),))] == 1
    assert m.value("astguard_trunk_channels_checked_total", result="valid") == 1
    assert m.value("astguard_trunk_channels_checked_total", result="invalid") == 0


def test_help_lines_process_metrics_and_build_info():
    m = Metrics()
    m.decision("allow", "ari", [], 0.001)
    text = m.render()
    families = {f.name: f for f in text_string_to_metric_families(text)}
    # Every astguard family says what it counts, in French.
    for name in ("astguard_decisions", "astguard_decision_seconds",
                 "astguard_database_errors", "astguard_unguarded_calls"):
        assert families[name].documentation, name
    assert families["astguard_decisions"].documentation.startswith("Décisions")
    assert families["process_resident_memory_bytes"].samples[0].value > 0
    assert "process_cpu_seconds" in families
    info = families["astguard_build_info"].samples[0]
    assert info.labels == {"version": __version__, "rulebook_version": RULEBOOK_VERSION}
    assert info.value == 1


def test_each_instance_has_its_own_registry():
    a, b = Metrics(), Metrics()
    a.decision("deny", "ari", [("OUTSIDE_CALL_DAYS", "deny")], 0.01)
    assert a.value("astguard_decisions_total", decision="deny", source="ari") == 1
    assert b.value("astguard_decisions_total", decision="deny", source="ari") == 0
    assert a.registry is not b.registry


def test_exposition_content_type_is_prometheus_text():
    body, content_type = Metrics().exposition()
    assert content_type.startswith("text/plain; version=")
    assert b"# HELP astguard_decisions_total" in body
