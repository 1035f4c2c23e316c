"""Principals, campaigns and agents' endpoints: what the administrator sets up, and how a
call's campaign is found (the classification the gate applies, read here for history pages
and dry runs)."""

from __future__ import annotations

from typing import Any

from astguard.errors import InputError
from astguard.policy import Campaign
from astguard.store.directory import Classification, Directory

__all__ = ["Campaigns", "Classification"]


class Campaigns:
    def __init__(self, directory: Directory) -> None:
        self._directory = directory

    async def classify(self, endpoint: str | None, override: str | None) -> Classification:
        return await self._directory.classify(endpoint, override)

    async def named(self, name: str) -> Campaign:
        """The campaign called `name`; InputError (in French) saying why when there is none."""
        found = await self._directory.classify(None, name)
        if found.campaign is None:
            raise InputError(found.how)
        return found.campaign

    async def add_principal(self, principal_id: str, name: str) -> None:
        await self._directory.add_principal(principal_id, name)

    async def set_campaign(self, name: str, principal: str, purpose: str, dial_mode: str,
                           caller_id: str | None, active: bool = True, *,
                           scope: str | None = None, sector: str | None = None,
                           press: bool = False, cli_policy: str = "rewrite") -> Campaign:
        return await self._directory.set_campaign(
            name, principal, purpose, dial_mode, caller_id, active, scope=scope, sector=sector,
            press=press, cli_policy=cli_policy)

    async def list_campaigns(self) -> list[dict[str, Any]]:
        return await self._directory.list_campaigns()

    async def set_endpoint(self, endpoint: str, default_campaign: str | None,
                           allowed: list[str], agent: str | None) -> None:
        await self._directory.set_endpoint(endpoint, default_campaign, allowed, agent)

    async def list_endpoints(self) -> list[dict[str, Any]]:
        return await self._directory.list_endpoints()
