"""The two compose set-ups, parsed (no Docker engine runs on these machines): docker/lab is
the test lab, labelled and on loopback; docker/production authenticates every phone, has no
lab endpoint, binds SIP to a configured address, and keeps in step with the lab and the
settings. Each check is shown to fail on a broken copy."""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass, field

import pytest
import yaml

from astguard import config_file
from lab.asterisk import AMI_ASTGUARD_SECRET, ARI_PASSWORD, REPO

LAB = REPO / "docker/lab"
PRODUCTION = REPO / "docker/production"
RECORDINGS = "/var/spool/asterisk/monitor/astguard"
WILDCARDS = ("0.0.0.0", "::", "[::]", "")


@dataclass
class Section:
    name: str
    template: bool
    options: dict[str, str] = field(default_factory=dict)


def parse_pjsip(text: str, includes: dict[str, str]) -> list[Section]:
    """Asterisk's configuration syntax as far as pjsip.conf uses it: sections, templates
    ("(!)"), inheritance ("(tpl)"), #include of the given files."""
    sections: list[Section] = []
    templates: dict[str, Section] = {}
    current: Section | None = None
    lines = text.splitlines()
    while lines:
        line = lines.pop(0).split(";", 1)[0].strip()
        if not line:
            continue
        if line.startswith("#include"):
            lines[:0] = includes[line.split(None, 1)[1].strip('"')].splitlines()
            continue
        if m := re.match(r"^\[([^\]]+)\](?:\(([^)]*)\))?$", line):
            flags = [f.strip() for f in (m[2] or "").split(",") if f.strip()]
            current = Section(m[1], "!" in flags)
            for parent in (f for f in flags if f != "!"):
                current.options.update(templates[parent].options)
            (templates.__setitem__(m[1], current) if current.template
             else sections.append(current))
            continue
        key, _, value = line.partition("=")
        assert current is not None, line
        current.options[key.strip()] = value.strip().lstrip(">").strip()
    return sections


def lab_endpoint_names() -> set[str]:
    return {s.name for s in parse_pjsip((LAB / "asterisk/pjsip.conf").read_text(), {})
            if s.options.get("type") == "endpoint"}


def pjsip_problems(text: str, agents: str) -> list[str]:
    sections = parse_pjsip(text, {"pjsip-agents.conf": agents})
    problems = []
    by_type: dict[str, list[Section]] = {}
    for s in sections:
        by_type.setdefault(s.options.get("type", ""), []).append(s)
    for transport in by_type.get("transport", []):
        host = transport.options.get("bind", "").rsplit(":", 1)[0]
        if host in WILDCARDS:
            problems.append(f"transport {transport.name} binds a wildcard")
    identified = {s.options.get("endpoint"): s.options.get("match", "")
                  for s in by_type.get("identify", [])}
    for endpoint in by_type.get("endpoint", []):
        match = identified.get(endpoint.name)
        if not endpoint.options.get("auth") and (match is None or match.split("/")[0] in
                                                 WILDCARDS):
            problems.append(f"endpoint {endpoint.name} has no authentication")
        if endpoint.name in lab_endpoint_names():
            problems.append(f"lab endpoint {endpoint.name}")
        if endpoint.options.get("context", "").startswith("astguard-agents") and \
                endpoint.options.get("language") != "fr":
            problems.append(f"agent {endpoint.name} without language=fr")
    for aor in by_type.get("aor", []):
        if "127.0.0.1" in aor.options.get("contact", ""):
            problems.append(f"aor {aor.name} points at the lab's loopback peers")
    for g in by_type.get("global", []):
        if "anonymous" in g.options.get("endpoint_identifier_order", ""):
            problems.append("anonymous endpoint identification")
    return problems


