"""OpenAPI request bodies with a realistic example for every record type, so that a department's
engineer can integrate from `/docs` alone. The endpoints read raw JSON themselves (for speed and for
the API.md error shape), so the body schema is declared here rather than inferred from a model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

ERROR_BODY = {
    "type": "object",
    "properties": {
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "path": {"type": "string"},
                    "code": {"type": "string"},
                    "message": {"type": "string"},
                },
            },
        }
    },
}


def _examples(schemas_dir: Path) -> dict[str, dict[str, Any]]:
    examples: dict[str, dict[str, Any]] = {}
    for path in sorted((schemas_dir / "examples").glob("*.json")):
        for n, record in enumerate(json.loads(path.read_text(encoding="utf-8")), start=1):
            examples[f"{path.stem}-{n}"] = {
                "summary": f"{record['type']} ({record['subject']['kind']})",
                "value": record,
            }
    return examples


def record_examples_openapi(app: FastAPI, schemas_dir: Path, envelope_schema: dict[str, Any]) -> None:
    examples = _examples(schemas_dir)
    envelope = {k: v for k, v in envelope_schema.items() if not k.startswith("$")}

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        spec = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
        errors = {"application/json": {"schema": ERROR_BODY}}
        responses = {
            "401": {"description": "bad or missing token", "content": errors},
            "403": {"description": "record type not in this department's catalogue entry", "content": errors},
            "409": {"description": "same id already accepted with different content", "content": errors},
            "413": {"description": "body too large", "content": errors},
            "415": {"description": "not JSON", "content": errors},
            "422": {"description": "invalid record: every error with its JSON pointer", "content": errors},
            "503": {
                "description": "cannot be made durable now; retry after Retry-After seconds",
                "content": errors,
            },
        }
        single = spec["paths"]["/v1/records"]["post"]
        single["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": envelope, "examples": examples}},
        }
        single["responses"].update(
            {
                "202": {"description": "accepted: the signed receipt"},
                "200": {"description": "repeat of an accepted record"},
                **responses,
            }
        )
        batch = spec["paths"]["/v1/records:batch"]["post"]
        first = [e["value"] for e in list(examples.values())[:2]]
        batch["requestBody"] = {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "required": ["records"],
                        "properties": {"records": {"type": "array", "maxItems": 1000, "items": envelope}},
                    },
                    "example": {"records": first},
                }
            },
        }
        batch["responses"] = {"207": {"description": "one result per item, in order"}, **responses}
        for path in spec["paths"].values():
            for op in path.values():
                op.setdefault("security", [{"bearer": []}])
        spec.setdefault("components", {})["securitySchemes"] = {"bearer": {"type": "http", "scheme": "bearer"}}
        for public in ("/v1/catalogue", "/v1/receipts/public-key"):
            spec["paths"][public]["get"]["security"] = []
        app.openapi_schema = spec
        return spec

    app.openapi = openapi  # type: ignore[method-assign]
