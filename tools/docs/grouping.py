"""How a stage's components nest on a diagram: region, then the VPC split into its subnet groups,
each split by layer; outside the VPC, one group per layer; and the supporting services."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from tools.docs.architecture import Architecture, Component

_SUBNET_ORDER = {"Public": 0, "Private": 1, "Isolated": 2}


@dataclass(frozen=True)
class Group:
    key: str
    title: str
    members: tuple[str, ...] = ()
    groups: tuple[Group, ...] = ()


def _by_layer(prefix: str, components: Iterable[Component]) -> tuple[Group, ...]:
    layers: dict[str, list[str]] = {}
    for component in components:
        layers.setdefault(component.layer, []).append(component.id)
    return tuple(Group(f"{prefix}_{layer}", f"{layer} layer", tuple(ids)) for layer, ids in layers.items())


def region_group(architecture: Architecture, region: str) -> Group:
    inside = [c for c in architecture.components if c.placement is not None]
    placements = sorted(
        {c.placement for c in inside if c.placement},
        key=lambda p: (_SUBNET_ORDER.get(p.subnet_type, 9), p.subnet_group),
    )
    subnets = tuple(
        Group(
            f"subnet_{p.subnet_group}",
            p.title,
            groups=_by_layer(f"subnet_{p.subnet_group}", (c for c in inside if c.placement == p)),
        )
        for p in placements
    )
    outside = _by_layer("regional", (c for c in architecture.components if c.placement is None))
    supporting = Group(
        "supporting",
        "supporting services (deploy-time, permissions, logs)",
        tuple(s.id for s in architecture.summaries),
    )
    vpc = (Group("vpc", "VPC", groups=subnets),) if subnets else ()
    return Group("region", f"AWS {region}", groups=(*outside, *vpc, supporting))
