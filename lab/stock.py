"""Asterisk as Debian ships it, for the installation tests: the lab's cached root filesystem
seen through an overlay (nothing written to the cache), with Debian's own /etc/asterisk
(untouched), none of astguard's prompts, and the lab's ports, as on a PBX where astguard was
never installed. Run it under the e2e lock, with the lab's Asterisk stopped.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from pathlib import Path

from lab.asterisk import LabAsterisk, LabError

SOUNDS = "usr/share/asterisk/sounds"


class StockAsterisk(LabAsterisk):
    def __init__(self, lower: Path, workdir: Path) -> None:
        self.lower = lower
        self.workdir = workdir
        super().__init__(workdir / "root", workdir / "logs")

    @property
    def etc(self) -> Path:
        return self.root / "etc/asterisk"

    @property
    def sounds(self) -> Path:
        return self.root / SOUNDS

    def install(self) -> None:
        """Mount the overlay and put Debian's configuration back in it."""
        for sub in ("upper", "work", "root"):
            (self.workdir / sub).mkdir(parents=True, exist_ok=True)
        subprocess.run(["mount", "-t", "overlay", "overlay", "-o",
                        f"lowerdir={self.lower},upperdir={self.workdir / 'upper'},"
                        f"workdir={self.workdir / 'work'}", str(self.root)], check=True)
        # The lab keeps Debian's files in etc/asterisk.samples once it has written its own.
        samples = self.lower / "etc/asterisk.samples"
        if samples.exists():
            shutil.rmtree(self.etc)
            shutil.copytree(samples, self.etc, symlinks=True)
        if (self.etc / "astguard.conf").exists():
            raise LabError("the stock configuration already holds astguard.conf")
        # sounds/fr points (through /etc/alternatives) to the French voice's folder, with an
        # absolute link that only resolves inside the chroot: make it relative, same target,
        # so that the installer, run from outside, writes where Asterisk reads.
        french = self.sounds / "fr"
        target = os.readlink(self.root / "etc/alternatives/asterisk-prompt-fr")
        french.unlink()
        french.symlink_to(Path(target).name)
        shutil.rmtree(french / "astguard", ignore_errors=True)  # the lab's copy of the prompts
        (self.root / "etc/hosts").write_text(
            f"127.0.0.1 localhost\n127.0.1.1 {socket.gethostname()}\n")

    def remove(self) -> None:
        self.stop()
        self.unmount()
        if os.path.ismount(self.root):
            subprocess.run(["umount", "-l", str(self.root)], check=False)
        shutil.rmtree(self.workdir, ignore_errors=True)
