"""The inspection report as CSV (sections separated by a blank line, `;` for French
spreadsheets) and as a print-ready HTML document (templates/inspection.html), in French.

Both stream: the calls and the Bloctel checks arrive in batches from the store's cursor
(`InspectionRun`), their cells already written by PostgreSQL, and leave as text chunks, so
memory stays flat whatever the period (issue 15 item 6).

CSV cells are neutralised against formula injection: a text cell that starts with `=`, `+`,
`-`, `@`, a tab or a carriage return gets a leading apostrophe, so a spreadsheet shows it as
text (`'+33612345678` reads as the number, never as a formula). Numbers (counts) are left as
they are. Anything that reads the file by program strips one leading apostrophe.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import json
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from markupsafe import Markup

from astguard.labels import (
    BLOCK_KIND,
    BLOCTEL_RESULT,
    DECISION,
    DIAL_STATUS,
    OUTCOME,
    UNGUARDED_ACTION,
    YES_NO,
    label,
)
from astguard.app.supervision import InspectionReport, InspectionRun
from astguard.surfaces import templates

PARIS = ZoneInfo("Europe/Paris")
Batches = AsyncIterable[Sequence[Sequence[Any]]]


def paris(value: str | dt.datetime | None, fmt: str = "%Y-%m-%d %H:%M:%S") -> str:
    """An instant (ISO text or datetime) as Paris wall-clock time; empty for None."""
    if not value:
        return ""
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    return value.astimezone(PARIS).strftime(fmt)


# The labels PostgreSQL writes into the streamed sections' cells (store/inspection.py).
_CELL_LABELS = json.dumps({"decision": DECISION, "dial_status": DIAL_STATUS,
                           "outcome": OUTCOME, "bloctel": BLOCTEL_RESULT}, ensure_ascii=False)


@dataclass(slots=True)
class _Section:
    title: str
    header: list[str]
    rows: Iterable[list[Any]] | None = None  # held in memory, or
    batches: Batches | None = None  # streamed, as cells ready to show (HTML), and
    csv_lines: AsyncIterator[bytes] | None = None  # as CSV lines written by PostgreSQL
    css: str = ""
    mark: int = -1  # the HTML cell whose value picks its class in `marks`
    marks: dict[str, str] | None = None

    async def cell_batches(self, csv: bool = False) -> AsyncIterator[Sequence[Sequence[Any]]]:
        if self.rows is not None:
            rows = [[csv_cell(v) for v in row] for row in self.rows] if csv else list(self.rows)
            if rows:
                yield rows
            return
        assert self.batches is not None
        async for batch in self.batches:
            yield batch


def _sections(run: InspectionRun, *, csv: bool) -> list[_Section]:
    report = run.report
    attempts = scrubs = None
    attempts_csv = scrubs_csv = None
    if csv:
        attempts_csv, scrubs_csv = run.attempt_csv(_CELL_LABELS), run.scrub_csv(_CELL_LABELS)
    else:
        attempts = run.attempt_cells(_CELL_LABELS, neutralise=False)
        scrubs = run.scrub_cells(_CELL_LABELS, neutralise=False)
    external = [[e["at"], e["number"], e["reference"], e["campaign"] or ""]
                for e in report.external_attempts]
    blocks = [[b["id"], label(BLOCK_KIND, b["kind"]), b["number_e164"], b["recorded_at"],
               b["until_day"] or "permanent", b["source"], b["agent"] or "",
               b["calls_refused_after"], b["calls_allowed_during"],
               "oui" if b["honoured"] else "NON"] for b in report.blocks]
    consents = [[c["id"], c["number_e164"], " ".join(c["scopes"]), c["collected_at"],
                 c["channel"], c["wording"], c["proof_ref"], c["valid_until"],
                 c["withdrawn_at"] or ""] for c in report.consents]
    totals = [[t.rule, t.code, t.text, t.count] for t in report.totals_by_code]
    unguarded = [[u["created_at"], paris(u["created_at"]), u["dialled"] or "inconnu",
                  u["endpoint"], u["channel"], u["originator"] or "", u["problem"],
                  label(UNGUARDED_ACTION, u["action"]), YES_NO[bool(u["emergency"])]]
                 for u in report.unguarded_calls]
    return [
        _Section("Appels (décisions)", [
            "décision_id", "horodatage_utc", "heure_paris", "heure_locale_consommateur",
            "numéro", "campagne", "agent", "numéro_présenté", "numéro_demandé", "décision",
            "codes_refus", "motifs", "issue"], batches=attempts, csv_lines=attempts_csv,
            css="calls",
            mark=9, marks={DECISION["deny"]: "deny", DECISION["allow"]: "allow"}),
        _Section("Tentatives déclarées par d'autres plateformes",
                 ["horodatage", "numéro", "référence", "campagne"], rows=external),
        _Section("Refus, suspensions et oppositions", [
            "id", "type", "numéro", "enregistré_le", "jusqu_au", "source", "agent",
            "appels_refusés_ensuite", "appels_autorisés_pendant", "respecté"], rows=blocks,
            mark=9, marks={"NON": "bad"}),
        _Section("Consentements", ["id", "numéro", "périmètres", "recueilli_le", "canal",
                                   "formulation", "preuve", "valable_jusqu_au", "retiré_le"],
                 rows=consents),
        _Section(f"Vérifications Bloctel (appels avant le {report.opt_in_from.isoformat()})",
                 ["décision_id", "horodatage", "numéro", "décision", "dernière_vérification",
                  "résultat"], batches=scrubs, csv_lines=scrubs_csv),
        _Section("Totaux par règle", ["règle", "code", "libellé", "refus"], rows=totals),
        _Section("Appels sortis vers l'opérateur sans décision astguard (vigie, toute la "
                 "plateforme)", ["horodatage_utc", "heure_paris", "numéro", "ligne", "canal",
                                 "origine", "motif", "suite", "urgence"], rows=unguarded),
    ] + _reconciliation_section(report)


def _reconciliation_section(report: InspectionReport) -> list[_Section]:
    r = report.call_reconciliation
    if r is None:
        return []
    rows = [[f["start"], paris(f["start"]), f["number"] or "inconnu", f["endpoint"],
             f["trunk_channel"], f["via"], f["problem"]] for f in r["unguarded"]]
    title = (f"Rapprochement avec les enregistrements d'Asterisk : {r['checked']} appel(s) "
             f"vers l'opérateur, {r['unguarded_count']} sans décision (doit être 0)")
    return [_Section(title, ["début_utc", "heure_paris", "numéro", "ligne", "canal", "par",
                             "motif"], rows=rows)]


# CSV -----------------------------------------------------------------------------------------

_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> Any:
    """A cell a spreadsheet will never run as a formula (see the module's docstring)."""
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


class _SafeWriter:
    """CSV rows into a buffer that the caller empties after each batch."""

    def __init__(self) -> None:
        self._out = io.StringIO()
        # "\n" as PostgreSQL's COPY writes the calls' lines: one line ending in the file.
        self._w = csv.writer(self._out, delimiter=";", lineterminator="\n")

    def writerow(self, row: list[Any]) -> None:
        self._w.writerow([csv_cell(v) for v in row])

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        """Rows whose cells are already neutralised (csv_cell, or PostgreSQL)."""
        self._w.writerows(rows)

    def take(self) -> str:
        text = self._out.getvalue()
        self._out.seek(0)
        self._out.truncate()
        return text


async def stream_csv(run: InspectionRun) -> AsyncIterator[str]:
    report = run.report
    w = _SafeWriter()
    w.writerow(["Rapport d'inspection astguard", report.principal_id, report.principal_name,
                report.start.isoformat(), report.end.isoformat()])
    s = report.summary
    w.writerow(["décisions", s.decisions, "autorisées", s.allowed, "refusées", s.denied,
                "tentatives comptées", s.attempts_counted, "appels sans décision",
                s.unguarded_calls])
    yield "\ufeff" + w.take()
    for section in _sections(run, csv=True):
        w.writerow([])
        w.writerow([f"# {section.title}"])
        w.writerow(section.header)
        if section.csv_lines is not None:
            yield w.take()
            decode = codecs.getincrementaldecoder("utf-8")()  # a chunk may split a character
            async for data in section.csv_lines:
                yield decode.decode(data)
            yield decode.decode(b"", final=True)
            continue
        async for rows in section.cell_batches(csv=True):
            w.writerows(rows)
            yield w.take()
    head = report.chain_head
    w.writerow([])
    w.writerow(["# Tête de la chaîne de preuves", head.seq if head else "",
                head.hash if head else ""])
    yield w.take()


async def render_csv(run: InspectionRun) -> str:
    return "".join([c async for c in stream_csv(run)])


# HTML ----------------------------------------------------------------------------------------

_CSS = Markup("""
body{font-family:"DejaVu Sans",Arial,sans-serif;font-size:10pt;margin:1.5cm;color:#111}
h1{font-size:16pt;margin:0 0 .2em} h2{font-size:12pt;margin-top:1.5em;border-bottom:1px solid #999}
table{border-collapse:collapse;width:100%;margin:.5em 0} th,td{border:1px solid #bbb;padding:2px 4px;
vertical-align:top;text-align:left} th{background:#eee} tr{page-break-inside:avoid}
.deny{color:#a00;font-weight:bold} .allow{color:#060} .meta{color:#444} .bad{color:#a00}
.hash{font-family:monospace;font-size:8pt;word-break:break-all}
table.calls td{font-size:8pt} table.calls td:first-child{font-family:monospace;font-size:7pt;
word-break:break-all;min-width:9em} td{overflow-wrap:anywhere}
@media print{body{margin:0} a{color:inherit;text-decoration:none} .noprint{display:none}}
@page{size:A4 landscape;margin:1cm}
""")


@dataclass(slots=True)
class _HtmlSection:
    title: str
    header: list[str]
    css: str
    empty: bool
    chunks: AsyncIterator[Markup]


async def _html_sections(sections: list[_Section]) -> AsyncIterator[_HtmlSection]:
    rows_template = templates.fragments.get_template("inspection_rows.html")

    for section in sections:
        batches = section.cell_batches()
        first = await anext(batches, None)  # "nothing on the period" is said before a table

        async def chunks(first: list[list[Any]] | None = first, batches=batches,
                         section: _Section = section) -> AsyncIterator[Markup]:
            marks, mark = section.marks or {}, section.mark
            if first is not None:
                yield Markup(rows_template.render(rows=first, mark=mark, marks=marks))
            async for rows in batches:
                yield Markup(rows_template.render(rows=rows, mark=mark, marks=marks))

        yield _HtmlSection(section.title, section.header, section.css, first is None, chunks())


def stream_html(run: InspectionRun, *, csv_link: str | None = None,
                nonce: str | None = None, fragment: bool = False) -> AsyncIterator[str]:
    """The printable report; `fragment`: only what goes inside <body> (the dashboard's page)."""
    report = run.report
    sections = _sections(run, csv=False)
    sections.append(_Section("Refus par règle", ["règle", "refus"],
                             rows=[[t.rule, t.count] for t in report.totals_by_rule]))
    return templates.pages.get_template("inspection.html").generate_async(
        r=report, s=report.summary, paris=paris, csv_link=csv_link, nonce=nonce,
        fragment=fragment, css=_CSS, sections=_html_sections(sections))


async def render_html(run: InspectionRun, **kwargs: Any) -> str:
    return "".join([c async for c in stream_html(run, **kwargs)])
