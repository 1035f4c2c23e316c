"""The layers' import rules (issue 13): surfaces and telephony adapters call use cases only and
never import the store; the policy imports nothing but the standard library, phonenumbers,
itself and astguard.errors (the exception tree, a leaf module that imports nothing). A plain AST walk over every module, every import statement counted (those under
`if TYPE_CHECKING:` too)."""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "astguard"
POLICY_MAY_IMPORT = frozenset({"phonenumbers", "astguard.policy", "astguard.errors"})


def test_the_exception_tree_is_a_leaf_module():
    tree = ast.parse((SRC / "errors.py").read_text())
    imported = [n for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))]
    assert [getattr(n, "module", None) for n in imported] == ["__future__"]


def imported(source: str, module: str) -> list[tuple[int, str]]:
    """(line, absolute module name) of every import in `source`, the module `module` (dotted)
    resolving relative imports."""
    package = module.rsplit(".", 1)[0]
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parts = parts[:len(parts) - (node.level - 1)]
                base = ".".join(parts + ([base] if base else []))
            if base == "astguard":  # from astguard import store
                found += [(node.lineno, f"astguard.{alias.name}") for alias in node.names]
            else:
                found.append((node.lineno, base))
    return found


def _is_within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def store_imports(source: str, module: str) -> list[str]:
    return [f"{module}:{line} imports {name}" for line, name in imported(source, module)
            if _is_within(name, "astguard.store")]


def foreign_policy_imports(source: str, module: str) -> list[str]:
    bad = []
    for line, name in imported(source, module):
        top = name.split(".")[0]
        if top in sys.stdlib_module_names or top == "__future__":
            continue
        if any(_is_within(name, allowed) for allowed in POLICY_MAY_IMPORT):
            continue
        bad.append(f"{module}:{line} imports {name}")
    return bad


def modules(folder: str) -> list[tuple[str, str]]:
    out = []
    for path in sorted((SRC / folder).rglob("*.py")):
        dotted = ".".join(("astguard", *path.relative_to(SRC).with_suffix("").parts))
        out.append((path.read_text(encoding="utf-8"), dotted))
    assert out, f"no module under {folder}"
    return out


@pytest.mark.parametrize("folder", ["surfaces", "telephony"])
def test_surfaces_and_adapters_never_import_the_store(folder):
    problems = [p for source, name in modules(folder) for p in store_imports(source, name)]
    assert problems == []


def test_the_policy_imports_only_the_stdlib_phonenumbers_and_itself():
    problems = [p for source, name in modules("policy")
                for p in foreign_policy_imports(source, name)]
    assert problems == []


@pytest.mark.parametrize("source", [
    "from astguard.store.database import Database\n",
    "import astguard.store.reports\n",
    "from astguard import store\n",
    "from ..store import schema\n",
    "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from astguard.store import x\n",
    "def f():\n    from astguard.store.spool import Spool\n",
])
def test_the_store_rule_catches_every_spelling(source):
    assert store_imports(source, "astguard.surfaces.cli") != []


@pytest.mark.parametrize("source", [
    "from astguard.app import operations\n", "from astguard.values import Outcome\n",
    "import json\n", "from astguard.storehouse import x\n",
])
def test_the_store_rule_lets_the_rest_through(source):
    assert store_imports(source, "astguard.surfaces.cli") == []


@pytest.mark.parametrize(("source", "bad"), [
    ("import asyncpg\n", True), ("from astguard.store import x\n", True),
    ("from astguard import settings\n", True), ("from .. import clock\n", True),
    ("from astguard.clock import Clock\n", True), ("import aiohttp.web\n", True),
    ("import datetime as dt\nfrom zoneinfo import ZoneInfo\n", False),
    ("import phonenumbers\nfrom phonenumbers import geocoder\n", False),
    ("from astguard.policy.model import Campaign\nfrom .numbers import parse_number\n", False),
    ("from __future__ import annotations\n", False),
])
def test_the_policy_rule(source, bad):
    assert bool(foreign_policy_imports(source, "astguard.policy.decide")) is bad


_SQL = re.compile(r"\b(SELECT\s.+\bFROM|INSERT\s+INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM|"
                  r"CREATE\s+(TEMP\s+)?TABLE|COPY\s+\w+)\b", re.S | re.I)


def sql_strings(source: Path) -> list[str]:
    """String constants of a module that hold SQL (docstrings excepted)."""
    tree = ast.parse(source.read_text(encoding="utf-8"))
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef,
                                       ast.AsyncFunctionDef))
                  and node.body and isinstance(node.body[0], ast.Expr)
                  and isinstance(node.body[0].value, ast.Constant)}
    return [f"{source.relative_to(SRC)}:{node.lineno}" for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str)
            and id(node) not in docstrings and _SQL.search(node.value)]


def test_all_sql_lives_in_the_store():
    """Issue 13, item 5: the use cases, adapters and surfaces hold no SQL of their own."""
    found = [hit for package in ("app", "surfaces", "telephony", "install")
             for source in sorted((SRC / package).rglob("*.py")) for hit in sql_strings(source)]
    found += [hit for source in sorted(SRC.glob("*.py")) for hit in sql_strings(source)]
    assert found == []


def test_the_sql_finder_finds_sql():
    assert _SQL.search("SELECT true FROM decisions WHERE id = $1")
    assert _SQL.search("CREATE TEMP TABLE x (n text)")
    assert not _SQL.search("sélectionnez une campagne dans la liste")
