"""Availability windows: replays `cdk deploy --all` stack by stack and asks, at every step,
whether a viewer still reaches a healthy origin along DNS -> CloudFront -> origin -> target.

While stack S deploys, the stacks before it run their new templates and the stacks after it
their old ones. CloudFormation creates and updates S's resources in dependency order and
deletes what S drops last, in its clean-up. Three things break a viewer's path:

- a stack deletes or replaces a resource (or narrows a security group's ingress) that a
  serving resource of a later stack (a DNS record, a distribution, a listener) still reaches
  through its old template: the path is gone until that later stack deploys;
- a listener or rule forwards to a target group before anything fills it (an Auto Scaling
  group or ECS service that is not created first), or after what filled it is gone;
- a DNS record moves while the old target it named closes: resolvers keep the old answer for
  up to the record's TTL. That gap is AWS's to bound, not ours to close: it is reported
  apart, with its bound.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from tools.stage_plan.intrinsics import normalize, referenced_resources, stack_outputs_read
from tools.stage_plan.model import BoundedGap, Finding, OutageWindow

Template = Mapping[str, Any]
Node = tuple[str, str]  # (stack, logical id)

SERVING_TYPES = frozenset(
    {
        "AWS::Route53::RecordSet",
        "AWS::CloudFront::Distribution",
        "AWS::CloudFront::VpcOrigin",
        "AWS::ElasticLoadBalancingV2::Listener",
        "AWS::ElasticLoadBalancingV2::ListenerRule",
    }
)
# What a request crosses: the closure of a serving resource follows references into these
# only (an instance's role or a listener's log bucket does not carry requests).
PATH_TYPES = SERVING_TYPES | {
    "AWS::EC2::EIP",
    "AWS::EC2::Instance",
    "AWS::EC2::SecurityGroup",
    "AWS::ElasticLoadBalancingV2::LoadBalancer",
    "AWS::ElasticLoadBalancingV2::TargetGroup",
    "AWS::AutoScaling::AutoScalingGroup",
    "AWS::ECS::Service",
}
_ROUTE_TYPES = {
    "AWS::ElasticLoadBalancingV2::Listener": "DefaultActions",
    "AWS::ElasticLoadBalancingV2::ListenerRule": "Actions",
}
_SECURITY_GROUP = "AWS::EC2::SecurityGroup"
_INGRESS = "AWS::EC2::SecurityGroupIngress"


def _resources(template: Template | None) -> Mapping[str, Any]:
    return (template or {}).get("Resources", {})


class _State:
    """The templates running at one moment of the deploy, and the references between their resources."""

    def __init__(self, templates: Mapping[str, Template]) -> None:
        self.templates = templates

    def resource(self, node: Node) -> Mapping[str, Any] | None:
        return _resources(self.templates.get(node[0])).get(node[1])

    def refs(self, stack: str, value: Any) -> set[Node]:
        """Resources a value refers to: in its own stack, and through weak references in others."""
        found = {(stack, name) for name in referenced_resources(value) if name in _resources(self.templates.get(stack))}
        for producer, output in stack_outputs_read(value):
            produced = self.templates.get(producer, {}).get("Outputs", {}).get(output, {}).get("Value")
            found |= {
                (producer, name)
                for name in referenced_resources(produced)
                if name in _resources(self.templates.get(producer))
            }
        return found

    def depends_on(self, node: Node) -> set[Node]:
        resource = self.resource(node) or {}
        depends = resource.get("DependsOn", [])
        explicit = {(node[0], name) for name in ([depends] if isinstance(depends, str) else depends)}
        return self.refs(node[0], resource.get("Properties", {})) | explicit

    def closure(self, node: Node) -> set[Node]:
        """`node` and every resource on a request's path that it depends on."""
        seen, todo = {node}, [node]
        while todo:
            for found in self.depends_on(todo.pop()) - seen:
                if (self.resource(found) or {}).get("Type") not in PATH_TYPES:
                    continue
                seen.add(found)
                todo.append(found)
        return seen

    def serving(self) -> Iterator[Node]:
        for stack, template in self.templates.items():
            for logical_id, resource in _resources(template).items():
                if resource["Type"] in SERVING_TYPES:
                    yield stack, logical_id


