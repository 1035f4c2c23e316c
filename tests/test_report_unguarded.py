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
from astguard.surfaces.report_render import inspection_csv, inspection_html

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
    assert clean["summary"]["unguarded_calls"] == 0 and clean["unguarded_calls"] == []
    store = UnguardedStore(db)
    await store.record(caught("0612345678", "hung_up"))
    await store.record(caught("112", "emergency_kept", emergency=True))
    report = await reports.inspection("ug-acme", *PERIOD)
    assert report["summary"]["unguarded_calls"] == 1  # the emergency call is listed, not counted
    assert [u["dialled"] for u in report["unguarded_calls"]] == ["0612345678", "112"]
    html = inspection_html(report)
    assert "Appels sortis sans décision astguard (toute la plateforme) :</b> <span class=bad>1" \
        in html
    assert "0612345678" in html and "raccroché" in html
    text = inspection_csv(report)
    assert "appels sans décision;1" in text and "0612345678" in text
