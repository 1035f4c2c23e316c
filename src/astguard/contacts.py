"""What agents, supervisors and CRMs do to a consumer's contact history: record refusals,
suspensions and oppositions (R-D7, R-B3), consents (R-B), contracts, call-backs, outside
attempts (R-D6), link a consumer's numbers — and read the history with the next moment the
consumer may be called. The CLI, the FastAGI feature codes and the HTTP API all come here."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from astguard.clock import Clock
from astguard.errors import InputError
from astguard.policy import CallRequest, Campaign, Facts, RuleSettings, decide
from astguard.policy.consent import regime_for
from astguard.policy.decide import consumer_today
from astguard.policy.model import ContactHistory, Regime
from astguard.policy.numbers import NumberError, parse_number
from astguard.policy.pressure import refusal_until, window_start
from astguard.store import contacts as store
from astguard.store.database import Database
from astguard.store.directory import valid_identifier

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


class ContactService:
    def __init__(self, db: Database, clock: Clock, rules: RuleSettings | None = None) -> None:
        self._db = db
        self._clock = clock
        self._rules = rules or RuleSettings(emergency_numbers=frozenset())

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
        if kind == "refusal" and regime_for(now, self._rules) is Regime.CONSENT:
            # R-D7 (2026-11-26): from 2026-08-11 a refusal during a call is an objection
            # (L221-16 as amended): a lasting opposition (R-B3) until a newer consent.
            kind = "opposition"
        until = None
        if kind == "refusal":
            until = refusal_until(today, self._rules)  # R-D7: day 0, then 60 full days
        elif kind == "suspension":
            if days is None or not 1 <= days <= MAX_SUSPENSION_DAYS:
                raise InputError(f"durée de suspension en jours, de 1 à {MAX_SUSPENSION_DAYS}")
            until = today + dt.timedelta(days=days)
        withdrawn = 0
        async with self._db.transaction() as conn:
            numbers = await store.lock_consumer(conn, principal, number)
            new = await store.insert_block(
                conn, principal=principal, number=number, kind=kind, at=now, local_day=today,
                until=until, source=source, agent=agent, decision_id=decision_id,
                reference=reference)
            if kind in ("refusal", "opposition") and regime_for(now, self._rules) is Regime.CONSENT:
                # Under the consent regime, refusing or objecting withdraws consent (R-B3).
                withdrawn = await store.withdraw_consents(conn, principal, numbers, now)
        return Recorded(kind, principal, number, until, withdrawn, new)

    async def record_for_decision(self, decision_id: str, kind: str, *, source: str,
                                  days: int | None = None) -> Recorded:
        """In-call feature code: the consumer on the line is the one of this decision."""
        async with self._db.connection() as conn:
            row = await conn.fetchrow(
                "SELECT principal, number_e164, agent, endpoint FROM decisions "
                "WHERE id = $1 AND decision = 'allow' AND number_e164 IS NOT NULL",
                decision_id)
        if row is None or row["principal"] is None:
            raise InputError("aucun appel autorisé ne correspond à cette décision")
        return await self.record_block(kind, row["number_e164"], row["principal"],
                                       source=source, days=days,
                                       agent=row["agent"] or row["endpoint"],
                                       decision_id=decision_id)

    async def record_for_last_call(self, endpoint: str, kind: str, *, source: str,
                                   days: int | None = None) -> Recorded:
        """After-call short code: the last consumer this endpoint was allowed to call."""
        async with self._db.connection() as conn:
            row = await conn.fetchrow(
                "SELECT id FROM decisions WHERE endpoint = $1 AND decision = 'allow' "
                "AND counts_as_attempt ORDER BY decided_at DESC, recorded_at DESC LIMIT 1",
                endpoint)
        if row is None:
            raise InputError(f"aucun appel récent pour le poste {endpoint}")
        return await self.record_for_decision(str(row["id"]), kind, source=source, days=days)

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
            status = await conn.execute(
                """INSERT INTO consents (principal, number_e164, scopes, collected_at, channel,
                                        wording, proof_ref, valid_until)
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING""",
                principal, e164(number), scopes, collected_at, channel, wording, proof_ref,
                until)
        return status.endswith(" 1")

    async def withdraw_consent(self, principal: str, number: str) -> int:
        now = self._clock.now()
        async with self._db.transaction() as conn:
            numbers = await store.lock_consumer(conn, principal, e164(number))
            return await store.withdraw_consents(conn, principal, numbers, now)

    async def add_contract(self, principal: str, number: str, *, scopes: list[str],
                           started_on: dt.date, ended_on: dt.date | None, reference: str) -> None:
        valid_identifier(principal, "donneur d'ordre")
        async with self._db.connection() as conn:
            await conn.execute(
                """INSERT INTO contracts (principal, number_e164, scopes, started_on, ended_on,
                                          reference)
                   VALUES ($1, $2, $3, $4, $5, $6)
                   ON CONFLICT (principal, number_e164, reference)
                   DO UPDATE SET scopes = EXCLUDED.scopes, ended_on = EXCLUDED.ended_on""",
                principal, e164(number), scopes, started_on, ended_on, reference)

    async def add_callback(self, principal: str, number: str, scheduled_at: dt.datetime,
                           proof_ref: str) -> None:
        if scheduled_at.tzinfo is None or not proof_ref:
            raise InputError("un rappel demandé a une heure avec fuseau et une preuve (R-D5)")
        async with self._db.connection() as conn:
            await conn.execute(
                """INSERT INTO callbacks (principal, number_e164, scheduled_at, proof_ref)
                   VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING""",
                principal, e164(number), scheduled_at, proof_ref)

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
            keys = await conn.fetch("SELECT DISTINCT consumer_key FROM consumer_numbers "
                                    "WHERE number_e164 = ANY($1)", normalised)
            key = min([r["consumer_key"] for r in keys] + [normalised[0]])
            old = [r["consumer_key"] for r in keys]
            await conn.execute("UPDATE consumer_numbers SET consumer_key = $1 "
                               "WHERE consumer_key = ANY($2)", key, old)
            await conn.executemany(
                "INSERT INTO consumer_numbers (number_e164, consumer_key) VALUES ($1, $2) "
                "ON CONFLICT (number_e164) DO UPDATE SET consumer_key = EXCLUDED.consumer_key",
                [(n, key) for n in normalised])
        return key

    # -- history -------------------------------------------------------------------------------
    async def history(self, number: str, campaign: Campaign | None = None) -> dict[str, Any]:
        now = self._clock.now()
        number, today = self._today(number, now)
        since = window_start(today, self._rules)
        async with self._db.connection() as conn:
            _, numbers = await store.consumer_numbers(conn, number)
            attempts = await conn.fetch(
                """SELECT a.principal, a.number_e164, a.attempted_at, a.local_day, a.source,
                          a.campaign, d.answered, d.dial_status, d.hangup_cause, d.duration_s
                   FROM attempts a LEFT JOIN decisions d ON d.id = a.decision_id
                   WHERE a.number_e164 = ANY($1) AND a.local_day >= $2
                   ORDER BY a.attempted_at""", numbers, since)
            blocks = await conn.fetch(
                """SELECT principal, number_e164, kind, recorded_at, local_day, until_day,
                          source, agent FROM contact_blocks
                   WHERE number_e164 = ANY($1) AND (until_day IS NULL OR until_day >= $2)
                   ORDER BY recorded_at""", numbers, today)
            consents = await conn.fetch(
                """SELECT id, principal, number_e164, scopes, collected_at, valid_until,
                          withdrawn_at, channel, proof_ref FROM consents
                   WHERE number_e164 = ANY($1) ORDER BY collected_at""", numbers)
            next_call = None
            if campaign is not None:
                facts = await store.load_history(conn, campaign.principal, number, today, now,
                                                 self._rules.callback_tolerance,
                                                 window_days=self._rules.cap_days,
                                                 caller_ids=[campaign.caller_id or ""])
                next_call = self.next_callable(number, campaign, facts, now)
        by_principal: dict[str, dict[str, Any]] = {}

        def entry(p: str) -> dict[str, Any]:
            return by_principal.setdefault(p, {"attempts": [], "blocks": [], "consents": []})

        for a in attempts:
            entry(a["principal"])["attempts"].append({
                "at": a["attempted_at"].isoformat(), "local_day": a["local_day"].isoformat(),
                "number": a["number_e164"], "source": a["source"], "campaign": a["campaign"],
                "answered": a["answered"], "dial_status": a["dial_status"],
                "hangup_cause": a["hangup_cause"],
                "duration_s": float(a["duration_s"]) if a["duration_s"] is not None else None})
        for b in blocks:
            entry(b["principal"])["blocks"].append({
                "kind": b["kind"], "since": b["local_day"].isoformat(),
                "until": b["until_day"].isoformat() if b["until_day"] else None,
                "source": b["source"], "agent": b["agent"]})
        for c in consents:
            state = ("retiré" if c["withdrawn_at"] and c["withdrawn_at"] <= now
                     else "expiré" if c["valid_until"] <= now else "valable")
            entry(c["principal"])["consents"].append({
                "id": c["id"], "scopes": list(c["scopes"]), "state": state,
                "collected_at": c["collected_at"].isoformat(),
                "valid_until": c["valid_until"].isoformat(), "proof_ref": c["proof_ref"],
                "channel": c["channel"]})
        for p, e in by_principal.items():
            e["attempts_last_30_days"] = sum(
                1 for a in attempts if a["principal"] == p and a["local_day"] >= since)
        return {"number": number, "numbers": numbers, "today": today.isoformat(),
                "principals": by_principal, "next_callable": next_call}

    def next_callable(self, number: str, campaign: Campaign, store_facts: store.StoreFacts,
                      now: dt.datetime) -> dict[str, Any]:
        """The first moment from now on when the same decision would allow the call."""
        call = CallRequest(number, "history")
        history = store_facts.history
        facts = Facts(campaign, "history", history=ContactHistory(
            attempt_days=history.attempt_days, blocks=history.blocks,
            consents=history.consents, contracts=history.contracts, bloctel=history.bloctel),
            inventory=store_facts.inventory, blocked_caller_ids=store_facts.blocked)
        first = decide(call, facts, now, self._rules)
        if first.allowed:
            return {"at": now.isoformat(), "now": True, "reasons": []}
        zones = [t.zone for t in first.local_times] or ["Europe/Paris"]
        for candidate in _window_starts(now, zones, self._rules):
            verdict = decide(call, facts, candidate, self._rules)
            if verdict.allowed:
                return {"at": candidate.isoformat(), "now": False,
                        "local_times": [t.as_dict() for t in verdict.local_times],
                        "reasons_now": first.codes}
        return {"at": None, "now": False, "reasons_now": first.codes,
                "detail": f"aucun moment autorisé dans les {_SEARCH_DAYS} prochains jours"}


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

