"""Monthly cost estimate of a stage: a fixed part from what the templates provision and a variable
part under a stated traffic profile, priced from `prices.json`. A resource whose type has no price
and is not listed as free or usage-only stops the estimate: nothing is counted as free by omission."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

from tools.docs.architecture import USERS_ID, Architecture
from tools.docs.inventory import Inventory, Resource, ResourceKey

PRICES_FILE = Path(__file__).with_name("prices.json")
SECONDS_PER_HOUR = 3600


class UnpricedResource(LookupError):
    """A resource, or a size of it, that the price table cannot price."""


@dataclass(frozen=True, kw_only=True)
class TrafficProfile:
    """The load the variable part assumes; defaults are the system-design primer's figures."""

    reads_per_second: float = 40_000
    writes_per_second: float = 400
    write_kb: float = 1.0
    read_response_kb: float = 1.0
    # Share of API reads CloudFront answers from its cache (only what the service marks public); the
    # capacity model passes its assumption (tools/capacity/limits.json), the primer's reference none.
    cdn_cache_hit_ratio: float = 0.0
    requests_per_connection: float = 100
    elastic_fill: float = 0.5
    nat_gb_per_month: float = 100
    worker_batch_size: int = 10
    worker_ms_per_invocation: float = 100

    def assumptions(self) -> list[str]:
        return [
            f"{self.reads_per_second:,.0f} reads/s and {self.writes_per_second:,.0f} writes/s, around the clock",
            f"{self.write_kb:g} KB per write, {self.read_response_kb:g} KB per read response",
            f"CloudFront answers {self.cdn_cache_hit_ratio:.0%} of reads from cache; the rest and all writes reach "
            "the origin",
            f"{self.requests_per_connection:g} requests per connection to a load balancer (keep-alive)",
            f"elastic Auto Scaling groups and ECS services run on average {self.elastic_fill:.0%} of the way from "
            "their minimum to their maximum size",
            f"{self.nat_gb_per_month:g} GB/month through each NAT gateway (updates, AWS APIs without endpoints)",
            "each write passes once through every topic, stream, queue and worker on the async path; "
            f"workers take batches of {self.worker_batch_size} at {self.worker_ms_per_invocation:g} ms",
            "storage growth: one month of writes, billed at the store written to (DynamoDB if the path has "
            "a table, else the MySQL writers); each month's bill grows by this line",
        ]


@dataclass(frozen=True)
class CostLine:
    part: str
    layer: str
    resource: str
    item: str
    quantity: float
    unit: str
    price_key: str
    unit_usd: float
    monthly_usd: float


@dataclass(frozen=True)
class UsageNote:
    resource_type: str
    count: int
    reason: str


@dataclass(frozen=True)
class Estimate:
    lines: tuple[CostLine, ...]
    not_modelled: tuple[UsageNote, ...]
    profile: TrafficProfile
    prices: PriceTable

    def total(self, part: str | None = None) -> float:
        return sum(line.monthly_usd for line in self.lines if part in (None, line.part))


@dataclass(frozen=True)
class PriceTable:
    data: Mapping[str, Any] = field(hash=False)

    @classmethod
    def load(cls, path: Path = PRICES_FILE) -> PriceTable:
        return cls(json.loads(path.read_text()))

    @property
    def hours(self) -> float:
        return float(self.data["hours_per_month"])

    def usd(self, key: str) -> float:
        try:
            return float(self.data["prices"][key]["usd"])
        except KeyError:
            raise UnpricedResource(f"no price '{key}' in tools/docs/prices.json") from None

    def tiered(self, key: str, quantity: float) -> float:
        """Cost of `quantity` units under a volume-tiered price (tiers: [up to, usd per unit])."""
        if key not in self.data["tiered_prices"]:
            raise UnpricedResource(f"no tiered price '{key}' in tools/docs/prices.json")
        cost, floor = 0.0, 0.0
        for ceiling, usd in self.data["tiered_prices"][key]["tiers"]:
            top = quantity if ceiling is None else min(quantity, ceiling)
            if top > floor:
                cost += (top - floor) * usd
            if ceiling is None or quantity <= ceiling:
                break
            floor = ceiling
        return cost

    def is_free(self, resource_type: str) -> bool:
        return any(fnmatchcase(resource_type, pattern) for pattern in self.data["free_types"])

    def usage_only(self, resource_type: str) -> str | None:
        return self.data["usage_only_types"].get(resource_type)


