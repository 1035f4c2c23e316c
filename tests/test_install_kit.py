"""The installation kit: what the wheel carries, and the dialplan rendered from settings."""

from __future__ import annotations

import zipfile

import pytest

from astguard.errors import ConfigError
from astguard.install.kit import (
    Wiring,
    data_path,
    emergency_in,
    prompt_files,
    render_dialplan,
    render_features,
    render_trunk,
)
from astguard.settings import Settings
from lab.asterisk import REPO
from lab.wheel import build_wheel

KIT = ["asterisk/astguard.conf", "asterisk/astguard-features.conf", "astguard.conf.example",
       "systemd/astguard.service", "systemd/astguard-audit.service",
       "systemd/astguard-audit.timer"]


def defaults(**env: str) -> Settings:
    return Settings.from_env({"ASTGUARD_DATABASE_URL": "postgresql://x@127.0.0.1/x", **env})


def test_the_wheel_carries_the_whole_kit(tmp_path):
    wheel = build_wheel(tmp_path)
    names = set(zipfile.ZipFile(wheel).namelist())
    wanted = [f"astguard/data/{f}" for f in KIT]
    wanted += [f"astguard/data/sounds/fr/astguard/{p.name}" for p in prompt_files()]
    assert len(prompt_files()) >= 15
    assert [w for w in wanted if w not in names] == []


def test_default_settings_render_the_shipped_files_unchanged():
    """The lab and the containers copy the shipped files: they must be what `astguard
    asterisk install` writes with the default settings."""
    wiring = Wiring.from_settings(defaults())
    assert render_dialplan(wiring) == data_path("asterisk/astguard.conf").read_text()
    assert (render_features(wiring, add_to_existing=False)
            == data_path("asterisk/astguard-features.conf").read_text())


def test_rendering_follows_the_settings():
    settings = defaults(ASTGUARD_AGI_HOST="10.0.0.5", ASTGUARD_AGI_PORT="4600",
                        ASTGUARD_ARI_APP="guard2",
                        ASTGUARD_EMERGENCY_NUMBERS="15 17 18 112 3114 3919")
    text = render_dialplan(Wiring.from_settings(settings))
    assert "agi://127.0.0.1" not in text and "Stasis(astguard," not in text
    shipped = data_path("asterisk/astguard.conf").read_text()
    assert text.count("agi://10.0.0.5:4600/") == shipped.count("agi://127.0.0.1:4573/") >= 5
    assert "Stasis(guard2,outbound," in text and "Stasis(guard2,inbound," in text
    assert emergency_in(text) == ["15", "17", "18", "112", "3114", "3919"]
    features = render_features(Wiring.from_settings(settings), add_to_existing=True)
    assert "[applicationmap](+)" in features and "agi://10.0.0.5:4600/objection" in features
    assert "agi://10.0.0.5:4600/feature," in text  # the in-call codes' Gosub, in astguard.conf


def test_bad_wiring_is_refused_in_french():
    with pytest.raises(ConfigError, match="numéro court"):
        render_dialplan(Wiring(emergency=frozenset({"15", "1;5"})))
    with pytest.raises(ConfigError, match="ASTGUARD_ARI_APP"):
        render_dialplan(Wiring(app="a,b"))
    with pytest.raises(ConfigError, match="--trunk"):
        render_trunk("carrier,evil")


def test_the_lab_reads_the_packaged_kit():
    lab = (REPO / "lab/asterisk.py").read_text()
    assert 'data_path("asterisk/astguard.conf")' in lab and "data_path(PROMPTS)" in lab
    assert not (REPO / "dialplan").exists() and not (REPO / "sounds").exists()