def compose_problems(compose: dict) -> list[str]:
    problems = []
    services = compose["services"]
    for name, service in services.items():
        if "lab" in str(service.get("labels", "")):
            problems.append(f"{name} carries the lab's label")
        for port in service.get("ports", []):
            host = str(port).split(":")[0] if str(port).count(":") >= 2 else ""
            if host in WILDCARDS:
                problems.append(f"{name} publishes {port} on every interface")
        if name != "migrate" and "healthcheck" not in service:
            problems.append(f"{name} has no health check")
    asterisk, guard = services["asterisk"], services["astguard"]
    if asterisk.get("network_mode") != "host" or ":?" not in str(asterisk["environment"]
                                                                   .get("SIP_BIND", "")):
        problems.append("SIP is not bound to a required, configured address")
    if "ami_secret" not in asterisk.get("secrets", []) or \
            "ASTGUARD_AMI_SECRET_FILE" not in guard["environment"]:
        problems.append("no AMI secret")
    if str(guard.get("user", "root")).split(":")[0] in ("0", "root"):
        problems.append("astguard runs as root")
    for who in (asterisk, guard):
        if f"recordings:{RECORDINGS}" not in who.get("volumes", []):
            problems.append("recordings are not shared")
    if guard["environment"].get("ASTGUARD_RECORDING_DIR") != RECORDINGS:
        problems.append("astguard does not look for recordings where Asterisk writes them")
    return problems


def production() -> tuple[str, str, dict]:
    return ((PRODUCTION / "asterisk/pjsip.conf").read_text(),
            (PRODUCTION / "pjsip-agents.conf.example").read_text(),
            yaml.safe_load((PRODUCTION / "compose.yaml").read_text()))


def test_production_is_authenticated_without_lab_endpoints_or_wildcards():
    pjsip, agents, compose = production()
    assert pjsip_problems(pjsip, agents) == []
    assert compose_problems(compose) == []


@pytest.mark.parametrize(("pjsip_edit", "agents_edit", "problem"), [
    (("bind=@SIP_BIND@", "bind=0.0.0.0:5060"), None, "binds a wildcard"),
    (None, ("auth=poste-101-auth\n", ""), "endpoint poste-101 has no authentication"),
    (None, ("", "\n[agent1](agent)\nauth=a\n"), "lab endpoint agent1"),
    (("match=@CARRIER_ADDRESS@", "match=0.0.0.0/0"), None, "operateur has no authentication"),
    (("contact=@CARRIER_CONTACT@", "contact=sip:127.0.0.1:5080"), None, "lab's loopback"),
    (None, ("[poste-101](agent)\n", "[poste-101](agent)\nlanguage=en\n"), "language=fr"),
])
def test_each_production_pjsip_check_can_fail(pjsip_edit, agents_edit, problem):
    pjsip, agents, _ = production()
    if pjsip_edit:
        pjsip = pjsip.replace(*pjsip_edit)
    if agents_edit:
        agents = agents.replace(*agents_edit) if agents_edit[0] else agents + agents_edit[1]
    assert any(problem in p for p in pjsip_problems(pjsip, agents))


@pytest.mark.parametrize(("edit", "problem"), [
    (lambda c: c["services"]["postgres"].update(ports=["5432:5432"]), "every interface"),
    (lambda c: c["services"]["asterisk"].update(network_mode="bridge"), "SIP is not bound"),
    (lambda c: c["services"]["astguard"].pop("user"), "as root"),
    (lambda c: c["services"]["asterisk"]["secrets"].remove("ami_secret"), "no AMI secret"),
    (lambda c: c["services"]["astguard"].pop("healthcheck"), "no health check"),
    (lambda c: c["services"]["astguard"]["volumes"].pop(), "not shared"),
])
def test_each_production_compose_check_can_fail(edit, problem):
    _, _, compose = production()
    edit(compose)
    assert any(problem in p for p in compose_problems(compose))


def test_the_lab_is_labelled_and_on_loopback_only():
    compose = yaml.safe_load((LAB / "compose.yaml").read_text())
    for name, service in compose["services"].items():
        assert "lab" in str(service.get("labels", "")), name
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), (name, port)
    # In step with the lab's runner: the same ARI password and AMI secret.
    env = compose["services"]["astguard"]["environment"]
    assert env["ASTGUARD_ARI_PASSWORD"] == ARI_PASSWORD
    assert env["ASTGUARD_AMI_SECRET"] == AMI_ASTGUARD_SECRET


