"""Imports against the real PostgreSQL: all or nothing, bad lines named, re-import harmless."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import pytest

from astguard.clock import PinnedClock
from astguard.errors import InputError
from astguard.app.gate import Gate
from astguard.app.bloctel import import_bloctel
from astguard.app.imports import ImportFailed, Progress, import_file
from astguard.policy import CallRequest, RuleSettings
from astguard.settings import DEFAULT_EMERGENCY
from astguard.store.directory import Directory
from astguard.store.spool import Spool
from tests.conftest import hold_number, role_database

pytestmark = pytest.mark.db

RULES = RuleSettings(emergency_numbers=frozenset(DEFAULT_EMERGENCY))


@pytest.fixture(params=["service"])
async def db(request, database_url):
    """Imports run as the service's least-privileged role (0008); the owner may do more."""
    async with role_database(database_url, request.param) as database:
        yield database


@pytest.fixture
async def directory(db):
    d = Directory(db)
    await d.add_principal("im-acme", "ACME")
    await d.set_campaign("im-prospect", "im-acme", "prospecting", "manual", "0162123456",
                         scope="energie")
    await hold_number(db, "im-acme")
    return d


def gate_at(db, directory, tmp_path, when: dt.datetime) -> Gate:
    return Gate(db=db, directory=directory, spool=Spool(tmp_path),
                clock=PinnedClock(when), rules=RULES, node="t")


async def count(db, table: str) -> int:
    async with db.connection() as conn:
        return await conn.fetchval(f"SELECT count(*) FROM {table}")


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


CONSENTS = """number,principal,scopes,collected_at,channel,wording,proof_ref,valid_until
06 77 00 00 01,im-acme,energie|telecom,2026-09-01T10:00:00+02:00,web,v3,form-1,
+33677000002,im-acme,energie,2026-09-02T10:00:00+02:00,phone,v3,rec-2,2027-09-02T10:00:00+02:00
"""


async def test_consent_import_then_reimport_is_harmless(db, directory, tmp_path):
    path = write(tmp_path, "consents.csv", CONSENTS)
    report = await import_file(db, "consents", path, progress=False)
    assert (report.lines, report.inserted, report.bad_count) == (2, 2, 0)
    again = await import_file(db, "consents", path, progress=False)
    assert (again.lines, again.inserted) == (2, 0)
    assert "déjà présentes" in again.summary()
    gate = gate_at(db, directory, tmp_path, dt.datetime(2026, 11, 27, 10, tzinfo=dt.UTC))
    decided = await gate.check(CallRequest("0677000001", "api", campaign_name="im-prospect"),
                               record=False)
    assert decided.verdict.allowed


async def test_broken_file_changes_nothing_and_names_every_bad_line(db, directory, tmp_path):
    before = await count(db, "consents")
    path = write(tmp_path, "broken.csv", CONSENTS.replace("06 77 00 00 01", "06 77 00 00 01")
                 + "06 12,im-acme,energie,2026-09-01T10:00:00+02:00,web,v3,p3,\n"
                 + "0677000004,im-acme,energie,hier,web,v3,p4,\n"
                 + "0677000005,im-acme,energie,2026-09-01T10:00:00,web,v3,p5,\n"
                 + "0677000006,bad principal,energie,2026-09-01T10:00:00+02:00,web,v3,p6,\n"
                 + "0677000007,im-acme,energie,2026-09-01T10:00:00+02:00,web,v3,,\n"
                 + "0677000008,im-acme\n"
                 + "0677000009,im-acme,energie,2026-09-01T10:00:00+02:00,web,v3,p9,\n")
    with pytest.raises(ImportFailed) as info:
        await import_file(db, "consents", path, progress=False)
    report = info.value.report
    assert [n for n, _ in report.bad] == [4, 5, 6, 7, 8, 9]
    reasons = dict(report.bad)
    assert "numéro" in reasons[4] and "ISO-8601" in reasons[5]
    assert "fuseau" in reasons[6] and "donneur d'ordre" in reasons[7]
    assert "proof_ref" in reasons[8] and "champs" in reasons[9]
    assert "rien n'a été modifié" in str(info.value)
    assert await count(db, "consents") == before  # even the good lines went nowhere


# Consents are staged as COPY text (app/imports._consent_line): every value must reach the
# table as the parsed value itself, whatever it holds.
ROUND_TRIP = [  # (number, scopes, collected_at, wording, proof_ref, valid_until)
    ("0677000101", "energie", "2026-09-01T10:00:00+02:00", "v3", "rt-01", ""),
    ("+33677000102", 'a""b|c\\d|{e}|NULL|null|é t| x , y |', "2026-09-01T10:00:00Z", "v3",
     "rt-02", "2027-01-01T00:00:00.5+01:00"),
    ("06 77 00 01 03", "energie", "2026-09-01 10:00:00+02:00", "tab\there", "rt-03\\x", ""),
    ("0262000104", "energie", "20260901T100000+0200", '"multi\nline"', "rt-04", ""),
    ("0677000105", "energie", "2026-09-01T10:00:00+20:00", "v3", "rt-05",
     "2026-09-01T10:00:00-14:00"),
    ("0677000106", "energie", "2026-09-01T10:00:00+01:00:30", "v3", "rt-06", ""),
    ("0677000107", "energie", "2026-W36-2T10:00:00.123456+05:30", " v3 ", " rt-07 ", ""),
    ("0677000108", "energie", "2026-03-28T10:00:00+01:00", "\\N", "rt-08", ""),  # DST next
]


