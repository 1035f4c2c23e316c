"""The Stasis application's handling of ARI events, against the recording fake ARI."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt

import aiohttp
import pytest

from astguard.app.gate import Decided
from astguard.policy import CallRequest, Campaign, DialMode, Facts, Purpose, RuleSettings, decide
from astguard.policy.model import Decision
from astguard.settings import DEFAULT_EMERGENCY
from astguard.telephony.ari import AriClient
from astguard.telephony.stasis import OutboundStasisApp
from astguard.telephony.verdict import call_from_args, channel_device, result_variable
from tests.policy.facts import CONSENTED, INVENTORY
from tests.telephony.fake_ari import FakeAri

RULES = RuleSettings(emergency_numbers=frozenset(DEFAULT_EMERGENCY))
OPEN = dt.datetime(2026, 11, 27, 10, 0, tzinfo=dt.UTC)
CAMPAIGN = Campaign("c", "acme", Purpose.PROSPECTING, DialMode.MANUAL, "+33162123456",
                    scope="energie")


class RecordingGate:
    """Stands in for the Gate: decides with the real policy, remembers calls and outcomes."""

    def __init__(self, fail: bool = False) -> None:
        self.calls: list[CallRequest] = []
        self.outcomes: list[tuple[str, object]] = []
        self.unobserved: list[str] = []  # decisions given an outcome with observed=False
        self.fail = fail

    async def check(self, call: CallRequest, *, record: bool) -> Decided:
        if self.fail:
            raise RuntimeError("store exploded")
        self.calls.append(call)
        campaign = CAMPAIGN if call.endpoint == "agent1" else None
        facts = Facts(campaign, "t", history=CONSENTED, inventory=INVENTORY)
        return Decided(decide(call, facts, OPEN, RULES), "dec-1", recorded=True)

    async def outcome(self, decision_id: str, outcome: object, *,
                      observed: bool = True) -> None:
        self.outcomes.append((decision_id, outcome))
        if not observed:
            self.unobserved.append(decision_id)

    async def retry_unsaved_outcomes(self) -> int:
        return 0  # it keeps nothing in memory


@pytest.fixture
async def env():
    fake = FakeAri()
    await fake.start()
    async with aiohttp.ClientSession() as session:
        ari = AriClient(session, fake.url, "astguard", "secret", "astguard")
        yield fake, ari
    await fake.stop()


def stasis_start(channel_id: str, *args: str) -> dict:
    return {"type": "StasisStart", "args": ["outbound", *args],
            "channel": {"id": channel_id, "caller": {"number": "1001"},
                        "dialplan": {"exten": "0612345678"}}}


def result_of(fake: FakeAri) -> list[str]:
    (value,) = [r.query["value"] for r in fake.requests
                if r.path.endswith("/variable") and r.query["variable"] == "ASTGUARD_RESULT"]
    return value.split("|")


async def test_allowed_call_gets_one_result_variable_then_continue(env):
    fake, ari = env
    gate = RecordingGate()
    app = OutboundStasisApp(ari, gate)
    app.handle(stasis_start("ch1", "0612345678", "agent1", "", "", ""))
    await app.drain()
    # The phone asked to present 1001, not the principal's: rewritten to the campaign's number.
    assert result_of(fake) == ["allow", "dec-1", "", "", "+33612345678",
                               "CALLER_ID_NOT_AUTHORISED", "+33162123456", ""]  # no tokens
    assert set(fake.paths()[:-1]) == {"/channels/ch1/variable",
                                      "/applications/astguard/subscription"}
    assert fake.paths()[-1] == "/channels/ch1/continue"  # only after the verdict is set
    assert gate.calls[0].endpoint == "agent1" and gate.calls[0].caller_id == "1001"


async def test_refused_call_gets_prompt_and_cause(env):
    fake, ari = env
    app = OutboundStasisApp(ari, RecordingGate())
    app.handle(stasis_start("ch2", "0612345678", "agent9", "", "", ""))
    await app.drain()
    assert result_of(fake) == ["deny", "dec-1", "21", "refus-campagne", "+33612345678",
                               "PURPOSE_UNCLASSIFIED", "", ""]
    assert "/applications/astguard/subscription" not in fake.paths()
    assert fake.paths()[-1] == "/channels/ch2/continue"


def test_result_variable_cannot_be_split_by_a_hostile_caller_id():
    call = CallRequest("0612345678", "ari", caller_id="12|deny|x")
    decided = Decided(decide(call, Facts(None, "t"), OPEN, RULES), "d", recorded=True)
    assert len(result_variable(decided, "d.1.ab").split("|")) == 8
    # A hostile number is refused for every purpose now (R-F2, rules-fr 2026-11-26); the
    # filter still stands behind it: an allowed verdict carrying one cannot split either.
    campaign = Campaign("c", "acme", Purpose.SERVICE, DialMode.MANUAL, None)
    refused = decide(call, Facts(campaign, "t"), OPEN, RULES)
    assert not refused.allowed and "CALLER_ID_NOT_AUTHORISED" in refused.codes
    verdict = dataclasses.replace(refused, decision=Decision.ALLOW, reasons=(),
                                  caller_id="12|deny|x")
    allowed = Decided(verdict, "d", recorded=True)
    fields = result_variable(allowed, "d.1.x|deny").split("|")
    assert len(fields) == 8 and fields[0] == "allow" and fields[6] == "12"
    assert fields[7] == "d.1.xdeny"


async def test_a_failed_decision_releases_the_channel_without_a_verdict(env):
    fake, ari = env
    app = OutboundStasisApp(ari, RecordingGate(fail=True))
    app.handle(stasis_start("ch3", "0612345678", "agent1", "", "", ""))
    await app.drain()
    # No ASTGUARD_RESULT: the dialplan's astguard-refused context refuses (fail closed).
    assert fake.paths() == ["/channels/ch3/continue"]


async def test_outcome_is_followed_to_channel_destroyed(env):
    fake, ari = env
    gate = RecordingGate()
    app = OutboundStasisApp(ari, gate)
    app.handle(stasis_start("ch4", "0612345678", "agent1", "", "", ""))
    await app.drain()
    app.handle({"type": "Dial", "caller": {"id": "ch4"}, "dialstatus": "ANSWER"})
    app.handle({"type": "ChannelStateChange", "channel": {"id": "ch4", "state": "Up"},
                "timestamp": "2026-11-27T10:00:01.000+0000"})
    app.handle({"type": "ChannelDestroyed", "channel": {"id": "ch4"}, "cause": 16,
                "cause_txt": "Normal Clearing", "timestamp": "2026-11-27T10:00:31.500+0000"})
    await app.drain()
    (decision_id, outcome), = gate.outcomes
    assert decision_id == "dec-1"
    assert outcome.answered and outcome.dial_status == "ANSWER"
    assert outcome.hangup_cause == 16 and outcome.duration_s == 30.5


async def test_caller_hung_up_before_continue_is_not_an_error(env):
    fake, ari = env
    fake.fail_paths = {"/continue"}
    app = OutboundStasisApp(ari, RecordingGate())
    app.handle(stasis_start("ch5", "0612345678", "agent9", "", "", ""))
    await asyncio.wait_for(app.drain(), 5)
    assert fake.paths()[-1] == "/channels/ch5/continue"


@pytest.mark.parametrize(
    ("args", "mode"),
    [(["0612345678", "a", "c", "predictive", ""], DialMode.PREDICTIVE),
     (["0612345678", "a", "c", "", ""], None),
     (["0612345678", "a", "c", "robot", ""], DialMode.BROADCAST)],  # unknown: strictest
)
def test_call_from_args(args, mode):
    call = call_from_args(args, source="ari", caller_id=None, channel_id="x",
                          fallback_exten=None)
    assert call.dial_mode is mode and call.endpoint == "a" and call.campaign_name == "c"


def test_missing_args_fall_back_to_the_dialplan_exten():
    call = call_from_args([], source="ari", caller_id="", channel_id="x",
                          fallback_exten="0612345678")
    assert call.dialled == "0612345678" and call.endpoint is None and call.caller_id is None


@pytest.mark.parametrize(
    ("name", "device"),
    [("PJSIP/agent1-0000002a", "agent1"), ("PJSIP/agent-nocampaign-00000001",
                                           "agent-nocampaign"),
     ("Local/0612345678@astguard-dialer-00000003;2", None), ("IAX2/phone-1234", "IAX2/phone"),
     ("", None), (None, None)],
)
def test_channel_device(name, device):
    assert channel_device(name) == device


def test_a_phone_whose_endpoint_argument_is_empty_is_not_taken_for_a_dialer():
    # The dialplan's filter emptied the endpoint's name: the channel's own name still says
    # it is a phone, so its campaign header is judged for that endpoint (R-A).
    call = call_from_args(["0612345678", "", "service-campaign", "", ""], source="ari",
                          caller_id=None, channel_id="x", fallback_exten=None,
                          channel_name="PJSIP/t\u00e9l\u00e9phone-00000001")
    assert call.endpoint == "t\u00e9l\u00e9phone" and call.campaign_name == "service-campaign"
    dialer = call_from_args(["0612345678", "", "c", "", ""], source="ari", caller_id=None,
                            channel_id="x", fallback_exten=None,
                            channel_name="Local/0612345678@astguard-dialer-00000001;2")
    assert dialer.endpoint is None


async def test_allowed_call_carries_a_token_for_its_destination_refused_none(env):
    from astguard.telephony.call_token import CallTokens

    fake, ari = env
    tokens = CallTokens("k" * 40, 300)
    app = OutboundStasisApp(ari, RecordingGate(), tokens)
    app.handle(stasis_start("ch1", "0612345678", "agent1", "", "", ""))
    app.handle(stasis_start("ch2", "0612345678", "nobody", "", "", ""))  # refused
    await app.drain()
    set_vars = [(r.path, r.query["variable"], r.query["value"]) for r in fake.requests
                if r.path.endswith("/variable")]
    tokens_set = [(path, value) for path, name, value in set_vars
                  if name == "__ASTGUARD_TOKEN"]  # inherited by the trunk channel
    assert [path for path, _ in tokens_set] == ["/channels/ch1/variable"]
    check = tokens.verify(tokens_set[0][1], "+33612345678")
    assert check.valid and check.decision_id == "dec-1"
    assert fake.paths().index("/channels/ch1/continue") > max(
        i for i, r in enumerate(fake.requests) if r.query.get("variable") == "__ASTGUARD_TOKEN")


async def test_outcomes_are_reconciled_when_the_websocket_comes_back(env):
    # A call ended while the websocket was down: its ChannelDestroyed is lost for good. On
    # reconnection the app asks Asterisk, records an honest outcome for the ended channel,
    # follows the live one again, and forgets nothing else (issue 14).
    fake, ari = env
    gate = RecordingGate()
    app = OutboundStasisApp(ari, gate)
    runner = asyncio.create_task(ari.run(app.handle))
    try:
        await fake.wait_connects(1)
        for channel in ("ch5", "ch6"):
            app.handle(stasis_start(channel, "0612345678", "agent1", "", "", ""))
        await app.drain()
        app.handle({"type": "ChannelStateChange", "channel": {"id": "ch5", "state": "Up"},
                    "timestamp": "2026-11-27T10:00:01.000+0000"})
        assert app.followed == 2
        fake.fail_paths = {"/channels/ch5"}  # ch5 is gone when astguard asks
        await fake.drop()
        await fake.wait_connects(2)
        async with asyncio.timeout(5):
            while not gate.outcomes:
                await asyncio.sleep(0.01)
        await app.drain()
    finally:
        runner.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await runner
    (decision_id, outcome), = gate.outcomes
    assert decision_id == "dec-1" and outcome.answered is True
    assert outcome.hangup_cause is None and outcome.duration_s is None
    assert "non observée" in outcome.hangup_cause_text
    assert app.followed == 1  # ch6 is still followed, and subscribed again
    assert sum(1 for r in fake.requests if r.method == "POST" and
               r.path == "/applications/astguard/subscription"
               and r.query.get("eventSource") == "channel:ch6") == 2
