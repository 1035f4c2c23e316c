"""The OpenAPI 3.1 document of the HTTP API, served at /v1/openapi.json.

A test checks that every route of the application is described here and nothing more.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from astguard import __version__

_ERROR = {"description": "Erreur (message en français)",
          "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
_PERIOD = [
    {"name": "from", "in": "query", "schema": {"type": "string", "format": "date"},
     "description": "Premier jour (AAAA-MM-JJ, heure de Paris)"},
    {"name": "to", "in": "query", "schema": {"type": "string", "format": "date"},
     "description": "Dernier jour, inclus (défaut : aujourd'hui)"},
]


def _json(schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"application/json": {"schema": schema or {"type": "object"}}}


def _op(summary: str, *, right: str | None = "read", body: dict[str, Any] | None = None,
        params: list[dict[str, Any]] | None = None, ok: int = 200,
        content: dict[str, Any] | None = None) -> dict[str, Any]:
    op: dict[str, Any] = {"summary": summary, "responses": {
        str(ok): {"description": "OK", "content": content or _json()},
        "400": _ERROR, "503": _ERROR}}
    if ok == 201:
        op["responses"]["200"] = {"description": "Déjà enregistré", "content": _json()}
    if right:
        op["security"] = [{"bearer": []}]
        op["responses"]["401"] = _ERROR
        op["description"] = ("Jeton de lecture ou d'écriture." if right == "read"
                             else "Jeton d'écriture (un jeton de lecture reçoit 403).")
        if right == "write":
            op["responses"]["403"] = _ERROR
    if body:
        op["requestBody"] = {"required": True, "content": _json(body)}
    if params:
        op["parameters"] = params
    return op


def _obj(required: list[str], **props: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "required": required, "properties": props,
            "additionalProperties": False}


_S = {"type": "string"}


def _scrub() -> dict[str, Any]:
    """POST /v1/scrub (surfaces/http_scrub.py): a text body in, CSV or JSON lines out."""
    op = _op(
        "Vérifier une liste de numéros (jusqu'à 10 millions) pour une campagne : verdict "
        "actuel, motifs et prochain moment appelable de chaque numéro, sans rien "
        "enregistrer", params=[
            {"name": "campaign", "in": "query", "required": True, "schema": _S},
            {"name": "at", "in": "query", "schema": _S,
             "description": "ISO-8601 ; sans décalage : heure de Paris (défaut : maintenant)"},
            {"name": "format", "in": "query", "schema": {"enum": ["csv", "jsonl"]},
             "description": "Sinon l'en-tête Accept (application/x-ndjson : lignes JSON)"}],
        content={"text/csv": {"schema": _S}, "application/x-ndjson": {"schema": _S}})
    op["description"] += (" Le contrôle au moment de la numérotation reste l'autorité : "
                          "entre la vérification et l'appel, une tentative, un refus ou un "
                          "retrait de consentement peut changer la réponse.")
    op["requestBody"] = {"required": True, "content": {"text/plain": {"schema": {
        "type": "string", "description": "Un numéro par ligne, ou un CSV avec une colonne "
                                         "numero (UTF-8)"}}}}
    return op
_NUMBER = {"type": "string", "description": "Numéro national (0612345678) ou E.164"}
_INSTANT = {"type": "string", "format": "date-time", "description": "ISO-8601 avec décalage"}
_BLOCK = _obj(["number", "principal"], number=_NUMBER, principal=_S, agent=_S,
              reference={"type": "string", "description": "Rend l'envoi rejouable sans doublon"})


@cache
def openapi_document() -> dict[str, Any]:
    q = [{"name": n, "in": "query", "schema": _S, "description": d} for n, d in (
        ("campaign", "Campagne"), ("agent", "Agent ou poste"), ("reason", "Code motif"),
        ("decision", "allow ou deny"), ("principal", "Donneur d'ordre"),
        ("number", "Numéro (E.164)"))]
    paging = [{"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1,
                                                          "maximum": 1000}},
              {"name": "offset", "in": "query", "schema": {"type": "integer", "minimum": 0}}]
    return {
        "openapi": "3.1.0",
        "info": {"title": "astguard", "version": __version__,
                 "description": "Contrôle de conformité des appels sortants (démarchage) et "
                                "preuves pour les inspections."},
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {"Error": _obj(["error"], error=_S)},
        },
        "paths": {
            "/v1/check": {"post": _op(
                "Décider un appel (même chemin qu'un appel réel, sans rien enregistrer)",
                body=_obj(["number"], number=_NUMBER, campaign=_S, endpoint=_S,
                          purpose={"enum": ["prospecting", "service", "survey", "b2b"]},
                          principal=_S, scope=_S, sector=_S, press={"type": "boolean"},
                          dial_mode={"enum": ["manual", "preview", "progressive", "predictive",
                                              "broadcast", "prerecorded", "voicebot"]},
                          caller_id=_S, department=_S,
                          at={"type": "string", "description":
                              "ISO-8601 ; sans décalage : heure de Paris"}))},
            "/v1/scrub": {"post": _scrub()},
            "/v1/history/{number}": {"get": _op(
                "Historique d'un consommateur et prochain moment appelable", params=[
                    {"name": "number", "in": "path", "required": True, "schema": _S},
                    {"name": "campaign", "in": "query", "schema": _S}])},
            "/v1/refusals": {"post": _op("Enregistrer un refus (R-D7)", right="write",
                                         body=_BLOCK, ok=201)},
            "/v1/oppositions": {"post": _op("Enregistrer une opposition (R-B3)", right="write",
                                            body=_BLOCK, ok=201)},
            "/v1/suspensions": {"post": _op(
                "Suspendre les appels pendant N jours", right="write", ok=201,
                body=_obj(["number", "principal", "days"], number=_NUMBER, principal=_S,
                          days={"type": "integer", "minimum": 1}, agent=_S, reference=_S))},
            "/v1/consents": {"post": _op(
                "Enregistrer un consentement et sa preuve (R-B1, R-B2)", right="write", ok=201,
                body=_obj(["number", "principal", "scopes", "collected_at", "channel",
                           "wording", "proof_ref"], number=_NUMBER, principal=_S,
                          scopes={"type": "array", "items": _S, "minItems": 1},
                          collected_at=_INSTANT, channel=_S, wording=_S, proof_ref=_S,
                          valid_until=_INSTANT))},
            "/v1/consents/withdraw": {"post": _op(
                "Retirer les consentements d'un numéro", right="write",
                body=_obj(["number", "principal"], number=_NUMBER, principal=_S))},
            "/v1/attempts": {"post": _op(
                "Déclarer une tentative faite par une autre plateforme (R-D6)", right="write",
                ok=201, body=_obj(["number", "principal", "at", "reference"], number=_NUMBER,
                                  principal=_S, at=_INSTANT, reference=_S))},
            "/v1/caller-ids": {
                "get": _op("Inventaire des numéros présentés (R-F2)", params=[
                    {"name": "principal", "in": "query", "schema": _S}]),
                "post": _op("Ajouter un numéro à l'inventaire", right="write", ok=201,
                            body=_obj(["number", "principal", "mandate_ref", "valid_from"],
                                      number=_NUMBER, principal=_S, mandate_ref=_S,
                                      valid_from={"type": "string", "format": "date"},
                                      valid_to={"type": "string", "format": "date"},
                                      trunk=_S, operator=_S, kind=_S))},
            "/v1/decisions": {"get": _op(
                "Décisions par période, campagne, agent et motif (les plus récentes d'abord)",
                params=_PERIOD + q + paging)},
            "/v1/stats/refusals": {"get": _op(
                "Refus par motif, campagne et agent sur une période",
                params=_PERIOD + [{"name": "principal", "in": "query", "schema": _S}])},
            "/v1/campaigns/{name}/summary": {"get": _op(
                "Volume, taux de refus, numéros présentés et refus réseau d'une campagne",
                params=[{"name": "name", "in": "path", "required": True, "schema": _S}]
                + _PERIOD)},
            "/v1/reports/inspection": {"get": _op(
                "Rapport d'inspection d'un donneur d'ordre (JSON, CSV ou HTML imprimable)",
                params=[{"name": "principal", "in": "query", "required": True, "schema": _S},
                        {"name": "format", "in": "query",
                         "schema": {"enum": ["json", "csv", "html"]}}] + _PERIOD,
                content={**_json(), "text/csv": {"schema": _S},
                         "text/html": {"schema": _S}})},
            "/v1/audit/verify": {"get": _op(
                "Vérifier la chaîne d'empreintes des preuves ; nomme le premier maillon rompu",
                params=_PERIOD)},
            "/v1/openapi.json": {"get": _op("Ce document", right=None)},
            "/v1/health": {"get": _op("État du service", right=None)},
            "/v1/ready": {"get": {
                "summary": "Prêt à décider : ARI, AMI, FastAGI, PostgreSQL, schéma, file "
                           "d'attente, chacun avec son état",
                "responses": {"200": {"description": "Prêt", "content": _json()},
                              "503": {"description": "Pas prêt : une partie au moins est en "
                                                     "panne (voir checks)",
                                      "content": _json()}}}},
            "/metrics": {"get": _op("Métriques Prometheus", right=None,
                                    content={"text/plain": {"schema": _S}})},
        },
    }
