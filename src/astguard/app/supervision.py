"""What supervisors and compliance officers read: decisions by period, campaign, agent and
reason; refusal statistics; a campaign's figures; the inspection report (with the trunk calls
reconciled with the decisions when Asterisk's records are readable); the evidence hash chain;
the calls that reached a trunk without a decision (issue 17). Everything here only reads."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from astguard.app.call_audit import CallAuditResult, audit_calls
from astguard.settings import Settings
from astguard.store import audit
from astguard.store.audit import KIND_LABELS, AuditResult, parse_anchor
from astguard.store.database import Database
from astguard.store.evidence import EvidenceStore
from astguard.store.inspection import InspectionReport, InspectionRun
from astguard.store.live import DecisionFeed, Subscription
from astguard.store.reports import CampaignSummary, DecisionPage, RefusalStats, Reports
from astguard.store.trunk_audit import TrunkAuditStore
from astguard.store.unguarded import UnguardedStore
from astguard.telephony.call_token import CallTokens, load_secret
from astguard.telephony.cdr import read_records, trunk_calls
from astguard.values import DecisionFilter

__all__ = ["KIND_LABELS", "AuditResult", "CampaignSummary", "DecisionFeed", "DecisionPage",
           "InspectionReport", "InspectionRun", "RefusalStats", "Subscription", "Supervision",
           "parse_anchor"]

_CDR_MARGIN = dt.timedelta(minutes=1)  # the watchdog's rows around Asterisk's records


class Supervision:
    def __init__(self, *, reports: Reports, evidence: EvidenceStore, reader: Database,
                 unguarded: UnguardedStore, trunk_audit: TrunkAuditStore,
                 settings: Settings, listener: Database | None = None) -> None:
        self._reports = reports
        # The live feed LISTENs on the primary: a standby (ASTGUARD_READ_DATABASE_URL) gets no
        # notifications.
        self._listener = listener or reader
        self._evidence = evidence
        self._reader = reader  # the readers' pool: the chain's check reads it all
        self._unguarded = unguarded
        self._trunk_audit = trunk_audit
        self._settings = settings

    # -- decisions and figures -----------------------------------------------------------------
    async def decisions(self, f: DecisionFilter) -> DecisionPage:
        return await self._reports.decisions(f)

    async def recent(self, limit: int, number: str | None = None) -> list[dict[str, Any]]:
        """The last decisions as recorded, newest first (every column)."""
        return await self._evidence.recent(limit, number)

    async def since(self, seq: int, limit: int = 100) -> tuple[int, list[dict[str, Any]]]:
        return await self._reports.since(seq, limit)

    async def head_seq(self) -> int:
        return await self._reports.head_seq()

    async def unguarded_count(self, start: dt.datetime, end: dt.datetime) -> int:
        return await self._reports.unguarded_count(start, end)

    async def refusal_stats(self, start: dt.datetime, end: dt.datetime,
                            principal: str | None = None) -> RefusalStats:
        return await self._reports.refusal_stats(start, end, principal)

    async def campaign(self, name: str, start: dt.datetime,
                       end: dt.datetime) -> CampaignSummary:
        return await self._reports.campaign(name, start, end)

    async def inspection(self, principal: str, start: dt.datetime,
                         end: dt.datetime) -> InspectionReport:
        return await self._reports.inspection(principal, start, end)

    @contextlib.asynccontextmanager
    async def open_inspection(self, principal: str, start: dt.datetime,
                              end: dt.datetime) -> AsyncIterator[InspectionRun]:
        """The report with its calls and Bloctel checks to stream (CSV, HTML)."""
        async with self._reports.open_inspection(principal, start, end) as run:
            yield run

    def live_feed(self) -> DecisionFeed:
        """The decisions as they are recorded (LISTEN/NOTIFY, migration 0014); one a process."""
        return DecisionFeed(self._listener, self._reports)

    async def inspection_with_calls(self, principal: str, start: dt.datetime,
                                    end: dt.datetime) -> InspectionReport:
        """The inspection report and, when astguard can read Asterisk's records, every trunk
        call of the period reconciled with a decision (the watchdog's rows alone miss what
        went out while it was stopped)."""
        report = await self.inspection(principal, start, end)
        if self._settings.cdr_file and self._settings.trunk_endpoints:
            reconciled = await self.audit_calls(self._settings.cdr_file, start, end)
            report = dataclasses.replace(report, call_reconciliation=reconciled.as_dict())
        return report

    # -- the evidence chain --------------------------------------------------------------------
    async def verify_chain(self, start: dt.datetime | None = None,
                           end: dt.datetime | None = None) -> AuditResult:
        return await audit.verify(self._reader, start, end)

    async def chain_head(self) -> tuple[int | None, str | None]:
        return await audit.head(self._reader)

    async def anchor_problem(self, seq: int, digest: str) -> str | None:
        return await audit.anchor_problem(self._reader, seq, digest)

    # -- trunk calls against the decisions -----------------------------------------------------
    async def audit_calls(self, cdr: Path, start: dt.datetime,
                          end: dt.datetime) -> CallAuditResult:
        """Every trunk call in Asterisk's records (`cdr`) between start and end had an allow
        decision before it."""
        s = self._settings
        tokens = CallTokens(load_secret(s.call_token_secret, s.spool_dir, create=False),
                            s.call_token_ttl)
        calls = trunk_calls(read_records(cdr), s.trunk_endpoints, s.trunk_inbound_contexts)
        caught = await self._unguarded.between(start - _CDR_MARGIN, end + _CDR_MARGIN,
                                               limit=100_000)
        return await audit_calls(calls, self._trunk_audit, tokens, start=start, end=end,
                                 emergency_numbers=s.rules.emergency_numbers, caught=caught)
