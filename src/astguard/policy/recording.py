"""Recording consent (R-I1 to R-I5), pure: the announcement, the objection, sampling, retention.

No I/O: the adapters (telephony/inbound.py for inbound calls, telephony/outbound_recording.py
for announced outbound ones) ask app/recording.py, which asks here. The random draw of sampling
and the clock are passed in, so every case is a table row.
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass

from astguard.policy.reasons import Reason, ReasonCode


class RecordingMode(enum.StrEnum):
    """What a called number (or a presented one) does with its calls (R-I3)."""

    OFF = "off"  # never announced, never recorded
    ANNOUNCE = "announce"  # every call announced, then recorded unless the caller objects
    SAMPLED = "sampled"  # every call announced, a share of them recorded


MODES = tuple(mode.value for mode in RecordingMode)
CNIL_QUALITY_DAYS = 183  # six months for quality and training recordings (R-I4)
OBJECTION_KEYS = "0123456789*#"

# Why a call is not recorded when no rule of the book is at stake (kept as evidence, in French).
POLICY_OFF = "politique : off"
HUNG_UP = "raccroché pendant l'annonce"
NOT_SAMPLED = "hors échantillon"


@dataclass(frozen=True, slots=True)
class RecordingPolicy:
    """The recording policy of one number (table inbound_policies)."""

    did: str
    mode: str
    sample_percent: int
    prompt: str
    objection_key: str
    retention_days: int
    legal_basis: str | None

    @property
    def retention_class(self) -> str:
        """Quality and training (six months at most) unless a legal basis is stated (R-I4)."""
        return "qualité-formation" if self.legal_basis is None else "base-légale"


def policy_problem(mode: str, *, sample_percent: int, objection_key: str,
                   retention_days: int, legal_basis: str | None) -> str | None:
    """What is wrong with a policy an administrator sets, in French; None when it is valid."""
    if mode not in MODES:
        return f"mode {mode!r} : {', '.join(MODES)}"
    if retention_days > CNIL_QUALITY_DAYS and not legal_basis:  # R-I4
        return (f"conservation de {retention_days} jours : au-delà de {CNIL_QUALITY_DAYS} "
                f"jours, indiquer la base légale (R-I4)")
    if not 0 <= sample_percent <= 100 or retention_days < 1:
        return "pourcentage de 0 à 100, conservation d'au moins un jour"
    if len(objection_key) != 1 or objection_key not in OBJECTION_KEYS:
        return "touche d'opposition : un chiffre, * ou #"
    return None


def announces(policy: RecordingPolicy | None) -> bool:
    """Whether a call to (or from) this number is announced: a number without a policy, or
    with mode off, is neither announced nor recorded (R-I3)."""
    return policy is not None and policy.mode != RecordingMode.OFF


def is_objection(policy: RecordingPolicy, digit: str, already_objected: bool) -> bool:
    """A key press that objects to the recording (R-I2): the policy's key, the first time."""
    return digit == policy.objection_key and not already_objected


def in_sample(sample_percent: int, draw: float) -> bool:
    """Whether a call of a sampled policy is recorded (R-I3); `draw` is uniform in [0, 100)."""
    return draw < sample_percent


@dataclass(frozen=True, slots=True)
class RecordingDecision:
    """Whether to start recording once the announcement ended, and if not, why."""

    record: bool
    reason: Reason | None = None  # a rule of the book (R-I1, R-I2)
    note: str | None = None  # no rule at stake: hung up, out of the sample

    @property
    def evidence_reason(self) -> str | None:
        """What the evidence's not_recorded event says: the reason code or the note."""
        return self.reason.code.value if self.reason is not None else self.note


RECORD = RecordingDecision(record=True)


def after_announcement(policy: RecordingPolicy, *, playback: str | None, objected: bool,
                       hung_up: bool, draw: float) -> RecordingDecision:
    """Once the announcement stopped: record only if it played to its end ("done") to a caller
    still there who did not object, and, for a sampled policy, if the draw falls in the sample.
    """
    if hung_up:
        return RecordingDecision(False, note=HUNG_UP)
    if objected:  # R-I2
        return RecordingDecision(False, Reason(ReasonCode.RECORDING_OBJECTED))
    if playback != "done":  # a failed playback means no recording (R-I1)
        return RecordingDecision(False, Reason(ReasonCode.RECORDING_NOT_ANNOUNCED,
                                               {"playback": playback}))
    if policy.mode == RecordingMode.SAMPLED and not in_sample(policy.sample_percent, draw):
        return RecordingDecision(False, note=NOT_SAMPLED)
    return RECORD


def purge_after(started: dt.datetime, retention_days: int) -> dt.datetime:
    """When a recording started at `started` is due for deletion (R-I4)."""
    return started + dt.timedelta(days=retention_days)


__all__ = [
    "CNIL_QUALITY_DAYS",
    "HUNG_UP",
    "MODES",
    "NOT_SAMPLED",
    "OBJECTION_KEYS",
    "POLICY_OFF",
    "RECORD",
    "RecordingDecision",
    "RecordingMode",
    "RecordingPolicy",
    "after_announcement",
    "announces",
    "in_sample",
    "is_objection",
    "policy_problem",
    "purge_after",
]
