"""OpenAPI request bodies with a realistic example for every record type, so that a department's
engineer can integrate from `/docs` alone. The endpoints read raw JSON themselves (for speed and for
the API.md error shape), so the body schema is declared here rather than inferred from a model; the
rest of the contract (operation ids, security, answers) is schemas/openapi/operations.yaml."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from services.common.openapi import Extend


def _examples(schemas_dir: Path) -> dict[str, dict[str, Any]]:
    examples: dict[str, dict[str, Any]] = {}
    for path in sorted((schemas_dir / "examples").glob("*.json")):
        for n, record in enumerate(json.loads(path.read_text(encoding="utf-8")), start=1):
            examples[f"{path.stem}-{n}"] = {
                "summary": f"{record['type']} ({record['subject']['kind']})",
                "value": record,
            }
    return examples


def record_examples(schemas_dir: Path, envelope_schema: dict[str, Any]) -> Extend:
    examples = _examples(schemas_dir)
    envelope = {k: v for k, v in envelope_schema.items() if not k.startswith("$")}

    def extend(spec: dict[str, Any]) -> None:
        single = spec["paths"]["/v1/records"]["post"]
        single["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": envelope, "examples": examples}},
        }
        single.setdefault("responses", {}).update(
            {
                "202": {"description": "accepted: the signed receipt"},
                "200": {"description": "repeat of an accepted record (same id, same content): the original receipt"},
                "409": {"description": "same id already accepted with different content"},
                "403": {"description": "record type not in this department's catalogue entry"},
                "413": {"description": "body too large"},
                "415": {"description": "not JSON"},
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
        batch.setdefault("responses", {}).update(
            {"207": {"description": "one result per item, in order"}, "413": {"description": "too many records"}}
        )

    return extend
