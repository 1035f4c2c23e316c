"""Which regime applies (by the call's date), and its rules: prior consent from 2026-08-11 (R-B),
the Bloctel opposition list before (R-C)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from astguard.policy.model import (
    Campaign,
    ConsentRecord,
    ContactHistory,
    ContractRecord,
    Regime,
    RuleSettings,
)
from astguard.policy.reasons import Reason, ReasonCode

PARIS = ZoneInfo("Europe/Paris")


def regime_for(now: dt.datetime, rules: RuleSettings) -> Regime:
    """By the call's date in Paris: the switch is at 2026-08-11 00:00 Europe/Paris."""
    if rules.regime is not None:
        return rules.regime
    return Regime.CONSENT if now.astimezone(PARIS).date() >= rules.opt_in_from else Regime.BLOCTEL


def current_contract(history: ContactHistory, campaign: Campaign,
                     today: dt.date) -> ContractRecord | None:
    """R-B4 / R-C1: a current contract with the principal whose object covers the campaign's."""
    for contract in history.contracts:
        if contract.principal != campaign.principal:
            continue
        if contract.started_on > today or (contract.ended_on and contract.ended_on < today):
            continue  # an ended contract does not count (I)
        # R-B2 (2026-11-26): a campaign without a scope is matched by no contract.
        if campaign.scope is not None and campaign.scope in contract.scopes:
            return contract
    return None


def _sector_ban(campaign: Campaign, rules: RuleSettings) -> list[Reason]:
    # R-B6: no consent cures it, in both regimes (L223-1 al.5 dates from 2020).
    if campaign.sector and campaign.sector in rules.banned_sectors:
        return [Reason(ReasonCode.SECTOR_BAN, {"sector": campaign.sector})]
    return []


def check_consent_regime(history: ContactHistory, campaign: Campaign, now: dt.datetime,
                         today: dt.date, rules: RuleSettings) -> list[Reason]:
    contract = current_contract(history, campaign, today)
    if contract is not None:  # R-B4: hours, caps and oppositions still apply (checked elsewhere)
        return []
    reasons = _sector_ban(campaign, rules)
    if campaign.press:  # R-B5: subscriptions to newspapers and periodicals
        return reasons
    return reasons + consent_reasons(history.consents, campaign, now)


# R-B2 (2026-11-26): what a prospecting campaign without a scope is refused for, whatever the
# regime or exception (here for consents, in decide.py for the rest).
NO_SCOPE = Reason(ReasonCode.CONSENT_SCOPE_MISMATCH, {
    "scope": None, "detail": "campagne sans périmètre : aucun consentement ni contrat ne la couvre"})


def consent_reasons(consents: tuple[ConsentRecord, ...], campaign: Campaign,
                     now: dt.datetime) -> list[Reason]:
    """R-B1/R-B2: one valid consent suffices; otherwise the most telling failure."""
    if campaign.scope is None:
        # R-B2 (2026-11-26): a campaign without a scope is matched by no consent.
        missing = [] if consents else [Reason(ReasonCode.NO_CONSENT, {})]
        return missing + [NO_SCOPE]
    mine = [c for c in consents if c.principal == campaign.principal]
    if not consents:
        return [Reason(ReasonCode.NO_CONSENT, {})]
    if not mine:
        return [Reason(ReasonCode.CONSENT_WRONG_PRINCIPAL,
                       {"principals": sorted({c.principal for c in consents})})]
    failures: list[Reason] = []
    for c in mine:
        inputs = {"consent_id": c.id, "proof_ref": c.proof_ref}
        if c.withdrawn_at is not None and c.withdrawn_at <= now:
            failures.append(Reason(ReasonCode.CONSENT_WITHDRAWN,
                                   {**inputs, "withdrawn_at": c.withdrawn_at.isoformat()}))
        elif c.collected_at > now:
            failures.append(Reason(ReasonCode.NO_CONSENT,
                                   {**inputs, "collected_at": c.collected_at.isoformat()}))
        elif now >= c.valid_until:
            failures.append(Reason(ReasonCode.CONSENT_EXPIRED,
                                   {**inputs, "valid_until": c.valid_until.isoformat()}))
        elif campaign.scope not in c.scopes:
            failures.append(Reason(ReasonCode.CONSENT_SCOPE_MISMATCH,
                                   {**inputs, "scope": campaign.scope,
                                    "consent_scopes": sorted(c.scopes)}))
        else:
            return []  # a valid consent
    # Report the latest consent's failure: the one a supervisor would look at first.
    latest = max(zip(mine, failures, strict=True), key=lambda pair: pair[0].collected_at)
    return [latest[1]]


def check_bloctel_regime(history: ContactHistory, campaign: Campaign, today: dt.date,
                         rules: RuleSettings) -> list[Reason]:
    if current_contract(history, campaign, today) is not None:  # R-C1 exception
        return []
    reasons = _sector_ban(campaign, rules)
    if campaign.press:  # R-B5 (L223-5): the opposition list does not apply to the press
        return reasons
    return reasons + _bloctel(history, today, rules)


def _bloctel(history: ContactHistory, today: dt.date, rules: RuleSettings) -> list[Reason]:
    scrub = history.bloctel
    oldest = today - dt.timedelta(days=rules.bloctel_scrub_days)
    if scrub is None or scrub.scrubbed_on < oldest:  # R-C2
        return [Reason(ReasonCode.BLOCTEL_SCRUB_STALE, {
            "scrubbed_on": scrub.scrubbed_on.isoformat() if scrub else None})]
    if scrub.listed:  # R-C1
        return [Reason(ReasonCode.BLOCTEL_LISTED, {"scrubbed_on": scrub.scrubbed_on.isoformat()})]
    return []
