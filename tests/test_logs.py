"""Structured JSON logs: one parseable object per line, extra fields and tracebacks kept."""

from __future__ import annotations

import json
import logging

from astguard.logs import JsonFormatter, configure
from astguard.settings import Settings


def _record(**extra) -> logging.LogRecord:
    record = logging.LogRecord("astguard.telephony.stasis", logging.INFO, __file__, 1,
                               "allow %s -> %s", ("0612345678", "PJSIP/x"), None)
    for key, value in extra.items():
        setattr(record, key, value)
    return record


def test_json_line_with_message_level_and_extras():
    line = JsonFormatter().format(_record(decision_id="d-1", reason_codes=["NO_CONSENT"]))
    out = json.loads(line)
    assert out["msg"] == "allow 0612345678 -> PJSIP/x" and out["level"] == "info"
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
