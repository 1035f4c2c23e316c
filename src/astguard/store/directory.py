"""Principals, campaigns and agent endpoints: which campaign a call belongs to (issue: R-A)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import asyncpg

from astguard.errors import InputError
from astguard.policy.model import Campaign, DialMode, Purpose
from astguard.policy.caller_id import CliPolicy, canonical, national_form
from astguard.store.database import Database

_IDENT = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_ENDPOINT = re.compile(r"^[A-Za-z0-9_.-]{1,80}$")


def valid_identifier(value: str, what: str, pattern: re.Pattern[str] = _IDENT) -> str:
    if not pattern.fullmatch(value):
        raise InputError(f"{what} {value!r} invalide : lettres, chiffres, _ . - (64 au plus)")
    return value


@dataclass(frozen=True, slots=True)
class Classification:
    campaign: Campaign | None
    how: str  # evidence: how the campaign was found, or why not
    agent: str | None = None  # the endpoint's agent, for the evidence


def _campaign(row: asyncpg.Record) -> Campaign:
    return Campaign(
        name=row["name"], principal=row["principal_id"], purpose=Purpose(row["purpose"]),
        dial_mode=DialMode(row["dial_mode"]), caller_id=row["caller_id"],
        scope=row["scope"], sector=row["sector"], press=row["press"],
        cli_policy=row["cli_policy"],
    )


class Directory:
    def __init__(self, db: Database) -> None:
        self._db = db

    # -- the decision path -------------------------------------------------------------------
    async def classify(self, endpoint: str | None, override: str | None, *,
                       conn: asyncpg.Connection | None = None) -> Classification:
        """Find the call's campaign: the override if the endpoint is registered and may use it
        (or if there is no endpoint: a dialer), else the endpoint's default."""
        if override and not _IDENT.fullmatch(override):
            return Classification(None, f"campagne demandée illisible : {override!r}")
        if endpoint and not _ENDPOINT.fullmatch(endpoint):
            return Classification(None, f"poste illisible : {endpoint!r}")
        if conn is None:
            async with self._db.connection() as own:
                return await self.classify(endpoint, override, conn=own)
        # One round trip: the endpoint (if any) and the campaign it leads to.
        row = await conn.fetchrow(
            """SELECT ep.endpoint AS ep_name, ep.default_campaign, ep.allowed_campaigns,
                      ep.agent, c.name, c.principal_id, c.purpose, c.dial_mode, c.caller_id,
                      c.scope, c.sector, c.press, c.cli_policy
               FROM (SELECT 1) AS one
               LEFT JOIN agent_endpoints ep ON ep.endpoint = $1
               LEFT JOIN campaigns c
                      ON c.name = COALESCE($2, ep.default_campaign) AND c.active""",
            endpoint, override)
        ep_known = row["ep_name"] is not None
        if override and endpoint and not ep_known:
            # A phone nobody registered may not name its own campaign: it could relabel
            # prospecting as service and skip every consumer rule (R-A). Only a channel with
            # no endpoint at all (a dialer's Local channel) names its campaign freely.
            return Classification(None, f"poste {endpoint} inconnu d'astguard : campagne "
                                        f"{override} demandée refusée")
        wanted = override or row["default_campaign"]
        if wanted is None:
            why = (f"aucune campagne par défaut pour le poste {endpoint}" if endpoint
                   else "aucun poste ni campagne pour cet appel")
            return Classification(None, why)
        if override and ep_known and override != row["default_campaign"] \
                and override not in row["allowed_campaigns"]:
            return Classification(None, f"campagne {override} non autorisée pour le poste "
                                        f"{endpoint}")
        if row["name"] is None:
            return Classification(None, f"campagne {wanted} inconnue ou inactive")
        how = (f"campagne {wanted} demandée pour l'appel" if override
               else f"campagne par défaut du poste {endpoint}")
        return Classification(_campaign(row), how, row["agent"])

    # -- management (CLI, API) ---------------------------------------------------------------
    async def add_principal(self, principal_id: str, name: str) -> None:
        valid_identifier(principal_id, "donneur d'ordre")
        async with self._db.connection() as conn:
            await conn.execute(
                "INSERT INTO principals (id, name) VALUES ($1, $2) "
                "ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name", principal_id, name)

    async def set_campaign(self, name: str, principal: str, purpose: str, dial_mode: str,
                           caller_id: str | None, active: bool = True, *,
                           scope: str | None = None, sector: str | None = None,
                           press: bool = False, cli_policy: str = "rewrite") -> Campaign:
        valid_identifier(name, "campagne")
        for value, kind, what in ((purpose, Purpose, "finalité inconnue"),
                                  (dial_mode, DialMode, "mode de numérotation inconnu"),
                                  (cli_policy, CliPolicy, "politique de numéro présenté inconnue")):
            if value not in {k.value for k in kind}:
                raise InputError(f"{what} {value!r} : {', '.join(k.value for k in kind)}")
        purpose_v, mode_v = Purpose(purpose), DialMode(dial_mode)
        cli_policy = CliPolicy(cli_policy).value
        scope = (scope or "").strip() or None
        if purpose_v is Purpose.PROSPECTING and scope is None:
            # R-B2 (2026-11-26): every prospecting campaign has a scope; without one no consent
            # or contract could ever match it.
            raise InputError(f"campagne de démarchage {name!r} sans périmètre : préciser "
                             "--scope (la nature des biens ou services proposés, R-B2)")
        if caller_id:
            if national_form(caller_id) is None:
                raise InputError(f"numéro présenté {caller_id!r} illisible")
            caller_id = canonical(caller_id)
        async with self._db.connection() as conn:
            if not await conn.fetchval("SELECT 1 FROM principals WHERE id = $1", principal):
                raise InputError(f"donneur d'ordre inconnu : {principal!r} "
                                 "(astguard principal add)")
            row = await conn.fetchrow(
                """INSERT INTO campaigns (name, principal_id, purpose, dial_mode, caller_id, active,
                                         scope, sector, press, cli_policy)
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
                   ON CONFLICT (name) DO UPDATE SET principal_id = EXCLUDED.principal_id,
                       purpose = EXCLUDED.purpose, dial_mode = EXCLUDED.dial_mode,
                       caller_id = EXCLUDED.caller_id, active = EXCLUDED.active,
                       scope = EXCLUDED.scope, sector = EXCLUDED.sector,
                       press = EXCLUDED.press, cli_policy = EXCLUDED.cli_policy,
                       updated_at = now()
                   RETURNING *""",
                name, principal, purpose_v.value, mode_v.value, caller_id, active, scope,
                sector, press, cli_policy)
        return _campaign(row)

    async def set_endpoint(self, endpoint: str, default_campaign: str | None,
                           allowed: list[str], agent: str | None) -> None:
        valid_identifier(endpoint, "poste", _ENDPOINT)
        async with self._db.connection() as conn:
            for name in [c for c in [default_campaign, *allowed] if c]:
                if not await conn.fetchval("SELECT 1 FROM campaigns WHERE name = $1", name):
                    raise InputError(f"campagne inconnue : {name!r}")
            await conn.execute(
                """INSERT INTO agent_endpoints (endpoint, default_campaign, allowed_campaigns, agent)
                   VALUES ($1, $2, $3, $4)
                   ON CONFLICT (endpoint) DO UPDATE SET default_campaign = EXCLUDED.default_campaign,
                       allowed_campaigns = EXCLUDED.allowed_campaigns, agent = EXCLUDED.agent,
                       updated_at = now()""",
                endpoint, default_campaign, allowed, agent)

    async def list_campaigns(self) -> list[dict[str, Any]]:
        async with self._db.connection() as conn:
            rows = await conn.fetch(
                "SELECT c.*, p.name AS principal_name FROM campaigns c "
                "JOIN principals p ON p.id = c.principal_id ORDER BY c.name")
        return [dict(r) for r in rows]

    async def list_endpoints(self) -> list[dict[str, Any]]:
        async with self._db.connection() as conn:
            rows = await conn.fetch("SELECT * FROM agent_endpoints ORDER BY endpoint")
        return [dict(r) for r in rows]
