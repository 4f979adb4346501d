"""Which property changes replace a resource, read from the CloudFormation resource provider
schemas that cfn-lint ships (so no network and no hand-kept list)."""

from __future__ import annotations

import importlib.util
import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

# Property paths are the same in every commercial region; one region's schemas serve all.
_REGION = "us-east-1"

Path_ = tuple[str, ...]


@dataclass(frozen=True)
class ReplacementRules:
    """Paths below `Properties` (a `*` step means every list item) and what changing them does."""

    create_only: tuple[Path_, ...]
    # Replacement or interruption only under some conditions (e.g. RDS MultiAZ): worth a note, not a verdict.
    conditional: tuple[Path_, ...]


def _schema_dir() -> Path:
    # find_spec locates the package without importing it (cfn-lint's import is slow and may update schemas).
    spec = importlib.util.find_spec("cfnlint")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("cfn-lint is not installed; it ships the resource schemas the stage plan needs")
    return Path(next(iter(spec.submodule_search_locations))) / "data" / "schemas"


@cache
def _schema_files() -> dict[str, str]:
    providers = _schema_dir() / "providers"
    files: dict[str, str] = json.loads((providers / f"{_REGION}.json").read_text())
    sam = providers / "sam.json"
    if sam.exists():
        files.update(json.loads(sam.read_text()))
    return files


def _steps(pointer: str) -> Path_:
    return tuple(pointer.split("/")[2:])  # "/properties/Foo/*/Bar" -> ("Foo", "*", "Bar")


@cache
def replacement_rules(resource_type: str) -> ReplacementRules:
    """Rules for a resource type; a type without a schema (custom resources) has none."""
    key = _schema_files().get(resource_type)
    if key is None:
        return ReplacementRules(create_only=(), conditional=())
    schema = json.loads((_schema_dir() / "resources" / f"{key}.json").read_text())
    return ReplacementRules(
        create_only=tuple(_steps(p) for p in schema.get("createOnlyProperties", [])),
        conditional=tuple(_steps(p) for p in schema.get("conditionalCreateOnlyProperties", [])),
    )
