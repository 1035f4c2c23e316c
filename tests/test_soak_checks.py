"""The soak's own arithmetic (bench/soak_checks.py, bench/soak_calls.py): what it counts as a
violation, on samples and SIPp logs made up for the purpose."""

from __future__ import annotations

from bench.soak_calls import Population, invite_statuses
from bench.soak_checks import no_leak


def sample(t, gen, rss, tasks, followed=0, node="b"):
    return {"t": t, "node": node, "generation": gen, "rss_kb": rss, "tasks": tasks,
            "followed": followed, "inbound_followed": 0, "unsaved": 0}


def test_no_leak_compares_the_last_process_from_its_first_serving_sample():
    samples = [sample(0, 1, 40_000, 6), sample(5, 1, 41_000, 9),
               sample(10, 2, 18_000, None),  # restarted, still importing: not a baseline
               sample(15, 2, 47_000, 7), sample(20, 2, 49_000, 8), sample(25, 2, 48_000, 6)]
    assert no_leak(samples, "b").violations == 0


def test_no_leak_counts_growth_and_channels_still_followed():
    grown = [sample(0, 1, 40_000, 6), sample(5, 1, 60_000, 30), sample(10, 1, 90_000, 40, 3)]
    found = no_leak(grown, "b")
    assert found.violations == 3
    assert any("RSS" in e for e in found.examples)
    assert any("suivis" in e for e in found.examples)


def test_invite_statuses_reads_only_the_invite_answers():
    log = """----------------------------------------------- 2026-11-26 12:00:00.000000
UDP message received [300] bytes :

SIP/2.0 100 Trying
CSeq: 1 INVITE

----------------------------------------------- 2026-11-26 12:00:00.100000
UDP message received [300] bytes :

SIP/2.0 403 Forbidden
CSeq: 1 INVITE

----------------------------------------------- 2026-11-26 12:00:00.200000
UDP message received [300] bytes :

SIP/2.0 200 OK
CSeq: 3 BYE
"""
    assert invite_statuses(log) == [100, 403]


def test_the_population_is_drawn_from_its_seed():
    a, b = Population(7), Population(7)
    assert [a.draw()[0].national for _ in range(50)] == [b.draw()[0].national for _ in range(50)]
