"""The inspection report shows the calls that reached a trunk without a decision (the
watchdog's rows, whole platform): the count, which must be 0, and the list."""

from __future__ import annotations

import datetime as dt

import pytest

from astguard.policy import RuleSettings
from astguard.settings import DEFAULT_EMERGENCY
from astguard.store.directory import Directory
from astguard.store.reports import Reports
from astguard.store.unguarded import UnguardedCall, UnguardedStore
from astguard.surfaces.report_render import render_csv, render_html

pytestmark = pytest.mark.db

RULES = RuleSettings(emergency_numbers=frozenset(DEFAULT_EMERGENCY))
DAY = dt.datetime(2031, 3, 3, 9, 0, tzinfo=dt.UTC)  # a day no other test writes to
PERIOD = (DAY - dt.timedelta(hours=9), DAY + dt.timedelta(hours=15))


def caught(number: str, action: str, emergency: bool = False) -> UnguardedCall:
    return UnguardedCall(
        channel_id=f"c-{number}", channel="PJSIP/carrier-0000002a", endpoint="carrier",
        dialled=number, number_e164=None, caller=None,
        originator="Local/x@lab-unguarded-00000001;2", linkedid=None, token_decision_id=None,
        problem="aucun jeton astguard", mode="hangup", action=action, emergency=emergency,
        created_at=DAY, detected_at=DAY, hung_up_at=DAY + dt.timedelta(milliseconds=3),
        node="t")


async def test_the_report_counts_and_lists_unguarded_calls(db):
    await Directory(db).add_principal("ug-acme", "ACME")
    reports = Reports(db, RULES.opt_in_from)
    clean = await reports.inspection("ug-acme", *PERIOD)
    assert clean.summary.unguarded_calls == 0 and clean.unguarded_calls == ()
    store = UnguardedStore(db)
    await store.record(caught("0612345678", "hung_up"))
    await store.record(caught("112", "emergency_kept", emergency=True))
    async with reports.open_inspection("ug-acme", *PERIOD) as run:
        html, text = await render_html(run), await render_csv(run)
    report = await reports.inspection("ug-acme", *PERIOD)
    assert report.summary.unguarded_calls == 1  # the emergency call is listed, not counted
    assert [u["dialled"] for u in report.as_dict()["unguarded_calls"]] == ["0612345678", "112"]
    assert "Appels sortis sans décision astguard (toute la plateforme) :</b> <span class=bad>1" \
        in html
    assert "0612345678" in html and "raccroché" in html
    assert "appels sans décision;1" in text and "0612345678" in text


def test_the_cli_report_adds_the_reconciliation_with_asterisk_records(database_url, tmp_path):
    import json
    import os
    import subprocess
    import sys

    cdr = tmp_path / "cdr.json"
    cdr.write_text(json.dumps({
        "start": (DAY + dt.timedelta(hours=1)).timestamp(), "answer": 0, "end": 0,
        "channel": "Local/0612345000@rogue-00000001;2", "dstchannel": "PJSIP/carrier-00000009",
        "src": "", "dst": "0612345000", "dcontext": "rogue", "lastapp": "Dial",
        "lastdata": "PJSIP/0612345000@carrier,30", "disposition": "ANSWERED",
        "uniqueid": "9.9", "linkedid": "9.9", "sequence": 1, "astguard_token": ""}) + "\n")
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": os.pathsep.join(sys.path),
           "ASTGUARD_DATABASE_URL": database_url, "ASTGUARD_SPOOL_DIR": str(tmp_path),
           "ASTGUARD_CALL_TOKEN_SECRET": "s" * 40, "ASTGUARD_TRUNK_ENDPOINTS": "carrier",
           "ASTGUARD_CDR_FILE": str(cdr)}

    def report(fmt: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "astguard", "report", "--principal", "ug-acme", "--from",
             "2031-03-03", "--to", "2031-03-03", "--format", fmt], env=env, text=True,
            capture_output=True, timeout=60)
        assert done.returncode == 0, done.stderr
        return done.stdout

    added = subprocess.run([sys.executable, "-m", "astguard", "principal", "add", "ug-acme",
                            "--name", "ACME"], env=env, text=True, capture_output=True,
                           timeout=60)
    assert added.returncode == 0, added.stderr
    data = json.loads(report("json"))
    reconciled = data["call_reconciliation"]
    assert reconciled["unguarded_count"] == 1
    assert reconciled["unguarded"][0]["number"] == "0612345000"
    assert "Rapprochement avec les enregistrements d'Asterisk : 1 appel(s) vers l'opérateur, " \
           "1 sans décision" in report("csv")


def test_astguard_spool_flush_writes_a_spooled_watchdog_row(database_url, tmp_path):
    """The service's spool knows the watchdog's rows (written during a PostgreSQL outage)."""
    import json
    import os
    import subprocess
    import sys

    from astguard.store.unguarded import as_row

    call = caught("0612345999", "hung_up")
    spool = tmp_path / "spool"
    spool.mkdir()
    (spool / "evidence.jsonl").write_text(
        json.dumps({"kind": "unguarded_call", "row": as_row(call)}) + "\n")
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": os.pathsep.join(sys.path),
           "ASTGUARD_DATABASE_URL": database_url, "ASTGUARD_SPOOL_DIR": str(spool)}
    done = subprocess.run([sys.executable, "-m", "astguard", "spool", "flush"], env=env,
                          text=True, capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr

    async def stored() -> list:
        import asyncpg
        conn = await asyncpg.connect(database_url)
        try:
            return await conn.fetch("SELECT action FROM unguarded_calls WHERE id = $1::uuid",
                                    call.id)
        finally:
            await conn.close()

    import asyncio
    assert [r["action"] for r in asyncio.run(stored())] == ["hung_up"]
    assert not any((spool / "rejected").glob("*"))  # nothing kept aside
