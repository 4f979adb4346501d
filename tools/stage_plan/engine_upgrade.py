"""Database engine version changes: how CloudFormation moves an RDS instance to a new major
version, which the resource diff alone shows only as a modified EngineVersion."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from tools.stage_plan.intrinsics import referenced_resources
from tools.stage_plan.model import Finding

_INSTANCE = "AWS::RDS::DBInstance"


def _major(version: Any) -> str | None:
    return ".".join(version.split(".")[:2]) if isinstance(version, str) else None


def _replicas_of(logical_id: str, resources: Mapping[str, Mapping[str, Any]]) -> list[str]:
    return sorted(
        name
        for name, resource in resources.items()
        if resource["Type"] == _INSTANCE
        and logical_id in referenced_resources(resource.get("Properties", {}).get("SourceDBInstanceIdentifier"))
    )


def engine_changes(
    before: Mapping[str, Mapping[str, Any]], after: Mapping[str, Mapping[str, Any]]
) -> Iterator[Finding]:
    """A note for every RDS instance that moves to a newer major version in place (and what to do
    first), a blocking finding for one that would move to an older major version."""
    for stack, template in after.items():
        resources = template.get("Resources", {})
        old_resources = before.get(stack, {}).get("Resources", {})
        for logical_id, resource in resources.items():
            old = old_resources.get(logical_id)
            if resource["Type"] != _INSTANCE or old is None or old["Type"] != _INSTANCE:
                continue
            was = _major(old.get("Properties", {}).get("EngineVersion"))
            now = _major(resource.get("Properties", {}).get("EngineVersion"))
            if was is None or now is None or was == now:
                continue
            yield _finding(stack, logical_id, was, now, resource, _replicas_of(logical_id, resources))


def _finding(
    stack: str, logical_id: str, was: str, now: str, resource: Mapping[str, Any], replicas: list[str]
) -> Finding:
    what = f"{logical_id} in {stack}"
    if tuple(map(int, now.split("."))) < tuple(map(int, was.split("."))):
        return Finding(
            "blocking",
            "engine-downgrade",
            stack,
            logical_id,
            f"moves {what} from MySQL {was} to {now}: RDS cannot downgrade a major version in place, so "
            "the deploy fails; restore a snapshot into a new instance instead.",
        )
    allowed = resource.get("Properties", {}).get("AllowMajorVersionUpgrade") is True
    first = (
        f" RDS upgrades read replicas only before their source: upgrade {', '.join(replicas)} first "
        f"(`aws rds modify-db-instance --engine-version {now} --allow-major-version-upgrade --apply-immediately` "
        "for each), then deploy."
        if replicas
        else ""
    )
    return Finding(
        "blocking" if not allowed else "note",
        "engine-upgrade",
        stack,
        logical_id,
        f"upgrades {what} from MySQL {was} to {now} in place (RDS major version upgrade"
        + (", AllowMajorVersionUpgrade" if allowed else "; the template must set AllowMajorVersionUpgrade")
        + "): the instance, its data and endpoint stay; its parameter group is replaced by one of the "
        f"mysql{now} family, which the instance moves to in the same update. Expect some minutes of "
        "downtime (Multi-AZ standbys upgrade together) and take a manual snapshot first." + first,
    )
