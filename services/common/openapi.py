"""Every service's OpenAPI (`/openapi.json`, `/docs`, `/redoc`): stable operation ids, security schemes,
success schemas and the RFC 9457 error body, from `schemas/openapi/operations.yaml` (data, not code).

FastAPI infers little here because the hot endpoints read raw JSON and answer `Response`s (speed and the
API.md error shape), so the contract is declared once in that file and merged over what FastAPI infers.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from services.common.errors import PROBLEM_TYPE_PREFIX
from services.common.yaml_files import read_yaml

Extend = Callable[[dict[str, Any]], None]

DOCS_PARAMETERS: dict[str, Any] = {"validatorUrl": None}
"""Swagger UI would otherwise load a validity badge from a public host: `/docs` must work with no internet."""

ERROR_ITEM = {
    "type": "object",
    "required": ["path", "code", "message"],
    "properties": {
        "path": {"type": "string", "description": 'JSON pointer into the request ("/data/CF_WSH"), "" = whole'},
        "code": {"type": "string", "description": "stable machine-readable code (docs/错误码.md)"},
        "message": {"type": "string", "description": "what is wrong and what to do (Chinese terms)"},
    },
}
PROBLEM = {
    "type": "object",
    "description": "API.md's `errors` list (every problem found) plus the RFC 9457 members. "
    "Content-Type stays application/json.",
    "required": ["errors", "type", "title", "status", "detail"],
    "properties": {
        "type": {
            "type": "string",
            "description": f"`{PROBLEM_TYPE_PREFIX}<code>`",
            "examples": [f"{PROBLEM_TYPE_PREFIX}required"],
        },
        "title": {"type": "string", "description": "short Chinese title of the status"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "errors": {"type": "array", "items": {"$ref": "#/components/schemas/ErrorItem"}},
    },
}
RECEIPT = {
    "type": "object",
    "description": "Signed with Ed25519 over the canonical JSON (UTF-8, keys sorted, no spaces) of the receipt "
    "without `signature`; fields may be added (e.g. `key_id`), so verify over the fields received.",
    "required": [
        "record_id",
        "department",
        "record_type",
        "seq",
        "received_at",
        "disclosure_due",
        "provisional",
        "reported_late",
        "hash",
        "prev_hash",
        "warnings",
        "signature",
    ],
    "properties": {
        "record_id": {"type": "string"},
        "department": {"type": "string"},
        "record_type": {"type": "string"},
        "seq": {"type": "integer", "description": "the department's sequence number, from 1"},
        "received_at": {"type": "string", "format": "date-time"},
        "disclosure_due": {"type": ["string", "null"], "format": "date"},
        "provisional": {"type": "boolean"},
        "reported_late": {"type": "boolean"},
        "hash": {"type": "string", "description": 'hex SHA-256 of canonical {"department", "record"}'},
        "prev_hash": {"type": "string", "description": "hash of the department's previous receipt (64 zeros first)"},
        "warnings": {"type": "array", "items": {"$ref": "#/components/schemas/ErrorItem"}},
        "signature": {"type": "string", "description": "base64 Ed25519 signature"},
    },
}
COMPONENTS: dict[str, Any] = {
    "ErrorItem": ERROR_ITEM,
    "Problem": PROBLEM,
    "Receipt": RECEIPT,
    "ReceiptAnswer": {
        "type": "object",
        "required": ["receipt"],
        "properties": {"receipt": {"$ref": "#/components/schemas/Receipt"}},
    },
    "RecordReadBack": {
        "type": "object",
        "required": ["record_id", "department", "record_type", "version", "subject_code", "receipt", "record"],
        "properties": {
            "record_id": {"type": "string"},
            "department": {"type": "string"},
            "record_type": {"type": "string"},
            "version": {"type": "integer"},
            "subject_code": {"type": "string"},
            "receipt": {"$ref": "#/components/schemas/Receipt"},
            "record": {
                "type": ["object", "null"],
                "description": "the record as accepted (null for records accepted before read-back existed)",
            },
        },
    },
    "Scorecard": {
        "type": "object",
        "required": ["month", "part", "departments"],
        "properties": {
            "month": {"type": "string"},
            "as_of": {"type": "string", "format": "date"},
            "part": {"type": "string"},
            "departments": {"type": "array", "items": {"type": "object"}},
        },
    },
    "SanctionCase": {"type": "object", "required": ["case_id"], "properties": {"case_id": {"type": "string"}}},
    "Disclosure": {
        "type": "object",
        "required": ["record_id"],
        "properties": {"record_id": {"type": "string"}, "status": {"type": "string"}},
    },
}
SECURITY_SCHEMES = {
    "bearer": {
        "type": "http",
        "scheme": "bearer",
        "description": "部门、县平台或审计令牌 (`exchange token issue`); never logged, compared by hash",
    }
}
AUTH: dict[str, list[dict[str, list[str]]]] = {
    "token": [{"bearer": []}],
    "public": [],
    "optional": [{}, {"bearer": []}],
}
ERROR_STATUSES = {
    "400": "malformed request",
    "401": "missing or bad token",
    "403": "the caller may not do this",
    "404": "not found",
    "409": "conflict",
    "410": "withdrawn: the notice of why (publish), none of the content",
    "413": "body too large",
    "415": "not JSON",
    "422": "invalid: every error with its JSON pointer",
    "429": "too many requests; retry after Retry-After seconds",
    "503": "cannot be done now; nothing was changed, retry after Retry-After seconds",
}


def load_operations(schemas_dir: Path, service: str) -> dict[str, dict[str, Any]]:
    data: dict[str, dict[str, dict[str, Any]]] = read_yaml(schemas_dir / "openapi" / "operations.yaml")
    return data.get(service, {})


def _content(schema: Any) -> dict[str, Any]:
    if schema == "Html":
        return {"text/html": {"schema": {"type": "string"}}}
    if isinstance(schema, str):
        return {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}}
    media = schema.get("media", "application/json")
    return {media: {"schema": {k: v for k, v in schema.items() if k != "media"}}}


def _merge(op: dict[str, Any], declared: dict[str, Any]) -> None:
    op["operationId"] = declared["id"]
    op["security"] = AUTH[declared["auth"]]
    responses: dict[str, Any] = op.setdefault("responses", {})
    ok = {str(status): schema for status, schema in declared.get("ok", {}).items()}
    if "200" in responses and "200" not in ok:
        del responses["200"]  # FastAPI's default for a route whose success status is another
    for status, schema in ok.items():
        entry = responses.setdefault(status, {"description": "success"})
        entry.setdefault("description", "success")
        if schema is None:  # 204: no body
            entry.pop("content", None)
            continue
        example = entry.get("content", {}).get("application/json", {}).get("example")
        entry["content"] = _content(schema)
        if example is not None and "application/json" in entry["content"]:
            entry["content"]["application/json"]["example"] = example
    problem = {"application/json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
    wanted = {"401", "403"} if declared["auth"] == "token" else set()
    wanted |= {"422", "503"} | {str(s) for s in declared.get("errors", [])} | {s for s in responses if s[0] in "45"}
    for status in sorted(wanted):
        entry = responses.setdefault(status, {"description": ERROR_STATUSES.get(status, "error")})
        entry["content"] = problem


def install_openapi(app: FastAPI, *, service: str, schemas_dir: Path, extend: Extend | None = None) -> None:
    """Replace `app.openapi` with one that merges `operations.yaml` (and `extend`, a service's own
    additions such as ingest's record examples) over FastAPI's inferred document, built once."""
    declared = load_operations(schemas_dir, service)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        spec = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
        if extend is not None:
            extend(spec)
        for path, operations in spec["paths"].items():
            for method, op in operations.items():
                key = f"{method.upper()} {path}"
                if key not in declared:
                    # Deny by default: an operation nobody declared is marked, and the contract test fails.
                    op["operationId"] = f"UNDECLARED {key}"
                    continue
                _merge(op, declared[key])
        components = spec.setdefault("components", {})
        components.setdefault("schemas", {}).update(COMPONENTS)
        components["securitySchemes"] = SECURITY_SCHEMES
        app.openapi_schema = spec
        return spec

    app.openapi = openapi  # type: ignore[method-assign]