def test_both_set_ups_use_real_files_and_real_settings():
    settings_source = (REPO / "src/astguard/settings.py").read_text()
    for folder in (LAB, PRODUCTION):
        compose = yaml.safe_load((folder / "compose.yaml").read_text())
        for service in compose["services"].values():
            build = service.get("build")
            if build:
                dockerfile = REPO / build["dockerfile"]
                for line in dockerfile.read_text().splitlines():
                    if line.startswith("COPY ") and "--from" not in line:
                        for source in line.split()[1:-1]:
                            assert list(REPO.glob(source)), (dockerfile, source)
            for key in service.get("environment") or {}:
                if not key.startswith("ASTGUARD_") or key == "ASTGUARD_CONFIG":
                    continue
                base = key.removesuffix("_FILE")
                assert key == base or base in config_file.SECRET_KEYS, key
                assert f'"{base}"' in settings_source, key
    # The lab's files moved under docker/lab: nothing may be left (or added) in the old place.
    assert not (REPO / "docker/asterisk").exists()
    assert "USER astguard" in (REPO / "docker/Dockerfile").read_text()


@pytest.mark.parametrize("sip_bind", ["0.0.0.0:5060", "[::]:5060", ""])
def test_the_production_asterisk_refuses_a_wildcard_or_missing_sip_address(sip_bind):
    done = subprocess.run(["sh", str(PRODUCTION / "asterisk-entrypoint.sh")],
                          env={"PATH": os.environ.get("PATH", ""), "SIP_BIND": sip_bind},
                          capture_output=True, text=True, timeout=10)
    assert done.returncode == 2 and "SIP_BIND" in done.stderr


def test_production_phones_and_trunk_behave_like_the_lab():
    """The same endpoint settings the e2e tests prove on the lab's phones and carrier."""
    lab = {s.name: s.options for s in parse_pjsip((LAB / "asterisk/pjsip.conf").read_text(), {})
           if s.options.get("type") == "endpoint"}
    pjsip, agents, _ = production()
    prod = {s.name: s.options for s in parse_pjsip(pjsip, {"pjsip-agents.conf": agents})
            if s.options.get("type") == "endpoint"}
    for key in ("context", "language", "trust_id_inbound", "direct_media"):
        assert prod["poste-101"].get(key) == lab["agent1"].get(key), key
    for key in ("send_pai", "trust_id_outbound", "direct_media"):
        assert prod["operateur"].get(key) == lab["carrier"].get(key), key


def test_production_ami_and_http_are_what_the_installer_writes():
    from astguard.install import files, installer
    from astguard.settings import Settings

    settings = Settings.from_env({}, require_database=False)
    written = installer._manager("", settings, "s")
    manager = (PRODUCTION / "asterisk/manager.conf").read_text()
    for key in ("read", "write", "permit", "deny"):
        assert files.section_values(manager, "astguard")[key] == \
            files.section_values(written, "astguard")[key], key
    assert files.section_values(manager, "general")["bindaddr"] == "127.0.0.1"
    http = files.section_values((PRODUCTION / "asterisk/http.conf").read_text(), "general")
    assert (http["bindaddr"], http["bindport"]) == ("127.0.0.1", "8088")


def test_production_serves_as_the_least_privileged_role():
    # Issue 11 (least privilege): the tables' owner migrates; `serve` logs in as astguard_app,
    # a member of astguard_service (the rights migration 0008 grants), never as the owner.
    _, _, compose = production()
    migrate, serve = compose["services"]["migrate"], compose["services"]["astguard"]
    assert migrate["environment"]["ASTGUARD_MIGRATE_DATABASE_URL_FILE"] == \
        "/run/secrets/astguard_owner_database_url"
    assert serve["environment"]["ASTGUARD_DATABASE_URL_FILE"] == \
        "/run/secrets/astguard_database_url"
    assert "astguard_owner_database_url" not in serve["secrets"]
    init = (PRODUCTION / "postgres-init.sh").read_text()
    assert "CREATE ROLE astguard_app LOGIN" in init and "IN ROLE astguard_service" in init
    assert "astguard_app_password" in compose["services"]["postgres"]["secrets"]
