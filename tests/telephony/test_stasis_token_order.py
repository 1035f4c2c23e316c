"""Stasis sets the token before the verdict, as FastAGI does (found by review, issue 17)."""
from __future__ import annotations

from astguard.errors import AriError
from astguard.telephony.call_token import CallTokens
from astguard.telephony.contract import INHERITED_TOKEN_VARIABLE as INHERITED_VARIABLE
from astguard.telephony.stasis import OutboundStasisApp
from tests.telephony.test_stasis import RecordingGate, env, stasis_start  # noqa: F401


async def test_no_allow_verdict_reaches_the_channel_without_its_token(env):  # noqa: F811
    fake, ari = env
    real = ari.set_variable

    async def set_variable(channel_id, name, value):
        if name == INHERITED_VARIABLE:
            raise AriError("ARI POST channels/x/variable: 500 boom", 500)
        await real(channel_id, name, value)

    ari.set_variable = set_variable
    app = OutboundStasisApp(ari, RecordingGate(), CallTokens("s" * 40, 300))
    app.handle(stasis_start("ch9", "0612345678", "agent1", "", "", ""))
    await app.drain()
    results = [r.query["value"] for r in fake.requests
               if r.path.endswith("/variable") and r.query.get("variable") == "ASTGUARD_RESULT"]
    # The channel was released to the dialplan with "allow" but without its token: the call
    # goes to the trunk (hung up there as UNGUARDED_CALL, or out in alert mode), and its
    # outcome is no longer followed.
    assert not any(v.startswith("allow|") for v in results), results
