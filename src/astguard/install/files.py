"""Writing into an administrator's Asterisk configuration: managed blocks, backups, diffs.

astguard's lines in a file it does not own (extensions.conf, http.conf…) sit between two
marker comments; running the installer again replaces what is between them and nothing else.
A file that would change is first copied to `<file>.astguard-backup-<UTC time>`.
"""

from __future__ import annotations

import datetime as dt
import difflib
import grp
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

BEGIN = "; >>> astguard: written by `astguard asterisk install`; edits between these lines are replaced"
END = "; <<< astguard"
_HEADER = re.compile(r"^\s*\[([^\]]+)\]")


@dataclass(frozen=True, slots=True)
class FileChange:
    path: Path
    before: str | None  # None: the file does not exist yet
    after: str
    mode: int = 0o644
    secrets: tuple[str, ...] = ()  # masked in the diff
    group: str | None = None  # for a new file, when that group exists

    def diff(self) -> str:
        before, after = self.before or "", self.after
        for secret in self.secrets:
            before, after = before.replace(secret, "***"), after.replace(secret, "***")
        return "".join(difflib.unified_diff(
            before.splitlines(keepends=True), after.splitlines(keepends=True),
            fromfile=str(self.path) if self.before is not None else "/dev/null",
            tofile=str(self.path)))

    def apply(self, stamp: str) -> Path | None:
        """Write the file (atomically); return the backup made of the old one, if any."""
        backup = None
        if self.before is not None:
            backup = self.path.with_name(f"{self.path.name}.astguard-backup-{stamp}")
            n = 1
            while backup.exists():
                backup = backup.with_name(f"{self.path.name}.astguard-backup-{stamp}-{n}")
                n += 1
            shutil.copy2(self.path, backup)
            mode = self.path.stat().st_mode & 0o7777
        else:
            mode = self.mode
        if self.secrets:  # a file holding astguard's secrets is never readable by all
            mode &= ~0o007
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.astguard-tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(self.after)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, mode)
        if self.before is not None:
            st = self.path.stat()
            os.chown(tmp, st.st_uid, st.st_gid)
        elif self.group:
            try:
                os.chown(tmp, -1, grp.getgrnam(self.group).gr_gid)
            except KeyError:
                pass
        os.replace(tmp, self.path)
        return backup


def stamp(now: dt.datetime) -> str:
    return now.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")


def read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None


def without_block(text: str) -> str:
    """The administrator's part of a file: everything outside astguard's markers."""
    lines = text.split("\n")
    if BEGIN in lines and END in lines[lines.index(BEGIN):]:
        start = lines.index(BEGIN)
        end = lines.index(END, start)
        del lines[start:end + 1]
    return "\n".join(lines)


def with_block(text: str | None, body: str) -> str:
    """`text` with astguard's block set to `body`: replaced where it is, or appended."""
    block = [BEGIN, *body.rstrip("\n").split("\n"), END]
    lines = (text or "").split("\n")
    if BEGIN in lines and END in lines[lines.index(BEGIN):]:
        start = lines.index(BEGIN)
        end = lines.index(END, start)
        lines[start:end + 1] = block
        return "\n".join(lines)
    base = (text or "").rstrip("\n")
    return (base + "\n\n" if base else "") + "\n".join(block) + "\n"


def sections(text: str) -> list[str]:
    """The [section] names of a configuration file, in order (templates' "(!)" removed)."""
    return [m[1].strip() for line in text.split("\n") if (m := _HEADER.match(line))]


def section_values(text: str, name: str) -> dict[str, str]:
    """key = value lines of every [name] section (comments after ';' dropped)."""
    values: dict[str, str] = {}
    current = None
    for line in text.split("\n"):
        if m := _HEADER.match(line):
            current = m[1].strip()
            continue
        if current != name:
            continue
        content = line.split(";", 1)[0].strip()
        if "=" in content and not content.startswith("#"):
            key, _, value = content.partition("=")
            values[key.strip().lstrip(">").strip().lower()] = value.strip().lstrip(">").strip()
    return values


def header(name: str, outside: str) -> str:
    """[name](+) adds to a section the administrator's file already has; [name] starts it."""
    return f"[{name}](+)" if name in sections(outside) else f"[{name}]"
