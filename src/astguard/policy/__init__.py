"""The pure policy core: no I/O, the clock passed in. Everything else points inward to it."""

from astguard.policy.decide import decide
from astguard.policy.model import (
    RULEBOOK_VERSION,
    CallRequest,
    Campaign,
    Decision,
    DialMode,
    Facts,
    Purpose,
    RuleSettings,
    Verdict,
)
from astguard.policy.reasons import Effect, PromptFamily, Reason, ReasonCode

__all__ = [
    "RULEBOOK_VERSION",
    "CallRequest",
    "Campaign",
    "Decision",
    "DialMode",
    "Effect",
    "Facts",
    "PromptFamily",
    "Purpose",
    "Reason",
    "ReasonCode",
    "RuleSettings",
    "Verdict",
    "decide",
]
