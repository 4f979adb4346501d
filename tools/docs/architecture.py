"""The drawable architecture of a stage: components placed in layers and subnets, the edges of
the request and async paths, and the supporting services, all read from the templates."""

from __future__ import annotations

import re
from collections import Counter, deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from tools.docs.catalog import ASYNC_TIERS, SERVICE_ICONS, TIER_RANK, Kind, type_info
from tools.docs.inventory import Inventory, Resource, ResourceKey
from tools.docs.roles import TIMES, human_name, type_words

USERS_ID = "Internet__users"
_POLICIES = frozenset({"AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"})
_SUBNET_NAME_TAG = "aws-cdk:subnet-name"
_SUBNET_TYPE_TAG = "aws-cdk:subnet-type"
_SUBNET_TYPE_WORDS = {"Public": "public", "Private": "private, egress via NAT", "Isolated": "isolated"}


@dataclass(frozen=True)
class Placement:
    """The subnet group (by its name in the VPC) a component's network interfaces live in."""

    subnet_group: str
    subnet_type: str

    @property
    def title(self) -> str:
        return f"{self.subnet_group} subnets ({_SUBNET_TYPE_WORDS.get(self.subnet_type, self.subnet_type.lower())})"


@dataclass(frozen=True)
class Component:
    id: str
    resource: Resource
    label: str
    icon: str
    tier: str | None
    placement: Placement | None

    @property
    def layer(self) -> str:
        return self.resource.layer

    @property
    def service(self) -> str:
        return self.resource.service


@dataclass(frozen=True)
class ServiceSummary:
    """A service present only through resources not drawn one by one (roles, log groups...)."""

    id: str
    service: str
    icon: str
    counts: tuple[tuple[str, int], ...]

    @property
    def label(self) -> str:
        named: Counter[str] = Counter()
        for resource_type, count in self.counts:
            named[type_words(resource_type)] += count
        return f"{self.service}\n" + "\n".join(f"{n} {TIMES} {name}" for name, n in named.items())


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    asynchronous: bool


@dataclass(frozen=True)
class Architecture:
    components: tuple[Component, ...]
    summaries: tuple[ServiceSummary, ...]
    edges: tuple[Edge, ...]

    def component(self, component_id: str) -> Component:
        return next(c for c in self.components if c.id == component_id)

    @property
    def node_ids(self) -> tuple[str, ...]:
        return (USERS_ID, *(c.id for c in self.components), *(s.id for s in self.summaries))


def build_architecture(inventory: Inventory) -> Architecture:
    helpers = _deploy_time_functions(inventory)
    drawn = [res for res in inventory if type_info(res.type).kind is Kind.COMPONENT and res.key not in helpers]
    ids = _node_ids(drawn)
    drawn_keys = {res.key for res in drawn}
    placements = _placements(inventory, drawn, drawn_keys)
    components = tuple(
        Component(
            id=ids[res.key],
            resource=res,
            label=_label(inventory, res),
            icon=type_info(res.type).icon,
            tier=type_info(res.type).tier,
            placement=placements.get(res.key),
        )
        for res in drawn
    )
    by_key = {c.resource.key: c for c in components}
    pairs = _security_group_flows(inventory, drawn_keys) | _reference_flows(inventory, drawn_keys, by_key)
    edges = [
        Edge(by_key[a].id, by_key[b].id, asynchronous=bool({by_key[a].tier, by_key[b].tier} & ASYNC_TIERS))
        for a, b in sorted(pairs)
    ]
    edges += [Edge(USERS_ID, c.id, asynchronous=False) for c in _entry_points(components, edges)]
    return Architecture(components=components, summaries=_summaries(inventory, components), edges=tuple(edges))


def _deploy_time_functions(inventory: Inventory) -> set[ResourceKey]:
    """Lambda functions behind custom resources (and the functions those call) run only while a
    stack deploys; they belong with CloudFormation, not on the diagram's request path."""
    found: set[ResourceKey] = set()
    queue = deque(
        target
        for res in inventory
        if res.service == "CloudFormation"
        for target in inventory.references(res.key)
        if inventory.resources[target].type == "AWS::Lambda::Function"
    )
    while queue:
        key = queue.popleft()
        if key in found:
            continue
        found.add(key)
        queue.extend(t for t in inventory.references(key) if inventory.resources[t].type == "AWS::Lambda::Function")
    return found


def _node_ids(drawn: Iterable[Resource]) -> dict[ResourceKey, str]:
    ids: dict[ResourceKey, str] = {}
    taken: Counter[str] = Counter()
    for res in drawn:
        base = f"{res.service}__{re.sub(r'[^A-Za-z0-9]', '_', res.name)}"
        taken[base] += 1
        ids[res.key] = base if taken[base] == 1 else f"{base}_{taken[base]}"
    return ids


