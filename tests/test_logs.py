"""Structured JSON logs: one parseable object per line, extra fields and tracebacks kept;
telephone numbers masked at INFO and above, whole in the evidence only."""

from __future__ import annotations

import io
import json
import logging

import pytest

from astguard.logs import JsonFormatter, configure, mask_number, mask_numbers
from astguard.settings import Settings
from astguard.store.evidence import EvidenceStore
from astguard.telephony.fastagi import HardenedFastAGI, OutboundAgi, serve_fastagi
from tests.test_gate import directory, make_gate  # noqa: F401 (a fixture)
from tests.telephony.test_fastagi import play_asterisk, request


def _record(**extra) -> logging.LogRecord:
    record = logging.LogRecord("astguard.telephony.stasis", logging.INFO, __file__, 1,
                               "allow %s -> %s", ("0612345678", "PJSIP/x"), None)
    for key, value in extra.items():
        setattr(record, key, value)
    return record


def test_json_line_with_message_level_and_extras():
    line = JsonFormatter().format(_record(decision_id="d-1", reason_codes=["NO_CONSENT"]))
    out = json.loads(line)
    assert out["msg"] == "allow 06******78 -> PJSIP/x" and out["level"] == "info"
    assert out["logger"] == "astguard.telephony.stasis"
    assert out["decision_id"] == "d-1" and out["reason_codes"] == ["NO_CONSENT"]
    assert out["ts"].endswith("+00:00") and "\n" not in line


def test_tracebacks_stay_on_one_line():
    try:
        raise ValueError("boom")
    except ValueError:
        import sys
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
    line = JsonFormatter().format(record)
    assert "\n" not in line and "ValueError: boom" in json.loads(line)["exc"]


def test_configure_from_settings(capsys):
    settings = Settings.from_env({"ASTGUARD_DATABASE_URL": "postgresql://x/y",
                                  "ASTGUARD_LOG_FORMAT": "json"})
    configure(settings.log_level, settings.log_format)
    try:
        logging.getLogger("astguard.test").warning("hello %s", "world")
        err = capsys.readouterr().err.strip().splitlines()[-1]
        assert json.loads(err)["msg"] == "hello world"
    finally:
        logging.getLogger().handlers[:] = []


@pytest.mark.parametrize(("number", "masked"), [
    ("+33612345678", "+336******78"),
    ("0612345678", "06******78"),
    ("+262692123456", "+2626******56"),  # Réunion: a three-digit country code
    ("+14155550123", "+14*******23"),
    ("0033612345678", "00336******78"),
    ("33612345678", "336******78"),
])
def test_mask_number_keeps_country_code_first_digit_and_last_two(number, masked):
    assert mask_number(number) == masked


def test_identifiers_and_instants_are_not_taken_for_numbers():
    text = ("decision 6d2c5f38-6c3f-4d8c-9a0e-0612345678ab channel 1700000000.1 "
            "at 2026-11-27T11:00:00+01:00 port 4573")
    assert mask_numbers(text) == text


def test_debug_lines_are_left_whole():
    record = logging.LogRecord("x", logging.DEBUG, __file__, 1, "to %s", ("+33612345678",), None)
    assert "+33612345678" in JsonFormatter().format(record)


@pytest.mark.db
@pytest.mark.parametrize("fmt", ["text", "json"])
async def test_a_real_decision_leaves_no_full_number_in_the_logs(db, directory, spool_dir,
                                                                 fmt):
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    out = io.StringIO()
    configure("INFO", fmt, out)
    try:
        gate = make_gate(db, spool_dir)
        app = HardenedFastAGI(read_timeout=2.0)
        OutboundAgi(gate).install(app)
        server = await serve_fastagi(app, "127.0.0.1", 0)
        try:
            port = server.sockets[0].getsockname()[1]
            commands = await play_asterisk(
                port, request("outbound", "0612345678", "gate-agent", "", "", "",
                              channel="PJSIP/gate-agent-00000001"))
            # A handler that fails with the number in its exception is masked too.
            logging.getLogger("astguard.test").error(
                "failed", exc_info=ValueError("bad number +33612345678"))
        finally:
            server.close()
            await server.wait_closed()
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)
    text = out.getvalue()
    decision_id = commands[0].split("|")[1]
    assert "agi allow 06******78" in text and "+336******78" in text
    assert "612345678" not in text, text
    row = await EvidenceStore(db).get(decision_id)  # the evidence keeps the whole number
    assert row["number_e164"] == "+33612345678" and row["dialled"] == "0612345678"
