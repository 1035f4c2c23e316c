"""R-A: the dialplan routes the same emergency and public-interest numbers as astguard's policy,
so that a number never depends on astguard in one place and on the dialplan in the other."""

from __future__ import annotations

import re

from astguard.install.kit import data_path
from astguard.settings import DEFAULT_EMERGENCY, Settings

DIALPLAN = data_path("asterisk/astguard.conf")  # the dialplan shipped in the wheel


def _dialplan_emergency() -> set[str]:
    text = DIALPLAN.read_text("utf-8")
    section = text.split("[astguard-emergency]", 1)[1].split("\n[", 1)[0]
    return set(re.findall(r"^exten => (\d+),1,Goto\(astguard-trunk,", section, re.M))


def test_dialplan_and_policy_list_the_same_numbers():
    assert _dialplan_emergency() == set(DEFAULT_EMERGENCY)


def test_public_interest_numbers_are_never_blocked():
    # rules-fr R-A (2026-11-26): 3114 and 3919 join the list.
    assert {"3114", "3919"} <= set(DEFAULT_EMERGENCY)
    env = {"ASTGUARD_DATABASE_URL": "postgresql://x@127.0.0.1/x"}
    assert {"3114", "3919"} <= Settings.from_env(env).rules.emergency_numbers
