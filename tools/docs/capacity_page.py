"""`docs/capacity.md`, `docs/capacity.json` and `docs/capacity.svg`: what each stage sustains
(the model in `tools/capacity`), its bottleneck, and what it costs at that load."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass

from scaling_stacks.assembly import SynthesizedStage
from service.config import Settings
from tools.capacity.model import PRIMER_READS, PRIMER_WRITES, Limits, Load, Measured, StageCapacity, stage_capacity
from tools.capacity.plan import monthly_estimate, profile_at, usd_per_million
from tools.docs.costs import PriceTable, TrafficProfile

PRIMER = Load(PRIMER_READS, PRIMER_WRITES)


@dataclass(frozen=True)
class StageLoad:
    """A stage's capacity and its monthly cost where its range starts and at its capacity."""

    stage: SynthesizedStage
    capacity: StageCapacity
    monthly_at_capacity: float
    monthly_at_start: float
    start: Load


def capacity_profile(capacity: StageCapacity) -> TrafficProfile:
    """The traffic profile a stage page prices: the stage at the load it sustains."""
    return profile_at(capacity.max_load, capacity)


def reference_profile(capacity: StageCapacity) -> TrafficProfile | None:
    """The primer's load, for a stage that sustains it."""
    return profile_at(PRIMER, capacity) if capacity.serves(PRIMER) else None


def stage_capacities(stages: Sequence[SynthesizedStage]) -> list[StageCapacity]:
    measured, limits = Measured.load(), Limits.load()
    return [stage_capacity(s.config, measured, limits) for s in stages]


def stage_loads(stages: Sequence[SynthesizedStage], prices: PriceTable) -> list[StageLoad]:
    loads = []
    previous = Load(0.0, 0.0)
    for stage, capacity in zip(stages, stage_capacities(stages), strict=True):
        at_capacity = monthly_estimate(stage, prices, capacity_profile(capacity)).total()
        start = previous if previous.reads_per_s < capacity.max_load.reads_per_s else Load(0.0, 0.0)
        at_start = monthly_estimate(stage, prices, profile_at(start, capacity)).total()
        loads.append(StageLoad(stage, capacity, at_capacity, at_start, start))
        previous = capacity.max_load
    return loads


def capacity_json(loads: Sequence[StageLoad], prices: PriceTable) -> str:
    rows = [
        {
            "stage": s.capacity.stage,
            "max_reads_per_s": round(s.capacity.max_load.reads_per_s),
            "max_writes_per_s": round(s.capacity.max_load.writes_per_s),
            "bottleneck": s.capacity.bottleneck.name,
            "monthly_usd": round(s.monthly_at_capacity, 2),
            "usd_per_million_requests": round(usd_per_million(s.monthly_at_capacity, s.capacity.max_load, prices), 4),
        }
        for s in loads
    ]
    return json.dumps(rows, indent=2) + "\n"


