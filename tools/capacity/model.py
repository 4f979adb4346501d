"""What a stage sustains: each resource's capacity (published limits, `limits.json`) against what
one read and one write use of it (measured by `make bench`, `measured.json`, plus the assumptions
`limits.json` names). A stage's capacity is the largest multiple of a load's read/write mix that
every resource holds; the resource that runs out first is the bottleneck."""

from __future__ import annotations

import inspect
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from constructs_lib.microservice import FargateMicroservice
from scaling_stacks.config import StageConfig
from scaling_stacks.microservices_stack import POSTS_TASK_CPU

HERE = Path(__file__).parent
LIMITS_FILE = HERE / "limits.json"
MEASURED_FILE = HERE / "measured.json"
# The primer's load: the reference scenario, and the read/write mix capacities are quoted at.
PRIMER_READS, PRIMER_WRITES = 40_000.0, 400.0


# The bench's reads are 50 % feeds (user summary + followees in MySQL), 30 % timelines (user
# summary) and 20 % single posts (none): MySQL statements per miss once posts are in DynamoDB.
MYSQL_STATEMENTS_PER_MISS_WITH_DYNAMODB = 0.5 * 2 + 0.3 * 1 + 0.2 * 0


class CapacityError(ValueError):
    """Input the model cannot use; the message is the one line users see."""


@dataclass(frozen=True)
class Load:
    reads_per_s: float
    writes_per_s: float

    def scaled(self, factor: float) -> Load:
        return Load(self.reads_per_s * factor, self.writes_per_s * factor)


@dataclass(frozen=True)
class Resource:
    """`capacity` units per second, of which one read uses `per_read` and one write `per_write`;
    `units` of `unit` make it up (instances, tasks, nodes), so a smaller load needs fewer."""

    name: str
    capacity: float
    per_read: float
    per_write: float
    units: int = 1
    unit: str = ""
    min_units: int = 1

    def headroom(self, load: Load) -> float:
        """How many times `load` this resource holds."""
        used = load.reads_per_s * self.per_read + load.writes_per_s * self.per_write
        return math.inf if used == 0 else self.capacity / used

    def units_needed(self, load: Load) -> int:
        """Units that hold `load` (never fewer than the configured minimum)."""
        headroom = self.headroom(load)
        return self.min_units if headroom == math.inf else max(self.min_units, math.ceil(self.units / headroom))


@dataclass(frozen=True)
class StageCapacity:
    stage: int
    resources: tuple[Resource, ...]
    mix: Load
    # Share of reads CloudFront answers from its cache, which reach no resource behind it.
    cdn_offload: float = 0.0

    @property
    def factor(self) -> float:
        return min(r.headroom(self.mix) for r in self.resources)

    @property
    def bottleneck(self) -> Resource:
        return min(self.resources, key=lambda r: r.headroom(self.mix))

    @property
    def max_load(self) -> Load:
        return self.mix.scaled(self.factor)

    def serves(self, load: Load) -> bool:
        return all(r.headroom(load) >= 1 for r in self.resources)

    def at(self, mix: Load) -> StageCapacity:
        """The same stage, its capacity quoted at another read/write mix."""
        return replace(self, mix=mix)


@dataclass(frozen=True)
class Measured:
    """Per-request costs of the two wirings the bench runs: MySQL only (stages 0-2) and cache plus
    reader (3 and up), read from `measured.json`."""

    data: Mapping[str, Any]

    @classmethod
    def load(cls, path: Path = MEASURED_FILE) -> Measured:
        return cls(json.loads(path.read_text()))

    def phase(self, env_stage: int, kind: str) -> Mapping[str, Any]:
        for wiring in self.data["wirings"]:
            if wiring["env_stage"] == env_stage:
                return next(p for p in wiring["phases"] if p["kind"] == kind)
        raise KeyError(f"measured.json has no stage-{env_stage} wiring")

    def per_read(self, env_stage: int, field: str) -> float:
        """A read's share of the mixed phase (100 reads : 1 write), the write's part taken out."""
        mixed, write = self.phase(env_stage, "mixed"), self.phase(env_stage, "write")
        return max(0.0, (101 * float(mixed[field]) - float(write[field])) / 100)

    def hit_ratio(self) -> float:
        counts = self.phase(3, "mixed")["x_cache"]
        return counts.get("hit", 0) / (counts.get("hit", 0) + counts.get("miss", 0))