@dataclass
class _Context:
    inventory: Inventory
    architecture: Architecture
    prices: PriceTable
    profile: TrafficProfile
    lines: list[CostLine] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.component_ids = {c.resource.key: c.id for c in self.architecture.components}
        self.incoming = {c.id: 0 for c in self.architecture.components}
        for edge in self.architecture.edges:
            self.incoming[edge.target] += 1
        self.has_cdn = any(c.tier == "cdn" for c in self.architecture.components)
        self.internet_facing = self._internet_facing()
        seconds = self.prices.hours * SECONDS_PER_HOUR
        self.reads = self.profile.reads_per_second * seconds
        self.writes = self.profile.writes_per_second * seconds
        origin_rps = self.profile.reads_per_second + self.profile.writes_per_second
        if self.has_cdn:
            origin_rps -= self.profile.reads_per_second * self.profile.cdn_cache_hit_ratio
        self.origin_rps = origin_rps

    def _internet_facing(self) -> set[str]:
        """Components users' requests reach first, looking through DNS records."""
        by_id = {c.id: c for c in self.architecture.components}
        frontier = {e.target for e in self.architecture.edges if e.source == USERS_ID}
        while any(by_id[i].tier == "dns" for i in frontier):
            frontier = {e.target for e in self.architecture.edges if e.source in frontier} | {
                i for i in frontier if by_id[i].tier != "dns"
            }
        return frontier

    def on_path(self, res: Resource) -> bool:
        """Something on the request or async path sends to it."""
        return self.incoming.get(self.component_ids.get(res.key, ""), 0) > 0

    def add(self, part: str, res: Resource, item: str, quantity: float, unit: str, key: str, cost: float = -1) -> None:
        unit_usd = self.prices.usd(key) if cost < 0 else cost / quantity if quantity else 0.0
        monthly = quantity * unit_usd if cost < 0 else cost
        self.lines.append(CostLine(part, res.layer, res.name, item, quantity, unit, key, unit_usd, monthly))

    def hourly(self, res: Resource, item: str, count: float, key: str, part: str = "fixed") -> None:
        self.add(part, res, item, count * self.prices.hours, "hours", key)

    def props_of(self, key: ResourceKey) -> Mapping[str, Any]:
        return self.inventory.resources[key].properties


Pricer = Callable[[_Context, Resource], None]


def _launch_data(ctx: _Context, res: Resource) -> Mapping[str, Any]:
    for key in ctx.inventory.references(res.key):
        if ctx.inventory.resources[key].type == "AWS::EC2::LaunchTemplate":
            return ctx.props_of(key).get("LaunchTemplateData", {})
    return {}


def _volumes(ctx: _Context, res: Resource, mappings: Iterable[Mapping[str, Any]], count: float, part: str) -> None:
    for mapping in mappings:
        ebs = mapping.get("Ebs", {})
        if "VolumeSize" in ebs:
            volume_type = ebs.get("VolumeType", "gp2")
            ctx.add(
                part,
                res,
                f"{volume_type} root volume {ebs['VolumeSize']} GB x {count:g}",
                float(ebs["VolumeSize"]) * count,
                "GB-months",
                f"ebs.{volume_type}.gb_month",
            )


def _instance(ctx: _Context, res: Resource) -> None:
    instance_type = res.properties["InstanceType"]
    ctx.hourly(res, f"EC2 {instance_type}", 1, f"ec2.{instance_type}.hour")
    _volumes(ctx, res, res.properties.get("BlockDeviceMappings", []), 1, "fixed")
    _internet_egress(ctx, res)


