"""Reading the exchange's YAML files (catalogue, rule sets, measure list, calendar, jurisdiction) one way.

PyYAML keeps the last of two equal keys without a word: a rule author who writes a publicity period twice,
or a field class twice, would get one of them silently. Every file is read with the safe loader, refusing
a repeated key with its line; each loader then checks the document's shape and names the file and key.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml


class YamlFileError(ValueError):
    """A file that cannot be read or parsed, or repeats a key: the message names the file and the line."""


class StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses a repeated key in any mapping."""


def _mapping(loader: StrictLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    loader.flatten_mapping(node)
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}: YAML would silently keep only the last one", key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node)


StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)


def parse_yaml(text: str, source: str) -> Any:
    """The document in `text` (from `source`, named in the error)."""
    try:
        return yaml.load(text, Loader=StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise YamlFileError(f"{source}: not valid YAML: {exc}") from exc


def read_yaml(path: Path) -> Any:
    """The document in `path`; :class:`YamlFileError` when it cannot be read, parsed, or repeats a key."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise YamlFileError(f"{path}: cannot read: {exc}") from exc
    return parse_yaml(text, str(path))


__all__ = ["StrictLoader", "YamlFileError", "parse_yaml", "read_yaml"]
