"""What agents, supervisors and CRMs do to a consumer's contact history: record refusals,
suspensions and oppositions (R-D7, R-B3), consents (R-B), contracts, call-backs, outside
attempts (R-D6), link a consumer's numbers — and read the history with the next moment the
consumer may be called. The CLI, the FastAGI feature codes and the HTTP API all come here."""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from astguard.clock import Clock
from astguard.app.history import (
    AttemptSeen,
    BlockSeen,
    ConsentSeen,
    ConsumerHistory,
    NextCallable,
    PrincipalHistory,
)
from astguard.errors import InputError, StoreUnavailable
from astguard.policy import CallRequest, Campaign, Facts, RuleSettings, decide
from astguard.policy.consent import regime_for
from astguard.policy.decide import consumer_today
from astguard.policy.caller_id import CallerIdRecord
from astguard.policy.model import ContactHistory, Regime
from astguard.policy.numbers import NumberError, parse_number
from astguard.policy.pressure import refusal_until, window_start
from astguard.store import contacts as store
from astguard.store.database import Database
from astguard.store.directory import valid_identifier
from astguard.store.replay import RecordRejected
from astguard.store.spool import Spool

log = logging.getLogger(__name__)

BLOCK_KINDS = ("refusal", "suspension", "opposition")
MAX_SUSPENSION_DAYS = 3650
_SEARCH_DAYS = 400


def e164(number: str) -> str:
    try:
        return parse_number(number).e164
    except NumberError as exc:
        raise InputError(f"numéro {number!r} : {exc}") from None


@dataclass(frozen=True, slots=True)
class Recorded:
    kind: str
    principal: str
    number: str
    until: dt.date | None
    consents_withdrawn: int
    new: bool

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "principal": self.principal, "number": self.number,
                "until": self.until.isoformat() if self.until else None,
                "consents_withdrawn": self.consents_withdrawn, "new": self.new}


@dataclass(frozen=True, slots=True)
class CodeSpooled:
    """An agent's code taken while PostgreSQL was away: on disk, written later."""

    id: str
    kind: str
    decision_id: str | None
    endpoint: str | None
    source: str
    days: int | None
    at: dt.datetime

    def as_row(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "decision_id": self.decision_id,
                "endpoint": self.endpoint, "source": self.source, "days": self.days,
                "at": self.at.isoformat()}


def _check_code(kind: str, days: int | None) -> None:
    if kind not in BLOCK_KINDS:
        raise InputError(f"type inconnu {kind!r} : {', '.join(BLOCK_KINDS)}")
    if kind == "suspension" and (days is None or not 1 <= days <= MAX_SUSPENSION_DAYS):
        raise InputError(f"durée de suspension en jours, de 1 à {MAX_SUSPENSION_DAYS}")


def _effective_kind(kind: str, now: dt.datetime, rules: RuleSettings) -> str:
    if kind == "refusal" and regime_for(now, rules) is Regime.CONSENT:
        # R-D7 (2026-11-26): from 2026-08-11 a refusal during a call is an objection
        # (L221-16 as amended): a lasting opposition (R-B3) until a newer consent.
        return "opposition"
    return kind


def _until(kind: str, today: dt.date, days: int | None, rules: RuleSettings) -> dt.date | None:
    """The last blocked day; None for an opposition (until a newer consent, R-B3)."""
    if kind == "refusal":
        return refusal_until(today, rules)  # R-D7: day 0, then 60 full days
    if kind == "suspension":
        if days is None or not 1 <= days <= MAX_SUSPENSION_DAYS:
            raise InputError(f"durée de suspension en jours, de 1 à {MAX_SUSPENSION_DAYS}")
        return today + dt.timedelta(days=days)
    return None


