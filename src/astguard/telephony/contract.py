"""The dialplan contract: every name astguard and its dialplan share, in one place.

The shipped dialplan (data/asterisk/astguard.conf, astguard-features.conf) and astguard's
adapters (Stasis in stasis.py and inbound.py, FastAGI in fastagi.py and outbound_recording.py,
the watchdog, the dialplan audit, the install kit) meet on these names only; a test
(tests/telephony/test_contract.py) checks the shipped files use exactly the names defined here.

Before a decision the dialplan's [astguard-classify] gathers the call into ASTGUARD_ARGS
(CALL_ARGUMENTS, comma-separated, each filtered to NUMBER_CHARS or NAME_CHARS) and calls
    Stasis(astguard,outbound,${ASTGUARD_ARGS})   or   AGI(agi://…/outbound,${ASTGUARD_ARGS})
astguard answers with one variable, RESULT_VARIABLE, whose fields (RESULT_FIELDS, joined by
RESULT_SEPARATOR) [astguard-verdict] cuts into one variable each; nothing else is read back.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

DEFAULT_APP = "astguard"  # the Stasis application (ASTGUARD_ARI_APP renders another name)

# The first argument of Stasis(astguard,…): which application handles the channel.
ENTRY_OUTBOUND = "outbound"
ENTRY_INBOUND = "inbound"
ENTRIES = (ENTRY_OUTBOUND, ENTRY_INBOUND)

# FastAGI routes (agi://host:port/<route>) the dialplan and features.conf call.
ROUTE_OUTBOUND = "outbound"  # decide (as Stasis does)
ROUTE_OUTCOME = "outcome"  # the call's outcome, from the hangup handler
ROUTE_FEATURE = "feature"  # an in-call code: refusal or opposition (R-D7, R-B3)
ROUTE_CODE = "code"  # a short code dialled after a call (*81, *82, *83NN)
ROUTE_OBJECTION = "objection"  # the agent's *85: the caller objects to the recording (R-I2)
ROUTE_OUTBOUND_RECORDING = "outbound-recording"  # announce, then record an answered call
ROUTE_REUSE = "reuse"  # a trunk failover: re-use the decision the signed token names (R-D6)
AGI_ROUTES = (ROUTE_OUTBOUND, ROUTE_OUTCOME, ROUTE_FEATURE, ROUTE_CODE, ROUTE_OBJECTION,
              ROUTE_OUTBOUND_RECORDING, ROUTE_REUSE)

# Contexts astguard's code names.
PREDIAL_CONTEXT = "astguard-predial"  # Gosub() of dialplans that keep their own Dial()
OUTBOUND_RECORD_CONTEXT = "astguard-outbound-record"  # Dial()'s U() on the answered channel

# What goes in: the variables an integrator (or [astguard-classify]) sets, in ASTGUARD_ARGS's
# order after the number; the SIP header that may name a campaign.
ENDPOINT_VARIABLE = "ASTGUARD_ENDPOINT"
CAMPAIGN_VARIABLE = "ASTGUARD_CAMPAIGN"
DIAL_MODE_VARIABLE = "ASTGUARD_DIAL_MODE"
DEPARTMENT_VARIABLE = "ASTGUARD_DEPARTMENT"
CALL_ARGUMENTS = ("number", "endpoint", "campaign", "dial_mode", "department")
ARGUMENT_VARIABLES = (ENDPOINT_VARIABLE, CAMPAIGN_VARIABLE, DIAL_MODE_VARIABLE,
                      DEPARTMENT_VARIABLE)
ARGS_VARIABLE = "ASTGUARD_ARGS"
CAMPAIGN_HEADER = "X-Astguard-Campaign"
# FILTER() character sets the dialplan applies to what it passes; astguard applies the same.
NUMBER_CHARS = "+0123456789"  # numbers, and the number and caller ID of a verdict
NAME_CHARS = "-A-Za-z0-9_."  # endpoint and campaign names
NOT_NUMBER = re.compile(r"[^+0-9]")
NOT_NAME = re.compile(r"[^-A-Za-z0-9_.]")
NOT_TOKEN = re.compile(r"[^-.0-9A-Za-z]")  # what /reuse's FILTER keeps of a token

# The version of this contract the dialplan speaks, last of ASTGUARD_ARGS. 2: [astguard-verdict]
# takes the call token from RESULT_VARIABLE, so astguard hands an allowed call its verdict and
# its token in one ARI request (one less before the call goes on). Without it (1: a dialplan
# installed before, or an integrator's own AGI call), astguard also sets the token on its own,
# first, as before.
DIALPLAN_CONTRACT = 2

# The call token (telephony/call_token.py): set with "__" so dialled channels inherit it.
TOKEN_VARIABLE = "ASTGUARD_TOKEN"
INHERITED_TOKEN_VARIABLE = "__" + TOKEN_VARIABLE

# What comes out: the one result variable and the fields [astguard-verdict] cuts it into.
RESULT_VARIABLE = "ASTGUARD_RESULT"
RESULT_SEPARATOR = "|"
RESULT_FIELDS = (  # (field, the dialplan variable it lands in), in order
    ("verdict", "ASTGUARD_VERDICT"),
    ("decision_id", "ASTGUARD_DECISION_ID"),
    ("cause", "ASTGUARD_CAUSE"),
    ("prompt", "ASTGUARD_PROMPT"),
    ("destination", "ASTGUARD_DESTINATION"),
    ("reasons", "ASTGUARD_REASONS"),
    ("caller_id", "ASTGUARD_CALLERID"),
    ("token", INHERITED_TOKEN_VARIABLE),  # empty unless allowed; inherited by the trunk channel
)
DECISION_ID_VARIABLE = dict(RESULT_FIELDS)["decision_id"]  # read back by /feature

# Codes and recording.
CODE_PROMPT_VARIABLE = "ASTGUARD_CODE_PROMPT"  # the confirmation /code chooses
INBOUND_CALL_VARIABLE = "ASTGUARD_INBOUND_CALL"  # the recorded call an agent's *85 names
INHERITED_INBOUND_CALL_VARIABLE = "__" + INBOUND_CALL_VARIABLE
DIAL_OPTIONS_VARIABLE = "ASTGUARD_DIAL_OPTIONS"  # for the trunk's Dial(): the U() announcement
VIA_VARIABLE = "ASTGUARD_VIA"  # "agi" on the FastAGI path (the outcome comes from a handler)
REUSED_VARIABLE = "ASTGUARD_REUSED"  # "1" when /reuse answered the recorded verdict again
# Agents' codes kept by the dialplan while astguard does not answer ([astguard-keep-code]):
# one AstDB key per code in KEPT_CODES_FAMILY, its value the fields below joined by
# KEPT_CODE_SEPARATOR, version first; telephony/kept_codes.py reads them back over AMI.
FEATURE_CONTEXT = "astguard-feature"  # features.conf's Gosub for the in-call codes
KEEP_CODE_CONTEXT = "astguard-keep-code"
KEEP_STORE_CONTEXT = "astguard-keep-store"  # its own channel writes AstDB
KEPT_CODES_FAMILY = "astguard-codes"
KEPT_CODE_SEPARATOR = "|"
KEPT_CODE_VERSION = "1"
KEPT_CODE_FIELDS = ("version", "kind", "decision_id", "endpoint", "days", "epoch")
# In-call features (astguard-features.conf), enabled through DYNAMIC_FEATURES.
REFUSAL_FEATURE = "astguard-refus"
OPPOSITION_FEATURE = "astguard-opposition"
OBJECTION_FEATURE = "astguard-objection"
FEATURES = (REFUSAL_FEATURE, OPPOSITION_FEATURE, OBJECTION_FEATURE)
PRESENT_FEATURES = "#".join((REFUSAL_FEATURE, OPPOSITION_FEATURE))  # [astguard-present]
OUTBOUND_AGENT_FEATURES = "#".join(FEATURES)  # an agent's announced outbound call, recorded
INBOUND_AGENT_FEATURES = OBJECTION_FEATURE  # an agent's recorded inbound call

# The dialplan's own scratch variables: astguard neither sets nor reads them.
DIALPLAN_ONLY_VARIABLES = ("ASTGUARD_HEADER", "ASTGUARD_ASKED", "ASTGUARD_DECIDED_FOR",
                           "ASTGUARD_KEPT")

# Every ASTGUARD_ variable the shipped dialplan names. INBOUND_CALL_VARIABLE is not one: astguard
# sets it over ARI and reads it back over FastAGI, the channel only carries it.
DIALPLAN_VARIABLES = frozenset({
    *ARGUMENT_VARIABLES, ARGS_VARIABLE, RESULT_VARIABLE,
    *(v.removeprefix("__") for _, v in RESULT_FIELDS),
    TOKEN_VARIABLE, CODE_PROMPT_VARIABLE, DIAL_OPTIONS_VARIABLE, VIA_VARIABLE, REUSED_VARIABLE,
    *DIALPLAN_ONLY_VARIABLES,
})


def result_value(*, verdict: str, decision_id: str, cause: str, prompt: str,
                 destination: str, reasons: Iterable[str], caller_id: str,
                 token: str = "") -> str:
    """RESULT_VARIABLE's value. One variable, set in one request, so a channel never sees
    half a verdict, nor an allow without its token. The number and caller ID are filtered as
    the dialplan filters numbers, the token as /reuse filters it."""
    fields = {"verdict": verdict, "decision_id": decision_id, "cause": cause,
              "prompt": prompt, "destination": NOT_NUMBER.sub("", destination),
              "reasons": ",".join(reasons), "caller_id": NOT_NUMBER.sub("", caller_id),
              "token": NOT_TOKEN.sub("", token)}
    return RESULT_SEPARATOR.join(fields[name] for name, _ in RESULT_FIELDS)


def dialplan_contract(args: list[str]) -> int:
    """The contract version the dialplan said it speaks (ASTGUARD_ARGS's last field, after
    CALL_ARGUMENTS); 1 when it said nothing."""
    extra = args[len(CALL_ARGUMENTS)] if len(args) > len(CALL_ARGUMENTS) else ""
    return int(extra) if extra.strip().isdigit() else 1
