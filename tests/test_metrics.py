"""The Prometheus exposition."""

from __future__ import annotations

from astguard.metrics import Metrics


def test_counters_histogram_and_gauges():
    m = Metrics()
    m.decision("allow", "ari", [], 0.0015)
    m.decision("deny", "ari", [("OUTSIDE_CALL_DAYS", "deny")], 0.004)
    m.decision("deny", "agi", [("GUARD_UNAVAILABLE", "deny")], 3.0)
    m.db_errors += 1
    m.gauges["astguard_spool_depth"] = lambda: 7
    m.gauges["astguard_broken"] = lambda: 1 / 0
    text = m.render()
    assert 'astguard_decisions_total{decision="deny",source="ari"} 1' in text
    assert 'astguard_decision_reasons_total{code="OUTSIDE_CALL_DAYS",effect="deny"} 1' in text
    assert 'astguard_decision_seconds_bucket{le="0.002"} 1' in text
    assert 'astguard_decision_seconds_bucket{le="0.005"} 2' in text
    assert 'astguard_decision_seconds_bucket{le="2.5"} 2' in text
    assert 'astguard_decision_seconds_bucket{le="+Inf"} 3' in text
    assert "astguard_decision_seconds_count 3" in text
    assert "astguard_database_errors_total 1" in text
    assert "astguard_spool_depth 7" in text and "astguard_broken" not in text
