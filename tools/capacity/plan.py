"""From a load to a stage: which stage serves it at the fewest resources, what sizes of it, and
what that costs a month (the stage's templates priced by `tools.docs.costs` at that load)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from scaling_stacks.assembly import SynthesizedStage
from scaling_stacks.config import MAX_STAGE, MIN_STAGE, StageConfig, build_config
from tools.capacity.model import Limits, Load, Measured, StageCapacity, stage_capacity
from tools.docs.architecture import build_architecture
from tools.docs.costs import SECONDS_PER_HOUR, Estimate, PriceTable, TrafficProfile, estimate
from tools.docs.inventory import Inventory


@dataclass(frozen=True)
class Sizing:
    """A resource that scales in units (instances, tasks), and how many of them a load needs."""

    resource: str
    needed: int
    least: int
    most: int
    unit: str


def config_for(stage: int, context: Mapping[str, Any] | None = None) -> StageConfig:
    """The stage's configuration from its defaults and `context` (the same keys as `cdk -c`)."""
    given = {**(context or {}), "stage": stage}
    return build_config(given.get, {})


def capacities(
    configs: Sequence[StageConfig], measured: Measured, limits: Limits, *, mix: Load | None = None
) -> list[StageCapacity]:
    return [stage_capacity(c, measured, limits, mix=mix) for c in configs]


def all_stage_configs(context: Mapping[str, Any] | None = None) -> list[StageConfig]:
    return [config_for(n, context) for n in range(MIN_STAGE, MAX_STAGE + 1)]


def first_serving(load: Load, stages: Sequence[StageCapacity]) -> StageCapacity | None:
    """The lowest stage whose every resource holds `load`."""
    per_load = [s.at(load) for s in stages]
    return next((s for s in per_load if s.serves(load)), None)


def sizings(load: Load, capacity: StageCapacity) -> list[Sizing]:
    return [
        Sizing(r.name, r.units_needed(load), r.min_units, r.units, r.unit)
        for r in capacity.resources
        if r.units > 1 and r.unit in ("instances", "tasks")
    ]


def elastic_fill(load: Load, capacity: StageCapacity) -> float:
    """How far from its minimum to its maximum the service's fleet runs at `load`, as target
    tracking would size it; the cost estimate applies it to every elastic group."""
    compute = sizings(load, capacity)
    if not compute or compute[0].most <= compute[0].least:
        return 0.0
    first = compute[0]
    return min(1.0, (first.needed - first.least) / (first.most - first.least))


def profile_at(load: Load, capacity: StageCapacity) -> TrafficProfile:
    """The cost estimate's traffic for `load` on the stage `capacity` describes."""
    return TrafficProfile(
        reads_per_second=load.reads_per_s,
        writes_per_second=load.writes_per_s,
        elastic_fill=elastic_fill(load, capacity),
        cdn_cache_hit_ratio=capacity.cdn_offload,
    )


def monthly_estimate(stage: SynthesizedStage, prices: PriceTable, profile: TrafficProfile) -> Estimate:
    inventory = Inventory(stage)
    return estimate(inventory, build_architecture(inventory), prices, profile)


def usd_per_million(monthly_usd: float, load: Load, prices: PriceTable) -> float:
    requests = (load.reads_per_s + load.writes_per_s) * prices.hours * SECONDS_PER_HOUR
    return monthly_usd / requests * 1e6 if requests else math.inf
