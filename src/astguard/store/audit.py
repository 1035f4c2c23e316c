"""Verifying the evidence hash chain (migration 0005): each link's record still has the
payload it had when it was written, each link's hash is right, and each link holds the hash of
its predecessor. The first link that fails is named with the record it covers."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from astguard.errors import InputError
from astguard.labels import EVIDENCE_KIND
from astguard.store.database import Database

GENESIS = "0" * 64
KIND_LABELS = EVIDENCE_KIND  # one definition: astguard.labels
_BATCH = 5000

_LINKS = """
    SELECT c.seq, c.kind, c.ref, c.at, c.payload_sha256, c.prev_hash, c.hash,
           p.hash AS predecessor_hash, p.seq IS NOT NULL AS has_predecessor,
           astguard_sha256(astguard_evidence_payload(c.kind, c.ref)) AS current_sha256
    FROM evidence_chain c LEFT JOIN evidence_chain p ON p.seq = c.seq - 1
    WHERE c.seq > $1 AND ($2::timestamptz IS NULL OR c.at >= $2)
      AND ($3::timestamptz IS NULL OR c.at < $3)
    ORDER BY c.seq LIMIT $4
"""
# Every evidence table: (link kind, table, the record's time, an extra condition).
_SOURCES = (
    ("decision", "decisions", "decided_at", "true"),
    ("outcome", "decisions", "outcome_at", "r.outcome_at IS NOT NULL"),
    ("block", "contact_blocks", "recorded_at", "true"),
    ("inbound_call", "inbound_calls", "started_at", "true"),
    ("inbound_event", "inbound_events", "at", "true"),
    ("unguarded_call", "unguarded_calls", "created_at", "true"),
)
# Records of the period that have no link at all (written with the triggers disabled).
_UNCHAINED = " UNION ALL ".join(
    f"""(SELECT '{kind}' AS kind, r.id::text AS ref, r.{at} AS at FROM {table} r
        WHERE {extra} AND ($1::timestamptz IS NULL OR r.{at} >= $1)
          AND ($2::timestamptz IS NULL OR r.{at} < $2)
          AND NOT EXISTS (SELECT 1 FROM evidence_chain c
                          WHERE c.kind = '{kind}' AND c.ref = r.id::text))"""
    for kind, table, at, extra in _SOURCES) + " ORDER BY at LIMIT 1"


def link_hash(prev_hash: str, seq: int, kind: str, ref: str, payload_sha256: str) -> str:
    text = f"{prev_hash}|{seq}|{kind}|{ref}|{payload_sha256}"
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(slots=True)
class Break:
    seq: int | None
    kind: str
    ref: str
    at: dt.datetime
    problem: str

    def describe(self) -> str:
        where = f"maillon {self.seq}" if self.seq is not None else "hors chaîne"
        return (f"{KIND_LABELS.get(self.kind, self.kind)} {self.ref} ({where}, "
                f"{self.at.isoformat()}) : {self.problem}")

    def as_dict(self) -> dict[str, Any]:
        return {"seq": self.seq, "kind": self.kind, "ref": self.ref, "at": self.at.isoformat(),
                "problem": self.problem, "text": self.describe()}


@dataclass(slots=True)
class AuditResult:
    checked: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)
    first_break: Break | None = None
    head_seq: int | None = None
    head_hash: str | None = None

    @property
    def ok(self) -> bool:
        return self.first_break is None

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "checked": self.checked, "by_kind": self.by_kind,
                "first_break": self.first_break.as_dict() if self.first_break else None,
                "head": {"seq": self.head_seq, "hash": self.head_hash}}


def _check(link: asyncpg.Record) -> str | None:
    """The problem with one link, or None."""
    if link["current_sha256"] is None:
        return "l'enregistrement a été supprimé"
    if link["current_sha256"] != link["payload_sha256"]:
        return "l'enregistrement a été modifié après son écriture"
    if link_hash(link["prev_hash"], link["seq"], link["kind"], link["ref"],
                 link["payload_sha256"]) != link["hash"]:
        return "le maillon lui-même a été modifié (empreinte incorrecte)"
    if link["seq"] == 1:
        if link["prev_hash"] != GENESIS:
            return "le premier maillon ne part pas de l'origine"
    elif not link["has_predecessor"]:
        return f"le maillon précédent ({link['seq'] - 1}) a disparu"
    elif link["predecessor_hash"] != link["prev_hash"]:
        return "l'empreinte du maillon précédent ne correspond plus"
    return None


async def head(db: Database) -> tuple[int | None, str | None]:
    """The chain's last link (seq, hash): an anchor to keep outside the database."""
    async with db.connection() as conn:
        row = await conn.fetchrow("SELECT seq, hash FROM evidence_chain ORDER BY seq DESC LIMIT 1")
    return (row["seq"], row["hash"]) if row else (None, None)


def parse_anchor(text: str) -> tuple[int, str]:
    """A head kept elsewhere: SEQ:HASH, or the line `astguard audit head` printed
    (`maillon SEQ HASH`), so that a kept log's last line can be passed as it is."""
    words = text.split()
    if len(words) == 3 and words[0] == "maillon":
        text = f"{words[1]}:{words[2]}"
    seq, sep, digest = text.strip().partition(":")
    digest = digest.strip().lower()
    if not sep or not seq.strip().isdigit() or int(seq) < 1 \
            or not re.fullmatch(r"[0-9a-f]{64}", digest):
        raise InputError(f"--expect {text!r} : SEQ:EMPREINTE attendu (numéro de maillon, deux "
                         "points, 64 caractères hexadécimaux), comme l'affiche astguard audit "
                         "head")
    return int(seq), digest


async def anchor_problem(db: Database, seq: int, digest: str) -> str | None:
    """Is a head kept outside the database still in the chain, unchanged? None if it is,
    else what is wrong: a chain rewritten from that link on passes `verify`, not this."""
    async with db.connection() as conn:
        found = await conn.fetchval("SELECT hash FROM evidence_chain WHERE seq = $1", seq)
    if found is None:
        return f"le maillon {seq} conservé comme tête n'est plus dans la chaîne"
    if found != digest:
        return (f"le maillon {seq} n'a plus l'empreinte conservée ({digest[:12]}… attendu, "
                f"{found[:12]}… trouvé) : la chaîne a été réécrite")
    return None


async def verify(db: Database, start: dt.datetime | None = None,
                 end: dt.datetime | None = None) -> AuditResult:
    """Check every link whose record time is in [start, end) (everything when None)."""
    result = AuditResult()
    after = 0
    async with db.connection() as conn:
        head = await conn.fetchrow("SELECT seq, hash FROM evidence_chain ORDER BY seq DESC LIMIT 1")
        if head:
            result.head_seq, result.head_hash = head["seq"], head["hash"]
        while result.first_break is None:
            links = await conn.fetch(_LINKS, after, start, end, _BATCH)
            for link in links:
                problem = _check(link)
                if problem:
                    result.first_break = Break(link["seq"], link["kind"], link["ref"],
                                               link["at"], problem)
                    break
                result.checked += 1
                result.by_kind[link["kind"]] = result.by_kind.get(link["kind"], 0) + 1
            if len(links) < _BATCH:
                break
            after = links[-1]["seq"]
        if result.first_break is None:
            loose = await conn.fetchrow(_UNCHAINED, start, end)
            if loose:
                result.first_break = Break(None, loose["kind"], loose["ref"], loose["at"],
                                           "enregistrement absent de la chaîne")
    return result
