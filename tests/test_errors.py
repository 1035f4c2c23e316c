"""Every exception astguard defines is in the tree errors.py draws (issue 13, item 6)."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re

import astguard
from astguard import errors
from astguard.errors import AstguardError

# Modules not imported by the walk: running them does something.
NOT_IMPORTED = {"astguard.__main__"}
# Exceptions deliberately outside the tree, with the reason.
OUTSIDE_THE_TREE: dict[str, str] = {
    "astguard.surfaces.http._NotConfigured":
        "an aiohttp HTTPNotFound answered to the client (a feature this node was built "
        "without), never raised to astguard's own callers",
}


def _defined_exceptions() -> dict[str, type[BaseException]]:
    found: dict[str, type[BaseException]] = {}
    for info in pkgutil.walk_packages(astguard.__path__, "astguard."):
        if info.name in NOT_IMPORTED:
            continue
        module = importlib.import_module(info.name)
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if issubclass(cls, BaseException) and cls.__module__ == info.name:
                found[f"{info.name}.{cls.__qualname__}"] = cls
    return found


def test_the_walk_finds_the_exceptions_raised_around_the_package():
    names = {name.rsplit(".", 1)[1] for name in _defined_exceptions()}
    assert {"AstguardError", "RecorderError", "AgiProtocolError", "AgiRefused",
            "RecordRejected", "AmiDenied", "NumberError", "DepartmentError",
            "ImportFailed"} <= names


def test_every_exception_derives_from_the_root_or_says_why_not():
    strays = [name for name, cls in _defined_exceptions().items()
              if not issubclass(cls, AstguardError) and name not in OUTSIDE_THE_TREE]
    assert strays == []


def test_the_tree_in_errors_docstring_names_every_exception():
    tree = errors.__doc__ or ""
    missing = [name for name in _defined_exceptions()
               if name not in OUTSIDE_THE_TREE and name.rsplit(".", 1)[1] not in tree]
    assert missing == []


def test_policy_parse_errors_are_still_value_errors():
    from astguard.policy.call_window import DepartmentError
    from astguard.policy.numbers import NumberError

    assert issubclass(NumberError, ValueError) and issubclass(DepartmentError, ValueError)


def _drawn_parents() -> dict[str, str]:
    """Each class of the docstring's drawing with the class it hangs from."""
    parents: dict[str, str] = {}
    stack: list[tuple[int, str]] = []
    for line in (errors.__doc__ or "").splitlines():
        match = re.match(r"^([\s│├└─]*?)(\w+Error|\w+Rejected|\w+Failed|\w+Refused|"
                         r"\w+Denied|\w+Unavailable|InvalidValue)\b", line)
        if not match:
            continue
        depth, name = len(match[1]), match[2]
        while stack and stack[-1][0] >= depth:
            stack.pop()
        if stack:
            parents[name] = stack[-1][1]
        stack.append((depth, name))
    return parents


def test_the_drawing_shows_each_exceptions_own_parent():
    drawn = _drawn_parents()
    actual = {}
    for name, cls in _defined_exceptions().items():
        if cls is not AstguardError and name not in OUTSIDE_THE_TREE:
            base = next(b for b in cls.__bases__ if issubclass(b, AstguardError))
            actual[cls.__name__] = base.__name__
    assert drawn == actual
