"""Agents' codes the dialplan kept in AstDB while astguard did not answer (issue 14): read
back over AMI, spooled dated from when they were keyed, written once, deleted only once kept."""

from __future__ import annotations

import datetime as dt
import json
import logging
from typing import Any

import pytest

from astguard.app.contacts import ContactService
from astguard.app.gate import Gate
from astguard.clock import PinnedClock, SystemClock
from astguard.errors import InputError
from astguard.policy import CallRequest, RuleSettings
from astguard.settings import DEFAULT_EMERGENCY
from astguard.store.bindings import DecisionBindings
from astguard.store.database import Database
from astguard.store.directory import Directory
from astguard.store.spool import Spool
from astguard.telephony import contract
from astguard.telephony.agi_binding import ChannelBinding
from astguard.telephony.ami import AmiError
from astguard.telephony.fastagi import ContactsAgi, HardenedFastAGI, serve_fastagi
from astguard.telephony.kept_codes import KeptCodeError, KeptCodes, KeptEntry
from tests.conftest import UNREACHABLE_DB, give_consent, hold_number
from tests.telephony.test_fastagi import request
from tests.test_codes_during_outage import play_asterisk

RULES = RuleSettings(emergency_numbers=frozenset(DEFAULT_EMERGENCY))
FRIDAY = dt.datetime(2026, 11, 27, 10, 0, tzinfo=dt.UTC)  # 11:00 Paris
KEYED = FRIDAY + dt.timedelta(minutes=3)
LATER = FRIDAY + dt.timedelta(hours=2)
DECISION = "6f0f3c52-3b0e-4d53-9d1c-6a1d3c0b7e21"


def value(kind: str = "refusal", decision: str = DECISION, endpoint: str = "",
          days: str = "", epoch: int = int(KEYED.timestamp()), version: str = "1") -> str:
    return contract.KEPT_CODE_SEPARATOR.join([version, kind, decision, endpoint, days,
                                              str(epoch)])


class FakeAmi:
    """AMI's DBGetTree and DBDel on a dict, as Asterisk answers them."""

    def __init__(self, kept: dict[str, str], fail_delete: int = 0) -> None:
        self.kept = dict(kept)
        self.fail_delete = fail_delete

    async def messages(self, action: dict[str, str]) -> list[dict[str, Any]]:
        assert action == {"Action": "DBGetTree", "Family": contract.KEPT_CODES_FAMILY}
        events = [{"Event": "DBGetTreeResponse", "Key": f"/{contract.KEPT_CODES_FAMILY}/{k}",
                   "Val": v} for k, v in self.kept.items()]
        return [{"Response": "Success", "EventList": "start"}, *events,
                {"Event": "DBGetTreeComplete", "ListItems": str(len(events))}]

    async def action(self, action: dict[str, str]) -> dict[str, Any]:
        assert action["Action"] == "DBDel" and action["Family"] == contract.KEPT_CODES_FAMILY
        if self.fail_delete:
            self.fail_delete -= 1
            raise AmiError("AMI DBDel: timed out")
        del self.kept[action["Key"]]
        return {"Response": "Success"}


def test_an_in_call_entry_is_a_dtmf_code_for_its_decision_dated_when_keyed():
    code = KeptEntry("1764237780-1764237700.12-refusal", value()).code()
    assert (code.kind, code.decision_id, code.endpoint, code.source, code.days, code.at) == (
        "refusal", DECISION, None, "dtmf", None, KEYED)
    again = KeptEntry("1764237780-1764237700.12-refusal", value()).code()
    other = KeptEntry("1764237781-1764237700.12-refusal", value()).code()
    assert code.id == again.id != other.id  # the same entry read twice is the same code


def test_under_a_test_clock_a_kept_code_is_dated_from_that_clock():
    assert KeptEntry("k", value()).code(LATER).at == LATER


def test_an_after_call_entry_is_a_short_code_for_its_endpoint():
    code = KeptEntry("k", value("suspension", "", "agent-7.b", "30")).code()
    assert (code.kind, code.decision_id, code.endpoint, code.source, code.days) == (
        "suspension", None, "agent-7.b", "short-code", 30)


@pytest.mark.parametrize(("text", "why"), [
    ("refusal:abc:1700000000", "champs"),
    (value(version="2"), "version"),
    (value(decision="not-a-uuid"), "décision"),
    (value(decision="", endpoint="agent;1"), "poste"),
    (value(days="3x"), "durée"),
    (value(epoch=-1), "date"),
])
def test_entries_the_dialplan_would_not_write_are_named(text, why):
    with pytest.raises(KeptCodeError, match=why):
        KeptEntry("k", text).code()


async def test_an_empty_family_and_an_ami_error():
    empty = KeptCodes(FakeAmi({}), None, SystemClock())  # type: ignore[arg-type]
    assert await empty.entries() == []

    class Refusing(FakeAmi):
        async def messages(self, action):
            return [{"Response": "Error", "Message": "Permission denied"}]

    with pytest.raises(AmiError, match="Permission denied"):
        await KeptCodes(Refusing({}), None, SystemClock()).entries()  # type: ignore[arg-type]


