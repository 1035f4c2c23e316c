"""Prometheus metrics in the text exposition format, kept in-process (no dependency).

Counters and a histogram are updated on the decision path; gauges are read at scrape time.
"""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Callable

_LATENCY_BUCKETS = (0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class Metrics:
    def __init__(self) -> None:
        self.decisions: Counter[tuple[str, str]] = Counter()  # (decision, source)
        self.reasons: Counter[tuple[str, str]] = Counter()  # (code, effect)
        self.db_errors = 0
        self.spool_failures = 0  # evidence neither PostgreSQL nor the spool could keep
        self.network_alerts = 0
        self.unguarded: Counter[tuple[str, str]] = Counter()  # (trunk endpoint, action)
        self.trunk_checks: Counter[str] = Counter()  # watchdog checks by result
        self.agi_refused: Counter[str] = Counter()  # FastAGI connections closed unserved
        self.task_restarts: Counter[str] = Counter()  # background tasks that crashed
        self._buckets = [0] * (len(_LATENCY_BUCKETS) + 1)
        self._latency_sum = 0.0
        self._latency_count = 0
        self.gauges: dict[str, Callable[[], float]] = {}

    def decision(self, decision: str, source: str, reasons: list[tuple[str, str]],
                 seconds: float) -> None:
        self.decisions[(decision, source)] += 1
        for code, effect in reasons:
            self.reasons[(code, effect)] += 1
        self._buckets[bisect.bisect_left(_LATENCY_BUCKETS, seconds)] += 1
        self._latency_sum += seconds
        self._latency_count += 1

    def render(self) -> str:
        out = [
            "# HELP astguard_decisions_total Decisions by verdict and source.",
            "# TYPE astguard_decisions_total counter",
        ]
        out += [f'astguard_decisions_total{{decision="{d}",source="{_escape(s)}"}} {n}'
                for (d, s), n in sorted(self.decisions.items())]
        out += ["# HELP astguard_decision_reasons_total Reason codes in decisions, by effect.",
                "# TYPE astguard_decision_reasons_total counter"]
        out += [f'astguard_decision_reasons_total{{code="{c}",effect="{e}"}} {n}'
                for (c, e), n in sorted(self.reasons.items())]
        out += ["# HELP astguard_decision_seconds Time to decide and record a call.",
                "# TYPE astguard_decision_seconds histogram"]
        cumulative = 0
        for bound, count in zip(_LATENCY_BUCKETS, self._buckets, strict=False):
            cumulative += count
            out.append(f'astguard_decision_seconds_bucket{{le="{bound}"}} {cumulative}')
        out.append(f'astguard_decision_seconds_bucket{{le="+Inf"}} {self._latency_count}')
        out.append(f"astguard_decision_seconds_sum {self._latency_sum:.6f}")
        out.append(f"astguard_decision_seconds_count {self._latency_count}")
        out += ["# HELP astguard_database_errors_total Times PostgreSQL could not be used.",
                "# TYPE astguard_database_errors_total counter",
                f"astguard_database_errors_total {self.db_errors}",
                "# HELP astguard_spool_write_failures_total Evidence the spool could not write "
                "(full disk): calls refused.",
                "# TYPE astguard_spool_write_failures_total counter",
                f"astguard_spool_write_failures_total {self.spool_failures}",
                "# HELP astguard_caller_id_blocked_by_network_total CALL_BLOCKED_BY_NETWORK "
                "alerts raised.",
                "# TYPE astguard_caller_id_blocked_by_network_total counter",
                f"astguard_caller_id_blocked_by_network_total {self.network_alerts}",
                "# HELP astguard_agi_refused_total FastAGI connections or requests refused "
                "(peer not allowed, too many connections, channel not the call's).",
                "# TYPE astguard_agi_refused_total counter"]
        out += [f'astguard_agi_refused_total{{reason="{r}"}} {n}'
                for r, n in sorted(self.agi_refused.items())]
        out += ["# HELP astguard_task_restarts_total Background tasks (ari, spool, purge) that "
                "crashed or returned and were started again.",
                "# TYPE astguard_task_restarts_total counter"]
        out += [f'astguard_task_restarts_total{{task="{_escape(t)}"}} {n}'
                for t, n in sorted(self.task_restarts.items())]
        out += ["# HELP astguard_unguarded_calls_total Trunk channels without a valid astguard "
                "token, by endpoint and what the watchdog did.",
                "# TYPE astguard_unguarded_calls_total counter"]
        out += [f'astguard_unguarded_calls_total{{endpoint="{_escape(e)}",action="{a}"}} {n}'
                for (e, a), n in sorted(self.unguarded.items())]
        out += ["# HELP astguard_trunk_channels_checked_total Trunk channels the watchdog "
                "checked, by result.",
                "# TYPE astguard_trunk_channels_checked_total counter"]
        out += [f'astguard_trunk_channels_checked_total{{result="{r}"}} {n}'
                for r, n in sorted(self.trunk_checks.items())]
        for name, read in sorted(self.gauges.items()):
            try:
                value = float(read())
            except Exception:  # a gauge that cannot be read is left out, not a failed scrape
                continue
            out += [f"# TYPE {name} gauge", f"{name} {value:g}"]
        return "\n".join(out) + "\n"
