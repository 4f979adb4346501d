"""What each drawn resource is for, in words a reader knows: the roles of roles.toml, and who sends to whom.

A role groups the resources that do one job ("read replicas", "MySQL shards") into one node of a
stage's overview picture, and names each of them for the detailed picture. A resource is matched
by its CloudFormation type and its stable name (the logical ID without CDK's hash); a drawn
resource that no role matches stops the docs build, so a new kind of resource gets a name before
it gets a picture."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from enum import Enum
from functools import cache
from pathlib import Path

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
    """A drawn resource that no role in roles.toml describes."""


ROLES_FILE = Path(__file__).with_name("roles.toml")


def load_roles(path: Path) -> tuple[Role, ...]:
    roles = []
    for entry in tomllib.loads(path.read_text())["roles"]:
        fields = dict(entry)
        try:
            fields["lane"] = Lane(fields.get("lane"))
            fields["flow"] = Flow(fields.get("flow", Flow.NONE.value))
            roles.append(Role(**fields))
        except (TypeError, ValueError) as error:
            lanes = ", ".join(lane.value for lane in Lane)
            raise ValueError(f"{path.name}: role {entry}: {error} (lanes: {lanes})") from None
    return tuple(roles)


ROLES = load_roles(ROLES_FILE)

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
            f"{resource_type} {name} has no role: add one to tools/docs/roles.toml (its overview title, "
            "its name on the detailed picture and where it is drawn)"
        )
    if len(found) > 1:
        raise UnnamedRole(f"{resource_type} {name} matches roles {[r.key for r, _ in found]} in tools/docs/roles.toml")
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