def _auto_scaling_group(ctx: _Context, res: Resource) -> None:
    props = res.properties
    data = _launch_data(ctx, res)
    mixed = props.get("MixedInstancesPolicy", {})
    overrides = mixed.get("LaunchTemplate", {}).get("Overrides", [])
    instance_type = data.get("InstanceType") or overrides[0]["InstanceType"]
    low, high = int(props["MinSize"]), int(props["MaxSize"])
    fixed = int(props.get("DesiredCapacity", low)) if low == high else low
    extra = (high - low) * ctx.profile.elastic_fill if high > low else 0.0
    distribution = mixed.get("InstancesDistribution")
    for part, count in (("fixed", float(fixed)), ("variable", extra)):
        if count <= 0:
            continue
        on_demand = count
        if distribution is not None:
            base = float(distribution.get("OnDemandBaseCapacity", 0))
            share = float(distribution.get("OnDemandPercentageAboveBaseCapacity", 100)) / 100
            start = 0.0 if part == "fixed" else float(fixed)
            below_base = max(0.0, min(count, base - start))
            on_demand = below_base + (count - below_base) * share
        spot = count - on_demand
        if on_demand:
            ctx.hourly(
                res, f"EC2 {instance_type} on-demand x {on_demand:g}", on_demand, f"ec2.{instance_type}.hour", part
            )
        if spot:
            cost = spot * ctx.prices.hours * ctx.prices.usd(f"ec2.{instance_type}.hour")
            cost *= ctx.prices.usd("ec2.spot.fraction_of_on_demand")
            ctx.add(
                part,
                res,
                f"EC2 {instance_type} Spot x {spot:g}",
                spot * ctx.prices.hours,
                "hours",
                "ec2.spot.fraction_of_on_demand",
                cost,
            )
        _volumes(ctx, res, data.get("BlockDeviceMappings", []), count, part)
    _internet_egress(ctx, res)


def _load_balancer(ctx: _Context, res: Resource) -> None:
    kind = res.properties.get("Type", "application")
    ctx.hourly(res, f"{kind} load balancer", 1, f"elb.{kind}.hour")
    if res.properties.get("Scheme", "internet-facing") == "internet-facing":
        zones = len(res.properties.get("Subnets", [])) or len(res.properties.get("SubnetMappings", []))
        ctx.hourly(res, f"public IPv4 address x {zones} (one per AZ)", zones, "vpc.public_ipv4.hour")
    if kind == "application" and ctx.on_path(res):
        gb_per_hour = ctx.origin_rps * ctx.profile.read_response_kb * SECONDS_PER_HOUR / 1e6
        new_connections = ctx.origin_rps / ctx.profile.requests_per_connection / 25
        lcus = max(gb_per_hour, new_connections)
        ctx.hourly(
            res, f"{lcus:,.1f} LCUs (processed bytes / new connections)", lcus, "elb.application.lcu_hour", "variable"
        )
    _internet_egress(ctx, res)


def _internet_egress(ctx: _Context, res: Resource) -> None:
    """Without a CDN, whatever users reach first pays EC2's internet data transfer rates."""
    if ctx.component_ids.get(res.key) in ctx.internet_facing:
        gigabytes = ctx.reads * ctx.profile.read_response_kb / 1e6
        cost = ctx.prices.tiered("ec2.internet_out.gb", gigabytes)
        ctx.add("variable", res, "data transfer out to the internet", gigabytes, "GB", "ec2.internet_out.gb", cost)


def _rds_instance(ctx: _Context, res: Resource) -> None:
    props = res.properties
    engine = props.get("Engine") or _replica_source(ctx, res).get("Engine", "mysql")
    copies = 2 if props.get("MultiAZ") else 1
    klass = props["DBInstanceClass"]
    ctx.hourly(
        res, f"RDS {engine} {klass}" + (" Multi-AZ (x2)" if copies == 2 else ""), copies, f"rds.{engine}.{klass}.hour"
    )
    storage_type = props.get("StorageType", "gp2")
    size = float(props.get("AllocatedStorage") or _replica_source(ctx, res).get("AllocatedStorage", 0))
    ctx.add(
        "fixed",
        res,
        f"{storage_type} storage {size:g} GB x {copies}",
        size * copies,
        "GB-months",
        f"rds.{storage_type}.gb_month",
    )
    growth = _storage_growth(ctx, res)
    if growth:
        ctx.add(
            "variable",
            res,
            f"storage added per month x {copies}",
            growth * copies,
            "GB-months",
            f"rds.{storage_type}.gb_month",
        )


