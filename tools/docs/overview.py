"""A stage's overview: one node per role, the arrows between roles bundled to one per pair, what
the stage adds or changes over the one below, and the supporting resources left off the picture."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum

from tools.docs.architecture import USERS_ID, Architecture
from tools.docs.catalog import Kind, service_of, type_info
from tools.docs.graph import drawn_edges
from tools.docs.inventory import Inventory, Resource
from tools.docs.roles import EN_DASH, ROLES, TIMES, Lane, Role, may_send, role_of, type_words

USERS = "users"
# A picture a reader takes in at a glance; beyond this, roles must group more.
MAX_NODES = 30


class OverviewTooLarge(ValueError):
    """An overview with more nodes than a reader can follow."""


class Status(Enum):
    NEW = "new"
    CHANGED = "changed"
    SAME = "same"


@dataclass(frozen=True)
class RoleNode:
    key: str
    roles: tuple[Role, ...]
    resources: tuple[Resource, ...]
    detail: str

    @property
    def lane(self) -> Lane:
        return self.roles[0].lane

    @property
    def rank(self) -> float:
        return min(role.rank for role in self.roles)

    @property
    def title(self) -> str:
        title = " + ".join(dict.fromkeys(role.title for role in self.roles))
        count = len(self.resources)
        return f"{title} {TIMES}{count}" if count > 1 and len(self.roles) == 1 else title

    @property
    def icon(self) -> str:
        return type_info(self.resources[0].type).icon

    @property
    def label(self) -> str:
        return f"{self.title}\n{self.detail}" if self.detail else self.title

    @property
    def reading(self) -> str:
        """The label on one line."""
        return f"{self.title} ({self.detail})" if self.detail else self.title


@dataclass(frozen=True)
class Arrow:
    source: str
    target: str
    asynchronous: bool


@dataclass(frozen=True)
class Overview:
    nodes: tuple[RoleNode, ...]
    arrows: tuple[Arrow, ...]
    # What the page lists instead of drawing: (service, what, count), by role title or by resource type.
    supporting: tuple[tuple[str, str, int], ...]

    def node(self, key: str) -> RoleNode:
        return next(n for n in self.nodes if n.key == key)

    def keys(self) -> tuple[str, ...]:
        return tuple(n.key for n in self.nodes)


@dataclass(frozen=True)
class Changes:
    """How a stage's overview differs from the one below."""

    status: Mapping[str, Status]
    # Titles of the roles the stage below had and this one has not.
    gone: tuple[str, ...]
    # A changed role's node at the stage below.
    was: Mapping[str, RoleNode] = field(default_factory=dict)

    def titled(self, overview: Overview, status: Status) -> list[str]:
        return [n.title for n in overview.nodes if self.status[n.key] is status]


def build_overview(inventory: Inventory, architecture: Architecture) -> Overview:
    grouped: dict[str, list[tuple[Role, Resource]]] = {}
    supporting: Counter[tuple[str, str]] = Counter()
    node_of: dict[str, str] = {USERS_ID: USERS}
    for component in architecture.components:
        role = role_of(component.resource)
        if role.lane is Lane.SUPPORTING:
            supporting[service_of(role.type), role.title] += 1
            continue
        grouped.setdefault(role.key, []).append((role, component.resource))
        node_of[component.id] = role.key
    for res in inventory:
        if type_info(res.type).kind is not Kind.COMPONENT:
            supporting[res.service, type_words(res.type)] += 1
    helpers = len(inventory.of_type("AWS::Lambda::Function")) - sum(
        1 for c in architecture.components if c.resource.type == "AWS::Lambda::Function"
    )
    if helpers:
        supporting["Lambda", "deploy-time helper functions"] += helpers
    nodes = tuple(
        sorted(
            (_node(key, members, inventory) for key, members in grouped.items()),
            key=lambda n: (n.rank, ROLES.index(n.roles[0])),
        )
    )
    roles = {n.key: n.roles[0] for n in nodes}
    arrows = _bundled(architecture, inventory, node_of, roles)
    listed = tuple((service, what, n) for (service, what), n in sorted(supporting.items()))
    return checked(Overview(nodes=nodes, arrows=arrows, supporting=listed))


def checked(overview: Overview) -> Overview:
    drawn = len(overview.nodes) + 1  # and the users
    if drawn > MAX_NODES:
        raise OverviewTooLarge(
            f"the overview would draw {drawn} nodes, more than {MAX_NODES}: give related resources one role "
            "(the same key) in tools/docs/roles.toml"
        )
    return overview


def _node(key: str, members: Sequence[tuple[Role, Resource]], inventory: Inventory) -> RoleNode:
    roles = tuple(sorted(dict.fromkeys(role for role, _ in members), key=ROLES.index))
    resources = tuple(res for _, res in members)
    detail = ", ".join(
        dict.fromkeys(
            d for role in roles if (d := _detail(role, [r for r in resources if r.type == role.type], inventory))
        )
    )
    return RoleNode(key=key, roles=roles, resources=resources, detail=detail)


