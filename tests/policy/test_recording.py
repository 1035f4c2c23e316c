"""The recording-consent core (R-I1 to R-I4), table by table, each row computed by hand."""

from __future__ import annotations

import datetime as dt

import pytest

from astguard.policy.reasons import Effect, Reason, ReasonCode, rule_of, text_of
from astguard.policy.recording import (
    CNIL_QUALITY_DAYS,
    HUNG_UP,
    MODES,
    NOT_SAMPLED,
    RECORD,
    RecordingDecision,
    RecordingMode,
    RecordingPolicy,
    after_announcement,
    announces,
    in_sample,
    is_objection,
    policy_problem,
    purge_after,
)


def policy(mode: str = "announce", percent: int = 100, key: str = "1", days: int = 183,
           basis: str | None = None) -> RecordingPolicy:
    return RecordingPolicy("0170000001", mode, percent, "annonce-enregistrement", key, days,
                           basis)


def test_modes_and_the_cnil_six_months():
    assert MODES == ("off", "announce", "sampled")
    assert CNIL_QUALITY_DAYS == 183


@pytest.mark.parametrize(("given", "announced"), [
    (None, False),  # a number without a policy: nothing announced (R-I3)
    (policy("off"), False),
    (policy("announce"), True),
    (policy("sampled", 10), True),  # every call announced, a share recorded
    (policy("sampled", 0), True),
])
def test_which_calls_are_announced(given, announced):
    assert announces(given) is announced


@pytest.mark.parametrize(("key", "digit", "objected", "objection"), [
    ("1", "1", False, True),
    ("1", "2", False, False),  # another key is only a key press
    ("1", "1", True, False),  # the objection counts once
    ("#", "#", False, True),
    ("*", "1", False, False),
])
def test_objection_key(key, digit, objected, objection):
    assert is_objection(policy(key=key), digit, objected) is objection


@pytest.mark.parametrize(("percent", "draw", "recorded"), [
    (0, 0.0, False),  # 0 %: never
    (10, 0.0, True),
    (10, 9.999, True),
    (10, 10.0, False),  # the draw is in [0, 100): 10 % is [0, 10)
    (10, 99.9, False),
    (100, 99.999, True),  # 100 %: always
])
def test_sampling_by_the_draw(percent, draw, recorded):
    assert in_sample(percent, draw) is recorded


NOT_ANNOUNCED = ReasonCode.RECORDING_NOT_ANNOUNCED
OBJECTED = ReasonCode.RECORDING_OBJECTED


@pytest.mark.parametrize(("mode", "percent", "playback", "objected", "hung_up", "draw",
                          "expected"), [
    ("announce", 100, "done", False, False, 50.0, None),  # recorded
    ("announce", 100, "failed", False, False, 50.0, NOT_ANNOUNCED),  # R-I1
    ("announce", 100, None, False, False, 50.0, NOT_ANNOUNCED),  # no state at all
    ("announce", 100, "objected", True, False, 50.0, OBJECTED),  # key during it (R-I2)
    ("announce", 100, "done", True, False, 50.0, OBJECTED),  # key as it ended
    ("announce", 100, "done", True, True, 50.0, HUNG_UP),  # gone before anything else
    ("announce", 100, "done", False, True, 50.0, HUNG_UP),
    ("announce", 0, "done", False, False, 50.0, None),  # the percentage is for sampled only
    ("sampled", 30, "done", False, False, 29.5, None),
    ("sampled", 30, "done", False, False, 30.0, NOT_SAMPLED),
    ("sampled", 30, "failed", False, False, 0.0, NOT_ANNOUNCED),  # announced first
    ("sampled", 30, "done", True, False, 0.0, OBJECTED),
])
def test_after_the_announcement(mode, percent, playback, objected, hung_up, draw, expected):
    decision = after_announcement(policy(mode, percent), playback=playback, objected=objected,
                                  hung_up=hung_up, draw=draw)
    assert decision.record is (expected is None)
    if expected is None:
        assert decision == RECORD and decision.evidence_reason is None
    elif isinstance(expected, ReasonCode):
        assert decision.reason is not None and decision.reason.code is expected
        assert decision.note is None and decision.evidence_reason == expected.value
    else:
        assert decision.reason is None and decision.note == decision.evidence_reason == expected