def _replica_source(ctx: _Context, res: Resource) -> Mapping[str, Any]:
    sources = [k for k in ctx.inventory.refs_in(res.stack, res.properties.get("SourceDBInstanceIdentifier"))]
    return ctx.props_of(sources[0]) if sources else {}


def _storage_growth(ctx: _Context, res: Resource) -> float:
    """GB a month of writes adds to this store: tables on the path take it all; without one, the
    MySQL writers share it and each replica stores what its source does."""
    gigabytes = ctx.writes * ctx.profile.write_kb / 1e6
    tables = [r for r in ctx.inventory.of_type("AWS::DynamoDB::Table") if ctx.on_path(r)]
    if res.type == "AWS::DynamoDB::Table":
        return gigabytes if res in tables else 0.0
    if tables:
        return 0.0
    writers = [
        r for r in ctx.inventory.of_type("AWS::RDS::DBInstance") if "SourceDBInstanceIdentifier" not in r.properties
    ]
    return gigabytes / len(writers) if writers else 0.0


def _cache(ctx: _Context, res: Resource) -> None:
    props = res.properties
    nodes = int(
        props.get("NumCacheClusters")
        or int(props.get("NumNodeGroups", 1)) * (int(props.get("ReplicasPerNodeGroup", 0)) + 1)
    )
    engine, node_type = props.get("Engine", "redis"), props["CacheNodeType"]
    ctx.hourly(res, f"ElastiCache {engine} {node_type} x {nodes}", nodes, f"elasticache.{engine}.{node_type}.hour")


def _distribution(ctx: _Context, res: Resource) -> None:
    requests = ctx.reads + ctx.writes
    ctx.add("variable", res, "HTTPS requests", requests / 1e4, "10k requests", "cloudfront.https_request_10k")
    gigabytes = ctx.reads * ctx.profile.read_response_kb / 1e6
    ctx.add(
        "variable",
        res,
        "data transfer out",
        gigabytes,
        "GB",
        "cloudfront.data_out.gb",
        ctx.prices.tiered("cloudfront.data_out.gb", gigabytes),
    )


def _web_acl(ctx: _Context, res: Resource) -> None:
    ctx.add("fixed", res, "web ACL", 1, "months", "waf.web_acl.month")
    rules = len(res.properties.get("Rules", []))
    ctx.add("fixed", res, f"{rules} rules", rules, "rule-months", "waf.rule.month")
    global_scope = res.properties.get("Scope") == "CLOUDFRONT"
    requests = ctx.reads + ctx.writes if global_scope else ctx.origin_rps * ctx.prices.hours * SECONDS_PER_HOUR
    ctx.add("variable", res, "requests inspected", requests / 1e6, "million requests", "waf.request_million")


def _nat_gateway(ctx: _Context, res: Resource) -> None:
    ctx.hourly(res, "NAT gateway", 1, "vpc.nat_gateway.hour")
    ctx.add("variable", res, "data processed", ctx.profile.nat_gb_per_month, "GB", "vpc.nat_gateway.gb")


def _endpoint(ctx: _Context, res: Resource) -> None:
    if res.properties.get("VpcEndpointType", "Gateway") == "Interface":
        zones = len(res.properties.get("SubnetIds", []))
        ctx.hourly(res, f"interface endpoint x {zones} AZs", zones, "vpc.interface_endpoint.az_hour")


def _monthly(key: str, item: str) -> Pricer:
    def price(ctx: _Context, res: Resource) -> None:
        ctx.add("fixed", res, item, 1, "months", key)

    return price


