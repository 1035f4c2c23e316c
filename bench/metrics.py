"""What the decision path's metric updates cost with prometheus_client (issue 13, item 9).

One decision updates the metrics once (`Metrics.decision`: the verdict counter, one counter per
reason code, the latency histogram). This compares, in one run and interleaved (rounds
alternate), the prometheus_client implementation with the hand-written one it replaced (plain
`collections.Counter`s and a bisect into the buckets, copied here as it was), on the same
sequence of realistic updates: 3 sources, allow or deny, 0 to 2 reason codes, latencies from
1 ms to 3 s. It also times the pure policy (`policy.decide`) on one call, for scale, and a
scrape (`render`). No database, no Asterisk.

    .venv/bin/python -m bench.metrics [--updates 20000] [--rounds 10]
"""

from __future__ import annotations

import argparse
import bisect
import datetime as dt
import json
import platform
import random
import statistics
import time
from collections import Counter
from pathlib import Path

from astguard.metrics import Metrics
from astguard.policy import CallRequest, Campaign, DialMode, Facts, Purpose, RuleSettings, decide
from astguard.settings import DEFAULT_EMERGENCY

RESULTS = Path(__file__).resolve().parent / "results"
_BUCKETS = (0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class HandWritten:
    """The in-process counters astguard used before prometheus_client (metrics.py of
    2026-11-26, update path only)."""

    def __init__(self) -> None:
        self.decisions: Counter[tuple[str, str]] = Counter()
        self.reasons: Counter[tuple[str, str]] = Counter()
        self._buckets = [0] * (len(_BUCKETS) + 1)
        self._latency_sum = 0.0
        self._latency_count = 0

    def decision(self, decision: str, source: str, reasons: list[tuple[str, str]],
                 seconds: float) -> None:
        self.decisions[(decision, source)] += 1
        for code, effect in reasons:
            self.reasons[(code, effect)] += 1
        self._buckets[bisect.bisect_left(_BUCKETS, seconds)] += 1
        self._latency_sum += seconds
        self._latency_count += 1


def updates(n: int) -> list[tuple[str, str, list[tuple[str, str]], float]]:
    rng = random.Random(13)
    codes = ["OUTSIDE_CALL_WINDOW", "NO_CONSENT", "FREQUENCY_CAP", "PUBLIC_HOLIDAY"]
    out = []
    for _ in range(n):
        deny = rng.random() < 0.4
        reasons = [(c, "deny") for c in rng.sample(codes, rng.randint(1, 2))] if deny else []
        out.append(("deny" if deny else "allow", rng.choice(["ari", "agi", "api"]), reasons,
                    10 ** rng.uniform(-3, 0.5)))
    return out


def per_update_ns(sink, work) -> float:
    start = time.perf_counter_ns()
    for decision, source, reasons, seconds in work:
        sink.decision(decision, source, reasons, seconds)
    return (time.perf_counter_ns() - start) / len(work)


def decide_us(samples: int) -> float:
    rules = RuleSettings(emergency_numbers=frozenset(DEFAULT_EMERGENCY))
    campaign = Campaign(name="bench", principal="acme", purpose=Purpose.SERVICE,
                        dial_mode=DialMode.MANUAL, caller_id="+33162123456")
    call = CallRequest("0612345678", "ari", campaign_name="bench")
    facts = Facts(campaign, "bench")
    now = dt.datetime(2026, 11, 27, 10, 0, tzinfo=dt.UTC)
    times = []
    for _ in range(samples):
        start = time.perf_counter_ns()
        decide(call, facts, now, rules)
        times.append(time.perf_counter_ns() - start)
    return statistics.median(times) / 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    work = updates(args.updates)
    new, old = Metrics(), HandWritten()
    per_update_ns(new, work[:1000]), per_update_ns(old, work[:1000])  # warm up
    got: dict[str, list[float]] = {"prometheus_client": [], "hand-written": []}
    for _ in range(args.rounds):
        got["prometheus_client"].append(per_update_ns(new, work))
        got["hand-written"].append(per_update_ns(old, work))
    scrapes = []
    for _ in range(50):
        start = time.perf_counter_ns()
        new.render()
        scrapes.append(time.perf_counter_ns() - start)
    result = {
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(), "updates": args.updates, "rounds": args.rounds,
        "per_decision_update_ns_median": {k: statistics.median(v) for k, v in got.items()},
        "per_decision_update_ns_max_round": {k: max(v) for k, v in got.items()},
        "policy_decide_us_median": decide_us(2000),
        "scrape_ms_median": statistics.median(scrapes) / 1e6,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "metrics.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