def capacity_page(loads: Sequence[StageLoad], prices: PriceTable, generated: str) -> str:
    measured, limits = Measured.load().data, Limits.load().data
    offload, max_age = Limits.load().cdn_offload(), Settings.public_read_max_age_seconds
    lines = [
        "# What each stage serves and what it costs",
        "",
        generated,
        "",
        f"Each stage at its default sizes, for a load of {PRIMER_READS / PRIMER_WRITES:.0f} reads to 1 write "
        "(the primer's mix): the most it sustains, the resource that runs out first, and the monthly cost at that "
        "load (the stage's templates priced as on its page). `make capacity RPS=... WRITES=...` answers for your "
        "own load and sizes; the numbers are in `capacity.json`.",
        "",
        "| Stage | Max reads/s | Max writes/s | Bottleneck | Monthly cost at that load | $ per million requests |",
        "|---|---:|---:|---|---:|---:|",
    ]
    for s in loads:
        top = s.capacity.max_load
        lines.append(
            f"| [{s.capacity.stage}](stage-{s.capacity.stage}.md) | {top.reads_per_s:,.0f} | {top.writes_per_s:,.0f} | "
            f"{s.capacity.bottleneck.name} | ${s.monthly_at_capacity:,.0f} | "
            f"${usd_per_million(s.monthly_at_capacity, top, prices):,.2f} |"
        )
    lines += [
        "",
        "![Monthly cost against load, one step per stage](capacity.svg)",
        "",
        "Each step is a stage, from the load the stage below tops out at to its own capacity; a rise within a "
        "step is the variable part (requests, data transfer, elastic instances), a jump between steps is the next "
        "stage's fixed part.",
        "",
        "## Resources per stage",
        "",
        "How many times the primer's load (40,000 reads/s, 400 writes/s) each resource holds; below 1 means the "
        "stage needs bigger or more of it for that load.",
        "",
        *_resource_rows(loads),
        "",
        "## The model against the bench",
        "",
        *_model_against_bench(Measured.load()),
        "",
        "## Where the numbers come from",
        "",
        f"- Per-request costs: `tools/capacity/measured.json`, written by `make bench` on {measured['measured_on']} "
        f"({measured['machine']}; {measured['data_set']}): the service's CPU per request from /proc, the database's "
        "statements and server CPU per request for the service's own MySQL user.",
        f"- Limits: `tools/capacity/limits.json` (as of {limits['as_of']}), each with its source; "
        "entries marked 'assumption' are modelling choices, not published figures.",
        "- CPU is sustained at the utilization target; burstable (T) instances at their baseline, since a "
        "sustained load above it spends CPU credits.",
        "- Stages 0-2 cost what the bench measured on MySQL alone; 3 and up what it measured with the cache and a "
        "reader, at the measured hit ratio. Stage 5 and 6 paths the bench does not run (DynamoDB posts, SQS "
        "events, the posts service's call to the users service) add the client CPU of those calls, measured "
        "separately (`limits.json`).",
        f"- From stage 1 CloudFront answers {offload:.0%} of reads from its cache (an assumption, "
        "`limits.json`: the share of reads that are signed-out public reads times their edge hit ratio). The "
        "service marks only a signed-out visitor's profile, timeline or post "
        f"`Cache-Control: public, max-age={max_age}` (`PUBLIC_READ_MAX_AGE_SECONDS`); "
        "the API behaviour caches nothing else (default TTL 0) and keys on the session cookie. Every write, feed "
        "and signed-in read reaches the origin.",
        "- Database connections: the fleet that grows with the load (its worker processes x DB_POOL_SIZE) against "
        "the writer's max_connections; fleets that stay at their minimum are left out.",
        "- Stage 1 adds CloudFront, WAF and static assets on S3, and no origin capacity: the same db.t4g.micro runs "
        "out first at stages 0 and 1 (a bigger class at stage 1 would reboot the single-AZ database during the "
        "upgrade); stage 1 sustains more reads only by the share CloudFront answers.",
    ]
    return "\n".join(lines) + "\n"


def _model_against_bench(measured: Measured) -> list[str]:
    """The stage-3 wiring's mixed request predicted from the single-kind phases alone, against the
    mixed phase as measured: how far the parts explain the whole."""
    hits = measured.hit_ratio()
    kinds = ("cached_read", "uncached_read", "write")
    cached, uncached, write = (float(measured.phase(3, kind)["service_cpu_us_per_request"]) for kind in kinds)
    predicted = (100 * (hits * cached + (1 - hits) * uncached) + write) / 101
    actual = float(measured.phase(3, "mixed")["service_cpu_us_per_request"])
    return [
        f"At stage 3's wiring, a cache hit ratio of {hits:.1%} (as measured in the mix), a cached read at "
        f"{cached:.0f} µs of service CPU, a timeline miss at {uncached:.0f} µs and a write at {write:.0f} µs "
        f"predict {predicted:.0f} µs per request of the 100 : 1 mix, {1e6 / predicted:,.0f} requests per vCPU-second; "
        f"the bench measured {actual:.0f} µs, {1e6 / actual:,.0f} per vCPU-second. The difference is the home-feed "
        "misses, which cost more than a timeline miss, so the model takes a read's cost from the mixed phase and "
        "only the hit/miss split from the single-kind phases.",
    ]


