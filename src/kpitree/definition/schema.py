"""The published JSON Schema of ``kpitree.yaml``, for editor completion.

Generated from :class:`~kpitree.definition.spec.ProjectSpec`; the shipped copy
``kpitree.schema.json`` next to this module is kept in sync by a test.
Regenerate it with::

    .venv/bin/python -m kpitree.definition.schema > src/kpitree/definition/kpitree.schema.json

Editors that use the YAML language server pick it up from a first-line comment::

    # yaml-language-server: $schema=https://kpitree.dev/schema/kpitree-1.json
"""

from __future__ import annotations

import json
import sys
from typing import Any

from kpitree.definition.spec import ProjectSpec

__all__ = ["SCHEMA_FILE", "SCHEMA_ID", "json_schema", "render_schema"]

SCHEMA_ID = "https://kpitree.dev/schema/kpitree-1.json"
SCHEMA_FILE = "kpitree.schema.json"


def json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a ``kpitree.yaml`` file.

    >>> json_schema()["$id"]
    'https://kpitree.dev/schema/kpitree-1.json'
    """
    schema = ProjectSpec.model_json_schema()
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        **schema,
        "title": "kpitree definition (kpitree.yaml)",
    }


def render_schema() -> str:
    """The schema as stored in :data:`SCHEMA_FILE`: sorted, indented, one final newline."""
    return json.dumps(json_schema(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    sys.stdout.write(render_schema())