class SpoolOf:
    """The contacts use case's keep_code on a list, optionally failing."""

    def __init__(self, failure: Exception | None = None) -> None:
        self.kept: list[Any] = []
        self.failure = failure

    async def keep_code(self, code) -> None:
        if self.failure is not None:
            raise self.failure
        self.kept.append(code)


async def test_a_code_is_deleted_only_once_kept():
    from astguard.errors import StoreUnavailable

    ami = FakeAmi({"a-refusal": value()})
    full = SpoolOf(StoreUnavailable("disque plein"))
    assert await KeptCodes(ami, full, SystemClock()).take() == 0  # type: ignore[arg-type]
    assert list(ami.kept) == ["a-refusal"]  # stays in AstDB for the next time
    spool = SpoolOf()
    assert await KeptCodes(ami, spool, SystemClock()).take() == 1
    assert ami.kept == {} and [c.decision_id for c in spool.kept] == [DECISION]


async def test_an_unreadable_entry_is_logged_whole_then_deleted(caplog):
    ami = FakeAmi({"bad": "refusal:abc", "bad-kind": value("holiday")})
    spool = SpoolOf(InputError("type inconnu 'holiday'"))
    with caplog.at_level(logging.ERROR):
        assert await KeptCodes(ami, spool, SystemClock()).take() == 0
    assert ami.kept == {}
    assert "'refusal:abc'" in caplog.text and "holiday" in caplog.text


@pytest.mark.db
async def test_kept_codes_are_written_once_dated_when_keyed(db, spool_dir):
    d = Directory(db)
    await d.add_principal("kc-acme", "ACME")
    await hold_number(db, "kc-acme")
    await d.set_campaign("kc-prospect", "kc-acme", "prospecting", "manual", "0162123456",
                         scope="energie")
    await d.set_endpoint("kc-agent1", "kc-prospect", [], "Alice")
    await d.set_endpoint("kc-agent2", "kc-prospect", [], "Bob")
    for e164 in ("+33612398001", "+33612398002"):
        await give_consent(db, "kc-acme", e164)
    live = Gate(db=db, directory=d, spool=Spool(spool_dir / "gate"), clock=PinnedClock(FRIDAY),
                rules=RULES, node="kc")
    in_call = await live.check(CallRequest("0612398001", "ari", endpoint="kc-agent1"),
                               record=True)
    after = await live.check(CallRequest("0612398002", "ari", endpoint="kc-agent2"),
                             record=True)
    assert in_call.verdict.allowed and after.verdict.allowed

    # astguard was down: the dialplan kept both; the first DBDel times out (astguard would
    # read the same entries again).
    ami = FakeAmi({"1-1.1-opposition": value("opposition", in_call.decision_id),
                   "2-1.2-refusal": value("refusal", "", "kc-agent2")}, fail_delete=1)
    spool = Spool(spool_dir)
    contacts = ContactService(db, PinnedClock(LATER), RULES, spool=spool)
    spool.register("code", contacts.replay_code)
    with pytest.raises(AmiError):
        await KeptCodes(ami, contacts, SystemClock()).take()
    assert await KeptCodes(ami, contacts, SystemClock()).take() == 2
    assert ami.kept == {}
    assert await spool.flush(db) == 3  # the first entry twice: written once (below)
    async with db.connection() as conn:
        blocks = await conn.fetch(
            "SELECT kind, number_e164, recorded_at, source, agent FROM contact_blocks "
            "WHERE principal = 'kc-acme' ORDER BY number_e164")
    assert [(b["kind"], b["number_e164"], b["recorded_at"], b["source"], b["agent"])
            for b in blocks] == [
        ("opposition", "+33612398001", KEYED, "dtmf", "Alice"),
        ("opposition", "+33612398002", KEYED, "short-code", "Bob")]  # R-D7 from 2026-08-11
    for number, endpoint in (("0612398001", "kc-agent1"), ("0612398002", "kc-agent2")):
        again = await live.check(CallRequest(number, "ari", endpoint=endpoint), record=False)
        assert "CONSUMER_OPPOSED" in again.verdict.codes


@pytest.mark.db
async def test_fastagi_leaves_the_code_to_the_dialplan_when_nothing_can_keep_it(tmp_path):
    """PostgreSQL away and the spool unusable: the prompt variable stays unset, so the
    dialplan's [astguard-feature] / [astguard-code] keep the code in AstDB."""
    down = Database(UNREACHABLE_DB, timeout=1.0)
    not_a_directory = tmp_path / "spool"
    not_a_directory.write_text("")  # every append fails (NotADirectoryError)
    spool = Spool(not_a_directory)
    app = HardenedFastAGI(read_timeout=5.0)
    ContactsAgi(ContactService(down, PinnedClock(LATER), RULES, spool=spool),
                ChannelBinding(DecisionBindings(down))).install(app)
    server = await serve_fastagi(app, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        during = await play_asterisk(port, request("feature", "refusal"),
                                     decision_id=DECISION)
        after = await play_asterisk(port, request("code", "refusal", "agent1", ""))
    finally:
        server.close()
        await server.wait_closed()
        await down.close()
    assert not any(c.startswith(("SET VARIABLE", "STREAM FILE")) for c in during + after), \
        (during, after)