async def test_consents_reach_the_table_as_parsed(db, directory, tmp_path):
    from astguard.instants import parse_instant
    from astguard.policy.numbers import fast_e164
    def cell(value: str) -> str:
        return '"' + value.replace('"', '""') + '"' if set(value) & set(',"\n\t') else value
    path = write(tmp_path, "rt.csv", "number,principal,scopes,collected_at,channel,wording,"
                 "proof_ref,valid_until\n" + "".join(
                     f"{cell(n)},im-acme,{cell(sc)},{c},web,{cell(w)},{cell(p)},{u}\n"
                     for n, sc, c, w, p, u in ROUND_TRIP))
    report = await import_file(db, "consents", path, progress=False)
    assert report.inserted == len(ROUND_TRIP)
    async with db.connection() as conn:
        rows = await conn.fetch(
            "SELECT principal, number_e164, scopes, collected_at, channel, wording, proof_ref, "
            "valid_until FROM consents WHERE proof_ref LIKE 'rt-%' OR proof_ref LIKE ' rt%' "
            "ORDER BY proof_ref")
    expected = []
    for n, sc, c, w, p, u in ROUND_TRIP:
        collected = parse_instant(c, "c")
        expected.append((
            "im-acme", fast_e164(n), [x.strip() for x in sc.split("|") if x.strip()], collected,
            "web", w.strip(), p.strip(),
            parse_instant(u, "u") if u else collected + dt.timedelta(days=365)))
    assert [tuple(r) for r in rows] == sorted(expected, key=lambda e: e[6])


@pytest.mark.parametrize(
    ("text", "message"),
    [("", "vide"), ("number,principal\n0612345678,im-acme\n", "colonnes manquantes")],
)
async def test_unusable_files_are_refused(db, tmp_path, text, message):
    with pytest.raises(InputError, match=message):
        await import_file(db, "consents", write(tmp_path, "x.csv", text), progress=False)


async def test_missing_file_and_unknown_kind(db, tmp_path):
    with pytest.raises(InputError, match="No such file"):
        await import_file(db, "consents", tmp_path / "absent.csv", progress=False)
    with pytest.raises(InputError, match="inconnu"):
        await import_file(db, "recipes", tmp_path / "absent.csv", progress=False)


async def test_binary_garbage_is_a_bad_line_not_a_crash(db, tmp_path):
    path = tmp_path / "garbage.csv"
    path.write_bytes(b"number,principal,attempted_at\n\xff\xfe\x00bad,im-acme,x\n")
    with pytest.raises((ImportFailed, InputError)):
        await import_file(db, "attempts", path, progress=False)


async def test_opposition_import_blocks_calls(db, directory, tmp_path):
    path = write(tmp_path, "opp.csv", "number,principal,recorded_at\n"
                                      "0677000010,im-acme,2026-10-01T09:00:00+02:00\n")
    assert (await import_file(db, "oppositions", path, progress=False)).inserted == 1
    assert (await import_file(db, "oppositions", path, progress=False)).inserted == 0
    gate = gate_at(db, directory, tmp_path, dt.datetime(2026, 11, 27, 10, tzinfo=dt.UTC))
    decided = await gate.check(CallRequest("0677000010", "api", campaign_name="im-prospect"),
                               record=False)
    assert "CONSUMER_OPPOSED" in decided.verdict.codes


async def test_attempt_import_counts_toward_the_cap(db, directory, tmp_path):
    rows = "".join(f"0677000011,im-acme,2026-11-{d}T15:00:00+01:00,sub-{d}\n"
                   for d in (20, 21, 23, 24))
    path = write(tmp_path, "att.csv", "number,principal,attempted_at,reference\n" + rows)
    assert (await import_file(db, "attempts", path, progress=False)).inserted == 4
    gate = gate_at(db, directory, tmp_path, dt.datetime(2026, 11, 27, 10, tzinfo=dt.UTC))
    decided = await gate.check(CallRequest("0677000011", "api", campaign_name="im-prospect"),
                               record=False)
    assert "FREQUENCY_CAP" in decided.verdict.codes


