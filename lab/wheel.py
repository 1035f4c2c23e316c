"""Build astguard's wheel from this checkout, as a release would, without touching the
checkout (the build runs on a copy, so no build/ or egg-info appears in the tree)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from lab.asterisk import REPO


def build_wheel(workdir: Path) -> Path:
    source = workdir / "source"
    shutil.rmtree(source, ignore_errors=True)
    source.mkdir(parents=True)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source / name)
    shutil.copytree(REPO / "src", source / "src",
                    ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    out = workdir / "dist"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
                    "--no-build-isolation", "--wheel-dir", str(out), str(source)],
                   check=True, capture_output=True, text=True)
    (wheel,) = out.glob("astguard-*.whl")
    return wheel