def _table(ctx: _Context, res: Resource) -> None:
    props = res.properties
    if props.get("BillingMode") == "PAY_PER_REQUEST":
        if ctx.on_path(res):
            units = ctx.writes * max(1.0, ctx.profile.write_kb) / 1e6
            ctx.add("variable", res, "on-demand writes", units, "million WRU", "dynamodb.on_demand.write_million")
    else:
        throughput = props.get("ProvisionedThroughput", {})
        ctx.hourly(
            res, "provisioned WCU", float(throughput.get("WriteCapacityUnits", 0)), "dynamodb.provisioned.wcu_hour"
        )
        ctx.hourly(
            res, "provisioned RCU", float(throughput.get("ReadCapacityUnits", 0)), "dynamodb.provisioned.rcu_hour"
        )
    growth = _storage_growth(ctx, res)
    if growth:
        ctx.add("variable", res, "storage added per month", growth, "GB-months", "dynamodb.storage.gb_month")


def _queue(ctx: _Context, res: Resource) -> None:
    if ctx.on_path(res):
        kind = "fifo" if res.properties.get("FifoQueue") else "standard"
        ctx.add(
            "variable",
            res,
            "send, receive and delete per write",
            3 * ctx.writes / 1e6,
            "million requests",
            f"sqs.{kind}.request_million",
        )


def _topic(ctx: _Context, res: Resource) -> None:
    if ctx.on_path(res):
        ctx.add("variable", res, "publishes", ctx.writes / 1e6, "million publishes", "sns.publish_million")


def _stream(ctx: _Context, res: Resource) -> None:
    mode = res.properties.get("StreamModeDetails", {}).get("StreamMode", "PROVISIONED")
    if mode == "ON_DEMAND":
        ctx.hourly(res, "on-demand stream", 1, "kinesis.on_demand.stream_hour")
        if ctx.on_path(res):
            ctx.add(
                "variable",
                res,
                "data written",
                ctx.writes * ctx.profile.write_kb / 1e6,
                "GB",
                "kinesis.on_demand.gb_in",
            )
    else:
        shards = float(res.properties.get("ShardCount", 1))
        ctx.hourly(res, f"{shards:g} shards", shards, "kinesis.provisioned.shard_hour")
        if ctx.on_path(res):
            ctx.add(
                "variable",
                res,
                "PUT payload units",
                ctx.writes / 1e6,
                "million units",
                "kinesis.provisioned.put_unit_million",
            )


def _function(ctx: _Context, res: Resource) -> None:
    if not ctx.on_path(res):
        return
    invocations = ctx.writes / ctx.profile.worker_batch_size
    ctx.add("variable", res, "invocations", invocations / 1e6, "million invocations", "lambda.request_million")
    architecture = (res.properties.get("Architectures") or ["x86_64"])[0]
    memory_gb = float(res.properties.get("MemorySize", 128)) / 1024
    seconds = invocations * ctx.profile.worker_ms_per_invocation / 1000 * memory_gb
    ctx.add(
        "variable",
        res,
        f"compute at {memory_gb * 1024:g} MB",
        seconds,
        "GB-seconds",
        f"lambda.{architecture}.gb_second",
    )


def _scaling_range(ctx: _Context, res: Resource) -> tuple[float, float] | None:
    """(min, max) of the scalable target that scales this ECS service, if one does."""
    for target in ctx.inventory.of_type("AWS::ApplicationAutoScaling::ScalableTarget"):
        if res.key in ctx.inventory.references(target.key):
            return float(target.properties["MinCapacity"]), float(target.properties["MaxCapacity"])
    return None


def _fargate_service(ctx: _Context, res: Resource) -> None:
    desired = float(res.properties.get("DesiredCount", 1))
    scaling = _scaling_range(ctx, res)
    extra = (scaling[1] - max(desired, scaling[0])) * ctx.profile.elastic_fill if scaling else 0.0
    for part, tasks in (("fixed", desired), ("variable", extra)):
        if tasks > 0:
            _fargate_tasks(ctx, res, part, tasks)


