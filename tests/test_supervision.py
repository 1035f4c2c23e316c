"""Supervision against the real PostgreSQL: decisions by period/campaign/agent/reason, refusal
statistics, a campaign's figures, the inspection report (totals checked against the evidence
itself), its CSV and HTML, and every new API endpoint through the composition root."""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import io
import re
import json
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from astguard.clock import PinnedClock
from astguard.app.contacts import ContactService
from astguard.app.gate import Gate
from astguard.policy import CallRequest, RuleSettings
from astguard.policy.reasons import RULE_IDS, ReasonCode
from astguard.controller import api_app, components
from astguard.settings import DEFAULT_EMERGENCY
from astguard.store.database import Database
from astguard.store.directory import Directory
from astguard.store.evidence import Outcome, attach_outcome
from astguard.store.reports import DecisionFilter, Reports
from astguard.store.spool import Spool
from astguard.surfaces.openapi import openapi_document
from astguard.surfaces.report_render import render_csv, render_html
from lab.database import fresh_database
from tests.conftest import PG_SERVER, hold_number, service_settings

pytestmark = pytest.mark.db

RULES = RuleSettings(emergency_numbers=frozenset(DEFAULT_EMERGENCY))
NAME = "astguard_test_supervision"
FRIDAY = dt.datetime(2026, 11, 27, 10, 0, tzinfo=dt.UTC)  # 11:00 in Paris
JULY = dt.datetime(2026, 7, 15, 8, 0, tzinfo=dt.UTC)  # Wednesday, Bloctel regime
READ = "read-token-0123456789"
WRITE = "write-token-0123456789"
P = "sup-acme"


async def _decide(db: Database, spool: Path, when: dt.datetime, number: str,
                  endpoint: str) -> str:
    gate = Gate(db=db, directory=Directory(db), spool=Spool(spool), clock=PinnedClock(when),
                rules=RULES, node="test")
    decided = await gate.check(CallRequest(number, "ari", endpoint=endpoint), record=True)
    assert decided.recorded
    return decided.decision_id


async def _seed(url: str, spool: Path) -> dict[str, str]:
    db = Database(url, timeout=5.0)
    ids: dict[str, str] = {}
    try:
        d = Directory(db)
        await d.add_principal(P, "ACME Énergie")
        await hold_number(db, P)
        await d.set_campaign("sup-prospect", P, "prospecting", "manual", "0162123456",
                             scope="energie")
        await d.set_campaign("sup-service", P, "service", "manual", "0162123456")
        await d.set_endpoint("sup-alice", "sup-prospect", [], "Alice")
        await d.set_endpoint("sup-bob", "sup-prospect", [], "Bob")
        await d.set_endpoint("sup-svc", "sup-service", [], "Chloé")
        contacts = ContactService(db, PinnedClock(FRIDAY - dt.timedelta(days=2)), RULES)
        for n in ("0612000001", "0612000002"):
            await contacts.add_consent(P, n, scopes=["energie"],
                                       collected_at=dt.datetime(2026, 9, 1, tzinfo=dt.UTC),
                                       channel="web", wording="v3", proof_ref=f"preuve-{n}")
        ids["allowed"] = await _decide(db, spool, FRIDAY, "0612000001", "sup-alice")
        ids["no_consent"] = await _decide(db, spool, FRIDAY, "0612000003", "sup-alice")
        ids["late"] = await _decide(db, spool, FRIDAY.replace(hour=21), "0612000002", "sup-bob")
        await contacts.record_block("refusal", "0612000001", P, source="agent",
                                    agent="Alice", at=FRIDAY + dt.timedelta(minutes=5))
        ids["cooldown"] = await _decide(db, spool, FRIDAY + dt.timedelta(minutes=10),
                                        "0612000001", "sup-alice")
        ids["service"] = await _decide(db, spool, FRIDAY, "0612000006", "sup-svc")
        async with db.connection() as conn:
            await conn.executemany(
                "INSERT INTO bloctel_scrubs VALUES ($1, $2, $3, $4)",
                [(P, "+33612000004", dt.date(2026, 7, 1), False),
                 (P, "+33612000005", dt.date(2026, 7, 1), True)])
            await attach_outcome(conn, Outcome(True, "ANSWER", 16, "Normal Clearing", 42.0,
                                               FRIDAY + dt.timedelta(minutes=1))
                                 .as_row(ids["allowed"]))
        ids["bloctel_ok"] = await _decide(db, spool, JULY, "0612000004", "sup-alice")
        ids["bloctel_listed"] = await _decide(db, spool, JULY, "0612000005", "sup-bob")
    finally:
        await db.close()
    return ids


