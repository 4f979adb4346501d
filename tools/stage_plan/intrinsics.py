"""Reading CloudFormation values: what a value refers to, and one spelling per intrinsic."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

_SUB_VARIABLE = re.compile(r"\$\{(?!!)([A-Za-z0-9:]+)(?:\.[A-Za-z0-9.]+)?\}")


def normalize(value: Any) -> Any:
    """`Fn::GetAtt: "A.B"` and `Fn::GetAtt: [A, B]` mean the same; compare them as equal."""
    if isinstance(value, dict):
        if set(value) == {"Fn::GetAtt"} and isinstance(value["Fn::GetAtt"], str):
            return {"Fn::GetAtt": value["Fn::GetAtt"].split(".", 1)}
        return {key: normalize(item) for key, item in value.items()}
    if isinstance(value, list):
        return [normalize(item) for item in value]
    return value


def _walk(value: Any) -> Iterator[dict[str, Any]]:
    if isinstance(value, dict):
        yield value
        for item in value.values():
            yield from _walk(item)
    elif isinstance(value, list):
        for item in value:
            yield from _walk(item)


def referenced_resources(value: Any) -> set[str]:
    """Logical ids (and parameters) a value reads with Ref, Fn::GetAtt or Fn::Sub."""
    found: set[str] = set()
    for node in _walk(value):
        if isinstance(node.get("Ref"), str):
            found.add(node["Ref"])
        attribute = node.get("Fn::GetAtt")
        if isinstance(attribute, str):
            found.add(attribute.split(".", 1)[0])
        elif isinstance(attribute, list) and attribute and isinstance(attribute[0], str):
            found.add(attribute[0])
        template = node.get("Fn::Sub")
        if isinstance(template, list) and template:
            template = template[0]
        if isinstance(template, str):
            found.update(_SUB_VARIABLE.findall(template))
    return {name for name in found if not name.startswith("AWS::")}


def stack_outputs_read(value: Any) -> set[tuple[str, str]]:
    """(stack, output) pairs a value reads with a weak cross-stack reference (`Fn::GetStackOutput`)."""
    found: set[tuple[str, str]] = set()
    for node in _walk(value):
        read = node.get("Fn::GetStackOutput")
        if isinstance(read, dict) and isinstance(read.get("StackName"), str):
            found.add((read["StackName"], str(read.get("OutputName"))))
    return found


def exports_imported(value: Any) -> set[str]:
    """Export names a value imports with a strong cross-stack reference (`Fn::ImportValue`)."""
    found: set[str] = set()
    for node in _walk(value):
        if "Fn::ImportValue" in node:
            name = node["Fn::ImportValue"]
            found.add(name if isinstance(name, str) else repr(normalize(name)))
    return found