def _reachable(
    inventory: Inventory,
    start: ResourceKey,
    step: Callable[[ResourceKey], Iterable[ResourceKey]],
    passable: Callable[[Resource], bool],
) -> set[ResourceKey]:
    """Resources reachable from `start` by `step`, passing only through `passable` ones."""
    seen = {start}
    queue = deque([start])
    reached: set[ResourceKey] = set()
    while queue:
        for nxt in step(queue.popleft()):
            if nxt in seen:
                continue
            seen.add(nxt)
            reached.add(nxt)
            if passable(inventory.resources[nxt]):
                queue.append(nxt)
    return reached


def _placements(
    inventory: Inventory, drawn: list[Resource], drawn_keys: set[ResourceKey]
) -> dict[ResourceKey, Placement]:
    """A component sits in the subnets it names, directly or through a subnet group or launch
    template; a read replica that names none sits where its source does."""

    def passable(res: Resource) -> bool:
        return res.key not in drawn_keys and res.type not in {"AWS::EC2::Subnet", "AWS::EC2::SecurityGroup"}

    placements: dict[ResourceKey, Placement] = {}
    for res in drawn:
        subnets = [
            inventory.resources[key]
            for key in _reachable(inventory, res.key, inventory.references, passable)
            if inventory.resources[key].type == "AWS::EC2::Subnet"
        ]
        groups = sorted({(_tag(s, _SUBNET_NAME_TAG), _tag(s, _SUBNET_TYPE_TAG)) for s in subnets})
        if groups:
            placements[res.key] = Placement(*groups[0])
    for res in drawn:
        if res.key not in placements:
            sources = [k for k in inventory.references(res.key) if k in placements and k[1] != res.logical_id]
            same_type = [k for k in sources if inventory.resources[k].type == res.type]
            if same_type:
                placements[res.key] = placements[sorted(same_type)[0]]
    return placements


def _tag(res: Resource, key: str) -> str:
    return next((str(t["Value"]) for t in res.properties.get("Tags", []) if t.get("Key") == key), "vpc")


def _security_group_flows(inventory: Inventory, drawn_keys: set[ResourceKey]) -> set[tuple[ResourceKey, ResourceKey]]:
    """Who may open connections to whom, from security group rules: source owner -> target owner."""

    def passable(res: Resource) -> bool:
        return res.key not in drawn_keys and res.type != "AWS::EC2::SecurityGroup"

    owners: dict[ResourceKey, set[ResourceKey]] = {}
    for key in drawn_keys:
        for reached in _reachable(inventory, key, inventory.references, passable):
            if inventory.resources[reached].type == "AWS::EC2::SecurityGroup":
                owners.setdefault(reached, set()).add(key)

    def groups(value: Any, stack: str) -> set[ResourceKey]:
        return {k for k in inventory.refs_in(stack, value) if inventory.resources[k].type == "AWS::EC2::SecurityGroup"}

    rules: list[tuple[set[ResourceKey], set[ResourceKey]]] = []
    for res in inventory:
        props = res.properties
        if res.type == "AWS::EC2::SecurityGroupIngress":
            rules.append(
                (groups(props.get("SourceSecurityGroupId"), res.stack), groups(props.get("GroupId"), res.stack))
            )
        elif res.type == "AWS::EC2::SecurityGroupEgress":
            rules.append(
                (groups(props.get("GroupId"), res.stack), groups(props.get("DestinationSecurityGroupId"), res.stack))
            )
        elif res.type == "AWS::EC2::SecurityGroup":
            for rule in props.get("SecurityGroupIngress", []):
                rules.append((groups(rule.get("SourceSecurityGroupId"), res.stack), {res.key}))
            for rule in props.get("SecurityGroupEgress", []):
                rules.append(({res.key}, groups(rule.get("DestinationSecurityGroupId"), res.stack)))
    return {
        (source, target)
        for sources, targets in rules
        for source in set().union(*(owners.get(g, set()) for g in sources))
        for target in set().union(*(owners.get(g, set()) for g in targets))
        if source != target
    }


def _reference_flows(
    inventory: Inventory, drawn_keys: set[ResourceKey], by_key: Mapping[ResourceKey, Component]
) -> set[tuple[ResourceKey, ResourceKey]]:
    """Components joined by references through links (target groups, roles and policies, event
    source mappings...), directed down the request path by tier."""

    def passable(res: Resource) -> bool:
        return res.key not in drawn_keys and type_info(res.type).kind is Kind.LINK

    def step(key: ResourceKey) -> set[ResourceKey]:
        # A policy is entered only from the role it is attached to: two resources granted to
        # the same role are not connected to each other.
        from_role = inventory.resources[key].type == "AWS::IAM::Role"
        return set(inventory.references(key)) | {
            r for r in inventory.referrers(key) if from_role or inventory.resources[r].type not in _POLICIES
        }

    flows: set[tuple[ResourceKey, ResourceKey]] = set()
    for key in drawn_keys:
        rank = TIER_RANK.get(by_key[key].tier or "")
        if rank is None:
            continue
        for other in _reachable(inventory, key, step, passable):
            other_rank = TIER_RANK.get(by_key[other].tier or "") if other in drawn_keys else None
            if other_rank is not None and rank < other_rank:
                flows.add((key, other))
    return flows