def test_a_failed_announcement_keeps_the_playback_state_as_evidence():
    decision = after_announcement(policy(), playback="failed", objected=False, hung_up=False,
                                  draw=0.0)
    assert decision == RecordingDecision(False, Reason(NOT_ANNOUNCED, {"playback": "failed"}))


@pytest.mark.parametrize(("code", "rule", "text", "short"), [
    (NOT_ANNOUNCED, "R-I1",
     "Enregistrement non démarré : l'annonce n'a pas été diffusée jusqu'au bout.",
     "Enregistrement non démarré"),
    (OBJECTED, "R-I2", "Enregistrement refusé : l'appelant s'y est opposé, l'appel continue.",
     "Enregistrement refusé"),
])
def test_recording_codes_are_real_reasons(code, rule, text, short):
    reason = Reason(code)
    assert reason.text == text and rule_of(code.value) == rule
    assert reason.resolved_effect is Effect.INFO and reason.family is None  # no refusal prompt
    assert text_of(code.value).strip() == short  # what reports and the dashboard show


@pytest.mark.parametrize(("started", "days", "due"), [
    (dt.datetime(2026, 5, 1, 9, 0, tzinfo=dt.UTC), 183,
     dt.datetime(2026, 10, 31, 9, 0, tzinfo=dt.UTC)),  # 30+30+31+31+30+31 = 183 days
    (dt.datetime(2026, 12, 31, 23, 30, tzinfo=dt.UTC), 1,
     dt.datetime(2027, 1, 1, 23, 30, tzinfo=dt.UTC)),
    (dt.datetime(2028, 2, 28, 12, 0, tzinfo=dt.UTC), 365,
     dt.datetime(2029, 2, 27, 12, 0, tzinfo=dt.UTC)),  # 2028 is a leap year
])
def test_retention(started, days, due):
    assert purge_after(started, days) == due


@pytest.mark.parametrize(("days", "basis"), [(183, None), (1, None), (365, "contrat")])
def test_retention_class(days, basis):
    expected = "qualité-formation" if basis is None else "base-légale"
    assert policy(days=days, basis=basis).retention_class == expected


GOOD = {"sample_percent": 100, "objection_key": "1", "retention_days": 183,
        "legal_basis": None}


@pytest.mark.parametrize(("mode", "changes", "problem"), [
    ("announce", {}, None),
    ("off", {}, None),
    ("sampled", {"sample_percent": 0}, None),
    ("sampled", {"sample_percent": 100}, None),
    ("always", {}, "mode 'always' : off, announce, sampled"),
    ("announce", {"retention_days": 184},
     "conservation de 184 jours : au-delà de 183 jours, indiquer la base légale (R-I4)"),
    ("announce", {"retention_days": 184, "legal_basis": ""},
     "conservation de 184 jours : au-delà de 183 jours, indiquer la base légale (R-I4)"),
    ("announce", {"retention_days": 3650, "legal_basis": "preuve de contrat"}, None),
    ("announce", {"retention_days": 1}, None),
    ("announce", {"retention_days": 0}, "pourcentage de 0 à 100, conservation d'au moins un jour"),
    ("sampled", {"sample_percent": 101},
     "pourcentage de 0 à 100, conservation d'au moins un jour"),
    ("sampled", {"sample_percent": -1},
     "pourcentage de 0 à 100, conservation d'au moins un jour"),
    ("announce", {"objection_key": "12"}, "touche d'opposition : un chiffre, * ou #"),
    ("announce", {"objection_key": ""}, "touche d'opposition : un chiffre, * ou #"),
    ("announce", {"objection_key": "A"}, "touche d'opposition : un chiffre, * ou #"),
    ("announce", {"objection_key": "#"}, None),
    ("announce", {"objection_key": "0"}, None),
])
def test_policy_problems(mode, changes, problem):
    assert policy_problem(mode, **{**GOOD, **changes}) == problem


def test_modes_are_the_enum():
    assert [m.value for m in RecordingMode] == list(MODES)
