"""A dialplan of contract 2 takes the call token from the verdict: astguard hands an allowed
call its verdict and its token in one request (one ARI round trip less before the call goes
on, issue 15 item 3); an older dialplan (no version in ASTGUARD_ARGS) still gets the token
first, on its own, or its allowed calls would reach the trunk without it."""

from __future__ import annotations

from astguard.telephony import contract
from astguard.telephony.call_token import CallTokens
from astguard.telephony.stasis import OutboundStasisApp
from tests.telephony.test_fastagi import outbound_with_tokens, play_asterisk, request
from tests.telephony.test_stasis import RecordingGate, env, stasis_start  # noqa: F401

V2 = str(contract.DIALPLAN_CONTRACT)


def variables(fake) -> list[tuple[str, str, str]]:
    return [(r.path, r.query["variable"], r.query["value"]) for r in fake.requests
            if r.path.endswith("/variable")]


async def test_stasis_hands_verdict_and_token_in_one_request(env):  # noqa: F811
    fake, ari = env
    tokens = CallTokens("k" * 40, 300)
    app = OutboundStasisApp(ari, RecordingGate(), tokens)
    app.handle(stasis_start("ch1", "0612345678", "agent1", "", "", "", V2))
    app.handle(stasis_start("ch2", "0612345678", "nobody", "", "", "", V2))  # refused
    await app.drain()
    set_vars = variables(fake)
    assert [name for _, name, _ in set_vars] == [contract.RESULT_VARIABLE] * 2
    by_channel = {path.split("/")[2]: value.split("|") for path, _, value in set_vars}
    assert by_channel["ch1"][0] == "allow"
    check = tokens.verify(by_channel["ch1"][7], "+33612345678")
    assert check.valid and check.decision_id == "dec-1"
    assert by_channel["ch2"][0] == "deny" and by_channel["ch2"][7] == ""
    paths = fake.paths()
    assert paths.index("/channels/ch1/continue") > paths.index("/channels/ch1/variable")


async def test_stasis_sets_the_token_first_for_an_older_dialplan(env):  # noqa: F811
    fake, ari = env
    app = OutboundStasisApp(ari, RecordingGate(), CallTokens("k" * 40, 300))
    app.handle(stasis_start("ch1", "0612345678", "agent1", "", "", ""))  # no version
    await app.drain()
    names = [name for _, name, _ in variables(fake)]
    assert names == [contract.INHERITED_TOKEN_VARIABLE, contract.RESULT_VARIABLE]


async def test_fastagi_hands_verdict_and_token_in_one_command():
    tokens = CallTokens("k" * 40, 300)
    async with outbound_with_tokens(tokens) as port:
        v2 = await play_asterisk(port, request("outbound", "0612345678", "agent1", "", "", "",
                                               V2))
        v1 = await play_asterisk(port, request("outbound", "0612345678", "agent1", "", "", ""))
    (only,) = v2
    assert only.startswith(f"SET VARIABLE {contract.RESULT_VARIABLE} \"allow|")
    assert tokens.verify(only.strip('"').split("|")[7], "+33612345678").valid
    assert [c.split()[2] for c in v1] == [contract.INHERITED_TOKEN_VARIABLE,
                                           contract.RESULT_VARIABLE]