@pytest.fixture(scope="module")
def seeded(tmp_path_factory) -> tuple[str, dict[str, str]]:
    async def build() -> tuple[str, dict[str, str]]:
        url = await fresh_database(PG_SERVER, NAME)
        return url, await _seed(url, tmp_path_factory.mktemp("spool"))
    return asyncio.run(build())


@pytest.fixture
async def sdb(seeded) -> AsyncIterator[Database]:
    database = Database(seeded[0], timeout=5.0)
    yield database
    await database.close()


@pytest.fixture
async def client(seeded, tmp_path) -> AsyncIterator[TestClient]:
    settings = service_settings(seeded[0], tmp_path, read=READ, write=WRITE)
    async with components(settings, PinnedClock(FRIDAY + dt.timedelta(hours=1))) as c:
        async with TestClient(TestServer(api_app(c))) as cl:
            yield cl


def auth(token: str = READ) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


NOVEMBER = (dt.datetime(2026, 11, 1, tzinfo=dt.UTC), dt.datetime(2026, 12, 1, tzinfo=dt.UTC))
WHOLE = (dt.datetime(2026, 7, 1, tzinfo=dt.UTC), dt.datetime(2026, 12, 1, tzinfo=dt.UTC))


def test_every_reason_code_names_its_rule():
    assert set(RULE_IDS) == set(ReasonCode)


async def test_decisions_by_campaign_agent_reason_and_verdict(sdb, seeded):
    reports, ids = Reports(sdb, RULES.opt_in_from), seeded[1]
    everything = await reports.decisions(DecisionFilter(*NOVEMBER))
    assert everything.total == 5 and len(everything.decisions) == 5
    by_agent = await reports.decisions(DecisionFilter(*NOVEMBER, agent="Bob"))
    assert [r["id"] for r in by_agent.decisions] == [ids["late"]]
    by_endpoint = await reports.decisions(DecisionFilter(*NOVEMBER, agent="sup-alice"))
    assert {r["id"] for r in by_endpoint.decisions} == {
        ids["allowed"], ids["no_consent"], ids["cooldown"]}
    refused = await reports.decisions(DecisionFilter(*NOVEMBER, decision="deny",
                                                     campaign="sup-prospect"))
    assert {r["id"] for r in refused.decisions} == {ids["no_consent"], ids["late"],
                                                       ids["cooldown"]}
    # From 2026-08-11 the refusal is an objection (rules-fr R-D7, 2026-11-26).
    cooldown = await reports.decisions(DecisionFilter(*NOVEMBER, reason="CONSUMER_OPPOSED"))
    assert [r["id"] for r in cooldown.decisions] == [ids["cooldown"]]
    page = await reports.decisions(DecisionFilter(*NOVEMBER, limit=2, offset=4))
    assert page.as_dict()["total"] == 5 and len(page.as_dict()["decisions"]) == 1


async def test_refusal_statistics_count_each_denying_reason(sdb):
    typed = await Reports(sdb, RULES.opt_in_from).refusal_stats(*NOVEMBER)
    assert (typed.decisions, typed.denied, typed.allowed) == (5, 3, 2)
    stats = typed.as_dict()  # the API's shape
    assert (stats["decisions"], stats["denied"], stats["allowed"]) == (5, 3, 2)
    reasons = {r["code"]: r["count"] for r in stats["by_reason"]}
    assert reasons["OUTSIDE_CALL_WINDOW"] == 1 and reasons["CONSUMER_OPPOSED"] == 1
    assert reasons["NO_CONSENT"] == 1
    assert {r["agent"]: r["count"] for r in stats["by_agent"]} == {"Alice": 2, "Bob": 1}
    assert stats["by_campaign"] == [{"campaign": "sup-prospect", "count": 3}]


async def test_campaign_figures(sdb):
    typed = await Reports(sdb, RULES.opt_in_from).campaign("sup-prospect", *NOVEMBER)
    assert typed.refusal_rate == 0.75 and typed.campaign.purpose == "prospecting"
    c = typed.as_dict()  # the API's shape
    assert (c["decisions"], c["denied"], c["answered"]) == (4, 3, 1)
    assert c["refusal_rate"] == 0.75
    assert c["caller_ids"][0]["caller_id"] == "+33162123456"
    assert c["caller_ids"][0]["calls"] == 1


