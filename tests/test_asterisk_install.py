"""`astguard asterisk install` on a copy of an administrator's /etc/asterisk: what it writes,
backups, idempotence, dry run, secrets, and what it refuses to do."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from astguard import config_file
from astguard.install import files
from astguard.install.kit import data_path, prompt_files
from astguard.surfaces.cli import main

# A reduced Debian /etc/asterisk: [general] sections present, features.conf with an
# [applicationmap], a file without a final newline.
STOCK = {
    "extensions.conf": "[general]\nstatic=yes\n\n[default]\nexten => 100,1,Answer()\n",
    "features.conf": "[general]\n[featuremap]\n[applicationmap]\n",
    "http.conf": "[general]\nservername=Asterisk\nbindaddr=127.0.0.1\n;+;",
    "ari.conf": "[general]\nenabled = yes\n",
    "manager.conf": "[general]\nenabled = yes\nport = 5038\nbindaddr = 127.0.0.1\n",
    "pjsip.conf": "; nothing yet\n",
}


@pytest.fixture
def box(tmp_path: Path) -> dict[str, Path]:
    etc = tmp_path / "etc"
    etc.mkdir()
    for name, text in STOCK.items():
        (etc / name).write_text(text)
    conf = tmp_path / "astguard.conf"
    conf.write_text("# mine\nASTGUARD_DATABASE_URL=postgresql://a@127.0.0.1/a\n")
    return {"etc": etc, "sounds": tmp_path / "sounds", "conf": conf, "root": tmp_path}


def install(box: dict[str, Path], *extra: str) -> int:
    return main(["asterisk", "install", "--config", str(box["conf"]), "--etc", str(box["etc"]),
                 "--sounds", str(box["sounds"]), *extra])


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file()}


def test_install_writes_the_kit_and_a_second_run_changes_nothing(box, capsys):
    assert install(box, "--trunk", "operateur") == 0
    etc = box["etc"]
    assert (etc / "astguard.conf").read_text() == data_path("asterisk/astguard.conf").read_text()
    assert "[applicationmap](+)" in (etc / "astguard-features.conf").read_text()
    assert "Dial(PJSIP/${EXTEN}@operateur," in (etc / "astguard-trunk.conf").read_text()
    extensions = (etc / "extensions.conf").read_text()
    assert extensions.startswith(STOCK["extensions.conf"])
    assert "#include astguard.conf\n#include astguard-trunk.conf\n" in extensions
    http = (etc / "http.conf").read_text()
    assert "[general](+)\nenabled=yes\nbindport=8088\n" in http and "bindaddr=127.0.0.1\n" in http
    # The secrets astguard generated are the ones Asterisk's files hold.
    values, _ = config_file.merged(str(box["conf"]), {})
    assert len(values["ASTGUARD_ARI_PASSWORD"]) >= 24
    assert f"password={values['ASTGUARD_ARI_PASSWORD']}\n" in (etc / "ari.conf").read_text()
    assert f"secret={values['ASTGUARD_AMI_SECRET']}\n" in (etc / "manager.conf").read_text()
    assert values["ASTGUARD_PROMPTS_DIR"] == str(box["sounds"] / "fr/astguard")
    for secret_holder in (box["conf"], etc / "ari.conf", etc / "manager.conf"):
        assert secret_holder.stat().st_mode & 0o007 == 0, secret_holder
    assert sorted(p.name for p in (box["sounds"] / "fr/astguard").iterdir()) == \
        [p.name for p in prompt_files()]
    # Every administrator's file that changed was saved first, as it was.
    backups = sorted(etc.glob("*.astguard-backup-*"))
    assert {b.name.split(".astguard-backup-")[0] for b in backups} == {
        "extensions.conf", "features.conf", "http.conf", "ari.conf", "manager.conf"}
    for backup in backups:
        assert backup.read_text() == STOCK[backup.name.split(".astguard-backup-")[0]]

    before = snapshot(box["root"])
    capsys.readouterr()
    assert install(box) == 0  # no --trunk: the generated trunk file stays included
    assert "rien à changer" in capsys.readouterr().out
    assert snapshot(box["root"]) == before


def test_dry_run_writes_nothing_and_masks_the_secrets(box, capsys):
    before = snapshot(box["root"])
    assert install(box, "--dry-run") == 0
    out = capsys.readouterr().out
    assert snapshot(box["root"]) == before
    assert "+#include astguard.conf" in out and "+password=***" in out
    assert "+ASTGUARD_AMI_SECRET=***" in out and "annonce" in out


def test_administrator_lines_are_kept_and_astguard_block_is_restored(box):
    assert install(box) == 0
    ext = box["etc"] / "extensions.conf"
    text = ext.read_text().replace("#include astguard.conf", "; removed by hand")
    ext.write_text(text + "\n[mine]\nexten => 200,1,Hangup()\n")
    assert install(box) == 0
    again = ext.read_text()
    assert "#include astguard.conf" in again and "; removed by hand" not in again
    assert again.endswith("[mine]\nexten => 200,1,Hangup()\n")
    assert again.count(files.BEGIN) == 1


def test_an_administrator_recording_is_kept(box):
    target = box["sounds"] / "fr/astguard" / "refus-horaires.wav"
    target.parent.mkdir(parents=True)
    target.write_bytes(b"RIFF professional recording")
    assert install(box) == 0
    assert target.read_bytes() == b"RIFF professional recording"


def test_an_existing_astguard_ari_user_is_refused_in_french(box, capsys):
    (box["etc"] / "ari.conf").write_text("[general]\nenabled=yes\n[astguard]\ntype=user\n")
    before = snapshot(box["root"])
    assert install(box) == 2
    assert "ari.conf a déjà une section [astguard]" in capsys.readouterr().err
    assert snapshot(box["root"]) == before


def test_a_missing_configuration_file_is_created_from_the_example(box, tmp_path):
    box["conf"] = tmp_path / "new" / "astguard.conf"
    assert install(box) == 0
    text = box["conf"].read_text()
    assert text.startswith(data_path("astguard.conf.example").read_text().split("\n")[0])
    assert "ASTGUARD_ARI_PASSWORD=" in text and (box["conf"].stat().st_mode & 0o777) == 0o640


def test_no_asterisk_folder_is_bad_input(box, capsys):
    shutil.rmtree(box["etc"])
    assert install(box) == 2
    assert "dossier introuvable" in capsys.readouterr().err


def test_an_unreadable_file_is_a_french_error_not_a_traceback(box, capsys):
    (box["etc"] / "astguard.conf").mkdir()  # in the way of the file astguard writes
    assert install(box) == 2
    assert "lecture impossible" in capsys.readouterr().err
