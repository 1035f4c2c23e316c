"""What the Stasis application and the FastAGI routes share: the call built from the dialplan's
arguments, the verdict handed back in RESULT_VARIABLE, and the token an allowed call carries."""

from __future__ import annotations

import logging

from astguard.app.gate import Decided
from astguard.policy import CallRequest, DialMode
from astguard.telephony.call_token import CallTokens
from astguard.telephony.contract import result_value

log = logging.getLogger(__name__)


def result_variable(decided: Decided, token: str | None = None) -> str:
    """RESULT_VARIABLE, the one variable the dialplan reads after a decision (Stasis and AGI),
    in the contract's format (telephony/contract.py), with the allowed call's token;
    [astguard-verdict] splits it."""
    verdict = decided.verdict
    return result_value(
        token=(token or "") if verdict.allowed else "",
        verdict=verdict.decision.value,
        decision_id=decided.decision_id,
        cause="" if verdict.allowed else str(verdict.hangup_cause),
        prompt=verdict.prompt.value if verdict.prompt else "",
        destination=verdict.destination,
        reasons=verdict.codes,
        caller_id=(verdict.caller_id or "") if verdict.allowed else "")


def channel_device(channel_name: str | None) -> str | None:
    """The device a channel belongs to, from the name Asterisk gives it: the PJSIP endpoint
    ("PJSIP/agent1-0000002a" -> "agent1"), "TECH/device" for other technologies, None for a
    Local channel (a dialer's origination) or no name."""
    tech, sep, rest = (channel_name or "").partition("/")
    if not sep or not rest or tech == "Local":
        return None
    device = rest.rsplit("-", 1)[0] if "-" in rest else rest
    return device if tech == "PJSIP" else f"{tech}/{device}"


def call_token(tokens: CallTokens | None, decided: Decided) -> str | None:
    """The token an allowed call carries to the trunk (Stasis and AGI alike), else None."""
    if tokens is None or not decided.verdict.allowed:
        return None
    return tokens.issue(decided.decision_id, decided.verdict.destination)


def call_from_args(args: list[str], *, source: str, caller_id: str | None,
                   channel_id: str | None, fallback_exten: str | None,
                   channel_name: str | None = None) -> CallRequest:
    """Build the call from the dialplan's arguments: exten, endpoint, campaign, mode, department.

    A phone's channel is known by its device whatever the arguments say: an endpoint whose
    name the dialplan's filter emptied or altered must not pass for a dialer's channel, whose
    campaign variable is honoured freely (R-A). A non-PJSIP device is never a registered one.
    """
    padded = [a.strip() for a in args] + [""] * 5
    exten, endpoint, campaign, mode, department = padded[:5]
    device = channel_device(channel_name)
    if device is not None and device != endpoint:
        log.warning("channel %s: endpoint argument %r, taken as %r", channel_name, endpoint,
                    device)
        endpoint = device
    dial_mode = None
    if mode:
        try:
            dial_mode = DialMode(mode.lower())
        except ValueError:
            # An unknown mode is taken as the most automated one (strict reading of R-F4).
            log.warning("unknown dial mode %r, taken as broadcast", mode)
            dial_mode = DialMode.BROADCAST
    return CallRequest(
        dialled=exten or fallback_exten or "",
        source=source,
        endpoint=endpoint or None,
        campaign_name=campaign or None,
        dial_mode=dial_mode,
        caller_id=caller_id or None,
        department=department or None,
        channel_id=channel_id,
    )