@dataclass(frozen=True)
class Limits:
    data: Mapping[str, Any]

    @classmethod
    def load(cls, path: Path = LIMITS_FILE) -> Limits:
        return cls(json.loads(path.read_text()))

    def value(self, key: str) -> float:
        return float(self.data[key]["value"])

    def cdn_offload(self) -> float:
        """Share of all API reads CloudFront answers without the origin: the signed-out public reads
        (the only responses the service marks public) that repeat within their max-age at an edge."""
        return self.value("cdn_public_read_share") * self.value("cdn_public_read_hit_ratio")

    def _spec(self, table: str, group: str, name: str) -> Mapping[str, Any]:
        try:
            spec: Mapping[str, Any] = self.data[table][group][name]
        except KeyError:
            raise CapacityError(f"no limits for {name!r} in tools/capacity/limits.json ({table})") from None
        return spec

    def instance(self, instance_type: str) -> Mapping[str, Any]:
        return self._spec("ec2_instances", "types", instance_type)

    def db_class(self, klass: str) -> Mapping[str, Any]:
        return self._spec("rds_classes", "classes", klass)

    def cache_node(self, node_type: str) -> Mapping[str, Any]:
        return self._spec("cache_nodes", "types", node_type)

    def cpu_us_per_s(self, spec: Mapping[str, Any], count: float = 1) -> float:
        """CPU-microseconds per second a fleet sustains at the utilization target."""
        sustained = float(spec["vcpu"]) * float(spec.get("baseline_cpu", 1.0))
        return count * sustained * self.value("utilization_target") * 1e6 * self.value("vcpu_speed_vs_bench")

    def max_connections(self, klass: str) -> float:
        memory = float(self.db_class(klass)["memory_gib"]) * 2**30 * self.value("rds_instance_class_memory_share")
        return memory // self.value("rds_max_connections_bytes_per_connection")


@dataclass(frozen=True)
class _Compute:
    name: str
    unit: str
    count: int
    cpu_us_per_s: float
    workers_per_unit: int
    min_count: int


def _fargate_default(parameter: str) -> int:
    return int(inspect.signature(FargateMicroservice.__init__).parameters[parameter].default)


def _compute(config: StageConfig, limits: Limits) -> _Compute:
    """What runs the service at this stage, at the most it can scale to."""
    if config.has_microservices:
        vcpu = POSTS_TASK_CPU / 1024
        return _Compute(
            f"posts service CPU ({config.posts_max_tasks} Fargate tasks of {vcpu:g} vCPU)",
            "tasks",
            config.posts_max_tasks,
            limits.cpu_us_per_s({"vcpu": vcpu}, config.posts_max_tasks),
            1,
            _fargate_default("min_tasks"),
        )
    if config.has_single_box:
        spec = limits.instance(config.box_instance_type)
        return _Compute(
            f"box CPU ({config.box_instance_type})", "instance", 1, limits.cpu_us_per_s(spec), int(spec["vcpu"]), 1
        )
    spec = limits.instance(config.app_instance_type)
    count = config.app_capacity.max
    return _Compute(
        f"app tier CPU ({config.app_instance_type})",
        "instances",
        count,
        limits.cpu_us_per_s(spec, count),
        int(spec["vcpu"]),
        config.app_capacity.min,
    )


def _service_costs(config: StageConfig, measured: Measured, limits: Limits, hit_ratio: float) -> tuple[float, float]:
    """Service CPU-µs of one read and one write at this stage."""
    if not config.has_cache:
        read = measured.per_read(0, "service_cpu_us_per_request")
        write = float(measured.phase(0, "write")["service_cpu_us_per_request"])
    else:
        hit = float(measured.phase(3, "cached_read")["service_cpu_us_per_request"])
        measured_ratio = measured.hit_ratio()
        mixed = measured.per_read(3, "service_cpu_us_per_request")
        miss = (mixed - measured_ratio * hit) / (1 - measured_ratio)
        if config.has_async:
            miss += limits.value("aws_sdk_read_cpu_us")
        if config.has_microservices:
            miss += limits.value("peer_call_cpu_us")
        read = hit_ratio * hit + (1 - hit_ratio) * miss
        write = float(measured.phase(3, "write")["service_cpu_us_per_request"])
        if config.has_async:
            write += limits.value("aws_sdk_write_cpu_us")
    if config.has_single_box:
        read += limits.value("proxy_cpu_us_per_request")
        write += limits.value("proxy_cpu_us_per_request")
    return read, write


