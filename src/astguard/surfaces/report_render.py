"""The inspection report as CSV (sections separated by a blank line, `;` for French
spreadsheets) and as a print-ready HTML document, in French. Input: Reports.inspection().

CSV cells are neutralised against formula injection: a text cell that starts with `=`, `+`,
`-`, `@`, a tab or a carriage return gets a leading apostrophe, so a spreadsheet shows it as
text (`'+33612345678` reads as the number, never as a formula). Numbers (counts) are left as
they are. Anything that reads the file by program strips one leading apostrophe.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from html import escape
from typing import Any
from zoneinfo import ZoneInfo

from astguard.instants import local_time_text
from astguard.values import ACTION_LABELS

PARIS = ZoneInfo("Europe/Paris")
DECISION_FR = {"allow": "autorisé", "deny": "refusé"}
BLOCK_FR = {"refusal": "refus", "suspension": "suspension", "opposition": "opposition"}


def paris(value: str | dt.datetime | None, fmt: str = "%Y-%m-%d %H:%M:%S") -> str:
    """An instant (ISO text or datetime) as Paris wall-clock time; empty for None."""
    if not value:
        return ""
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    return value.astimezone(PARIS).strftime(fmt)


def outcome_text(a: dict[str, Any]) -> str:
    if a["decision"] != "allow":
        return "non émis"
    if a.get("outcome_at") is None:
        return "issue inconnue"
    if a.get("answered"):
        return f"décroché, {a['duration_s'] or 0:.0f} s"
    cause = a.get("hangup_cause")
    return f"non décroché ({a.get('dial_status') or '-'}, cause {cause if cause is not None else '-'})"


def _reasons_text(a: dict[str, Any]) -> str:
    deny = [r for r in a["reasons"] if r.get("effect") == "deny"]
    shown = deny or [r for r in a["reasons"] if r.get("effect") == "warn"]
    return " | ".join(r["text"] for r in shown)


def _sections(report: dict[str, Any]) -> list[tuple[str, list[str], list[list[Any]]]]:
    attempts = [[a["id"], a["decided_at"], paris(a["decided_at"]), local_time_text(
        a["local_times"]), a["number_e164"] or a["dialled"], a["campaign"] or "",
        a["agent"] or "", a["caller_id"] or "", a["caller_id_requested"] or "",
        DECISION_FR[a["decision"]], " ".join(a["deny_codes"]), _reasons_text(a),
        outcome_text(a)] for a in report["attempts"]]
    external = [[e["at"], e["number"], e["reference"], e["campaign"] or ""]
                for e in report["external_attempts"]]
    blocks = [[b["id"], BLOCK_FR.get(b["kind"], b["kind"]), b["number_e164"],
               b["recorded_at"], b["until_day"] or "permanent", b["source"], b["agent"] or "",
               b["calls_refused_after"], b["calls_allowed_during"],
               "oui" if b["honoured"] else "NON"] for b in report["blocks"]]
    consents = [[c["id"], c["number_e164"], " ".join(c["scopes"]), c["collected_at"],
                 c["channel"], c["wording"], c["proof_ref"], c["valid_until"],
                 c["withdrawn_at"] or ""] for c in report["consents"]]
    scrubs = [[s["decision_id"], s["decided_at"], s["number_e164"],
               DECISION_FR[s["decision"]], s["scrubbed_on"] or "aucun",
               "" if s["listed"] is None else ("inscrit" if s["listed"] else "non inscrit")]
              for s in report["bloctel_scrubs"]]
    totals = [[t["rule"], t["code"], t["text"], t["count"]] for t in report["totals_by_code"]]
    unguarded = [[u["created_at"], paris(u["created_at"]), u["dialled"] or "inconnu",
                  u["endpoint"], u["channel"], u["originator"] or "", u["problem"],
                  ACTION_LABELS.get(u["action"], u["action"]),
                  "oui" if u["emergency"] else "non"]
                 for u in report.get("unguarded_calls", [])]
    return [
        ("Appels (décisions)", ["décision_id", "horodatage_utc", "heure_paris",
                                "heure_locale_consommateur", "numéro", "campagne", "agent",
                                "numéro_présenté", "numéro_demandé", "décision", "codes_refus",
                                "motifs", "issue"], attempts),
        ("Tentatives déclarées par d'autres plateformes", ["horodatage", "numéro", "référence",
                                                           "campagne"], external),
        ("Refus, suspensions et oppositions", ["id", "type", "numéro", "enregistré_le",
                                               "jusqu_au", "source", "agent",
                                               "appels_refusés_ensuite",
                                               "appels_autorisés_pendant", "respecté"], blocks),
        ("Consentements", ["id", "numéro", "périmètres", "recueilli_le", "canal", "formulation",
                           "preuve", "valable_jusqu_au", "retiré_le"], consents),
        (f"Vérifications Bloctel (appels avant le {report['opt_in_from']})",
         ["décision_id", "horodatage", "numéro", "décision", "dernière_vérification",
          "résultat"], scrubs),
        ("Totaux par règle", ["règle", "code", "libellé", "refus"], totals),
        ("Appels sortis vers l'opérateur sans décision astguard (vigie, toute la plateforme)",
         ["horodatage_utc", "heure_paris", "numéro", "ligne", "canal", "origine", "motif",
          "suite", "urgence"], unguarded),
    ] + _reconciliation_section(report)


def _reconciliation_section(report: dict[str, Any]) -> list[tuple[str, list[str],
                                                                  list[list[Any]]]]:
    r = report.get("call_reconciliation")
    if r is None:
        return []
    rows = [[f["start"], paris(f["start"]), f["number"] or "inconnu", f["endpoint"],
             f["trunk_channel"], f["via"], f["problem"]] for f in r["unguarded"]]
    title = (f"Rapprochement avec les enregistrements d'Asterisk : {r['checked']} appel(s) "
             f"vers l'opérateur, {r['unguarded_count']} sans décision (doit être 0)")
    return [(title, ["début_utc", "heure_paris", "numéro", "ligne", "canal", "par", "motif"],
             rows)]


_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> Any:
    """A cell a spreadsheet will never run as a formula (see the module's docstring)."""
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


class _SafeWriter:
    def __init__(self, out: io.StringIO) -> None:
        self._w = csv.writer(out, delimiter=";", lineterminator="\r\n")

    def writerow(self, row: list[Any]) -> None:
        self._w.writerow([csv_cell(v) for v in row])

    def writerows(self, rows: list[list[Any]]) -> None:
        for row in rows:
            self.writerow(row)


def inspection_csv(report: dict[str, Any]) -> str:
    out = io.StringIO()
    w = _SafeWriter(out)
    p = report["principal"]
    w.writerow(["Rapport d'inspection astguard", p["id"], p["name"],
                report["start"], report["end"]])
    s = report["summary"]
    w.writerow(["décisions", s["decisions"], "autorisées", s["allowed"], "refusées",
                s["denied"], "tentatives comptées", s["attempts_counted"],
                "appels sans décision", s.get("unguarded_calls", 0)])
    for title, header, rows in _sections(report):
        w.writerow([])
        w.writerow([f"# {title}"])
        w.writerow(header)
        w.writerows(rows)
    head = report["generated_chain_head"]
    w.writerow([])
    w.writerow(["# Tête de la chaîne de preuves", head["seq"] if head else "",
                head["hash"] if head else ""])
    return "\ufeff" + out.getvalue()


_CSS = """
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
"""


def _table(header: list[str], rows: list[list[Any]], *, classes: dict[int, Any] | None = None,
           css: str = "") -> str:
    if not rows:
        return "<p class=meta>Aucun élément sur la période.</p>"
    head = "".join(f"<th>{escape(h.replace('_', ' '))}</th>" for h in header)
    body = []
    for row in rows:
        cells = []
        for i, v in enumerate(row):
            cls = classes[i](v) if classes and i in classes else ""
            cells.append(f"<td{f' class={cls}' if cls else ''}>{escape(str(v))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    table = f"<table class={css}>" if css else "<table>"
    return f"{table}<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def inspection_html(report: dict[str, Any], *, csv_link: str | None = None,
                    nonce: str | None = None) -> str:
    p, s = report["principal"], report["summary"]
    head = report["generated_chain_head"]
    parts = [
        "<!doctype html><html lang=fr><head><meta charset=utf-8>",
        f"<title>Rapport d'inspection — {escape(p['name'])}</title>"
        f"<style{f' nonce={nonce}' if nonce else ''}>{_CSS}</style></head>",
        "<body><h1>Rapport d'inspection — démarchage téléphonique</h1>",
        f"<p><b>Donneur d'ordre :</b> {escape(p['name'])} ({escape(p['id'])})<br>",
        f"<b>Période :</b> du {escape(paris(report['start']))} au "
        f"{escape(paris(report['end']))} (heure de Paris, fin exclue)<br>",
        f"<b>Décisions :</b> {s['decisions']} — autorisées {s['allowed']}, refusées "
        f"{s['denied']}, tentatives comptées {s['attempts_counted']}, tentatives déclarées "
        f"par d'autres plateformes {s['external_attempts']}<br>",
        f"<b>Appels sortis sans décision astguard (toute la plateforme) :</b> "
        f"<span class={'bad' if s.get('unguarded_calls') else 'allow'}>"
        f"{s.get('unguarded_calls', 0)}</span> (doit être 0 ; "
        "<code>astguard audit calls</code> rapproche aussi les enregistrements d'Asterisk)</p>",
    ]
    if csv_link:
        # No script (Content-Security-Policy): the browser's own print command makes the PDF.
        parts.append(f"<p class=noprint><a href=\"{escape(csv_link)}\">Télécharger en CSV</a> · "
                     "Imprimer / PDF : Ctrl+P</p>")
    for title, header, rows in _sections(report):
        classes, css = None, ""
        if title.startswith("Appels"):
            classes = {9: lambda v: "deny" if v == "refusé" else "allow"}
            css = "calls"
        elif title.startswith("Refus"):
            classes = {9: lambda v: "bad" if v == "NON" else ""}
        parts.append(f"<h2>{escape(title)}</h2>{_table(header, rows, classes=classes, css=css)}")
    parts.append("<h2>Refus par règle</h2>" + _table(
        ["règle", "refus"], [[t["rule"], t["count"]] for t in report["totals_by_rule"]]))
    if head:
        parts.append(f"<p class=meta>Tête de la chaîne de preuves au moment du rapport : maillon "
                     f"{head['seq']}, empreinte <span class=hash>{escape(head['hash'])}</span>. "
                     "<code>astguard audit verify</code> recalcule la chaîne.</p>")
    parts.append("</body></html>")
    return "".join(parts)
