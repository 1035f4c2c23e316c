"""The lab's root filesystem is built once even when several runs ask for it at once."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

FAKE_DEBOOTSTRAP = """#!/bin/sh
# stands in for debootstrap: counts its runs, takes a while, fills the target directory
echo run >> "$FAKE_COUNT"
sleep 1
mkdir -p "$4/etc"
"""


def test_concurrent_runs_build_the_root_filesystem_once(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "debootstrap"
    fake.write_text(FAKE_DEBOOTSTRAP)
    fake.chmod(0o755)
    count = tmp_path / "count"
    env = {
        **os.environ,
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "ASTGUARD_LAB_CACHE": str(tmp_path / "cache"),
        "FAKE_COUNT": str(count),
        "PYTHONPATH": f"{REPO}:{REPO / 'src'}",
    }
    code = "from lab.asterisk import ensure_rootfs; print(ensure_rootfs(log=lambda m: None))"
    runs = [subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True) for _ in range(3)]
    outputs = [run.communicate(timeout=60) for run in runs]
    assert [run.returncode for run in runs] == [0, 0, 0], outputs
    roots = {out.strip() for out, _ in outputs}
    assert len(roots) == 1
    root = Path(roots.pop())
    assert (root / ".astguard-complete").exists()
    assert count.read_text().count("run") == 1
    assert sorted(p.name for p in root.parent.iterdir()) == [root.name, f"{root.name}.lock"]