async def test_inspection_totals_match_the_evidence(sdb, seeded):
    ids = seeded[1]
    typed = await Reports(sdb, RULES.opt_in_from).inspection(P, *WHOLE)
    report = typed.as_dict()  # the API's shape
    assert typed.summary.decisions == 7 and len(typed.attempts) == 7
    async with sdb.connection() as conn:
        rows = await conn.fetch("SELECT decision, reasons FROM decisions WHERE principal = $1",
                                P)
        codes = Counter(
            r["code"] for row in rows for r in json.loads(row["reasons"])
            if r["effect"] == "deny")
    assert report["summary"]["decisions"] == len(rows) == 7
    assert report["summary"]["denied"] == sum(r["decision"] == "deny" for r in rows)
    assert {t["code"]: t["count"] for t in report["totals_by_code"]} == dict(codes)
    by_rule = {t["rule"]: t["count"] for t in report["totals_by_rule"]}
    # R-B3: the objection itself; R-B2: the consent it withdrew.
    assert by_rule["R-D3"] == 1 and by_rule["R-B3"] == 1 and by_rule["R-B2"] == 1
    assert by_rule["R-C1"] == 1
    assert sum(by_rule.values()) == sum(codes.values())
    # The refusal was honoured: the next call was refused for it, none went out.
    (block,) = report["blocks"]
    assert block["kind"] == "opposition" and block["honoured"] is True
    assert block["calls_refused_after"] == 1 and block["calls_allowed_during"] == 0
    assert {c["proof_ref"] for c in report["consents"]} == {"preuve-0612000001",
                                                            "preuve-0612000002"}
    scrubs = {s["decision_id"]: s for s in report["bloctel_scrubs"]}
    assert set(scrubs) == {ids["bloctel_ok"], ids["bloctel_listed"]}
    assert scrubs[ids["bloctel_listed"]]["listed"] is True
    assert scrubs[ids["bloctel_ok"]]["scrubbed_on"] == "2026-07-01"
    allowed = next(a for a in report["attempts"] if a["id"] == ids["allowed"])
    assert allowed["answered"] is True and allowed["local_times"][0]["zone"] == "Europe/Paris"


async def test_inspection_csv_and_html(sdb, seeded):
    async with Reports(sdb, RULES.opt_in_from).open_inspection(P, *WHOLE) as run:
        report = run.report
        text = await render_csv(run)
        html = await render_html(run)
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff")), delimiter=";"))
    titles = [i for i, r in enumerate(rows) if r and r[0].startswith("# ")]
    calls = rows[titles[0] + 2:titles[1] - 1]
    assert len(calls) == 7
    late = next(r for r in calls if r[0] == seeded[1]["late"])
    assert late[3] == "2026-11-27 22:00 (Europe/Paris)" and late[9] == "refusé"
    assert "OUTSIDE_CALL_WINDOW" in late[10] and late[12] == "non émis"
    # Cells written by PostgreSQL: neutralised for spreadsheets, outcomes and labels in French.
    allowed = next(r for r in calls if r[0] == seeded[1]["allowed"])
    assert allowed[4].startswith("'+336") and allowed[9] == "autorisé"
    assert re.fullmatch(r"décroché, \d+ s", allowed[12]), allowed[12]
    json_late = next(a for a in (await Reports(sdb, RULES.opt_in_from).inspection(P, *WHOLE))
                     .attempts if a["id"] == seeded[1]["late"])
    assert late[1] == json_late["decided_at"] == "2026-11-27T21:00:00+00:00"
    totals = rows[titles[5] + 2:titles[6] - 1]
    assert sum(int(r[3]) for r in totals) == sum(t.count for t in report.totals_by_code)
    assert "ACME Énergie" in html and "@media print" in html
    assert html.count("<tr>") >= 7 + len(report.totals_by_code)


async def test_unknown_principal_or_campaign_is_an_input_error(sdb):
    from astguard.errors import InputError
    reports = Reports(sdb, RULES.opt_in_from)
    with pytest.raises(InputError, match="inconnu"):
        await reports.inspection("nobody", *WHOLE)
    with pytest.raises(InputError, match="inconnue"):
        await reports.campaign("nope", *WHOLE)
    with pytest.raises(InputError, match="période vide"):
        DecisionFilter(WHOLE[1], WHOLE[0])


# The HTTP API's supervision endpoints ------------------------------------------------------