class ContactService:
    def __init__(self, db: Database, clock: Clock, rules: RuleSettings, *,
                 reader: Database | None = None, spool: Spool | None = None) -> None:
        self._db = db
        self._spool = spool  # agents' codes wait there while PostgreSQL is away
        self._reader = reader or db  # history reads: the readers' pool when there is one
        self._clock = clock
        self._rules = rules

    def _today(self, number: str, now: dt.datetime) -> tuple[str, dt.date]:
        target = consumer_today(CallRequest(number, "contacts"), now, self._rules)
        if target is None:
            raise InputError(f"numéro {number!r} invalide")
        return target

    # -- refusals, suspensions, oppositions ----------------------------------------------------
    async def record_block(self, kind: str, number: str, principal: str, *, source: str,
                           days: int | None = None, agent: str | None = None,
                           decision_id: str | None = None, reference: str | None = None,
                           at: dt.datetime | None = None) -> Recorded:
        if kind not in BLOCK_KINDS:
            raise InputError(f"type inconnu {kind!r} : {', '.join(BLOCK_KINDS)}")
        valid_identifier(principal, "donneur d'ordre")
        now = at or self._clock.now()
        number, today = self._today(number, now)
        kind = _effective_kind(kind, now, self._rules)
        until = _until(kind, today, days, self._rules)
        async with self._db.transaction() as conn:
            return await self._write_block(conn, kind, principal, number, today, until, now,
                                           source=source, agent=agent,
                                           decision_id=decision_id, reference=reference)

    async def _write_block(self, conn: Any, kind: str, principal: str, number: str,
                           today: dt.date, until: dt.date | None, now: dt.datetime, *,
                           source: str, agent: str | None, decision_id: str | None,
                           reference: str | None) -> Recorded:
        numbers = await store.lock_consumer(conn, principal, number)
        new = await store.insert_block(
            conn, principal=principal, number=number, kind=kind, at=now, local_day=today,
            until=until, source=source, agent=agent, decision_id=decision_id,
            reference=reference)
        withdrawn = 0
        if kind in ("refusal", "opposition") and regime_for(now, self._rules) is Regime.CONSENT:
            # Under the consent regime, refusing or objecting withdraws consent (R-B3).
            withdrawn = await store.withdraw_consents(conn, principal, numbers, now)
        return Recorded(kind, principal, number, until, withdrawn, new)

    # -- agents' codes (FastAGI): kept in the spool while PostgreSQL is away ------------------
    async def record_for_decision(self, decision_id: str, kind: str, *, source: str,
                                  days: int | None = None) -> Recorded | CodeSpooled:
        """In-call feature code: the consumer on the line is the one of this decision."""
        _check_code(kind, days)
        try:
            async with self._db.connection() as conn:
                row = await store.allowed_decision(conn, decision_id)
            if row is None:
                if self._spool is not None and await self._spool.holds(decision_id):
                    # The call's decision still waits in the spool (written after a blip):
                    # the code waits behind it, in order, rather than being lost.
                    return await self._spool_code(
                        kind, source, days, StoreUnavailable("décision encore en attente"),
                        decision_id=decision_id)
                raise InputError("aucun appel autorisé ne correspond à cette décision")
            return await self.record_block(kind, row["number_e164"], row["principal"],
                                           source=source, days=days,
                                           agent=row["agent"] or row["endpoint"],
                                           decision_id=decision_id)
        except StoreUnavailable as exc:
            return await self._spool_code(kind, source, days, exc, decision_id=decision_id)

    async def record_for_last_call(self, endpoint: str, kind: str, *, source: str,
                                   days: int | None = None) -> Recorded | CodeSpooled:
        """After-call short code: the last consumer this endpoint was allowed to call."""
        _check_code(kind, days)
        try:
            async with self._db.connection() as conn:
                row = await store.last_allowed_call(conn, endpoint, None)
            if row is None:
                raise InputError(f"aucun appel récent pour le poste {endpoint}")
            if row["number_e164"] is None or row["principal"] is None:
                # The last call was not to a consumer (an emergency number): never apply the
                # code to an older call's consumer.
                raise InputError(f"le dernier appel du poste {endpoint} n'était pas un appel "
                                 "à un consommateur")
            return await self.record_for_decision(str(row["id"]), kind, source=source,
                                                  days=days)
        except StoreUnavailable as exc:
            return await self._spool_code(kind, source, days, exc, endpoint=endpoint)

    async def _spool_code(self, kind: str, source: str, days: int | None,
                          exc: StoreUnavailable, *, decision_id: str | None = None,
                          endpoint: str | None = None) -> CodeSpooled:
        """What the agent keyed in waits in the spool (fsynced) like a decision; the flusher
        writes it when PostgreSQL answers (replay_code). Without a spool: StoreUnavailable."""
        code = CodeSpooled(str(uuid.uuid4()), kind, decision_id, endpoint, source, days,
                           self._clock.now())
        if self._spool is None:
            raise exc
        try:
            await self._spool.append("code", code.as_row())
        except OSError as failed:
            raise StoreUnavailable(f"{exc} ; journal local inutilisable ({failed})") from failed
        log.warning("%s code %s kept in the spool (%s): written when PostgreSQL answers",
                    kind, code.id, exc)
        return code

    async def keep_code(self, code: CodeSpooled) -> None:
        """A code the dialplan kept while astguard did not answer (telephony/kept_codes.py):
        checked as a keyed code is, then into the spool, written by the flusher like any code
        keyed during an outage, dated from when it was keyed. Its id comes from the kept entry,
        so keeping the same entry twice writes it once (replay_code's reference). Raises
        InputError for a code no call can carry, StoreUnavailable when the spool cannot take
        it (the dialplan's copy stays)."""
        _check_code(code.kind, code.days)
        if not code.decision_id and not code.endpoint:
            raise InputError("code sans décision ni poste")
        if self._spool is None:
            raise StoreUnavailable("pas de journal local pour les codes gardés par Asterisk")
        try:
            await self._spool.append("code", code.as_row())
        except OSError as failed:
            raise StoreUnavailable(f"journal local inutilisable ({failed})") from failed

    async def replay_code(self, conn: Any, row: dict[str, Any]) -> bool:
        """The spool's replayer for agents' codes: the call is the one the agent meant when
        keying it in (the decision, or the endpoint's last allowed call before that moment),
        the block dates from that moment. False when already written."""
        at = dt.datetime.fromisoformat(row["at"])
        kind, days = row["kind"], row.get("days")
        if row.get("decision_id"):
            call = await store.allowed_decision(conn, row["decision_id"])
            decision_id = row["decision_id"]
        else:
            call = await store.last_allowed_call(conn, row["endpoint"], at)
            decision_id = str(call["id"]) if call else None
        if call is not None and (call["number_e164"] is None or call["principal"] is None):
            call = None  # the last call was not to a consumer: never an older one's
        if call is None:
            raise RecordRejected(f"code {kind} ({row.get('source')}) tapé le {at.isoformat()} "
                                 f"sans appel autorisé correspondant "
                                 f"({row.get('decision_id') or row.get('endpoint')})")
        kind = _effective_kind(kind, at, self._rules)
        try:
            number, today = self._today(call["number_e164"], at)
            until = _until(kind, today, days, self._rules)
        except InputError as exc:
            raise RecordRejected(str(exc)) from exc
        recorded = await self._write_block(
            conn, kind, call["principal"], number, today, until, at, source=row["source"],
            agent=call["agent"] or call["endpoint"], decision_id=decision_id,
            reference=f"spool:{row['id']}")
        return recorded.new

    # -- consents, contracts, call-backs, attempts, numbers ----------------------------------
    async def add_consent(self, principal: str, number: str, *, scopes: list[str],
                          collected_at: dt.datetime, channel: str, wording: str,
                          proof_ref: str, valid_until: dt.datetime | None = None) -> bool:
        valid_identifier(principal, "donneur d'ordre")
        if not scopes or not proof_ref or not channel or not wording:
            raise InputError("un consentement a un périmètre, un canal, une version du texte "
                             "et une référence de preuve (R-B2)")
        if collected_at.tzinfo is None:
            raise InputError("date de recueil sans fuseau horaire")
        until = valid_until or collected_at + dt.timedelta(days=365)  # R-B2: one year (S1)
        if until <= collected_at:
            raise InputError("fin de validité antérieure au recueil")
        async with self._db.connection() as conn:
            return await store.insert_consent(
                conn, principal=principal, number=e164(number), scopes=scopes,
                collected_at=collected_at, channel=channel, wording=wording,
                proof_ref=proof_ref, valid_until=until)

    async def withdraw_consent(self, principal: str, number: str) -> int:
        now = self._clock.now()
        async with self._db.transaction() as conn:
            numbers = await store.lock_consumer(conn, principal, e164(number))
            return await store.withdraw_consents(conn, principal, numbers, now)

    async def add_contract(self, principal: str, number: str, *, scopes: list[str],
                           started_on: dt.date, ended_on: dt.date | None, reference: str) -> None:
        valid_identifier(principal, "donneur d'ordre")
        async with self._db.connection() as conn:
            await store.upsert_contract(conn, principal=principal, number=e164(number),
                                        scopes=scopes, started_on=started_on,
                                        ended_on=ended_on, reference=reference)

    async def add_callback(self, principal: str, number: str, scheduled_at: dt.datetime,
                           proof_ref: str) -> None:
        if scheduled_at.tzinfo is None or not proof_ref:
            raise InputError("un rappel demandé a une heure avec fuseau et une preuve (R-D5)")
        async with self._db.connection() as conn:
            await store.insert_callback(conn, principal=principal, number=e164(number),
                                        scheduled_at=scheduled_at, proof_ref=proof_ref)

    async def record_external_attempt(self, principal: str, number: str, at: dt.datetime,
                                      reference: str) -> bool:
        """An attempt made outside this PBX (a subcontractor, a mobile): it counts (R-D6)."""
        valid_identifier(principal, "donneur d'ordre")
        if at.tzinfo is None:
            raise InputError("heure de la tentative sans fuseau horaire")
        if not reference:
            raise InputError("une tentative extérieure a une référence (pour l'idempotence)")
        number, day = self._today(number, at)
        async with self._db.transaction() as conn:
            await store.lock_consumer(conn, principal, number)
            return await store.insert_attempt(conn, principal=principal, number=number, at=at,
                                              local_day=day, source="external",
                                              reference=reference)

    async def link_numbers(self, numbers: list[str]) -> str:
        """Declare several numbers as one consumer's: their attempts and blocks add up."""
        normalised = sorted({e164(n) for n in numbers})
        if len(normalised) < 2:
            raise InputError("lier au moins deux numéros")
        async with self._db.transaction() as conn:
            return await store.link_numbers(conn, normalised)

    # -- history -------------------------------------------------------------------------------
    async def history(self, number: str, campaign: Campaign | None = None) -> ConsumerHistory:
        now = self._clock.now()
        number, today = self._today(number, now)
        since = window_start(today, self._rules)
        async with self._reader.connection() as conn:
            _, numbers = await store.consumer_numbers(conn, number)
            attempts, blocks, consents = await store.history_rows(conn, numbers, since, today)
            next_call = None
            if campaign is not None:
                facts = await store.load_history(conn, campaign.principal, number, today, now,
                                                 self._rules.callback_tolerance,
                                                 window_days=self._rules.cap_days,
                                                 caller_ids=[campaign.caller_id or ""])
                next_call = self.next_callable(number, campaign, facts, now)
        return ConsumerHistory(
            number=number, numbers=tuple(numbers), today=today, next_callable=next_call,
            principals=tuple(PrincipalHistory(
                principal=p,
                attempts=tuple(AttemptSeen(
                    at=a["attempted_at"], local_day=a["local_day"], number=a["number_e164"],
                    source=a["source"], campaign=a["campaign"], answered=a["answered"],
                    dial_status=a["dial_status"], hangup_cause=a["hangup_cause"],
                    duration_s=float(a["duration_s"]) if a["duration_s"] is not None
                    else None) for a in attempts if a["principal"] == p),
                blocks=tuple(BlockSeen(b["kind"], b["local_day"], b["until_day"], b["source"],
                                       b["agent"]) for b in blocks if b["principal"] == p),
                consents=tuple(ConsentSeen(
                    id=c["id"], scopes=tuple(c["scopes"]), state=(
                        "retiré" if c["withdrawn_at"] and c["withdrawn_at"] <= now
                        else "expiré" if c["valid_until"] <= now else "valable"),
                    collected_at=c["collected_at"], valid_until=c["valid_until"],
                    proof_ref=c["proof_ref"], channel=c["channel"])
                    for c in consents if c["principal"] == p),
                attempts_in_window=sum(1 for a in attempts
                                       if a["principal"] == p and a["local_day"] >= since))
                for p in sorted({r["principal"] for r in (*attempts, *blocks, *consents)})))

    def next_callable(self, number: str, campaign: Campaign, store_facts: store.StoreFacts,
                      now: dt.datetime) -> NextCallable:
        return next_callable(number, campaign, store_facts.history, store_facts.inventory,
                             store_facts.blocked, now, self._rules)