def _ingress(stack: str, template: Template | None, state: _State) -> dict[Node, set[str]]:
    """Ingress rules by the security group they open: inline ones and stand-alone ones."""
    rules: dict[Node, set[str]] = {}
    for logical_id, resource in _resources(template).items():
        properties = resource.get("Properties", {})
        if resource["Type"] == _SECURITY_GROUP:
            for rule in properties.get("SecurityGroupIngress", []):
                rules.setdefault((stack, logical_id), set()).add(repr(normalize(rule)))
        elif resource["Type"] == _INGRESS:
            for group in state.refs(stack, properties.get("GroupId")):
                rules.setdefault(group, set()).add(f"{stack}/{logical_id}")
    return rules


@dataclass(frozen=True)
class _Closing:
    """What one stack's deploy takes away: resources it deletes or replaces, groups it narrows."""

    gone: Mapping[Node, str]

    @classmethod
    def of(
        cls, stack: str, old: Template | None, new: Template | None, replaced: set[str], before: _State, after: _State
    ) -> _Closing:
        """`before` and `after` resolve the old and the new template's references."""
        gone = {(stack, i): "deleted" for i in set(_resources(old)) - set(_resources(new))}
        gone |= {(stack, i): "replaced" for i in replaced}
        old_rules, new_rules = _ingress(stack, old, before), _ingress(stack, new, after)
        for group, rules in old_rules.items():
            if rules - new_rules.get(group, set()):
                gone.setdefault(group, "narrowed (ingress removed)")
        return cls(gone)


def _record_ttl(resource: Mapping[str, Any]) -> int | None:
    properties = resource.get("Properties", {})
    ttl = properties.get("TTL")
    return None if "AliasTarget" in properties or ttl is None else int(ttl)


def _forwarded(actions: Any) -> list[Any]:
    """Target group values an action list forwards to with a weight above zero."""
    found = []
    for action in actions or []:
        if action.get("Type") != "forward":
            continue
        if "TargetGroupArn" in action:
            found.append(action["TargetGroupArn"])
        for group in action.get("ForwardConfig", {}).get("TargetGroups", []):
            if int(group.get("Weight", 1)) > 0:
                found.append(group["TargetGroupArn"])
    return found


def _fillers(state: _State, group: Node) -> set[Node]:
    """What puts targets into a target group: its own Targets, an Auto Scaling group, an ECS service."""
    found: set[Node] = set()
    resource = state.resource(group)
    if resource and resource.get("Properties", {}).get("Targets"):
        found.add(group)
    for stack, template in state.templates.items():
        for logical_id, other in _resources(template).items():
            properties = other.get("Properties", {})
            if other["Type"] == "AWS::AutoScaling::AutoScalingGroup":
                values = properties.get("TargetGroupARNs", [])
            elif other["Type"] == "AWS::ECS::Service":
                values = [balancer.get("TargetGroupArn") for balancer in properties.get("LoadBalancers", [])]
            else:
                continue
            if any(group in state.refs(stack, value) for value in values):
                found.add((stack, logical_id))
    return found


def _name(node: Node) -> str:
    return f"{node[0]}/{node[1]}"


