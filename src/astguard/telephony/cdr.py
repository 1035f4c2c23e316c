"""Asterisk's own call records (CDR), as the reconciliation reads them: the calls that reached a
trunk. Pure: records in, trunk calls out.

Source: the cdr_custom JSON mapping shipped in docker/lab/asterisk/cdr_custom.conf (one object per
line; times as UNIX epochs; astguard_token the CDR variable the dialplan sets on guarded calls).

Which records are trunk calls:
- a record whose *destination* channel is on a trunk endpoint: something dialled the trunk
  (Dial() in any context, guarded or not); the number is the one in the dial string, else dst;
- a record whose *own* channel is on a trunk endpoint and that Asterisk marks as an outgoing
  line (lastdata "(Outgoing Line)": an origination straight to the trunk nobody answered),
  or, once answered, that ended in a context that is not one of the trunk's inbound contexts
  (ASTGUARD_TRUNK_INBOUND_CONTEXTS). Asterisk does not keep the number of such an origination
  in its CDR: it is listed with an unknown number.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from astguard.errors import InputError
from astguard.telephony.watchdog import trunk_endpoint

OUTGOING_LINE = "(Outgoing Line)"
_DIAL_TARGET = re.compile(r"PJSIP/([^@,&/]+)@([^,&/]+)")


@dataclass(frozen=True, slots=True)
class TrunkCall:
    start: dt.datetime
    trunk_channel: str
    endpoint: str
    number: str  # as dialled; "" when Asterisk's record does not say
    via: str  # the channel that dialled it, or "origination directe"
    context: str
    disposition: str
    uniqueid: str
    linkedid: str
    token: str

    def as_dict(self) -> dict[str, Any]:
        return {"start": self.start.isoformat(), "trunk_channel": self.trunk_channel,
                "endpoint": self.endpoint, "number": self.number, "via": self.via,
                "context": self.context, "disposition": self.disposition,
                "uniqueid": self.uniqueid, "linkedid": self.linkedid,
                "has_token": bool(self.token)}


def read_records(path: Path) -> list[dict[str, Any]]:
    """Every record of a cdr_custom JSON file; a line that is not a JSON object is an error
    naming the line (a half-written last line, while Asterisk writes, is skipped)."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise InputError(f"fichier CDR {path} illisible : {exc.strerror}") from None
    lines = text.splitlines()
    out = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError:
            if number == len(lines) and not text.endswith("\n"):
                continue
            raise InputError(f"fichier CDR {path}, ligne {number} : pas un objet JSON "
                             "(format attendu : cdr_custom.conf de docs/operations.md)") from None
        if not isinstance(record, dict):
            raise InputError(f"fichier CDR {path}, ligne {number} : pas un objet JSON")
        out.append(record)
    return out


def _epoch(value: Any) -> dt.datetime | None:
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return None
    return dt.datetime.fromtimestamp(seconds, dt.UTC) if seconds > 0 else None


def _number_from(lastdata: str, dst: str, endpoint: str) -> str:
    for number, target in _DIAL_TARGET.findall(lastdata):
        if target == endpoint:
            return number
    return dst


def trunk_calls(records: Iterable[dict[str, Any]], trunks: frozenset[str],
                inbound_contexts: frozenset[str]) -> list[TrunkCall]:
    found: dict[tuple[str, str], TrunkCall] = {}
    for r in records:
        start = _epoch(r.get("start"))
        if start is None:
            continue
        channel, dst_channel = str(r.get("channel") or ""), str(r.get("dstchannel") or "")
        context = str(r.get("dcontext") or "")
        common = {"start": start, "context": context,
                  "disposition": str(r.get("disposition") or ""),
                  "uniqueid": str(r.get("uniqueid") or ""),
                  "linkedid": str(r.get("linkedid") or ""),
                  "token": str(r.get("astguard_token") or "")}
        if (endpoint := trunk_endpoint(dst_channel, trunks)) is not None:
            call = TrunkCall(trunk_channel=dst_channel, endpoint=endpoint,
                             number=_number_from(str(r.get("lastdata") or ""),
                                                 str(r.get("dst") or ""), endpoint),
                             via=channel, **common)
        elif (endpoint := trunk_endpoint(channel, trunks)) is not None:
            outgoing = str(r.get("lastdata") or "") == OUTGOING_LINE or (
                bool(inbound_contexts) and context not in inbound_contexts)
            if not outgoing:
                continue  # a call that came in from the carrier
            call = TrunkCall(trunk_channel=channel, endpoint=endpoint, number="",
                             via="origination directe", **common)
        else:
            continue
        # One trunk channel may appear in several records (transfers, bridges): keep the first.
        found.setdefault((call.trunk_channel, call.linkedid), call)
    return sorted(found.values(), key=lambda c: c.start)