def next_callable(number: str, campaign: Campaign, history: ContactHistory,
                  inventory: tuple[CallerIdRecord, ...], blocked: frozenset[str],
                  now: dt.datetime, rules: RuleSettings) -> NextCallable:
    """The first moment from now on when the same decision would allow the call (pure: the
    history page and list scrubbing both ask here)."""
    call = CallRequest(number, "history")
    facts = Facts(campaign, "history", history=ContactHistory(
        attempt_days=history.attempt_days, blocks=history.blocks,
        consents=history.consents, contracts=history.contracts, bloctel=history.bloctel),
        inventory=inventory, blocked_caller_ids=blocked)
    first = decide(call, facts, now, rules)
    if first.allowed:
        return NextCallable(now, True)
    zones = [t.zone for t in first.local_times] or ["Europe/Paris"]
    for candidate in _window_starts(now, zones, rules):
        verdict = decide(call, facts, candidate, rules)
        if verdict.allowed:
            return NextCallable(candidate, False, tuple(first.codes),
                                tuple(t.as_dict() for t in verdict.local_times))
    return NextCallable(None, False, tuple(first.codes),
                        detail=f"aucun moment autorisé dans les {_SEARCH_DAYS} prochains jours")


def _window_starts(now: dt.datetime, zones: list[str],
                   rules: RuleSettings) -> Iterator[dt.datetime]:
    """Every window opening in any candidate zone, in time order, from now on."""
    seen: set[dt.datetime] = set()
    start_day = now.date() - dt.timedelta(days=1)
    for offset in range(_SEARCH_DAYS):
        day = start_day + dt.timedelta(days=offset)
        candidates = []
        for zone in zones:
            for begin, _end in rules.windows:
                local = dt.datetime.combine(day, begin, ZoneInfo(zone))
                if local > now and local not in seen:
                    candidates.append(local)
        for c in sorted(candidates):
            seen.add(c)
            yield c.astimezone(dt.UTC)

