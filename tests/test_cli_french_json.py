"""Issue 13, item 11: everything the CLI says to a person is in French, and every read command
takes --json and prints machine-readable JSON (codes and ISO-8601 instants)."""

from __future__ import annotations

import argparse
import json
import re

import pytest

from astguard.surfaces.cli import _parser
from astguard.surfaces.cli_parser import french_error
from tests.test_cli import cli_env, run  # noqa: F401  (the module's fixture, reused)

pytestmark = pytest.mark.db

ENGLISH = re.compile(r"\b(the|of|with|default|which|when|this|that|from|into|each|every|for|and|"
                     r"apply|print|show|numbers|included|record|say|whose|run|saved|message|"
                     r"exit|program)\b", re.IGNORECASE)


def _help_texts(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()):
    """(where, kind, text) for every help text: commands, options, positional arguments."""
    if parser.description:
        yield path, "description", parser.description
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for choice in action._choices_actions:
                yield (*path, choice.dest), "command", choice.help or ""
            for name, sub in action.choices.items():
                yield from _help_texts(sub, (*path, name))
        elif action.help != argparse.SUPPRESS:
            kind = "option" if action.option_strings else "positional"
            yield (*path, action.dest), kind, action.help or ""


def test_every_help_text_is_french():
    english = [(" ".join(where), text) for where, _, text in _help_texts(_parser())
               if ENGLISH.search(text)]
    assert english == []


def test_every_command_and_option_says_what_it_does():
    # Positional arguments are named in French in the usage line (NUMÉRO, FICHIER…).
    missing = [" ".join(where) for where, kind, text in _help_texts(_parser())
               if kind in ("command", "option") and not text]
    assert missing == []


def test_argparse_errors_and_headings_are_french(cli_env):
    done = run(cli_env, "decisions", "--decision", "peut-être")
    assert done.returncode == 2
    assert "choix invalide : 'peut-être' (possibles : 'allow', 'deny')" in done.stderr
    assert "usage : astguard decisions" in done.stderr and "invalid choice" not in done.stderr
    missing = run(cli_env, "campaign", "set")
    assert "argument(s) obligatoire(s) manquant(s) : NOM, --principal" in missing.stderr
    helped = run(cli_env, "callerid", "list", "--help")
    assert "afficher cette aide et quitter" in helped.stdout
    assert "show this help" not in helped.stdout


@pytest.mark.parametrize(("english", "french"), [
    ("unrecognized arguments: --x", "argument(s) inconnu(s) : --x"),
    ("argument --limit: invalid int value: 'dix'",
     "argument --limit : valeur invalide (int attendu) : 'dix'"),
    ("argument --at: expected one argument", "argument --at : une valeur attendue"),
    ("something else", "something else"),
])
def test_french_error(english, french):
    assert french_error(english) == french


def test_management_messages_are_french(cli_env):
    done = run(cli_env, "principal", "add", "cli-fr", "--name", "FR")
    assert done.stdout.strip() == "donneur d'ordre cli-fr enregistré"
    done = run(cli_env, "campaign", "set", "cli-fr-service", "--principal", "cli-fr",
               "--purpose", "service", "--dial-mode", "predictive")
    assert done.stdout.strip() == ("campagne cli-fr-service enregistrée (service client, "
                                   "prédictif, numéro présenté -)")
    assert run(cli_env, "endpoint", "set", "cli-fr-agent").stdout.strip() == \
        "poste cli-fr-agent enregistré"
    listing = run(cli_env, "campaign", "list").stdout
    header = listing.splitlines()[0]
    assert "finalité" in header and "purpose" not in header
    row = next(line for line in listing.splitlines() if line.startswith("cli-fr-service "))
    assert "service client" in row and "prédictif" in row and "oui" in row  # active


def _json(env, *argv, rc=0):
    done = run(env, *argv)
    assert done.returncode == rc, done.stderr
    return json.loads(done.stdout)


def test_campaign_and_endpoint_lists_json(cli_env):
    campaigns = {c["name"]: c for c in _json(cli_env, "campaign", "list", "--json")}
    assert campaigns["cli-prospect"]["purpose"] == "prospecting"  # codes, not labels
    assert campaigns["cli-prospect"]["principal_id"] == "cli-acme"
    endpoints = {e["endpoint"]: e for e in _json(cli_env, "endpoint", "list", "--json")}
    assert endpoints["cli-agent"]["default_campaign"] == "cli-prospect"


def test_consent_list_json(cli_env):
    out = _json(cli_env, "consent", "list", "0612345678", "--json")
    assert [c["proof_ref"] for c in out["cli-acme"]] == ["cli-proof"]
    assert out["cli-acme"][0]["scopes"] == ["energie"]


def test_history_json(cli_env):
    out = _json(cli_env, "history", "0612345678", "--campaign", "cli-prospect", "--json")
    assert out["number"] == "+33612345678" and "next_callable" in out


def test_callerid_reads_json(cli_env):
    listing = {r["number"]: r for r in
               _json(cli_env, "callerid", "list", "--principal", "cli-acme", "--json")}
    entry = listing["+33162123456"]
    # The count itself is the store's (tests/test_root.py); the lab's end-to-end calls may have
    # had this shared number refused by the carrier earlier in the same run.
    assert isinstance(entry["recent_refusals"], int) and entry["recent_refusals"] >= 0
    assert isinstance(entry["blocked_by_network"], bool)
    assert isinstance(_json(cli_env, "callerid", "alerts", "--json"), list)
    assert isinstance(_json(cli_env, "callerid", "alerts", "--all", "--json"), list)
    refused = _json(cli_env, "callerid", "check", "0899123456", "--principal", "cli-acme",
                    "--json", rc=1)
    assert refused["allowed"] is False and refused["tables_checked"] == "2026-11-25"
    assert "CALLER_ID_FORBIDDEN_RANGE" in [r["code"] for r in refused["reasons"]]
    allowed = _json(cli_env, "callerid", "check", "0162123456", "--principal", "cli-acme",
                    "--mode", "predictive", "--json")
    assert allowed["allowed"] is True and allowed["mode"] == "predictive"


def test_decisions_audit_and_report_json(cli_env):
    assert isinstance(_json(cli_env, "decisions", "--json"), list)
    head = _json(cli_env, "audit", "head", "--json")
    assert set(head) == {"seq", "hash"}
    verify = run(cli_env, "audit", "verify", "--json")
    assert verify.returncode in (0, 1)  # 1 if another test broke this database's chain
    assert json.loads(verify.stdout)["head"] == head
    report = _json(cli_env, "report", "--principal", "cli-acme", "--json")
    assert report["summary"]["decisions"] >= 0
    same = _json(cli_env, "report", "--principal", "cli-acme", "--format", "json")
    assert same.keys() == report.keys()


def test_db_spool_config_and_purge_json(cli_env):
    assert _json(cli_env, "db", "status", "--json") == {"current": True}
    spool = _json(cli_env, "spool", "status", "--json")
    assert spool == {"written": None, "kept_aside": 0, "pending": 0}
    assert _json(cli_env, "spool", "flush", "--json")["written"] == 0
    config = _json(cli_env, "config", "--json")
    assert config["file"] == "/dev/null"
    assert config["settings"]["database_url"].startswith("postgresql://")
    assert ":astguard@" not in config["settings"]["database_url"]  # the password masked
    assert _json(cli_env, "purge", "--json") == []


def test_asterisk_check_json(cli_env, tmp_path):
    out = _json(cli_env, "asterisk", "check", "--etc", str(tmp_path), "--json", rc=1)
    assert out["missing"] and isinstance(out["ok"], list)
