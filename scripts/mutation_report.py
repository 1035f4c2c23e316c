"""The mutation score of the policy, per module, from mutmut's results (scripts/mutation).

Run by scripts/mutation with mutmut's virtualenv, inside the scratch copy (.mutation/):

  strip-caches DIR   removes the memoising decorators from the copy (see scripts/mutation)
  score --equivalents FILE --threshold PCT
                     prints the score per module and every surviving mutant with its diff;
                     exits 1 under the threshold

A surviving mutant is equivalent (no test can tell it from the original) only if the reviewed
file lists it: the function, the line it removes and the line it adds, and why. Matching on the
change rather than on mutmut's numbering keeps an entry valid when other lines of the function
move; an entry that no longer matches any mutant is reported as stale.
"""

from __future__ import annotations

import argparse
import re
import sys
import tomllib
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

_CACHE_DECORATOR = re.compile(r"^@(functools\.)?(lru_cache|cache)(\(.*\))?\n", re.MULTILINE)
# mutmut's exit codes: 1 and 3 a test failed; a timeout or a crash also means a test noticed.
_KILLED = {1, 3, 24, -24, 152, 255, 36, -11, -9}
_POLICY = Path("src/astguard/policy")


def strip_caches(directory: Path) -> None:
    for path in sorted(directory.glob("*.py")):
        text = path.read_text("utf-8")
        stripped, count = _CACHE_DECORATOR.subn("", text)
        if count:
            path.write_text(stripped, "utf-8")
            print(f"mutation: {path.name}: {count} memoising decorator(s) removed in the copy")


@dataclass(frozen=True)
class Change:
    function: str  # e.g. astguard.policy.numbers.x_parse_number (mutmut's mangled name)
    removed: tuple[str, ...]
    added: tuple[str, ...]


def _function_of(mutant: str) -> str:
    return mutant.rpartition("__mutmut_")[0]


def _change(mutant: str, path: Path) -> tuple[Change, str]:
    from mutmut.mutation.diff_apply import get_diff_for_mutant

    diff = get_diff_for_mutant(mutant, path=path)
    lines = diff.splitlines()[2:]  # past the ---/+++ header
    removed = tuple(line[1:].strip() for line in lines if line.startswith("-"))
    added = tuple(line[1:].strip() for line in lines if line.startswith("+"))
    return Change(_function_of(mutant), removed, added), diff


def _load_equivalents(path: Path) -> list[dict[str, object]]:
    data = tomllib.loads(path.read_text("utf-8"))
    entries = data.get("equivalent", [])
    for entry in entries:
        missing = {"mutant", "removed", "added", "reason"} - entry.keys()
        if missing or not str(entry["reason"]).strip():
            sys.exit(f"mutation: {path}: entry {entry.get('mutant')} lacks {sorted(missing) or 'a reason'}")
    return entries


def _entry_change(entry: dict[str, object]) -> Change:
    def lines(value: object) -> tuple[str, ...]:
        items = value if isinstance(value, list) else [value]
        return tuple(str(item).strip() for item in items if str(item).strip())

    return Change(_function_of(str(entry["mutant"])), lines(entry["removed"]), lines(entry["added"]))


def score(equivalents_file: Path, threshold: float) -> int:
    import json

    entries = _load_equivalents(equivalents_file)
    wanted = {_entry_change(entry): entry for entry in entries}
    used: set[Change] = set()
    rows = []
    survivors: list[tuple[str, str, str]] = []
    equivalent_found: list[tuple[str, str]] = []
    totals = defaultdict(int)
    for meta in sorted((Path("mutants") / _POLICY).glob("*.py.meta")):
        source = _POLICY / meta.name.removesuffix(".meta")
        codes = json.loads(meta.read_text("utf-8"))["exit_code_by_key"]
        module = source.stem
        n = killed = equivalent = 0
        for mutant, code in sorted(codes.items()):
            n += 1
            if code in _KILLED:
                killed += 1
                continue
            change, diff = _change(mutant, source)
            if change in wanted:
                used.add(change)
                equivalent += 1
                equivalent_found.append((mutant, str(wanted[change]["reason"])))
                continue
            status = "not reached by any test" if code in (5, 33) else (
                "survived" if code == 0 else f"exit code {code}")
            survivors.append((module, f"{mutant} ({status})", diff))
        counted = n - equivalent
        rows.append((module, n, equivalent, killed, counted))
        for key, value in (("n", n), ("equivalent", equivalent), ("killed", killed),
                           ("counted", counted)):
            totals[key] += value
    if not rows:
        print("mutation: no mutmut results found (did mutmut run?)", file=sys.stderr)
        return 2

    print()
    print(f"{'module':<12} {'mutants':>8} {'equiv.':>7} {'killed':>7} {'survived':>9} {'score':>8}")
    for module, n, equivalent, killed, counted in (row for row in rows if row[1]):
        pct = 100.0 * killed / counted if counted else 100.0
        print(f"{module:<12} {n:>8} {equivalent:>7} {killed:>7} {counted - killed:>9} {pct:>7.1f}%")
    total_pct = 100.0 * totals["killed"] / totals["counted"] if totals["counted"] else 100.0
    print(f"{'total':<12} {totals['n']:>8} {totals['equivalent']:>7} {totals['killed']:>7} "
          f"{totals['counted'] - totals['killed']:>9} {total_pct:>7.1f}%")

    if equivalent_found:
        print(f"\nEquivalent mutants ({equivalents_file.name}):")
        for mutant, reason in equivalent_found:
            print(f"  {mutant}: {reason}")
    stale = [entry for change, entry in wanted.items() if change not in used]
    for entry in stale:
        print(f"\nmutation: stale entry in {equivalents_file.name} (no surviving mutant makes "
              f"this change any more, remove or update it): {entry['mutant']}")
    if survivors:
        print("\nSurviving mutants:")
        for module, title, diff in survivors:
            print(f"\n## {module}: {title}")
            print("\n".join(line for line in diff.splitlines()[2:]
                            if line.startswith(("-", "+", "@@"))))
    print(f"\nmutation: {totals['killed']} of {totals['counted']} non-equivalent mutants killed: "
          f"{total_pct:.1f} % (threshold {threshold:g} %)")
    if total_pct < threshold:
        print("mutation: FAILED, under the threshold", file=sys.stderr)
        return 1
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    strip = sub.add_parser("strip-caches")
    strip.add_argument("directory", type=Path)
    check = sub.add_parser("score")
    check.add_argument("--equivalents", type=Path, required=True)
    check.add_argument("--threshold", type=float, required=True)
    args = parser.parse_args()
    if args.command == "strip-caches":
        strip_caches(args.directory)
        return 0
    return score(args.equivalents, args.threshold)


if __name__ == "__main__":
    sys.exit(main())
