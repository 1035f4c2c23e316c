"""Which dialplan contexts can reach a trunk without passing through astguard (pure: text in,
findings out; `astguard audit dialplan`, and the install kit's doctor later).

A line guards its extension when it asks astguard before dialling: Stasis(astguard,outbound…),
AGI(…/outbound…) or Gosub(astguard-predial…). A Dial() to PJSIP/…@TRUNK (or PJSIP/TRUNK/…) is
unguarded when no such line comes before it in its extension. Jumps (Goto, GotoIf, Gosub,
GosubIf, include =>) carry the guard state along: a jump made after a guard leads to a
post-verdict context ([astguard-allowed] → [astguard-trunk]); one made before leads to code
that runs unguarded. Emergency extensions (R-A: never blocked) are left out.

Reported: every context from which an unguarded path leads to a trunk Dial, if a phone can
enter it (a pjsip.conf endpoint's context=, when pjsip.conf is given) or if it is not a
post-verdict context (an AMI/ARI origination into Local/…@context can start anywhere; the
watchdog hangs such calls up, but the dialplan should not invite them).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from astguard.telephony.contract import (
    DEFAULT_APP,
    ENTRY_OUTBOUND,
    PREDIAL_CONTEXT,
    ROUTE_OUTBOUND,
)

_HEADER = re.compile(r"^\[([^\]]+)\]\s*(\(([^)]*)\))?")
_EXTEN = re.compile(r"^(exten|same)\s*=>?\s*(.*)$", re.I)
_INCLUDE = re.compile(r"^include\s*=>?\s*([-\w.]+)", re.I)
_APP = re.compile(r"^\s*(?:\w+\s*\(\s*\w*\s*\)\s*,)?\s*([A-Za-z_]\w*)\s*\((.*)\)\s*$", re.S)
_JUMP_APPS = {"goto", "gotoif", "gosub", "gosubif", "gotoiftime", "execif", "macro"}
# The contract's ways of asking astguard (telephony/contract.py).
_GUARD = re.compile(rf"^(stasis\(\s*{DEFAULT_APP}\s*,\s*{ENTRY_OUTBOUND}|"
                    rf"agi\([^)]*/{ROUTE_OUTBOUND}\b|gosub\(\s*{PREDIAL_CONTEXT}\b)", re.I)


@dataclass(slots=True)
class _Line:
    app: str
    data: str
    number: int  # line number in its file
    file: str


@dataclass(slots=True)
class _Context:
    name: str
    extensions: dict[str, list[_Line]] = field(default_factory=dict)
    includes: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class DialplanFinding:
    context: str
    path: tuple[str, ...]  # contexts from the entry to the one that dials
    dial: str  # the Dial() line
    where: str  # file:line
    entered_by: tuple[str, ...]  # endpoints whose context= is this one

    def describe(self) -> str:
        via = " → ".join(self.path)
        who = (f"endpoint(s) {', '.join(self.entered_by)}" if self.entered_by
               else "une origination AMI/ARI (Local/…@" + self.context + ")")
        return (f"[{self.context}] atteint l'opérateur sans astguard : {via} : {self.dial} "
                f"({self.where}) ; entrée possible par {who}")


def parse(texts: Iterable[tuple[str, str]]) -> dict[str, _Context]:
    """(file name, text) pairs of extensions.conf-style files → contexts."""
    contexts: dict[str, _Context] = {}
    for name, text in texts:
        current: _Context | None = None
        exten = ""
        for number, raw in enumerate(text.splitlines(), 1):
            line = raw.split(";", 1)[0].strip()
            if not line or line.startswith("#"):
                continue
            header = _HEADER.match(line)
            if header:
                current = contexts.setdefault(header[1].strip(), _Context(header[1].strip()))
                exten = ""
                continue
            if current is None:
                continue
            include = _INCLUDE.match(line)
            if include:
                current.includes.append(include[1])
                continue
            match = _EXTEN.match(line)
            if not match:
                continue
            body = match[2]
            if match[1].lower() == "exten":
                exten, _, body = body.partition(",")
                exten = exten.strip()
                body = body.partition(",")[2]  # drop the priority
            else:
                body = body.partition(",")[2]  # same => n(label),App(...)
            app = _APP.match(body.strip())
            if app:
                current.extensions.setdefault(exten, []).append(
                    _Line(app[1], app[2], number, name))
    return contexts


def _trunk_dial(line: _Line, trunks: frozenset[str]) -> bool:
    if line.app.lower() != "dial":
        return False
    for trunk in trunks:
        if re.search(rf"PJSIP/[^,&]*@{re.escape(trunk)}\b(?![-\w])", line.data) or \
                re.search(rf"PJSIP/{re.escape(trunk)}/", line.data):
            return True
    return False


def _targets(line: _Line, contexts: dict[str, _Context]) -> list[str]:
    """Contexts a jump line names literally (Goto(ctx,exten,prio), GotoIf(cond?ctx,…:…))."""
    if line.app.lower() not in _JUMP_APPS:
        return []
    return [word for word in re.split(r"[(),?:\s]+", line.data) if word in contexts]


def _emergency(exten: str, emergency_numbers: frozenset[str]) -> bool:
    return exten.lstrip("_") in emergency_numbers


def audit_dialplan(texts: Iterable[tuple[str, str]], trunks: frozenset[str], *,
                   emergency_numbers: frozenset[str] = frozenset(),
                   endpoint_contexts: dict[str, list[str]] | None = None
                   ) -> list[DialplanFinding]:
    contexts = parse(texts)
    endpoint_contexts = endpoint_contexts or {}
    # Edges, each made before (unguarded) or after (guarded) a guard in its extension.
    unguarded: dict[str, list[str]] = {c: list(ctx.includes) for c, ctx in contexts.items()}
    guarded_targets: set[str] = set()
    dials: dict[str, tuple[_Line, str]] = {}
    for name, ctx in contexts.items():
        for exten, lines in ctx.extensions.items():
            if _emergency(exten, emergency_numbers):
                continue
            safe = False
            for line in lines:
                if _GUARD.match(f"{line.app}({line.data}"):
                    safe = True
                    continue
                if not safe and _trunk_dial(line, trunks):
                    dials.setdefault(name, (line, exten))
                for target in _targets(line, contexts):
                    (guarded_targets.add(target) if safe
                     else unguarded[name].append(target))
    post_verdict = set(guarded_targets)
    stack = list(post_verdict)
    while stack:
        for target in unguarded.get(stack.pop(), []):
            if target not in post_verdict:
                post_verdict.add(target)
                stack.append(target)
    findings = []
    for name in contexts:
        entered_by = tuple(sorted(endpoint_contexts.get(name, [])))
        if not entered_by and (name in post_verdict or name.startswith("astguard-")):
            continue
        path = _path_to_dial(name, unguarded, dials)
        if path is None:
            continue
        line, _ = dials[path[-1]]
        findings.append(DialplanFinding(name, tuple(path), f"{line.app}({line.data})",
                                        f"{line.file}:{line.number}", entered_by))
    return findings


def _path_to_dial(start: str, edges: dict[str, list[str]],
                  dials: dict[str, tuple[_Line, str]]) -> list[str] | None:
    seen = {start}
    queue = [[start]]
    while queue:
        path = queue.pop(0)
        if path[-1] in dials:
            return path
        for target in edges.get(path[-1], []):
            if target not in seen:
                seen.add(target)
                queue.append(path + [target])
    return None


def endpoint_contexts(pjsip_text: str) -> dict[str, list[str]]:
    """context → endpoints, from a pjsip.conf (templates resolved one level, as the lab uses)."""
    sections: dict[str, dict[str, str]] = {}
    parents: dict[str, list[str]] = {}
    current = None
    for raw in pjsip_text.splitlines():
        line = raw.split(";", 1)[0].strip()
        header = _HEADER.match(line)
        if header:
            current = header[1].strip()
            sections.setdefault(current, {})
            parents[current] = [p.strip() for p in (header[3] or "").split(",")
                                if p.strip() and p.strip() != "!"]
            if "(!)" in line:
                sections[current]["__template"] = "yes"
            continue
        if current and "=" in line:
            key, _, value = line.partition("=")
            sections[current].setdefault(key.strip().lower(), value.strip())
    out: dict[str, list[str]] = {}
    for name, values in sections.items():
        merged = {}
        for parent in parents.get(name, []):
            merged.update(sections.get(parent, {}))
        merged.update({k: v for k, v in values.items() if k != "__template"})
        if values.get("__template") or merged.get("type") != "endpoint":
            continue
        if "context" in merged:
            out.setdefault(merged["context"], []).append(name)
    return out


def read_files(paths: Iterable[Path]) -> list[tuple[str, str]]:
    """The files and those they #include (relative to the including file), once each."""
    out: list[tuple[str, str]] = []
    seen: set[Path] = set()
    todo = list(paths)
    while todo:
        path = todo.pop(0)
        if path.resolve() in seen:
            continue
        seen.add(path.resolve())
        text = path.read_text(encoding="utf-8", errors="replace")
        out.append((str(path), text))
        for match in re.finditer(r"^\s*#include\s+\"?([^\"\s]+)\"?", text, re.M):
            included = path.parent / match[1]
            if included.exists():
                todo.append(included)
    return out
