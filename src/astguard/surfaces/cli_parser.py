"""argparse in French: the help's headings, `-h`, and the errors an operator reads (issue 13,
item 11). argparse writes them in English; this parser, used for every sub-command, says them
in French."""

from __future__ import annotations

import argparse
import re
import sys
from typing import NoReturn

_ERRORS = (
    (re.compile(r"^the following arguments are required: (.*)$"),
     r"argument(s) obligatoire(s) manquant(s) : \1"),
    (re.compile(r"^argument (.*?): invalid choice: (.*?) \(choose from (.*)\)$"),
     r"argument \1 : choix invalide : \2 (possibles : \3)"),
    (re.compile(r"^argument (.*?): invalid (\w+) value: (.*)$"),
     r"argument \1 : valeur invalide (\2 attendu) : \3"),
    (re.compile(r"^argument (.*?): expected one argument$"), r"argument \1 : une valeur attendue"),
    (re.compile(r"^argument (.*?): expected at least one argument$"),
     r"argument \1 : au moins une valeur attendue"),
    (re.compile(r"^unrecognized arguments: (.*)$"), r"argument(s) inconnu(s) : \1"),
    (re.compile(r"^ambiguous option: (.*?) could match (.*)$"),
     r"option ambiguë : \1 pourrait être \2"),
    (re.compile(r"^argument (.*?): not allowed with argument (.*)$"),
     r"argument \1 : incompatible avec \2"),
)


def french_error(message: str) -> str:
    for pattern, replacement in _ERRORS:
        if pattern.match(message):
            return pattern.sub(replacement, message)
    return message


class FrenchParser(argparse.ArgumentParser):
    def __init__(self, *args, **kwargs) -> None:
        kwargs["add_help"] = False
        super().__init__(*args, **kwargs)
        self._positionals.title = "arguments"
        self._optionals.title = "options"
        self.add_argument("-h", "--help", action="help", default=argparse.SUPPRESS,
                          help="afficher cette aide et quitter")

    def format_usage(self) -> str:
        return _french_usage(super().format_usage())

    def format_help(self) -> str:
        return _french_usage(super().format_help())

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog} : erreur : {french_error(message)}\n")


def _french_usage(text: str) -> str:
    return re.sub(r"^usage: ", "usage : ", text)
