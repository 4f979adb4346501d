"""What each drawn resource is for, in words a reader knows: the table of roles, kept as data.

A role groups the resources that do one job ("read replicas", "MySQL shards") into one node of a
stage's overview picture, and names each of them for the detailed picture. A resource is matched
by its CloudFormation type and its stable name (the logical ID without CDK's hash); a drawn
resource that no role matches stops the docs build, so a new kind of resource gets a name before
it gets a picture."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum
from functools import cache

from tools.docs.catalog import service_of
from tools.docs.inventory import Resource

# The multiplication sign and the en dash of the node labels ("read replicas x2", "2-6 x t4g.small").
TIMES = "\u00d7"
EN_DASH = "\u2013"


class Lane(Enum):
    """Where a role is drawn on the overview."""

    EDGE = "edge"
    REQUEST = "request"
    ASYNC = "async"
    DATA = "data"
    OPERATIONS = "operations"
    # Left out of the overview and listed on the page.
    SUPPORTING = "supporting"


class Flow(Enum):
    """What a role does on a path, which decides who it may send to (see SENDS_TO)."""

    DNS = "dns"
    CDN = "cdn"
    BALANCER = "balancer"
    COMPUTE = "compute"
    TOPIC = "topic"
    STREAM = "stream"
    QUEUE = "queue"
    WORKER = "worker"
    DEAD_LETTER = "dead letter"
    STORE = "store"
    NONE = "none"


# Who sends to whom. Two resources that share a role or a grant are joined in the templates in
# both directions; only these directions are drawn (a topic never writes to a database).
SENDS_TO: dict[Flow, frozenset[Flow]] = {
    Flow.DNS: frozenset({Flow.CDN, Flow.BALANCER, Flow.COMPUTE}),
    Flow.CDN: frozenset({Flow.BALANCER, Flow.COMPUTE, Flow.STORE}),
    Flow.BALANCER: frozenset({Flow.COMPUTE}),
    Flow.COMPUTE: frozenset({Flow.BALANCER, Flow.COMPUTE, Flow.TOPIC, Flow.STREAM, Flow.QUEUE, Flow.STORE}),
    Flow.TOPIC: frozenset({Flow.QUEUE, Flow.WORKER}),
    Flow.STREAM: frozenset({Flow.WORKER}),
    Flow.QUEUE: frozenset({Flow.WORKER, Flow.DEAD_LETTER}),
    Flow.WORKER: frozenset({Flow.DEAD_LETTER, Flow.STORE}),
}


@dataclass(frozen=True, kw_only=True)
class Role:
    key: str
    type: str
    # Regular expression the whole stable name must match; its groups fill `one`.
    name: str
    # The overview's node title; "xN" (with TIMES) is appended when the role has more than one resource.
    title: str
    # One resource's name on the detailed picture, e.g. "read replica {0}".
    one: str
    lane: Lane
    flow: Flow = Flow.NONE
    # Order along the request path, left to right; arrows are drawn from lower to higher.
    rank: float = 0
    # The role this one is drawn beside when nothing on the path points at it.
    beside: str | None = None

    def matches(self, resource_type: str, name: str) -> re.Match[str] | None:
        return re.fullmatch(self.name, name) if resource_type == self.type else None


class UnnamedRole(LookupError):
    """A drawn resource that no role in ROLES describes."""


def _role(key: str, type_: str, name: str, title: str, one: str, lane: Lane, flow: Flow, rank: float) -> Role:
    return Role(key=key, type=type_, name=name, title=title, one=one, lane=lane, flow=flow, rank=rank)


def _supporting(key: str, type_: str, name: str, title: str, one: str) -> Role:
    return Role(key=key, type=type_, name=name, title=title, one=one, lane=Lane.SUPPORTING)


_L, _S = Lane, Flow
ROLES: tuple[Role, ...] = (
    # edge
    _role("dns", "AWS::Route53::RecordSet", r".*", "Route 53 DNS record", "DNS record", _L.EDGE, _S.DNS, 1),
    _role("cdn", "AWS::CloudFront::Distribution", r".*", "CloudFront", "CloudFront distribution", _L.EDGE, _S.CDN, 2),
    # The web ACL shares CloudFront's node: it filters every request CloudFront takes.
    _role("cdn", "AWS::WAFv2::WebACL", r".*", "WAF", "WAF web ACL", _L.EDGE, _S.CDN, 2),
    _role(
        "static",
        "AWS::S3::Bucket",
        r"StaticAssetsBucket",
        "static assets (S3)",
        "static assets bucket",
        _L.EDGE,
        _S.STORE,
        3,
    ),
    # request path
    _role(
        "public_lb",
        "AWS::ElasticLoadBalancingV2::LoadBalancer",
        r"PublicLoadBalancer",
        "public load balancer",
        "public load balancer",
        _L.REQUEST,
        _S.BALANCER,
        3,
    ),
    _role("box", "AWS::EC2::Instance", r"BoxInstance", "the single box", "the single box", _L.REQUEST, _S.COMPUTE, 4),
    _role(
        "web_tier",
        "AWS::AutoScaling::AutoScalingGroup",
        r"WebTierGroupASG",
        "web tier",
        "web tier",
        _L.REQUEST,
        _S.COMPUTE,
        4,
    ),
    _role(
        "internal_lb",
        "AWS::ElasticLoadBalancingV2::LoadBalancer",
        r"InternalLoadBalancer",
        "internal load balancer",
        "internal load balancer",
        _L.REQUEST,
        _S.BALANCER,
        5,
    ),
    _role(
        "app_tier",
        "AWS::AutoScaling::AutoScalingGroup",
        r"AppTierGroupASG",
        "app tier",
        "app tier",
        _L.REQUEST,
        _S.COMPUTE,
        6,
    ),
    _role(
        "users_service",
        "AWS::ECS::Service",
        r"UsersService",
        "users service",
        "users service",
        _L.REQUEST,
        _S.COMPUTE,
        6,
    ),
    _role(
        "posts_service",
        "AWS::ECS::Service",
        r"PostsService",
        "posts service",
        "posts service",
        _L.REQUEST,
        _S.COMPUTE,
        6.5,
    ),
    Role(
        key="discovery",
        type="AWS::ServiceDiscovery::PrivateDnsNamespace",
        name=r".*",
        title="Cloud Map service discovery",
        one="Cloud Map namespace",
        lane=_L.REQUEST,
        rank=7,
        beside="users_service",
    ),
    # asynchronous path
    _role(
        "post_topic",
        "AWS::SNS::Topic",
        r"PostEventsTopic",
        "post events topic (SNS)",
        "post events topic",
        _L.ASYNC,
        _S.TOPIC,
        7,
    ),
    _role(
        "activity_stream",
        "AWS::Kinesis::Stream",
        r"ActivityStream",
        "activity stream (Kinesis)",
        "activity stream",
        _L.ASYNC,
        _S.STREAM,
        7,
    ),
    _role(
        "post_queue", "AWS::SQS::Queue", r"PostWorkerQueue", "post queue (SQS)", "post queue", _L.ASYNC, _S.QUEUE, 7.5
    ),
    _role(
        "post_worker",
        "AWS::Lambda::Function",
        r"PostWorkerFunction",
        "post worker (Lambda)",
        "post worker",
        _L.ASYNC,
        _S.WORKER,
        8,
    ),
    _role(
        "activity_consumer",
        "AWS::Lambda::Function",
        r"ActivityConsumerFunction",
        "activity consumer (Lambda)",
        "activity consumer",
        _L.ASYNC,
        _S.WORKER,
        8,
    ),
    _role(
        "dead_letters",
        "AWS::SQS::Queue",
        r"PostWorkerDeadLetterQueue|ActivityFailures",
        "dead-letter queues (SQS)",
        "dead-letter queue",
        _L.ASYNC,
        _S.DEAD_LETTER,
        9,
    ),
    # data
    _role("cache", "AWS::ElastiCache::ReplicationGroup", r".*", "cache", "cache", _L.DATA, _S.STORE, 10),
    _role(
        "primary", "AWS::RDS::DBInstance", r"PrimaryInstance", "MySQL primary", "MySQL primary", _L.DATA, _S.STORE, 11
    ),
    _role(
        "replicas",
        "AWS::RDS::DBInstance",
        r"ReplicasReplica(\d+)",
        "read replicas",
        "read replica {0}",
        _L.DATA,
        _S.STORE,
        11,
    ),
    _role(
        "shards",
        "AWS::RDS::DBInstance",
        r"ShardsShard(\d+)Instance",
        "MySQL shards",
        "MySQL shard {0}",
        _L.DATA,
        _S.STORE,
        11,
    ),
    _role(
        "table",
        "AWS::DynamoDB::Table",
        r"AppTable",
        "DynamoDB table (posts, timelines)",
        "DynamoDB table",
        _L.DATA,
        _S.STORE,
        11,
    ),
    _role("media", "AWS::S3::Bucket", r"MediaBucket", "media bucket (S3)", "media bucket", _L.DATA, _S.STORE, 11),
    # operations: drawn in their own row, without arrows
    _role(
        "dashboard",
        "AWS::CloudWatch::Dashboard",
        r".*",
        "CloudWatch dashboard",
        "CloudWatch dashboard",
        _L.OPERATIONS,
        _S.NONE,
        0,
    ),
    _role(
        "alarm_topic", "AWS::SNS::Topic", r"AlarmsTopic", "alarm topic (SNS)", "alarm topic", _L.OPERATIONS, _S.NONE, 0
    ),
    _role(
        "config",
        "AWS::Config::ConfigurationRecorder",
        r".*",
        "AWS Config recorder",
        "AWS Config recorder",
        _L.OPERATIONS,
        _S.NONE,
        0,
    ),
    # supporting: listed on the page, drawn only on the detailed picture
    _supporting("log_archive", "AWS::S3::Bucket", r"LogArchiveBucket", "log archive bucket", "log archive bucket"),
    _supporting("nat", "AWS::EC2::NatGateway", r".*?(?:Subnet(\d+))?NATGateway", "NAT gateways", "NAT gateway {0}"),
    _supporting("endpoints", "AWS::EC2::VPCEndpoint", r"NetworkVpc(\w+?)Endpoint", "VPC endpoints", "{0} endpoint"),
    _supporting("keys", "AWS::KMS::Key", r"(Alarms|PostEvents)Key", "KMS keys", "{0} key"),
    _supporting(
        "database_secrets",
        "AWS::SecretsManager::Secret",
        r"(Primary|Shards\w+?)InstanceSecret",
        "database credentials",
        "{0} credentials",
    ),
    _supporting(
        "cache_token",
        "AWS::SecretsManager::Secret",
        r"CacheAuthToken",
        "cache auth token",
        "cache auth token",
    ),
    _supporting(
        "origin_secret",
        "AWS::SecretsManager::Secret",
        r"OriginVerifySecret",
        "origin-verify header secret",
        "origin-verify secret",
    ),
    _supporting(
        "deploy_helpers",
        "AWS::Lambda::Function",
        r"Custom\w+|AWS[0-9a-f]{32}",
        "deploy-time helper functions",
        "deploy-time helper function",
    ),
)

_WORDS = {"Primary": "primary", "Alarms": "alarms", "PostEvents": "post events", "SecretsManager": "Secrets Manager"}


def _humane(group: str | None) -> str:
    """A name part from a logical ID ("ShardsShard1", "SecretsManager") in words."""
    if not group:
        return ""
    if group in _WORDS:
        return _WORDS[group]
    shard = re.fullmatch(r"ShardsShard(\d+)", group)
    return f"shard {shard.group(1)}" if shard else group


@cache
def _match(resource_type: str, name: str) -> tuple[Role, str]:
    found = [(role, m) for role in ROLES if (m := role.matches(resource_type, name))]
    if not found:
        raise UnnamedRole(
            f"{resource_type} {name} has no role: add one to ROLES in tools/docs/roles.py (its overview title, "
            "its name on the detailed picture and where it is drawn)"
        )
    if len(found) > 1:
        raise UnnamedRole(f"{resource_type} {name} matches roles {[r.key for r, _ in found]} in tools/docs/roles.py")
    role, match = found[0]
    return role, role.one.format(*(_humane(g) for g in match.groups())).strip()


def role_of(resource: Resource) -> Role:
    return _match(resource.type, resource.name)[0]


def human_name(resource: Resource) -> str:
    """The resource's name on the detailed picture ("read replica 2")."""
    return _match(resource.type, resource.name)[1]


def type_words(resource_type: str) -> str:
    """A resource type the pictures do not draw, in words: "security group ingress", "DB subnet group"."""
    if resource_type.startswith("Custom::"):
        return "custom resource"
    kind = resource_type.split("::")[-1]
    words = re.findall(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]+(?![a-z])|[A-Z][a-z0-9]*", kind)
    return " ".join(w if w.isupper() and len(w) > 1 else w.lower() for w in words)


def supporting_name(resource_type: str) -> str:
    """The same with its service first: "EC2 security group ingress"."""
    return f"{service_of(resource_type)} {type_words(resource_type)}"


def may_send(source: Role, target: Role) -> bool:
    return target.flow in SENDS_TO.get(source.flow, frozenset())