def analyse(
    before: Mapping[str, Template],
    after: Mapping[str, Template],
    order: tuple[str, ...],
    replaced: Mapping[str, set[str]],
) -> tuple[list[OutageWindow], list[BoundedGap], list[Finding]]:
    windows: list[OutageWindow] = []
    gaps: list[BoundedGap] = []
    old_state, new_state = _State(before), _State(after)
    for index, stack in enumerate(order):
        running = {**before, **{name: after[name] for name in order[:index]}}
        # While `stack` deploys its old resources still exist; once it is done, only its new ones.
        finished = _State({**running, stack: after[stack]})
        closing = _Closing.of(stack, before.get(stack), after[stack], replaced.get(stack, set()), old_state, new_state)
        windows += _stale_paths(stack, index, order, closing, old_state, finished, before, after)
        gaps += _ttl_gaps(stack, closing, old_state, before, after)
        windows += _routes_before_targets(stack, before.get(stack), after[stack], finished, _State(running))
        windows += _routes_left_empty(stack, finished)
    return _unique(windows), gaps, list(_address_changes(before, after))


def _stale_paths(
    stack: str,
    index: int,
    order: tuple[str, ...],
    closing: _Closing,
    old_state: _State,
    finished: _State,
    before: Mapping[str, Template],
    after: Mapping[str, Template],
) -> Iterator[OutageWindow]:
    """What this stack closes that serving resources of later stacks still reach through their old templates."""
    later = set(order[index + 1 :]) | (set(before) - set(after))
    readers: dict[Node, list[Node]] = {}
    for reader in old_state.serving():
        if reader[0] in later:
            for node in _stale_reach(reader, later, old_state, finished, closing.gone):
                readers.setdefault(node, []).append(reader)
    for node, users in sorted(readers.items()):
        names = ", ".join(_name(user) for user in sorted(users))
        stacks = sorted({user[0] for user in users})
        until = " and ".join(f"{name} deploys" if name in after else f"{name} is destroyed" for name in stacks)
        yield OutageWindow(
            stack=stack,
            resource=_name(node),
            cause=f"{closing.gone[node]} while {names} still use it",
            message=f"{stack} {closing.gone[node].split(' ')[0]} {_name(node)}, which {names} still reach through "
            f"their old templates: viewers on that path get no answer until {until}. Move the path first and "
            "close the old one in a later deploy.",
        )


def _stale_reach(
    reader: Node, later: set[str], old_state: _State, finished: _State, gone: Mapping[Node, str]
) -> set[Node]:
    """What of `gone` the path from `reader` still reaches. A resource of a stack that has not
    deployed yet refers to what its old template named; one of a stack that has deployed (or is
    deploying) refers to what its new template names, since CloudFormation repoints it within
    that deploy (an Elastic IP moves to the box that replaces the old one before the old one
    goes). A narrowed security group cuts the path whoever refers to it."""
    seen, todo, stale = {reader}, [reader], set()
    while todo:
        node = todo.pop()
        state = old_state if node[0] in later else finished
        for found in state.depends_on(node) - seen:
            if (state.resource(found) or {}).get("Type") not in PATH_TYPES:
                continue
            seen.add(found)
            todo.append(found)
            if found in gone and (node[0] in later or gone[found].startswith("narrowed")):
                stale.add(found)
    return stale


def _ttl_gaps(
    stack: str, closing: _Closing, old_state: _State, before: Mapping[str, Template], after: Mapping[str, Template]
) -> Iterator[BoundedGap]:
    """A record this stack repoints keeps its old answer in resolvers for its TTL: what it reached must outlive it."""
    for record_id, old in _resources(before.get(stack)).items():
        new = _resources(after.get(stack)).get(record_id)
        ttl = _record_ttl(old)
        if old["Type"] != "AWS::Route53::RecordSet" or ttl is None or (new and normalize(new) == normalize(old)):
            continue
        reached = old_state.closure((stack, record_id)) & set(closing.gone)
        for node in sorted(reached):
            yield BoundedGap(
                stack=stack,
                resource=_name(node),
                cause=f"DNS TTL of {record_id}",
                bound_seconds=ttl,
                message=f"{stack} moves record {record_id} and {closing.gone[node].split(' ')[0]} {_name(node)}, "
                f"which its old answer reached: resolvers that cached that answer keep it for up to {ttl} s "
                "(the record's TTL, plus Route 53's propagation, usually under 60 s).",
            )


