"""Issue 17, item 4: `astguard asterisk check` names every dialplan context that can reach a
trunk without astguard deciding (the dialplan audit, run on the administrator's files)."""

from __future__ import annotations

from pathlib import Path

from astguard.install.doctor import Report, _unguarded_contexts
from astguard.settings import Settings

REPO = Path(__file__).resolve().parents[1]
SETTINGS = Settings.from_env({"ASTGUARD_DATABASE_URL": "postgresql://x@127.0.0.1/x"})


def _write(etc: Path, extensions: str, pjsip: str = "") -> Path:
    etc.mkdir(exist_ok=True)
    (etc / "extensions.conf").write_text(extensions)
    (etc / "pjsip.conf").write_text(pjsip)
    return etc


def test_a_context_dialling_the_trunk_without_astguard_is_named(tmp_path):
    etc = _write(tmp_path / "etc",
                 "[astguard-trunk]\nexten => _[+0-9].,1,Dial(PJSIP/${EXTEN}@operateur,30)\n"
                 "[guarded]\nexten => _X.,1,Stasis(astguard,outbound,${EXTEN})\n"
                 " same => n,Goto(astguard-trunk,${EXTEN},1)\n"
                 "[oubli]\nexten => _X.,1,Dial(PJSIP/${EXTEN}@operateur)\n",
                 "[poste-12]\ntype=endpoint\ncontext=oubli\n"
                 "[poste-13]\ntype=endpoint\ncontext=guarded\n")
    report = Report()
    _unguarded_contexts(SETTINGS, etc, report)
    assert len(report.missing) == 1
    assert "[oubli] atteint l'opérateur sans astguard" in report.missing[0]
    assert "poste-12" in report.missing[0]


def test_a_clean_dialplan_says_so(tmp_path):
    etc = _write(tmp_path / "etc",
                 "[astguard-trunk]\nexten => _[+0-9].,1,Dial(PJSIP/${EXTEN}@operateur,30)\n"
                 "[guarded]\nexten => _X.,1,Stasis(astguard,outbound,${EXTEN})\n"
                 " same => n,Goto(astguard-trunk,${EXTEN},1)\n",
                 "[poste-13]\ntype=endpoint\ncontext=guarded\n")
    report = Report()
    _unguarded_contexts(SETTINGS, etc, report)
    assert report.missing == [] and "sans passer par astguard" in report.ok[0]


def test_the_labs_benchmark_baseline_is_found():
    # The lab's [plain-agents] dials the carrier without astguard on purpose (the post-dial
    # delay baseline): the doctor sees it.
    report = Report()
    _unguarded_contexts(SETTINGS, REPO / "docker/lab/asterisk", report)
    assert any("[plain-agents]" in line for line in report.missing)