async def test_decisions_endpoint_filters(client, seeded):
    resp = await client.get("/v1/decisions?from=2026-11-27&to=2026-11-27&agent=Bob",
                            headers=auth())
    assert resp.status == 200
    body = await resp.json()
    assert [d["id"] for d in body["decisions"]] == [seeded[1]["late"]]
    resp = await client.get("/v1/decisions?from=2026-11-01&reason=NO_CONSENT", headers=auth())
    assert [d["id"] for d in (await resp.json())["decisions"]] == [seeded[1]["no_consent"]]
    resp = await client.get("/v1/decisions?from=2026-11-01&number=06 12 00 00 03",
                            headers=auth())
    assert [d["id"] for d in (await resp.json())["decisions"]] == [seeded[1]["no_consent"]]


@pytest.mark.parametrize("query", ["from=2026-13-01", "from=2026-11-28&to=2026-11-01",
                                   "limit=0", "limit=abc", "decision=maybe",
                                   "number=12ab"])
async def test_decisions_endpoint_bad_query_is_a_400(client, query):
    resp = await client.get(f"/v1/decisions?{query}", headers=auth())
    assert resp.status == 400
    assert (await resp.json())["error"]


async def test_stats_and_campaign_endpoints(client):
    resp = await client.get("/v1/stats/refusals?from=2026-11-27&to=2026-11-27", headers=auth())
    assert (await resp.json())["denied"] == 3
    resp = await client.get("/v1/campaigns/sup-prospect/summary?from=2026-11-01",
                            headers=auth())
    assert (await resp.json())["refusal_rate"] == 0.75
    resp = await client.get("/v1/campaigns/nope/summary", headers=auth())
    assert resp.status == 400


async def test_inspection_endpoint_in_three_formats(client):
    base = f"/v1/reports/inspection?principal={P}&from=2026-07-01&to=2026-11-30"
    resp = await client.get(base, headers=auth())
    assert (await resp.json())["summary"]["decisions"] == 7
    resp = await client.get(base + "&format=csv", headers=auth())
    assert resp.content_type == "text/csv"
    assert "attachment" in resp.headers["Content-Disposition"]
    assert "# Totaux par règle" in await resp.text()
    resp = await client.get(base + "&format=html", headers=auth())
    assert resp.content_type == "text/html" and "Rapport d'inspection" in await resp.text()
    assert (await client.get(base + "&format=pdfx", headers=auth())).status == 400
    missing = base.replace(f"principal={P}", "principal=")
    assert (await client.get(missing, headers=auth())).status == 400


async def test_audit_endpoint(client):
    resp = await client.get("/v1/audit/verify", headers=auth())
    body = await resp.json()
    assert body["ok"] is True and body["checked"] >= 8
    assert body["by_kind"]["decision"] == 7 and body["by_kind"]["outcome"] == 1


@pytest.mark.parametrize("path", ["/v1/decisions", "/v1/stats/refusals",
                                  "/v1/campaigns/sup-prospect/summary",
                                  f"/v1/reports/inspection?principal={P}", "/v1/audit/verify"])
async def test_supervision_endpoints_need_a_token(client, path):
    assert (await client.get(path)).status == 401
    assert (await client.get(path, headers=auth("wrong-token-0123456789"))).status == 401


async def test_openapi_describes_every_route_and_nothing_more(client):
    resp = await client.get("/v1/openapi.json")
    doc = await resp.json()
    assert doc == json.loads(json.dumps(openapi_document()))
    served = set()
    for resource in client.app.router.resources():
        info = resource.get_info()
        path = info.get("path") or info.get("formatter")
        if path.startswith(("/v1/", "/metrics")):
            for route in resource:
                if route.method != "HEAD":
                    served.add((path, route.method.lower()))
    documented = {(p, m) for p, ops in doc["paths"].items() for m in ops}
    assert served == documented
    for (path, method) in documented:
        op = doc["paths"][path][method]
        if path not in ("/v1/openapi.json", "/v1/health", "/v1/ready", "/metrics"):
            assert op["security"] == [{"bearer": []}], path


def test_openapi_document_is_valid_openapi_3_1():
    from openapi_spec_validator import validate
    validate(openapi_document())


