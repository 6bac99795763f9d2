"""The published JSON Schema stays in sync with the models and covers the format."""

from __future__ import annotations

from importlib import resources
from typing import Any

from kpitree.definition.schema import SCHEMA_FILE, SCHEMA_ID, json_schema, render_schema
from kpitree.definition.spec import ProjectSpec
from kpitree.source import parse_yaml

from .conftest import ISSUE_EXAMPLE

REGENERATE = (
    ".venv/bin/python -m kpitree.definition.schema > src/kpitree/definition/kpitree.schema.json"
)


def test_shipped_schema_is_in_sync_with_the_models() -> None:
    shipped = (resources.files("kpitree.definition") / SCHEMA_FILE).read_text(encoding="utf-8")
    assert shipped == render_schema(), f"the schema file is stale; regenerate it:\n{REGENERATE}"


def test_schema_header() -> None:
    schema = json_schema()
    assert schema["$id"] == SCHEMA_ID == "https://kpitree.dev/schema/kpitree-1.json"
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["title"] == "kpitree definition (kpitree.yaml)"
    assert schema["required"] == ["kpitree", "name"]


def test_every_object_rejects_unknown_keys() -> None:
    schema = json_schema()
    objects = [schema, *schema["$defs"].values()]
    assert all(o["additionalProperties"] is False for o in objects if "properties" in o)


def _properties(schema: dict[str, Any], name: str) -> set[str]:
    return set(schema["$defs"][name]["properties"])


def test_issue_example_validates_and_every_key_is_in_the_schema() -> None:
    data = parse_yaml(ISSUE_EXAMPLE).data
    spec = ProjectSpec.model_validate(data)
    assert spec.nodes["revenue"].target == 300_000_000
    schema = json_schema()
    assert set(data) <= set(schema["properties"])
    node_keys = _properties(schema, "NodeSpec")
    label_keys = _properties(schema, "LocalizedText")
    for node_id, node in data["nodes"].items():
        assert set(node) <= node_keys, node_id
        if isinstance(node["label"], dict):
            assert set(node["label"]) <= label_keys, node_id
    assert schema["properties"]["nodes"]["additionalProperties"] == {"$ref": "#/$defs/NodeSpec"}


def test_enumerations_are_in_the_schema() -> None:
    node = json_schema()["$defs"]["NodeSpec"]["properties"]
    assert node["kind"]["enum"] == ["kgi", "ksf", "kpi"]
    units = next(o["enum"] for o in node["unit"]["anyOf"] if "enum" in o)
    assert units == ["count", "currency", "ratio", "days", "hours", "score", "number"]