def _bundled(
    architecture: Architecture, inventory: Inventory, node_of: Mapping[str, str], roles: Mapping[str, Role]
) -> tuple[Arrow, ...]:
    """One arrow per pair of roles, in the direction requests or messages go. Besides the drawn edges,
    a role that names another directly is joined to it (a queue names its dead-letter queue)."""
    pairs = {(node_of.get(e.source), node_of.get(e.target)) for e in drawn_edges(architecture)}
    by_key = {c.resource.key: c.id for c in architecture.components}
    for component in architecture.components:
        for target in inventory.references(component.resource.key):
            source_role, target_role = node_of.get(component.id), node_of.get(by_key.get(target, ""))
            if source_role is not None and target_role is not None and source_role in roles and target_role in roles:
                if may_send(roles[source_role], roles[target_role]):
                    pairs.add((source_role, target_role))
                elif may_send(roles[target_role], roles[source_role]):
                    pairs.add((target_role, source_role))
    return tuple(
        Arrow(s, t, asynchronous=any(k in roles and roles[k].lane is Lane.ASYNC for k in (s, t)))
        for s, t in sorted((s, t) for s, t in pairs if s and t and s != t)
    )


def compare(overview: Overview, below: Overview | None) -> Changes:
    """New roles, and roles whose node reads differently (more resources, another size)."""
    if below is None:
        return Changes(status={n.key: Status.NEW for n in overview.nodes}, gone=())
    before = {n.key: n.label for n in below.nodes}
    status = {
        n.key: Status.NEW if n.key not in before else Status.SAME if before[n.key] == n.label else Status.CHANGED
        for n in overview.nodes
    }
    gone = tuple(n.title for n in below.nodes if n.key not in status)
    was = {n.key: below.node(n.key) for n in overview.nodes if status[n.key] is Status.CHANGED}
    return Changes(status=status, gone=gone, was=was)


# --- what a node says about its resources -------------------------------------------------------


def _group_size(inventory: Inventory, res: Resource) -> str:
    props = res.properties
    spec = props.get("LaunchTemplate") or props.get("MixedInstancesPolicy", {}).get("LaunchTemplate", {}).get(
        "LaunchTemplateSpecification", {}
    )
    instance = next(
        (
            inventory.resources[k].properties.get("LaunchTemplateData", {}).get("InstanceType", "?")
            for k in sorted(inventory.references(res.key))
            if inventory.resources[k].type == "AWS::EC2::LaunchTemplate" and k[1] in str(spec)
        ),
        "?",
    )
    low, high = props.get("MinSize"), props.get("MaxSize")
    size = str(props.get("DesiredCapacity", low)) if low == high else f"{low}{EN_DASH}{high}"
    spot = ", Spot mix" if "MixedInstancesPolicy" in props else ""
    return f"ASG, {size} {TIMES} {instance}{spot}"


def _database(inventory: Inventory, resources: Sequence[Resource]) -> str:
    first = resources[0].properties
    engine = f"MySQL {first['EngineVersion']}, " if first.get("EngineVersion") else ""
    az = "Multi-AZ" if first.get("MultiAZ") else "single-AZ"
    if "SourceDBInstanceIdentifier" in first:
        az = "async copies of the primary"
    return f"RDS {engine}{first.get('DBInstanceClass', '?')}, {az}"


def _service(inventory: Inventory, resources: Sequence[Resource]) -> str:
    props = resources[0].properties
    spot = any("SPOT" in str(s.get("CapacityProvider", "")) for s in props.get("CapacityProviderStrategy", []))
    return f"ECS on Fargate{' + Spot' if spot else ''}, {props.get('DesiredCount', '?')} tasks"


def _cache(inventory: Inventory, resources: Sequence[Resource]) -> str:
    props = resources[0].properties
    nodes = props.get("NumCacheClusters", props.get("NumNodeGroups", 1))
    az = ", Multi-AZ" if props.get("MultiAZEnabled") else ""
    return f"ElastiCache {props.get('Engine', '')}, {nodes} {TIMES} {props.get('CacheNodeType', '?')}{az}"


def _lambda(inventory: Inventory, resources: Sequence[Resource]) -> str:
    props = resources[0].properties
    return f"{props.get('Runtime', '?')}, {props.get('MemorySize', 128)} MB"


def _stream(inventory: Inventory, resources: Sequence[Resource]) -> str:
    props = resources[0].properties
    mode = props.get("StreamModeDetails", {}).get("StreamMode", "PROVISIONED")
    return "on demand" if mode == "ON_DEMAND" else f"{props.get('ShardCount', 1)} shards"


def _table(inventory: Inventory, resources: Sequence[Resource]) -> str:
    mode = resources[0].properties.get("BillingMode", "PROVISIONED")
    return "on demand" if mode == "PAY_PER_REQUEST" else "provisioned, auto scaling"


_DETAILS: dict[str, Callable[[Inventory, Sequence[Resource]], str]] = {
    "AWS::EC2::Instance": lambda inv, rs: f"EC2 {rs[0].properties.get('InstanceType', '?')}, web + app in one",
    "AWS::AutoScaling::AutoScalingGroup": lambda inv, rs: _group_size(inv, rs[0]),
    "AWS::ElasticLoadBalancingV2::LoadBalancer": lambda inv, rs: (
        f"ALB, {rs[0].properties.get('Scheme', 'internet-facing')}"
    ),
    "AWS::RDS::DBInstance": _database,
    "AWS::ElastiCache::ReplicationGroup": _cache,
    "AWS::WAFv2::WebACL": lambda inv, rs: f"WAF: {len(rs[0].properties.get('Rules', []))} rule groups",
    "AWS::ECS::Service": _service,
    "AWS::Lambda::Function": _lambda,
    "AWS::Kinesis::Stream": _stream,
    "AWS::DynamoDB::Table": _table,
}


def _detail(role: Role, resources: Sequence[Resource], inventory: Inventory) -> str:
    describe = _DETAILS.get(role.type)
    return describe(inventory, resources) if describe and resources else ""