def _entry_points(components: Iterable[Component], edges: Iterable[Edge]) -> list[Component]:
    """Where users come in: the first tier of the request path that nothing else sends to."""
    targets = {e.target for e in edges}
    open_ends = [c for c in components if c.tier and TIER_RANK[c.tier] <= TIER_RANK["compute"] and c.id not in targets]
    if not open_ends:
        return []
    first = min(TIER_RANK[c.tier or ""] for c in open_ends)
    return [c for c in open_ends if TIER_RANK[c.tier or ""] == first]


def _summaries(inventory: Inventory, components: Iterable[Component]) -> tuple[ServiceSummary, ...]:
    shown = {c.service for c in components}
    counts: dict[str, Counter[str]] = {}
    for res in inventory:
        if res.service not in shown:
            counts.setdefault(res.service, Counter())[res.type] += 1
    return tuple(
        ServiceSummary(
            id=f"{service}__supporting",
            service=service,
            icon=SERVICE_ICONS.get(service, "aws/general/general.png"),
            counts=tuple(sorted(counts[service].items())),
        )
        for service in sorted(counts)
    )


def _label(inventory: Inventory, res: Resource) -> str:
    describe = _DESCRIBE.get(res.type)
    detail = describe(inventory, res) if describe else type_info(res.type).what
    name = human_name(res)
    # "CloudWatch dashboard" needs no second line saying it is a CloudWatch dashboard.
    lines = detail.split("\n")
    return "\n".join([name, *lines[1:]] if lines[0] == name else [name, *lines])


def _launch_template(inventory: Inventory, group: Resource) -> Mapping[str, Any]:
    spec = group.properties.get("LaunchTemplate") or group.properties.get("MixedInstancesPolicy", {}).get(
        "LaunchTemplate", {}
    ).get("LaunchTemplateSpecification", {})
    for key in inventory.references(group.key):
        if inventory.resources[key].type == "AWS::EC2::LaunchTemplate" and key[1] in str(spec):
            return inventory.resources[key].properties.get("LaunchTemplateData", {})
    return {}


def _group_description(inventory: Inventory, res: Resource) -> str:
    props = res.properties
    instance = _launch_template(inventory, res).get("InstanceType", "?")
    size = f"{props.get('MinSize')}-{props.get('MaxSize')}"
    if props.get("MinSize") == props.get("MaxSize"):
        size = str(props.get("DesiredCapacity", props.get("MinSize")))
    spot = " (Spot mix)" if "MixedInstancesPolicy" in props else ""
    return f"Auto Scaling group\n{size} x {instance}{spot}"


def _database_description(inventory: Inventory, res: Resource) -> str:
    props = res.properties
    role = (
        "read replica"
        if "SourceDBInstanceIdentifier" in props
        else ("Multi-AZ" if props.get("MultiAZ") else "single-AZ")
    )
    engine = f"{props.get('Engine', '')} {props.get('EngineVersion', '')}".strip() or "replica"
    return f"RDS {engine}\n{props.get('DBInstanceClass', '?')} {role}"


_DESCRIBE: dict[str, Callable[[Inventory, Resource], str]] = {
    "AWS::EC2::Instance": lambda inv, r: f"EC2 instance\n{r.properties.get('InstanceType', '?')}",
    "AWS::AutoScaling::AutoScalingGroup": _group_description,
    "AWS::ElasticLoadBalancingV2::LoadBalancer": lambda inv, r: (
        f"{r.properties.get('Type', 'application')} load balancer\n{r.properties.get('Scheme', 'internet-facing')}"
    ),
    "AWS::RDS::DBInstance": _database_description,
    "AWS::ElastiCache::ReplicationGroup": lambda inv, r: (
        f"ElastiCache {r.properties.get('Engine', '')}\n{r.properties.get('CacheNodeType', '?')}"
    ),
    "AWS::WAFv2::WebACL": lambda inv, r: f"WAF web ACL\n{len(r.properties.get('Rules', []))} rules",
    "AWS::EC2::VPCEndpoint": lambda inv, r: (
        f"{r.properties.get('VpcEndpointType', 'Gateway').lower()} endpoint\n"
        # The last word of the name, also when it is an Fn::Join (com.amazonaws.<region>.s3).
        f"{re.findall(r'[a-z0-9-]+', str(r.properties.get('ServiceName', '')))[-1]}"
    ),
    "AWS::Route53::RecordSet": lambda inv, r: f"Route 53 {r.properties.get('Type', '')} record",
}
