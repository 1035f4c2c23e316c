"""The HTTP API's route table and its OpenAPI 3.1 document, generated from the models.

`OPERATIONS` is the one list of the API's routes: http.py registers exactly these (each with
its handler and the right its token needs), and `openapi_document()` describes exactly these,
with pydantic's JSON schemas of the request, query and response models (api_models.py,
api_responses.py). A CRM generates its client from /v1/openapi.json (tests/test_openapi_client.py
does it with openapi-python-client).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue, models_json_schema
from pydantic_core import core_schema

from astguard import __version__
from astguard.policy import RULEBOOK_VERSION
from astguard.surfaces import api_models as rq
from astguard.surfaces import api_responses as rs

READ, WRITE = "read", "write"
_REF = "#/components/schemas/{model}"


@dataclass(frozen=True, slots=True)
class Operation:
    method: str
    path: str
    operation_id: str  # snake_case: a generated client's function name
    tag: str
    summary: str
    handler: str  # the Api method that serves it
    right: str | None  # READ, WRITE, or None (no token)
    ok: type[BaseModel] | None  # the JSON answer (200, or 201 when `created`); None: text
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    path_params: dict[str, str] = field(default_factory=dict)  # name -> French description
    created: bool = False  # 201 when recorded, 200 when it already was (a replayed request)
    other_content: dict[str, str] = field(default_factory=dict)  # media type -> description
    statuses: tuple[int, ...] = (400, 503)  # error answers besides the token's


_BLOCK_DOC = " Rejouable : un envoi déjà enregistré répond 200 avec new=false."
OPERATIONS: tuple[Operation, ...] = (
    Operation("post", "/v1/check", "check_call", "appels",
              "Décider un appel (même chemin qu'un appel réel, sans rien enregistrer)",
              "check", READ, rs.Verdict, body=rq.CheckRequest),
    Operation("get", "/v1/history/{number}", "get_history", "contacts",
              "Historique d'un consommateur et prochain moment appelable",
              "history", READ, rs.History, query=rq.HistoryQuery,
              path_params={"number": "Numéro national ou E.164"}),
    Operation("post", "/v1/refusals", "record_refusal", "contacts",
              "Enregistrer un refus (R-D7)" + _BLOCK_DOC, "refusal", WRITE, rs.Recorded,
              body=rq.BlockRequest, created=True),
    Operation("post", "/v1/oppositions", "record_opposition", "contacts",
              "Enregistrer une opposition (R-B3)" + _BLOCK_DOC, "opposition", WRITE,
              rs.Recorded, body=rq.BlockRequest, created=True),
    Operation("post", "/v1/suspensions", "record_suspension", "contacts",
              "Suspendre les appels pendant N jours" + _BLOCK_DOC, "suspension", WRITE,
              rs.Recorded, body=rq.SuspensionRequest, created=True),
    Operation("post", "/v1/consents", "record_consent", "contacts",
              "Enregistrer un consentement et sa preuve (R-B1, R-B2)", "consent", WRITE,
              rs.NewFlag, body=rq.ConsentRequest, created=True),
    Operation("post", "/v1/consents/withdraw", "withdraw_consents", "contacts",
              "Retirer les consentements d'un numéro", "withdraw", WRITE, rs.Withdrawn,
              body=rq.WithdrawRequest),
    Operation("post", "/v1/attempts", "record_attempt", "contacts",
              "Déclarer une tentative faite par une autre plateforme (R-D6)", "attempt",
              WRITE, rs.NewFlag, body=rq.AttemptRequest, created=True),
    Operation("get", "/v1/caller-ids", "list_caller_ids", "numeros",
              "Inventaire des numéros présentés (R-F2)", "caller_ids", READ, rs.CallerIds,
              query=rq.CallerIdsQuery),
    Operation("post", "/v1/caller-ids", "add_caller_id", "numeros",
              "Ajouter un numéro à l'inventaire", "add_caller_id", WRITE, rs.CallerIdAdded,
              body=rq.CallerIdRequest, created=True),
    Operation("get", "/v1/decisions", "list_decisions", "supervision",
              "Décisions par période, campagne, agent et motif (les plus récentes d'abord)",
              "decisions", READ, rs.Decisions, query=rq.DecisionsQuery,
              statuses=(400, 404, 503)),
    Operation("get", "/v1/stats/refusals", "refusal_stats", "supervision",
              "Refus par motif, campagne et agent sur une période", "refusal_stats", READ,
              rs.RefusalStats, query=rq.RefusalStatsQuery, statuses=(400, 404, 503)),
    Operation("get", "/v1/campaigns/{name}/summary", "campaign_summary", "supervision",
              "Volume, taux de refus, numéros présentés et refus réseau d'une campagne",
              "campaign_summary", READ, rs.CampaignSummary, query=rq.PeriodQuery,
              path_params={"name": "Nom de la campagne"}, statuses=(400, 404, 503)),
    Operation("get", "/v1/reports/inspection", "inspection_report", "supervision",
              "Rapport d'inspection d'un donneur d'ordre (JSON, CSV ou HTML imprimable)",
              "inspection", READ, rs.InspectionReport, query=rq.InspectionQuery,
              other_content={"text/csv": "format=csv", "text/html": "format=html"},
              statuses=(400, 404, 503)),
    Operation("get", "/v1/audit/verify", "verify_audit_chain", "supervision",
              "Vérifier la chaîne d'empreintes des preuves ; nomme le premier maillon rompu",
              "audit_verify", READ, rs.AuditResult, query=rq.PeriodQuery,
              statuses=(400, 404, 503)),
    Operation("get", "/v1/openapi.json", "get_openapi", "service", "Ce document",
              "openapi", None, rs.OpenApiDocument, statuses=()),
    Operation("get", "/v1/health", "get_health", "service",
              "Le service répond (vivacité)", "health", None, rs.Health, statuses=()),
    Operation("get", "/v1/ready", "get_readiness", "service",
              "Prêt à décider : ARI, AMI, FastAGI, PostgreSQL, schéma, file d'attente, chacun "
              "avec son état (503 : une partie au moins est en panne)", "ready", None,
              rs.Readiness, statuses=(503,)),
    Operation("get", "/metrics", "get_metrics", "service",
              "Métriques Prometheus (format texte)", "prometheus", None, None,
              other_content={"text/plain": "Format d'exposition Prometheus"}, statuses=()),
)

_TAGS = [
    {"name": "appels", "description": "Décision d'un appel, sans l'enregistrer"},
    {"name": "contacts", "description": "Refus, oppositions, suspensions, consentements, "
                                        "tentatives et historique d'un consommateur"},
    {"name": "numeros", "description": "Inventaire des numéros présentés"},
    {"name": "supervision", "description": "Décisions, statistiques, campagnes, rapport "
                                           "d'inspection et contrôle des preuves"},
    {"name": "service", "description": "État du service, métriques et ce document"},
]
_STATUS_TEXT = {400: "Requête invalide (le message nomme le champ)",
                401: "Jeton absent ou inconnu", 403: "Ce jeton ne permet que la lecture",
                404: "Fonction non configurée sur ce nœud",
                500: "Erreur interne (détail dans le journal du service)",
                503: "Base de données indisponible (réessayer)"}


class _Schemas(GenerateJsonSchema):
    """pydantic's schemas without its English: no titles made from field names, and no
    docstrings (they are the developers'); explicit French titles and descriptions stay."""

    def field_title_should_be_set(self, schema: Any) -> bool:
        return False

    def model_schema(self, schema: core_schema.ModelSchema) -> JsonSchemaValue:
        out = super().model_schema(schema)
        out.pop("description", None)
        return out


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def _parameters(op: Operation) -> list[dict[str, Any]]:
    params = [{"name": name, "in": "path", "required": True, "schema": {"type": "string"},
               "description": text} for name, text in op.path_params.items()]
    if op.query is None:
        return params
    schema = op.query.model_json_schema(schema_generator=_Schemas, ref_template=_REF)
    required = set(schema.get("required", []))
    for name, prop in schema["properties"].items():
        prop = dict(prop)
        description = prop.pop("description", None)
        if name in required or prop.get("default", 0) is None:
            prop.pop("default", None)
        # A query parameter is absent or a value: "null" is no value a URL can carry.
        variants = [v for v in prop.pop("anyOf", []) if v != {"type": "null"}]
        if variants:
            prop.update(variants[0] if len(variants) == 1 else {"anyOf": variants})
        param = {"name": name, "in": "query", "required": name in required, "schema": prop}
        if description:
            param["description"] = description
        params.append(param)
    return params


def _operation(op: Operation, refs: dict[type[BaseModel], dict[str, Any]]) -> dict[str, Any]:
    ok = _json(refs[op.ok]) if op.ok is not None else {}
    for media, text in op.other_content.items():
        ok[media] = {"schema": {"type": "string", "description": text}}
    responses: dict[str, Any] = {}
    if op.created:
        responses["201"] = {"description": "Enregistré", "content": ok}
        responses["200"] = {"description": "Déjà enregistré (envoi rejoué)", "content": ok}
    else:
        responses["200"] = {"description": "Réponse", "content": ok}
    errors = set(op.statuses) | {500}  # an unexpected failure, said in French too
    if op.right is not None:
        errors.add(401)
    if op.right == WRITE:
        errors.add(403)
    error = _json(refs[rs.Error])
    for status in sorted(errors):
        responses[str(status)] = {"description": _STATUS_TEXT[status], "content": error}
    if op.path == "/v1/ready":
        responses["503"] = {"description": "Pas prêt : une partie au moins est en panne "
                                           "(voir checks)", "content": ok}
    out: dict[str, Any] = {"operationId": op.operation_id, "tags": [op.tag],
                           "summary": op.summary, "responses": responses}
    if op.right is not None:
        out["security"] = [{"bearer": []}]
        out["description"] = ("Jeton de lecture ou d'écriture." if op.right == READ
                              else "Jeton d'écriture (un jeton de lecture reçoit 403).")
    params = _parameters(op)
    if params:
        out["parameters"] = params
    if op.body is not None:
        out["requestBody"] = {"required": True, "content": _json(refs[op.body])}
    return out


@cache
def openapi_document() -> dict[str, Any]:
    bodies = {op.body for op in OPERATIONS if op.body is not None}
    answers = {op.ok for op in OPERATIONS if op.ok is not None} | {rs.Error}
    inputs = [(m, "validation") for m in sorted(bodies, key=lambda m: m.__name__)]
    outputs = [(m, "serialization") for m in sorted(answers, key=lambda m: m.__name__)]
    keys, defs = models_json_schema(inputs + outputs, ref_template=_REF,
                                    schema_generator=_Schemas)
    refs = {model: schema for (model, _), schema in keys.items()}
    paths: dict[str, dict[str, Any]] = {}
    for op in OPERATIONS:
        paths.setdefault(op.path, {})[op.method] = _operation(op, refs)
    return {
        "openapi": "3.1.0",
        "info": {"title": "astguard", "version": __version__,
                 "description": "Contrôle de conformité des appels sortants (démarchage) et "
                                f"preuves pour les inspections. Référentiel {RULEBOOK_VERSION}."
                                " Toute erreur est un objet {\"error\": \"message en "
                                "français\"}."},
        "tags": _TAGS,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": defs.get("$defs", {}),
        },
        "paths": paths,
    }