def _routes(template: Template | None) -> Iterator[tuple[str, Any]]:
    for logical_id, resource in _resources(template).items():
        key = _ROUTE_TYPES.get(resource["Type"])
        if key:
            yield logical_id, resource.get("Properties", {}).get(key)


def _routes_before_targets(
    stack: str, old: Template | None, new: Template, during: _State, running: _State
) -> Iterator[OutageWindow]:
    """A route this stack creates or changes needs a target group something has already filled:
    `running` is the app before this stack deploys, `during` with this stack's new template."""
    old_routes = dict(_routes(old))
    for logical_id, actions in _routes(new):
        if logical_id in old_routes and normalize(old_routes[logical_id]) == normalize(actions):
            continue
        route = (stack, logical_id)
        first = during.closure(route)
        for value in _forwarded(actions):
            for group in during.refs(stack, value):
                ready = [
                    filler
                    for filler in _fillers(during, group)
                    if filler[0] != stack or filler in first or running.resource(filler) is not None
                ]
                if not ready:
                    yield OutageWindow(
                        stack=stack,
                        resource=_name(route),
                        cause=f"routes to {_name(group)} before anything fills it",
                        message=f"{_name(route)} forwards to target group {_name(group)}, but no Auto Scaling group, "
                        "ECS service or target list fills it before the route exists: those requests get 503 until "
                        "targets register and pass their health checks (or for good if they never do). Create the "
                        "route after what fills the group (DependsOn), or shift weight to it gradually.",
                    )


def _routes_left_empty(stack: str, finished: _State) -> Iterator[OutageWindow]:
    """After this stack's clean-up, every route anywhere still needs something filling its groups."""
    for name, template in finished.templates.items():
        for logical_id, actions in _routes(template):
            for value in _forwarded(actions):
                for group in finished.refs(name, value):
                    if not _fillers(finished, group):
                        yield OutageWindow(
                            stack=stack,
                            resource=f"{name}/{logical_id}",
                            cause=f"routes to {_name(group)}, which nothing fills",
                            message=f"once {stack} has deployed, {name}/{logical_id} forwards to {_name(group)}, "
                            "which no Auto Scaling group, ECS service or target list fills: those requests get 503.",
                        )


def _opens_to_everyone(resource: Mapping[str, Any]) -> bool:
    properties = resource.get("Properties", {})
    if resource["Type"] == _INGRESS:
        return properties.get("CidrIp") == "0.0.0.0/0"
    rules = properties.get("SecurityGroupIngress", []) if resource["Type"] == _SECURITY_GROUP else []
    return any(rule.get("CidrIp") == "0.0.0.0/0" for rule in rules)


def _public_ingress(templates: Mapping[str, Template]) -> set[str]:
    return {
        f"{stack}/{logical_id}"
        for stack, template in templates.items()
        for logical_id, resource in _resources(template).items()
        if _opens_to_everyone(resource)
    }


def _address_changes(before: Mapping[str, Template], after: Mapping[str, Template]) -> Iterator[Finding]:
    """Without a DNS record the site's address is the box itself: closing it changes the address, not just the path."""
    records = [r for t in before.values() for r in _resources(t).values() if r["Type"] == "AWS::Route53::RecordSet"]
    closed = _public_ingress(before) - _public_ingress(after)
    if closed and not records:
        yield Finding(
            "warning",
            "address-change",
            sorted(closed)[0].split("/")[0],
            ", ".join(sorted(closed)),
            "the site has no DNS name (domain_name is unset), so viewers use the public address this deploy "
            f"closes ({', '.join(sorted(closed))}); they must move to the new address (the CloudFront domain). "
            "Set domain_name to move them with a DNS record instead.",
        )


def _unique(windows: list[OutageWindow]) -> list[OutageWindow]:
    return list(dict.fromkeys(windows))
