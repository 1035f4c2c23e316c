"""Agents' codes the dialplan kept while astguard did not answer (issue 14).

A refusal or an opposition keyed during a call, or a short code dialled after one, goes to
astguard over FastAGI. When nothing answers there (astguard killed, restarting, or neither
PostgreSQL nor its spool could take the code), [astguard-keep-code] writes the code into the
Asterisk database (AstDB, family contract.KEPT_CODES_FAMILY, on disk, kept across an Asterisk
restart) and the agent hears the confirmation. This reader takes them back: at start and every
`interval` seconds it lists the family over AMI (DBGetTree), hands each code to the contacts
use case (which spools it, dated from the moment it was keyed) and only then deletes the key
(DBDel). A crash between the two keeps the key; the code's id comes from the key and its value,
so it is written once however often it is read.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import re
import uuid
from dataclasses import dataclass

from astguard.app.contacts import CodeSpooled, ContactService
from astguard.clock import Clock
from astguard.errors import InputError, StoreUnavailable
from astguard.telephony import contract
from astguard.telephony.ami import AmiClient, AmiError

log = logging.getLogger(__name__)

INTERVAL = 10.0  # seconds between two reads of the family
_NAMESPACE = uuid.UUID("6f0f3c52-3b0e-4d53-9d1c-6a1d3c0b7e21")  # ids of kept codes
_DECISION_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_NO_ENTRY = "database entry not found"  # DBGetTree's answer for an empty family


class KeptCodeError(InputError):
    """An AstDB entry of the family that is not a code as [astguard-keep-code] writes it."""


@dataclass(frozen=True, slots=True)
class KeptEntry:
    key: str
    value: str

    def code(self, test_now: dt.datetime | None = None) -> CodeSpooled:
        """The code this entry keeps, or KeptCodeError naming what is wrong. It is dated
        from the EPOCH Asterisk wrote; under a test clock (pinned or started), whose decisions
        are not dated in real time, from `test_now`, that clock's now, as a code keyed while
        astguard runs is."""
        fields = self.value.split(contract.KEPT_CODE_SEPARATOR)
        if len(fields) != len(contract.KEPT_CODE_FIELDS):
            raise KeptCodeError(f"{len(fields)} champs au lieu de "
                                f"{len(contract.KEPT_CODE_FIELDS)}")
        got = dict(zip(contract.KEPT_CODE_FIELDS, fields, strict=True))
        if got["version"] != contract.KEPT_CODE_VERSION:
            raise KeptCodeError(f"version {got['version']!r} inconnue")
        decision_id, endpoint = got["decision_id"] or None, got["endpoint"] or None
        if decision_id is not None and not _DECISION_ID.match(decision_id):
            raise KeptCodeError(f"identifiant de décision illisible {decision_id!r}")
        if endpoint is not None and contract.NOT_NAME.search(endpoint):
            raise KeptCodeError(f"poste illisible {endpoint!r}")
        if not got["epoch"].isdigit() or (got["days"] and not got["days"].isdigit()):
            raise KeptCodeError("date ou durée illisible")
        return CodeSpooled(
            id=str(uuid.uuid5(_NAMESPACE, f"{self.key}\n{self.value}")), kind=got["kind"],
            decision_id=decision_id, endpoint=None if decision_id else endpoint,
            source="dtmf" if decision_id else "short-code",
            days=int(got["days"]) if got["days"] else None,
            at=test_now or dt.datetime.fromtimestamp(int(got["epoch"]), dt.UTC))


class KeptCodes:
    def __init__(self, ami: AmiClient, contacts: ContactService, clock: Clock) -> None:
        self._ami = ami
        self._contacts = contacts
        self._clock = clock
        self._unreachable = False

    async def entries(self) -> list[KeptEntry]:
        messages = await self._ami.messages(
            {"Action": "DBGetTree", "Family": contract.KEPT_CODES_FAMILY})
        first = messages[0] if messages else {}
        if first.get("Response") == "Error":
            if _NO_ENTRY in str(first.get("Message", "")).lower():
                return []
            raise AmiError(f"AMI DBGetTree: {first.get('Message')}")
        prefix = f"/{contract.KEPT_CODES_FAMILY}/"  # DBGetTree names keys in full
        return [KeptEntry(str(m.get("Key", "")).removeprefix(prefix), str(m.get("Val", "")))
                for m in messages if m.get("Event") == "DBGetTreeResponse"]

    async def take(self) -> int:
        """Take every kept code once: spooled, then deleted from AstDB. Returns how many were
        taken. A code the spool cannot take stays in AstDB for the next time."""
        taken = 0
        for entry in await self.entries():
            try:
                code = entry.code(None if self._clock.mode == "system" else self._clock.now())
                await self._contacts.keep_code(code)
            except StoreUnavailable as exc:
                log.error("code kept by Asterisk %s not taken yet: %s", entry.key, exc)
                continue
            except InputError as exc:
                # Nothing can write it: it is in this log line, whole, before it goes.
                log.error("code kept by Asterisk %s=%r unreadable, deleted: %s", entry.key,
                          entry.value, exc)
            else:
                log.warning("%s code kept by Asterisk while astguard was away (%s, %s) taken "
                            "into the spool", code.kind, entry.key,
                            code.decision_id or code.endpoint)
                taken += 1
            await self._ami.action({"Action": "DBDel", "Family": contract.KEPT_CODES_FAMILY,
                                    "Key": entry.key})
        return taken

    async def run(self, interval: float = INTERVAL) -> None:
        """take() at start and every `interval` seconds, whatever fails."""
        while True:
            try:
                await self.take()
                if self._unreachable:
                    log.info("AMI answers again: codes kept by Asterisk are read")
                self._unreachable = False
            except AmiError as exc:
                if not self._unreachable:
                    log.warning("codes kept by Asterisk not read (AMI): %s", exc)
                self._unreachable = True
            await asyncio.sleep(interval)