def test_openapi_operations_have_ids_tags_and_real_schemas():
    """What a client generator needs: a unique operationId and a tag per operation, and the
    schema of every JSON answer, errors included, as a model in components (never a bare
    object)."""
    doc = openapi_document()
    schemas = doc["components"]["schemas"]
    ids = [op["operationId"] for ops in doc["paths"].values() for op in ops.values()]
    assert len(ids) == len(set(ids)) == 20
    tags = {t["name"] for t in doc["tags"]}
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            assert len(op["tags"]) == 1 and op["tags"][0] in tags, (path, method)
            for status, answer in op["responses"].items():
                json_answer = answer["content"].get("application/json")
                if json_answer is None:
                    assert path in ("/metrics", "/v1/scrub")
                    continue
                name = json_answer["schema"]["$ref"].rsplit("/", 1)[1]
                assert name in schemas, (path, status)
                if status[0] in "45" and path != "/v1/ready":
                    assert name == "Error", (path, status)
    assert schemas["Error"]["required"] == ["error"]
    # Nothing English that pydantic writes by itself (titles from field names, docstrings).
    text = json.dumps(doc)
    assert '"title": "Number"' not in text and "docstring" not in text
    assert all("description" not in s or not s["description"].startswith("The ")
               for s in schemas.values())


def _operations() -> list[tuple[str, str, dict]]:
    concrete = {"{number}": "0612000001", "{name}": "sup-prospect"}
    out = []
    for path, ops in openapi_document()["paths"].items():
        for key, value in concrete.items():
            path = path.replace(key, value)
        out.extend((path, method, op) for method, op in ops.items())
    return out


@pytest.mark.parametrize(("path", "method", "op"), _operations(),
                         ids=[f"{m} {p}" for p, m, _ in _operations()])
async def test_every_documented_operation_guards_its_right_and_its_input(client, path,
                                                                         method, op):
    """Driven by the OpenAPI document, so that a new endpoint is covered as soon as it is
    documented (and the document is checked against the routes above)."""
    call = getattr(client, method)
    if "security" not in op:
        # /v1/ready answers 503 while a part is down (here, no service behind the app).
        assert (await call(path)).status in ({200, 503} if path == "/v1/ready" else {200})
        return
    assert (await call(path)).status == 401
    assert (await call(path, headers={"Authorization": "Basic abc"})).status == 401
    assert (await call(path, headers=auth("not-a-known-token-000"))).status == 401
    if method == "post":
        write = "403" in op["responses"]
        assert (await call(path, headers=auth(READ), json={})).status == (403 if write else 400)
        for body in (b"{not json", b"[1, 2]", b'"text"', b"\xff\xfe"):
            resp = await call(path, headers={**auth(WRITE), "Content-Type": "application/json"},
                              data=body)
            assert resp.status == 400, (path, body)
            assert (await resp.json())["error"]
        resp = await call(path, headers=auth(WRITE), json={"number": 12})
        assert resp.status == 400 and (await resp.json())["error"]
    else:
        assert (await call(path, headers=auth(READ))).status in (200, 400)


def test_cli_report_in_csv_and_html(seeded, tmp_path):
    import os
    import subprocess
    import sys
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "ASTGUARD_DATABASE_URL": seeded[0], "PYTHONPATH": str(root / "src")}
    base = [sys.executable, "-m", "astguard", "report", "--principal", P,
            "--from", "2026-07-01", "--to", "2026-11-30"]
    out = tmp_path / "r.csv"
    done = subprocess.run(base + ["--format", "csv", "-o", str(out)], env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "7 décisions" in done.stdout
    assert seeded[1]["late"] in out.read_text(encoding="utf-8")
    html = subprocess.run(base + ["--format", "html"], env=env, capture_output=True, text=True,
                          timeout=60)
    assert html.returncode == 0 and "<html lang=fr>" in html.stdout
    bad = subprocess.run(base[:-4] + ["--from", "2026-13-01"], env=env, capture_output=True,
                         text=True, timeout=60)
    assert bad.returncode == 2 and "date AAAA-MM-JJ" in bad.stderr


def test_cli_decisions_filters(seeded):
    import os
    import subprocess
    import sys
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "ASTGUARD_DATABASE_URL": seeded[0], "PYTHONPATH": str(root / "src")}

    def run(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "astguard", "decisions", *argv], env=env,
                              capture_output=True, text=True, timeout=60)

    done = run("--from", "2026-11-27", "--to", "2026-11-27", "--agent", "Bob", "--json")
    assert done.returncode == 0, done.stderr
    assert [d["id"] for d in json.loads(done.stdout)["decisions"]] == [seeded[1]["late"]]
    done = run("--from", "2026-11-01", "--to", "2026-11-30", "--reason", "NO_CONSENT")
    assert done.returncode == 0 and "+33612000003" in done.stdout and "1 sur 1" in done.stdout
    bad = run("--from", "2026-11-01", "--number", "12ab")
    assert bad.returncode == 2 and "--number" in bad.stderr