def _database(config: StageConfig, measured: Measured, limits: Limits, hit_ratio: float) -> list[Resource]:
    klass = limits.db_class(config.db_instance_type)
    servers = 1 + config.read_replicas + config.shards
    label = "database CPU" + (f" (writer + {config.read_replicas} replicas" if config.read_replicas else " (writer")
    label += f" + {config.shards} shards)" if config.shards else ")"
    if config.has_async:
        # Posts live in DynamoDB: a miss keeps only its MySQL statements for the user summary and,
        # for a feed, the followees, each at the measured cost of a simple statement.
        uncached = measured.phase(3, "uncached_read")
        statement = float(uncached["db_cpu_us_per_request"]) / float(uncached["db_statements_per_request"])
        read = (1 - hit_ratio) * statement * MYSQL_STATEMENTS_PER_MISS_WITH_DYNAMODB
        write = 0.0
    elif config.has_cache:
        miss_db = measured.per_read(3, "db_cpu_us_per_request") / (1 - measured.hit_ratio())
        read = (1 - hit_ratio) * miss_db
        write = float(measured.phase(3, "write")["db_cpu_us_per_request"])
    else:
        read = measured.per_read(0, "db_cpu_us_per_request")
        write = float(measured.phase(0, "write")["db_cpu_us_per_request"])
    resources = [Resource(label, limits.cpu_us_per_s(klass, servers), read, write, servers, "DB instances")]
    if config.has_async:
        resources.append(
            Resource(
                "DynamoDB table throughput (on-demand quota)",
                limits.value("dynamodb_on_demand_table_units_per_second"),
                1 - hit_ratio,
                1.0,
            )
        )
    else:
        resources.append(
            Resource(
                f"write I/O (gp3, {limits.value('rds_gp3_baseline_iops'):,.0f} IOPS)",
                limits.value("rds_gp3_baseline_iops"),
                0.0,
                limits.value("write_iops_per_write"),
            )
        )
    return resources


def _cache(config: StageConfig, measured: Measured, limits: Limits, hit_ratio: float) -> list[Resource]:
    node = limits.cache_node(config.cache_node_type)
    # Reads go to the primary node: a hit reads the page, a miss writes it once.
    page_bytes = float(measured.phase(3, "mixed")["response_bytes_per_request"])
    # Requests the service sends (service/cache.py): a hit is one lookup script call, a miss adds the
    # fill script, a write is one MULTI/INCR/EXPIRE/DEL/EXEC transaction. A script's own Lua work is
    # not counted: a request's parsing and network I/O dominate a small script's cost.
    ops_hit, ops_miss, ops_write = 1.0, 2.0, 5.0
    return [
        Resource(
            f"cache network ({config.cache_node_type}, {node['baseline_gbps']} Gbps baseline)",
            float(node["baseline_gbps"]) * 1e9 / 8,
            page_bytes,
            0.0,
        ),
        Resource(
            f"cache requests ({config.cache_node_type} primary)",
            limits.value("cache_ops_per_second_per_node"),
            hit_ratio * ops_hit + (1 - hit_ratio) * ops_miss,
            ops_write,
        ),
    ]


def stage_capacity(
    config: StageConfig,
    measured: Measured,
    limits: Limits,
    *,
    mix: Load | None = None,
    hit_ratio: float | None = None,
) -> StageCapacity:
    """Every resource of the stage at its configured (largest) sizes."""
    hits = measured.hit_ratio() if hit_ratio is None else hit_ratio
    if not 0 <= hits < 1:
        raise CapacityError(f"cache hit ratio {hits!r} is not allowed; expected a number from 0 to below 1")
    compute = _compute(config, limits)
    read_cpu, write_cpu = _service_costs(config, measured, limits, hits)
    resources = [
        Resource(
            compute.name, compute.cpu_us_per_s, read_cpu, write_cpu, compute.count, compute.unit, compute.min_count
        ),
    ]
    # Each worker process keeps a pool of connections to the writer.
    per_unit = compute.workers_per_unit * limits.value("db_pool_size")
    allowed_units = limits.max_connections(config.db_instance_type) // per_unit
    resources.append(
        Resource(
            f"database connections (db.{config.db_instance_type} max_connections)",
            compute.cpu_us_per_s / compute.count * allowed_units,
            read_cpu,
            write_cpu,
        )
    )
    if config.has_tiers and not config.has_microservices:
        web = limits.instance(config.web_instance_type)
        count = config.web_capacity.max
        proxy = limits.value("proxy_cpu_us_per_request")
        resources.append(
            Resource(
                f"web tier CPU ({config.web_instance_type})",
                limits.cpu_us_per_s(web, count),
                proxy,
                proxy,
                count,
                "instances",
                config.web_capacity.min,
            )
        )
    resources += _database(config, measured, limits, hits)
    if config.has_cache:
        resources += _cache(config, measured, limits, hits)
    offload = 0.0
    if config.has_edge:
        offload = limits.cdn_offload()
        if not 0 <= offload < 1:
            raise CapacityError(f"CDN offload {offload!r} is not allowed; expected a number from 0 to below 1")
        # Reads CloudFront answers reach nothing behind it; the average read's origin costs are taken
        # for them, which overstates the saving a little (timelines and posts cost less than feeds).
        resources = [replace(r, per_read=r.per_read * (1 - offload)) for r in resources]
        resources.append(Resource("CloudFront requests (quota)", limits.value("cloudfront_requests_per_second"), 1, 1))
    return StageCapacity(config.stage, tuple(resources), mix or Load(PRIMER_READS, PRIMER_WRITES), offload)
