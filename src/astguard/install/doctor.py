"""`astguard asterisk check`: asks the running Asterisk (ARI, AMI) and reads the files, then
names in French each piece astguard needs that is missing. Exit 0 when nothing is missing.

What Asterisk has loaded is asked over AMI (ShowDialPlan, PJSIPShowEndpoint: the astguard
user needs `reporting` and `system`, as `astguard asterisk install` writes it), so an include
typed in the wrong file or a reload not done shows up as missing.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from panoramisk import Manager

from astguard.errors import TelephonyError
from astguard.install import files
from astguard.install.kit import Wiring, prompt_files
from astguard.settings import Settings
from astguard.telephony.dialplan_audit import audit_dialplan, endpoint_contexts, read_files

GUARDED = ("astguard-agents", "astguard-agents-agi", "astguard-dialer", "astguard-outbound",
           "astguard-outbound-agi")
_AGI = re.compile(r"agi://[^/]+/")
_TRUNK_DIAL = re.compile(r"PJSIP/\$\{EXTEN\}@([A-Za-z0-9_.-]+)")
_TRUNK_SECTION = re.compile(r"^\[astguard-trunk\][^\n]*\n(.*?)(?=^\[|\Z)", re.M | re.S)
TIMEOUT = 5.0


@dataclass(slots=True)
class Report:
    ok: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)

    def render(self) -> str:
        lines = [f"ok        {line}" for line in self.ok]
        lines += [f"MANQUANT  {line}" for line in self.missing]
        lines.append("rien ne manque" if not self.missing else
                     f"{len(self.missing)} élément(s) manquant(s)")
        return "\n".join(lines)


async def check(settings: Settings, etc: Path) -> Report:
    report = Report()
    await _ari(settings, report)
    _files(settings, etc, report)
    _unguarded_contexts(settings, etc, report)
    manager = Manager(loop=asyncio.get_running_loop(), host=settings.ami_host,
                      port=settings.ami_port, username=settings.ami_user,
                      secret=settings.ami_secret, ping_delay=0, reconnect_timeout=0)
    try:
        await asyncio.wait_for(manager.connect(), TIMEOUT)
        await _ami(manager, report, Wiring.from_settings(settings).agi_url)
    except (OSError, asyncio.TimeoutError) as exc:
        report.missing.append(f"AMI injoignable sur {settings.ami_host}:{settings.ami_port} "
                              f"({exc or 'délai dépassé'}) : manager.conf activé, utilisateur "
                              f"[{settings.ami_user}] et ASTGUARD_AMI_SECRET ?")
    except AmiDenied as exc:
        report.missing.append(str(exc))
    finally:
        manager.close()
    return report


class AmiDenied(TelephonyError):
    pass


async def _ari(settings: Settings, report: Report) -> None:
    auth = aiohttp.BasicAuth(settings.ari_user, settings.ari_password)
    timeout = aiohttp.ClientTimeout(total=TIMEOUT)
    try:
        async with aiohttp.ClientSession(auth=auth, timeout=timeout) as session:
            async with session.get(f"{settings.ari_url}/asterisk/info") as info:
                if info.status == 401:
                    report.missing.append(f"ARI refuse l'utilisateur « {settings.ari_user} » : "
                                          "ari.conf et ASTGUARD_ARI_PASSWORD diffèrent")
                    return
                if info.status != 200:
                    report.missing.append(f"ARI répond {info.status} sur {settings.ari_url}")
                    return
            report.ok.append(f"ARI joignable ({settings.ari_url})")
            async with session.get(f"{settings.ari_url}/applications/{settings.ari_app}") as app:
                if app.status == 200:
                    report.ok.append(f"application Stasis « {settings.ari_app} » enregistrée")
                else:
                    report.missing.append(
                        f"l'application Stasis « {settings.ari_app} » n'est pas enregistrée : "
                        "astguard serve ne tourne pas ou ne joint pas ARI (sans elle, le "
                        "dialplan refuse tous les appels)")
    except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
        report.missing.append(f"ARI injoignable sur {settings.ari_url} ({exc or 'délai'}) : "
                              "http.conf (enabled=yes) et ari.conf ?")


def _files(settings: Settings, etc: Path, report: Report) -> None:
    folder = settings.prompts_dir
    absent = [p.name for p in prompt_files() if not (folder / p.name).exists()]
    if absent:
        report.missing.append(f"annonces françaises absentes de {folder} : {', '.join(absent)} "
                              "(un agent refusé n'entendrait rien)")
    else:
        report.ok.append(f"annonces françaises présentes ({folder})")
    features = files.read(etc / "features.conf")
    if features is None:
        report.missing.append(f"{etc / 'features.conf'} illisible : codes *81 *82 *85 "
                              "non vérifiés")
    elif "astguard-features.conf" in features and (etc / "astguard-features.conf").exists():
        report.ok.append("codes en cours d'appel (*81 *82 *85) inclus dans features.conf")
    else:
        report.missing.append("features.conf n'inclut pas astguard-features.conf : les codes "
                              "*81 *82 *85 en cours d'appel ne marchent pas")


def _unguarded_contexts(settings: Settings, etc: Path, report: Report) -> None:
    """Issue 17: every dialplan context that can reach a trunk without astguard deciding
    (telephony/dialplan_audit.py, the same analysis as `astguard audit dialplan`)."""
    extensions = etc / "extensions.conf"
    if not extensions.exists():
        return  # reported with the includes
    texts = read_files([extensions])
    trunks = set(settings.trunk_endpoints)
    for _, text in texts:  # the trunks [astguard-trunk] dials
        for section in _TRUNK_SECTION.findall(text):
            trunks.update(m[1] for m in _TRUNK_DIAL.finditer(section))
    if not trunks:
        return  # no trunk known: nothing to look for
    pjsip = files.read(etc / "pjsip.conf") or ""
    findings = audit_dialplan(texts, frozenset(trunks),
                              emergency_numbers=settings.rules.emergency_numbers,
                              endpoint_contexts=endpoint_contexts(pjsip))
    for finding in findings:
        report.missing.append(finding.describe())
    if not findings:
        report.ok.append("aucun contexte du dialplan n'atteint l'opérateur "
                         f"({', '.join(sorted(trunks))}) sans passer par astguard")


async def _send(manager: Manager, action: dict[str, str]) -> list[Any]:
    reply = await asyncio.wait_for(manager.send_action(action), TIMEOUT)
    messages = reply if isinstance(reply, list) else [reply]
    first = messages[0]
    if first.get("Response") == "Error" and "ermission" in str(first.get("Message", "")):
        raise AmiDenied(f"AMI : l'utilisateur n'a pas le droit {action['Action']} "
                        "(read/write system,call,reporting dans manager.conf)")
    if first.get("Response") == "Error" and "uthentication" in str(first.get("Message", "")):
        raise AmiDenied("AMI refuse l'identification : manager.conf et ASTGUARD_AMI_SECRET "
                        "diffèrent")
    return messages


async def _dialplan(manager: Manager, context: str) -> list[Any] | None:
    """The ListDialplan events of a context as Asterisk loaded it; None if it has none."""
    messages = await _send(manager, {"Action": "ShowDialPlan", "Context": context})
    if messages[0].get("Response") != "Success":
        return None
    return [m for m in messages if m.get("Event") == "ListDialplan"]


def _guarded(entries: list[Any] | None, context: str) -> bool:
    if context in GUARDED:
        return True
    for entry in entries or ():
        if entry.get("IncludeContext") in GUARDED or entry.get("Context") in GUARDED:
            return True
        if "astguard-predial" in str(entry.get("AppData", "")):
            return True
    return False


async def _agi_address(manager: Manager, agi_url: str, report: Report) -> None:
    """The dialplan Asterisk loaded must call this node's FastAGI address."""
    entries = await _dialplan(manager, "astguard-outbound-agi") or []
    found = {m[0] for e in entries if (m := _AGI.search(str(e.get("AppData", ""))))}
    if found and found != {agi_url}:
        report.missing.append(
            f"le dialplan appelle FastAGI à {', '.join(sorted(found))} mais astguard écoute à "
            f"{agi_url} : relancez « astguard asterisk install » puis rechargez Asterisk")
    elif found:
        report.ok.append(f"dialplan et FastAGI d'accord ({agi_url})")