def _resource_rows(loads: Sequence[StageLoad]) -> list[str]:
    rows = ["| Stage | Resource | Per read | Per write | Times the primer's load |", "|---|---|---:|---:|---:|"]
    for s in loads:
        for r in s.capacity.resources:
            rows.append(
                f"| {s.capacity.stage} | {r.name} | {r.per_read:,.1f} | {r.per_write:,.1f} | "
                f"{r.headroom(PRIMER):,.2f} |"
            )
    return rows


# -- the chart ---------------------------------------------------------------------

_W, _H, _LEFT, _RIGHT, _TOP, _BOTTOM = 760, 420, 80, 20, 30, 50


def _log_axis(values: Sequence[float]) -> tuple[int, int]:
    low = math.floor(math.log10(max(min(values), 1.0)))
    return low, max(low + 1, math.ceil(math.log10(max(values))))


def capacity_svg(loads: Sequence[StageLoad]) -> str:
    """Monthly cost (log) against reads/s (log): each stage a step from where the stage below tops out
    to its own capacity."""
    xs = [max(s.start.reads_per_s, 1.0) for s in loads] + [s.capacity.max_load.reads_per_s for s in loads]
    ys = [s.monthly_at_start for s in loads] + [s.monthly_at_capacity for s in loads]
    (x0, x1), (y0, y1) = _log_axis(xs), _log_axis(ys)

    def px(value: float) -> float:
        return _LEFT + (math.log10(max(value, 1.0)) - x0) / (x1 - x0) * (_W - _LEFT - _RIGHT)

    def py(value: float) -> float:
        return _H - _BOTTOM - (math.log10(value) - y0) / (y1 - y0) * (_H - _TOP - _BOTTOM)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_W}" height="{_H}" viewBox="0 0 {_W} {_H}" '
        'font-family="sans-serif" font-size="12">',
        f'<rect width="{_W}" height="{_H}" fill="white"/>',
        f'<text x="{_W / 2:.0f}" y="18" text-anchor="middle" font-size="14">Monthly cost against load, by stage</text>',
    ]
    for power in range(x0, x1 + 1):
        x = px(10**power)
        parts.append(f'<line x1="{x:.1f}" y1="{_TOP}" x2="{x:.1f}" y2="{_H - _BOTTOM}" stroke="#ddd"/>')
        parts.append(f'<text x="{x:.1f}" y="{_H - _BOTTOM + 16}" text-anchor="middle">{10**power:,}</text>')
    for power in range(y0, y1 + 1):
        y = py(10**power)
        parts.append(f'<line x1="{_LEFT}" y1="{y:.1f}" x2="{_W - _RIGHT}" y2="{y:.1f}" stroke="#ddd"/>')
        parts.append(f'<text x="{_LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">${10**power:,}</text>')
    axis = "reads per second (with 1 write per 100 reads)"
    parts.append(f'<text x="{_W / 2:.0f}" y="{_H - 12}" text-anchor="middle">{axis}</text>')
    parts.append(
        f'<text x="16" y="{_H / 2:.0f}" text-anchor="middle" transform="rotate(-90 16 {_H / 2:.0f})">'
        "USD per month</text>"
    )
    # One continuous step where a stage takes over from the one below; a stage that adds no
    # capacity (its range starts at zero again) is drawn over the same loads, above it.
    path: list[str] = []
    previous_end = None
    for s in loads:
        start, end = px(s.start.reads_per_s), px(s.capacity.max_load.reads_per_s)
        move = "L" if previous_end is not None and math.isclose(start, previous_end) else "M"
        path += [f"{move}{start:.1f},{py(s.monthly_at_start):.1f}", f"L{end:.1f},{py(s.monthly_at_capacity):.1f}"]
        previous_end = end
        parts.append(
            f'<text x="{(start + end) / 2:.1f}" y="{py(s.monthly_at_capacity) - 8:.1f}" text-anchor="middle">'
            f"stage {s.capacity.stage}</text>"
        )
    parts.append(f'<path d="{" ".join(path)}" fill="none" stroke="#1f6feb" stroke-width="2"/>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"