def _fargate_tasks(ctx: _Context, res: Resource, part: str, tasks: float) -> None:
    definition = next(
        (
            ctx.props_of(k)
            for k in ctx.inventory.references(res.key)
            if ctx.inventory.resources[k].type == "AWS::ECS::TaskDefinition"
        ),
        {},
    )
    platform = str(definition.get("RuntimePlatform", {}).get("CpuArchitecture", "X86_64")).lower()
    vcpu, memory = float(definition.get("Cpu", 256)) / 1024, float(definition.get("Memory", 512)) / 1024
    strategy = res.properties.get("CapacityProviderStrategy", [])
    weights = {s["CapacityProvider"]: float(s.get("Weight", 0)) for s in strategy}
    spot_share = weights.get("FARGATE_SPOT", 0) / sum(weights.values()) if sum(weights.values()) else 0.0
    factor = (1 - spot_share) + spot_share * ctx.prices.usd("fargate.spot.fraction_of_on_demand")
    for what, amount, key in (("vCPU", vcpu, "vcpu_hour"), ("GB memory", memory, "gb_hour")):
        price_key = f"fargate.{platform}.{key}"
        hours = tasks * amount * ctx.prices.hours
        ctx.add(
            part,
            res,
            f"{tasks:g} tasks x {amount:g} {what} ({spot_share:.0%} Spot)",
            hours,
            "hours",
            price_key,
            hours * ctx.prices.usd(price_key) * factor,
        )


def _namespace(ctx: _Context, res: Resource) -> None:
    ctx.add("fixed", res, "private hosted zone", 1, "months", "route53.hosted_zone.month")


PRICERS: dict[str, Pricer] = {
    "AWS::EC2::Instance": _instance,
    "AWS::AutoScaling::AutoScalingGroup": _auto_scaling_group,
    "AWS::ElasticLoadBalancingV2::LoadBalancer": _load_balancer,
    "AWS::RDS::DBInstance": _rds_instance,
    "AWS::ElastiCache::ReplicationGroup": _cache,
    "AWS::CloudFront::Distribution": _distribution,
    "AWS::WAFv2::WebACL": _web_acl,
    "AWS::EC2::NatGateway": _nat_gateway,
    "AWS::EC2::EIP": lambda ctx, res: ctx.hourly(res, "public IPv4 address", 1, "vpc.public_ipv4.hour"),
    "AWS::EC2::VPCEndpoint": _endpoint,
    "AWS::KMS::Key": _monthly("kms.key.month", "customer managed key"),
    "AWS::SecretsManager::Secret": _monthly("secretsmanager.secret.month", "secret"),
    "AWS::CloudWatch::Alarm": _monthly("cloudwatch.alarm.month", "alarm"),
    "AWS::CloudWatch::CompositeAlarm": _monthly("cloudwatch.composite_alarm.month", "composite alarm"),
    "AWS::CloudWatch::Dashboard": _monthly("cloudwatch.dashboard.month", "dashboard"),
    "AWS::DynamoDB::Table": _table,
    "AWS::SQS::Queue": _queue,
    "AWS::SNS::Topic": _topic,
    "AWS::Kinesis::Stream": _stream,
    "AWS::Lambda::Function": _function,
    "AWS::ECS::Service": _fargate_service,
    "AWS::ServiceDiscovery::PrivateDnsNamespace": _namespace,
}


def estimate(
    inventory: Inventory, architecture: Architecture, prices: PriceTable, profile: TrafficProfile | None = None
) -> Estimate:
    ctx = _Context(inventory, architecture, prices, profile or TrafficProfile())
    usage: dict[str, int] = {}
    for res in inventory:
        pricer = PRICERS.get(res.type)
        if pricer is not None:
            pricer(ctx, res)
        elif prices.usage_only(res.type) is not None:
            usage[res.type] = usage.get(res.type, 0) + 1
        elif not prices.is_free(res.type):
            raise UnpricedResource(
                f"{res.stack}/{res.logical_id} is a {res.type}, which tools/docs/prices.json neither prices nor "
                "lists as free or usage-only: add a price and a pricer in tools/docs/costs.py, or list the type"
            )
    notes = tuple(UsageNote(t, n, prices.usage_only(t) or "") for t, n in sorted(usage.items()))
    return Estimate(lines=tuple(ctx.lines), not_modelled=notes, profile=ctx.profile, prices=prices)