async def _ami(manager: Manager, report: Report, agi_url: str) -> None:
    await _send(manager, {"Action": "Ping"})
    report.ok.append("AMI joignable")
    if await _dialplan(manager, "astguard-agents") is None:
        report.missing.append("le dialplan d'astguard n'est pas chargé : « #include "
                              "astguard.conf » manque dans extensions.conf (ou Asterisk n'a "
                              "pas été rechargé)")
    else:
        report.ok.append("dialplan d'astguard chargé (astguard-agents)")
        await _agi_address(manager, agi_url, report)
    trunk_entries = await _dialplan(manager, "astguard-trunk")
    trunk = None
    if trunk_entries is None:
        report.missing.append("le contexte [astguard-trunk] n'existe pas : les appels autorisés "
                              "n'ont nulle part où aller (astguard asterisk install --trunk "
                              "NOM, ou écrivez-le)")
    else:
        for entry in trunk_entries:
            if m := _TRUNK_DIAL.search(str(entry.get("AppData", ""))):
                trunk = m[1]
                break
        report.ok.append(f"contexte [astguard-trunk] présent (ligne : {trunk or '?'})")
    await _endpoints(manager, trunk, report)


async def _endpoints(manager: Manager, trunk: str | None, report: Report) -> None:
    listed = await _send(manager, {"Action": "PJSIPShowEndpoints"})
    names = [m.get("ObjectName") for m in listed if m.get("Event") == "EndpointList"]
    if trunk and trunk not in names:
        report.missing.append(f"[astguard-trunk] appelle PJSIP/…@{trunk}, qui n'existe pas "
                              "dans pjsip.conf")
    agents = 0
    for name in names:
        detail = await _send(manager, {"Action": "PJSIPShowEndpoint", "Endpoint": name})
        endpoint = next((m for m in detail if m.get("Event") == "EndpointDetail"), None)
        if endpoint is None:
            continue
        if name == trunk:
            if endpoint.get("SendPai") in ("true", "yes"):
                report.ok.append(f"ligne opérateur « {name} » : send_pai=yes")
            else:
                report.missing.append(
                    f"la ligne opérateur « {name} » n'a pas send_pai=yes : l'opérateur ne "
                    "reçoit pas le numéro dans P-Asserted-Identity (R-G1)")
            continue
        context = endpoint.get("Context", "")
        if context == "astguard-inbound":
            continue
        if not _guarded(await _dialplan(manager, context), context):
            report.missing.append(
                f"le poste PJSIP « {name} » entre dans le contexte « {context} », qui ne passe "
                "pas par astguard : ses appels sortent sans contrôle (context=astguard-agents)")
            continue
        agents += 1
        if endpoint.get("Language") != "fr":
            report.missing.append(
                f"le poste « {name} » a language={endpoint.get('Language') or '(vide)'} : un "
                "agent refusé n'entendrait pas l'annonce française (language=fr)")
        else:
            report.ok.append(f"poste « {name} » : contexte {context}, language=fr")
    if not agents:
        report.missing.append("aucun poste PJSIP n'entre dans un contexte gardé par astguard")
