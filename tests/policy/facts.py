"""Facts shared by the policy tests."""

from __future__ import annotations

import datetime as dt

from astguard.policy.caller_id import CallerIdRecord
from astguard.policy.model import ConsentRecord, ContactHistory

UTC = dt.UTC


def consent(principal: str = "acme", *, scopes=("energie",), collected=dt.datetime(2026, 1, 1),
            until=dt.datetime(2099, 1, 1), withdrawn=None, cid: int = 1) -> ConsentRecord:
    return ConsentRecord(
        id=cid, principal=principal, scopes=frozenset(scopes),
        collected_at=collected.replace(tzinfo=UTC), valid_until=until.replace(tzinfo=UTC),
        withdrawn_at=withdrawn.replace(tzinfo=UTC) if withdrawn else None, proof_ref=f"p{cid}")


CONSENTED = ContactHistory(consents=(consent(collected=dt.datetime(2020, 1, 1)),))

# The number the test campaigns present, held by "acme" (R-F2).
INVENTORY = (CallerIdRecord("+33162123456", "acme", dt.date(2020, 1, 1), None),)
