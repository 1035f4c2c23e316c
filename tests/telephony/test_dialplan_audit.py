"""Which contexts reach a trunk without astguard: table-driven on small dialplans, then the
shipped dialplan and the lab's configuration."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from astguard.settings import DEFAULT_EMERGENCY
from astguard.telephony.dialplan_audit import audit_dialplan, endpoint_contexts, read_files

ROOT = Path(__file__).resolve().parents[2]
TRUNKS = frozenset({"carrier"})
EMERGENCY = frozenset(DEFAULT_EMERGENCY)


def contexts_found(text: str, endpoints: dict | None = None) -> list[str]:
    found = audit_dialplan([("extensions.conf", text)], TRUNKS, emergency_numbers=EMERGENCY,
                           endpoint_contexts=endpoints)
    return [f.context for f in found]


@pytest.mark.parametrize(("text", "expected"), [
    # Straight to the trunk.
    ("[out]\nexten => _X.,1,Dial(PJSIP/${EXTEN}@carrier,30)\n", ["out"]),
    ("[out]\nexten => _X.,1,NoOp()\n same => n,Dial(PJSIP/carrier/sip:${EXTEN}@1.2.3.4)\n",
     ["out"]),
    # Another endpoint is not a trunk; a longer name is another endpoint.
    ("[out]\nexten => _X.,1,Dial(PJSIP/desk@desk-phone)\n"
     " same => n,Dial(PJSIP/${EXTEN}@carrier-backup)\n", []),
    # The pre-dial hook, Stasis or FastAGI before the Dial: guarded.
    ("[out]\nexten => _X.,1,Gosub(astguard-predial,s,1(${EXTEN}))\n"
     " same => n,Dial(PJSIP/${EXTEN}@carrier,30)\n", []),
    ("[out]\nexten => _X.,1,Stasis(astguard,outbound,${EXTEN})\n"
     " same => n,GotoIf($[\"${V}\" = \"allow\"]?trunk,${EXTEN},1)\n"
     "[trunk]\nexten => _X.,1,Dial(PJSIP/${EXTEN}@carrier)\n", []),
    # The guard after the Dial does not count.
    ("[out]\nexten => _X.,1,Dial(PJSIP/${EXTEN}@carrier,30)\n"
     " same => n,AGI(agi://127.0.0.1:4573/outbound,${EXTEN})\n", ["out"]),
    # A jump before the guard, or an include, leads to unguarded code: the entry is reported.
    ("[agents]\ninclude => trunk\n[trunk]\nexten => _X.,1,Dial(PJSIP/${EXTEN}@carrier)\n",
     ["agents", "trunk"]),
    ("[agents]\nexten => _X.,1,Goto(trunk,${EXTEN},1)\n"
     "[trunk]\nexten => _X.,1,Dial(PJSIP/${EXTEN}@carrier)\n", ["agents", "trunk"]),
    # Emergency extensions never go through astguard (R-A).
    ("[agents]\nexten => 112,1,Dial(PJSIP/112@carrier)\n", []),
    # Comments and templates.
    ("[out](!)\n; exten => _X.,1,Dial(PJSIP/x@carrier)\nexten => s,1,NoOp()\n", []),
])
def test_contexts_that_reach_the_trunk(text, expected):
    assert sorted(contexts_found(text)) == sorted(expected)


def test_a_post_verdict_context_is_reported_only_if_a_phone_enters_it():
    text = ("[out]\nexten => _X.,1,Stasis(astguard,outbound,${EXTEN})\n"
            " same => n,Goto(trunk,${EXTEN},1)\n"
            "[trunk]\nexten => _X.,1,Dial(PJSIP/${EXTEN}@carrier)\n")
    assert contexts_found(text) == []
    assert contexts_found(text, {"trunk": ["bad-phone"]}) == ["trunk"]


def test_the_shipped_dialplan_and_the_lab():
    texts = read_files([ROOT / "docker/lab/asterisk/extensions.conf",
                        ROOT / "src/astguard/data/asterisk/astguard.conf"])
    endpoints = endpoint_contexts((ROOT / "docker/lab/asterisk/pjsip.conf").read_text())
    assert endpoints["astguard-agents"][:2] == ["agent1", "agent2"]
    found = {f.context: f for f in audit_dialplan(
        texts, frozenset({"carrier", "carrier-ringing"}), emergency_numbers=EMERGENCY,
        endpoint_contexts=endpoints)}
    # astguard's own contexts and the pre-dial hook are clean; the lab's deliberate holes
    # (the benchmark baseline, the unguarded test context, inbound calls routed to a desk
    # through the carrier endpoint) are all named.
    assert set(found) == {"plain-agents", "lab-unguarded", "astguard-inbound"}
    assert found["plain-agents"].entered_by == ("plain-agent",)
    assert found["lab-unguarded"].entered_by == ()
    assert found["astguard-inbound"].path == ("astguard-inbound", "astguard-inbound-route")
    assert "extensions.conf:" in found["plain-agents"].where


def test_cli_needs_no_database_and_exits_1_on_findings(tmp_path):
    conf = tmp_path / "extensions.conf"
    conf.write_text("#include other.conf\n[ok]\nexten => s,1,NoOp()\n")
    (tmp_path / "other.conf").write_text("[leak]\nexten => _X.,1,Dial(PJSIP/${EXTEN}@carrier)\n")
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run([sys.executable, "-m", "astguard", "audit", "dialplan", str(conf),
                           "--trunk", "carrier"], env=env, text=True, capture_output=True,
                          timeout=60)
    assert done.returncode == 1 and "[leak]" in done.stdout, done.stderr
    clean = tmp_path / "clean.conf"
    clean.write_text("[ok]\nexten => s,1,NoOp()\n")
    done = subprocess.run([sys.executable, "-m", "astguard", "audit", "dialplan", str(clean),
                           "--trunk", "carrier"], env=env, text=True, capture_output=True,
                          timeout=60)
    assert done.returncode == 0 and "aucun contexte" in done.stdout
    done = subprocess.run([sys.executable, "-m", "astguard", "audit", "dialplan", str(clean)],
                          env=env, text=True, capture_output=True, timeout=60)
    assert done.returncode == 2 and "--trunk" in done.stderr
