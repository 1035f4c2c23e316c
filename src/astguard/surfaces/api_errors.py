"""pydantic's validation errors said in French, naming the field: the only text of a
ValidationError a client ever reads (pydantic's English `msg` never leaves)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ValidationError

from astguard.surfaces.api_models import MESSAGE

# pydantic error type -> French, formatted with the error's context.
_FRENCH = {
    "string_type": "texte attendu",
    "string_too_short": "texte non vide attendu",
    "int_type": "nombre entier attendu",
    "int_parsing": "nombre entier attendu",
    "int_from_float": "nombre entier attendu",
    "float_type": "nombre attendu",
    "float_parsing": "nombre attendu",
    "bool_type": "true ou false attendu",
    "bool_parsing": "true ou false attendu",
    "list_type": "liste de textes attendue",
    "too_short": "au moins {min_length} élément(s) attendu(s)",
    "too_long": "au plus {max_length} élément(s) attendu(s)",
    "greater_than_equal": "valeur supérieure ou égale à {ge} attendue",
    "greater_than": "valeur supérieure à {gt} attendue",
    "less_than_equal": "valeur inférieure ou égale à {le} attendue",
    "less_than": "valeur inférieure à {lt} attendue",
    "enum": "valeur {input!r} inconnue ; valeurs acceptées : {expected}",
    "literal_error": "valeur {input!r} inconnue ; valeurs acceptées : {expected}",
    "missing": "manquant",
    "dict_type": "objet JSON attendu",
    "model_type": "objet JSON attendu",
}
_WHOLE_BODY = {"json_invalid": "corps JSON illisible",
               "json_type": "corps JSON illisible",
               "model_type": "le corps doit être un objet JSON",
               "model_attributes_type": "le corps doit être un objet JSON",
               "dict_type": "le corps doit être un objet JSON"}


def _expected(ctx: dict[str, Any]) -> str:
    # pydantic writes "'a', 'b' or 'c'"; the values themselves are the API's own.
    return str(ctx.get("expected", "")).replace("'", "").replace(" or ", ", ")


def _name(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _label(model: type[BaseModel], field: str) -> str:
    info = model.model_fields.get(field)
    return f" ({info.title})" if info is not None and info.title else ""


def french_message(exc: ValidationError, model: type[BaseModel], *, where: str = "champ") -> str:
    """One French sentence for all the errors: unknown fields first (a typo is the likeliest
    cause of the rest), then each bad field in the model's order."""
    errors = exc.errors(include_url=False, include_input=True)
    for e in errors:
        if not e["loc"] and e["type"] in _WHOLE_BODY:
            return _WHOLE_BODY[e["type"]]
    out: list[str] = []
    unknown = sorted(_name(e["loc"]) for e in errors if e["type"] == "extra_forbidden")
    if unknown:
        accepted = sorted(f.alias or name for name, f in model.model_fields.items())
        plural = "s" if len(unknown) > 1 else ""
        out.append(f"{where}{plural} inconnu{plural} : " + ", ".join(unknown)
                   + f" ; {where}s acceptés : " + ", ".join(accepted))
    for e in errors:
        kind = e["type"]
        if kind == "extra_forbidden":
            continue
        ctx = e.get("ctx") or {}
        if kind == MESSAGE:
            out.append(str(ctx.get("message")))
            continue
        field = _name(e["loc"])
        top = e["loc"][0] if e["loc"] else ""
        label = _label(model, str(top)) if isinstance(top, str) else ""
        if kind == "missing":
            out.append(f"{where} {field!r}{label} manquant")
            continue
        template = _FRENCH.get(kind, "valeur invalide")
        try:
            text = template.format(**{**ctx, "input": e.get("input"),
                                      "expected": _expected(ctx)})
        except (KeyError, IndexError, ValueError):  # a context this pydantic does not give
            text = "valeur invalide"
        out.append(f"{where} {field!r}{label} : {text}")
    return " ; ".join(out) or "requête invalide"