async def test_bloctel_both_formats(db, directory, tmp_path):
    submitted = write(tmp_path, "submitted.txt",
                      "0677000021\n06 77 00 00 22\n+33677000023\n0677000024\n\n")
    returned = write(tmp_path, "returned.csv",
                     "id;numero;date\n1;+33677000021;x\n2;+33677000023;x\n")
    report = await import_bloctel(db, "im-acme", submitted, returned, dt.date(2026, 7, 20),
                                  progress=False)
    assert report.inserted == 4 and report.valid == 4
    again = await import_bloctel(db, "im-acme", submitted, returned, dt.date(2026, 7, 20),
                                 progress=False)
    assert again.inserted == 0
    gate = gate_at(db, directory, tmp_path, dt.datetime(2026, 7, 28, 9, tzinfo=dt.UTC))

    async def codes(n: str) -> list[str]:
        d = await gate.check(CallRequest(n, "api", campaign_name="im-prospect"), record=False)
        return d.verdict.codes

    assert await codes("0677000021") == []  # returned: not listed
    assert await codes("0677000022") == ["BLOCTEL_LISTED"]  # missing from the returned file
    assert await codes("0677000099") == ["BLOCTEL_SCRUB_STALE"]  # never submitted


async def test_bloctel_bad_line_changes_nothing(db, directory, tmp_path):
    before = await count(db, "bloctel_scrubs")
    submitted = write(tmp_path, "s.txt", "0677000031\nnot-a-number\n0677000032\n")
    returned = write(tmp_path, "r.txt", "0677000031\n")
    with pytest.raises(ImportFailed) as info:
        await import_bloctel(db, "im-acme", submitted, returned, dt.date(2026, 7, 20),
                             progress=False)
    assert [n for n, _ in info.value.report.bad] == [2]
    assert await count(db, "bloctel_scrubs") == before


@pytest.mark.parametrize("chunk_chars", [23, 1 << 20])
async def test_bloctel_chunks_name_bad_lines_and_agree(db, directory, tmp_path, monkeypatch,
                                                       chunk_chars):
    """Plain chunks take the chunk path, others the line path: the same lines, the same
    numbers and the same line numbers whatever the chunk size (app/number_batches)."""
    from astguard.app import number_batches
    monkeypatch.setattr(number_batches, "CHUNK_CHARS", chunk_chars)
    day = dt.date(2026, 7, 21) if chunk_chars < 100 else dt.date(2026, 7, 22)
    plain = "".join(f"06770001{n:02d}\n" for n in range(30))
    bad = write(tmp_path, "bad.txt", plain + "0677000200\r\n06770002\n\n+33677000201\n"
                + plain + "x\n")
    returned = write(tmp_path, "r.txt", "+33677000100\n")
    with pytest.raises(ImportFailed) as info:
        await import_bloctel(db, "im-acme", bad, returned, day, progress=False)
    assert [n for n, _ in info.value.report.bad] == [32, 65]
    assert "06770002" in info.value.report.bad[0][1]
    good = write(tmp_path, "good.txt", plain + "06 77 00 02 00\r\n+33677000201\n" + plain)
    report = await import_bloctel(db, "im-acme", good, returned, day, progress=False)
    assert (report.lines, report.valid, report.inserted) == (63, 32, 32)
    async with db.connection() as conn:
        listed = await conn.fetch("SELECT number_e164, listed FROM bloctel_scrubs WHERE "
                                  "principal = 'im-acme' AND scrubbed_on = $1 "
                                  "ORDER BY number_e164", day)
    assert [(r["number_e164"], r["listed"]) for r in listed] == \
        [("+33677000100", False)] + [(f"+336770001{n:02d}", True) for n in range(1, 30)] + \
        [("+33677000200", True), ("+33677000201", True)]


def test_progress_without_a_terminal_prints_tenths():
    out = io.StringIO()
    bar = Progress(1000, "import x", stream=out)
    for done in range(0, 1001, 50):
        bar.update(done, done)
    bar.update(1000, 1000, final=True)
    lines = out.getvalue().splitlines()
    assert lines[0] == "import x: 0% (0 lignes)"
    assert "import x: 100% (1,000 lignes)" in lines
    assert 10 <= len(lines) <= 12


async def test_caller_id_import(db, directory, tmp_path):
    path = write(tmp_path, "cli.csv", "number,principal,mandate_ref,valid_from,valid_to,trunk\n"
                 "0163000001,im-acme,M-1,2026-01-01,,t1\n"
                 "3010,im-acme,M-2,2026-01-01,2027-01-01,\n")
    report = await import_file(db, "caller-ids", path, progress=False)
    assert report.inserted == 2
    assert (await import_file(db, "caller-ids", path, progress=False)).inserted == 0
    broken = write(tmp_path, "bad.csv", "number,principal,mandate_ref,valid_from\n"
                   "0163000002,im-acme,,2026-01-01\nxx,im-acme,M,2026-01-01\n")
    with pytest.raises(ImportFailed) as info:
        await import_file(db, "caller-ids", broken, progress=False)
    assert [n for n, _ in info.value.report.bad] == [2, 3]
