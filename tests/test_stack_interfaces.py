"""Stacks talk to each other through narrow, declared values, never through each other's
constructs. Two AST checks over scaling_stacks/, each shown to catch a planted bad case:

- A stack declares its public interface as class-level annotations, and sets each of those
  attributes in its `__init__` (unconditionally at least once) and nowhere else; it has no
  other public attribute and no public property.
- Code that holds another stack (a parameter, field or local typed or built as a stack) reads
  only attributes that stack declares, and from such a value goes at most one construct deep:
  `async_layer.post_queue.queue_url` (a queue's URL) is fine; `network.network.data_subnets`
  (an undeclared construct), `compute.site_load_balancer.listener` (an attribute of one of our
  own constructs, whose methods alone are its interface) and `data.primary.instance.node.id`
  (through a construct into another) are not. Frozen dataclasses of values are walked through.
"""

from __future__ import annotations

import ast
import dataclasses
import importlib
import inspect
import pkgutil
import textwrap
import types
import typing
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import aws_cdk as cdk
import constructs
import pytest

import scaling_stacks

STACKS_DIR = Path(scaling_stacks.__file__).resolve().parent
_ELEMENT = "[]"


def _stack_modules() -> list[types.ModuleType]:
    return [importlib.import_module(f"scaling_stacks.{info.name}") for info in pkgutil.iter_modules([str(STACKS_DIR)])]


def stack_classes() -> dict[str, type[cdk.Stack]]:
    found: dict[str, type[cdk.Stack]] = {}
    for module in _stack_modules():
        for name, value in vars(module).items():
            if inspect.isclass(value) and issubclass(value, cdk.Stack) and value.__module__ == module.__name__:
                found[name] = value
    return found


# --- a stack's own attributes -------------------------------------------------------------


def _self_targets(node: ast.AST) -> Iterator[tuple[str, ast.AST]]:
    """Names of `self.<name>` assigned by an assignment statement."""
    targets: list[ast.expr] = []
    if isinstance(node, ast.Assign):
        targets = list(node.targets)
    elif isinstance(node, ast.AnnAssign | ast.AugAssign):
        targets = [node.target]
    while targets:
        target = targets.pop()
        if isinstance(target, ast.Tuple | ast.List):
            targets.extend(target.elts)
        elif isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name) and target.value.id == "self":
            yield target.attr, target


def stack_attribute_problems(source: str, stack_names: set[str]) -> list[str]:
    """Problems with the public attributes of each stack class (a class whose bases name
    `cdk.Stack` or another stack) in `source`."""
    problems: list[str] = []
    for cls in ast.walk(ast.parse(source)):
        if not isinstance(cls, ast.ClassDef) or not any(
            ast.unparse(base) in {"cdk.Stack", *stack_names} for base in cls.bases
        ):
            continue
        declared = {
            stmt.target.id
            for stmt in cls.body
            if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name) and stmt.target.id[0] != "_"
        }
        init_top_level: set[str] = set()
        for method in cls.body:
            if not isinstance(method, ast.FunctionDef):
                continue
            if not method.name.startswith("_") and any(ast.unparse(d) == "property" for d in method.decorator_list):
                problems.append(f"{cls.name}.{method.name} is a public property, not a value set in __init__")
            if method.name == "__init__":
                init_top_level = {name for stmt in method.body for name, _ in _self_targets(stmt)}
            for node in ast.walk(method):
                for name, target in _self_targets(node):
                    if name.startswith("_"):
                        continue
                    if method.name != "__init__":
                        problems.append(
                            f"{cls.name}.{name} is set in {method.name}, not in __init__ (line {target.lineno})"
                        )
                    elif name not in declared:
                        problems.append(f"{cls.name}.{name} is public but not declared on the class")
        problems.extend(
            f"{cls.name}.{name} is declared but not set unconditionally in __init__"
            for name in sorted(declared - init_top_level)
        )
    return problems


# --- reaching into other stacks ---------------------------------------------------------


@dataclass(frozen=True)
class _Ref:
    """A value reached from another stack: the stack's class and the path to it."""

    stack: type[cdk.Stack]
    path: tuple[str, ...] = ()


@dataclass
class _Scope:
    names: dict[str, _Ref] = field(default_factory=dict)
    self_attrs: dict[str, _Ref] = field(default_factory=dict)


def _unwrap_optional(hint: object) -> object:
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        rest = [arg for arg in typing.get_args(hint) if arg is not type(None)]
        return rest[0] if len(rest) == 1 else hint
    return hint


def _element(hint: object) -> object:
    args = typing.get_args(_unwrap_optional(hint))
    return args[0] if args else object


def _kind(hint: object) -> str:
    hint = _unwrap_optional(hint)
    if not inspect.isclass(hint):
        return "value"
    mro = hint.__mro__
    if constructs.Construct in mro or constructs.IConstruct in mro:
        return "ours" if hint.__module__.startswith("constructs_lib") else "construct"
    return "dataclass" if dataclasses.is_dataclass(hint) else "value"


def path_problem(ref: _Ref, called: bool) -> str | None:
    """Why reading `ref.path` (then calling it, when `called`) reaches through a construct."""
    stack, path = ref.stack, list(ref.path)
    if not path:
        return None
    first = path[0]
    hints = typing.get_type_hints(stack)
    if first not in hints:
        if first in dir(cdk.Stack) and not first.startswith("_"):
            return None
        return f"{stack.__name__}.{first} is not a value {stack.__name__} declares"
    hint: object = hints[first]
    shown = f"{stack.__name__}.{first}"
    rest = path[1:]
    for index, step in enumerate(rest):
        last = index == len(rest) - 1
        if step == _ELEMENT:
            hint = _element(hint)
            shown += "[]"
            continue
        kind = _kind(hint)
        if kind == "ours":
            return None if last and called else f"reads {step} of {shown}, a construct of the other stack"
        if kind == "construct":
            return None if last else f"goes through {shown}.{step}, past a construct of the other stack"
        if kind != "dataclass":
            return None
        hint = typing.get_type_hints(_unwrap_optional(hint)).get(step, object)
        shown += f".{step}"
    return None


def _annotation_stack(annotation: ast.expr | None, stacks: dict[str, type[cdk.Stack]]) -> type[cdk.Stack] | None:
    if annotation is None:
        return None
    text = annotation.value if isinstance(annotation, ast.Constant) else ast.unparse(annotation)
    names = {node.id for node in ast.walk(ast.parse(str(text), mode="eval")) if isinstance(node, ast.Name)}
    found = [stacks[name] for name in names if name in stacks]
    return found[0] if len(found) == 1 else None


class _ChainChecker:
    def __init__(self, stacks: dict[str, type[cdk.Stack]]) -> None:
        self.stacks = stacks
        self.problems: list[str] = []

    def resolve(self, node: ast.expr, scope: _Scope) -> _Ref | None:
        """The other-stack value `node` denotes, if any."""
        if isinstance(node, ast.Name):
            return scope.names.get(node.id)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in self.stacks:
            return _Ref(self.stacks[node.func.id])
        if isinstance(node, ast.Attribute):
            if isinstance(node.value, ast.Name) and node.value.id == "self" and node.attr in scope.self_attrs:
                return scope.self_attrs[node.attr]
            base = self.resolve(node.value, scope)
            return _Ref(base.stack, (*base.path, node.attr)) if base else None
        return None

    def bind(self, target: ast.expr, value: _Ref | None, scope: _Scope, *, element: bool = False) -> None:
        if value is None:
            return
        ref = _Ref(value.stack, (*value.path, _ELEMENT)) if element else value
        if isinstance(target, ast.Name):
            scope.names[target.id] = ref
        elif isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name) and target.value.id == "self":
            scope.self_attrs[target.attr] = ref

    def iterated(self, node: ast.expr, scope: _Scope) -> tuple[_Ref | None, bool]:
        """What a loop over `node` yields: elements of a value, or (index, element) of `enumerate`."""
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "enumerate":
            return self.resolve(node.args[0], scope), True
        return self.resolve(node, scope), False

    def bind_loop(self, target: ast.expr, iterable: ast.expr, scope: _Scope) -> None:
        ref, enumerated = self.iterated(iterable, scope)
        if enumerated and isinstance(target, ast.Tuple) and len(target.elts) == 2:
            target = target.elts[1]
        self.bind(target, ref, scope, element=True)

    def check_function(self, function: ast.FunctionDef, self_attrs: dict[str, _Ref], where: str) -> None:
        scope = _Scope(self_attrs=dict(self_attrs))
        arguments = function.args
        for arg in [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs]:
            stack = _annotation_stack(arg.annotation, self.stacks)
            if stack is not None:
                scope.names[arg.arg] = _Ref(stack)
        # Statements in source order, so a binding precedes its uses.
        for node in sorted(ast.walk(function), key=lambda n: (getattr(n, "lineno", 0), getattr(n, "col_offset", 0))):
            if isinstance(node, ast.Assign):
                for target in node.targets:
                    if isinstance(target, ast.Attribute) and self.resolve(target.value, scope) is not None:
                        self.problems.append(f"{where}: sets {ast.unparse(target)} on another stack")
                    self.bind(target, self.resolve(node.value, scope), scope)
            elif isinstance(node, ast.AnnAssign):
                self.bind(node.target, self.resolve(node.value, scope) if node.value else None, scope)
            elif isinstance(node, ast.For | ast.comprehension):
                self.bind_loop(node.target, node.iter, scope)
        self.check_reads(function, scope, where)

    def check_reads(self, function: ast.FunctionDef, scope: _Scope, where: str) -> None:
        called = {id(node.func) for node in ast.walk(function) if isinstance(node, ast.Call)}
        inner = {id(node.value) for node in ast.walk(function) if isinstance(node, ast.Attribute)}
        for node in ast.walk(function):
            # Only the outermost attribute of each chain: its path contains the inner ones.
            if not isinstance(node, ast.Attribute) or id(node) in inner:
                continue
            ref = self.resolve(node, scope)
            problem = path_problem(ref, id(node) in called) if ref else None
            if problem:
                self.problems.append(f"{where}, line {node.lineno}: {ast.unparse(node)} {problem}")

    def check_module(self, source: str, name: str) -> list[str]:
        tree = ast.parse(source)
        for node in tree.body:
            if isinstance(node, ast.FunctionDef):
                self.check_function(node, {}, f"{name}.{node.name}")
            elif isinstance(node, ast.ClassDef):
                self.check_class(node, name)
        return self.problems

    def check_class(self, cls: ast.ClassDef, name: str) -> None:
        self_attrs: dict[str, _Ref] = {}
        for stmt in cls.body:
            if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
                stack = _annotation_stack(stmt.annotation, self.stacks)
                if stack is not None:
                    self_attrs[stmt.target.id] = _Ref(stack)
        methods = [stmt for stmt in cls.body if isinstance(stmt, ast.FunctionDef)]
        # `self._x = <another stack>` in any method makes `self._x` that stack in all of them.
        for method in methods:
            params = {
                arg.arg: _Ref(stack)
                for arg in [*method.args.args, *method.args.kwonlyargs]
                if (stack := _annotation_stack(arg.annotation, self.stacks)) is not None
            }
            for node in ast.walk(method):
                if isinstance(node, ast.Assign) and isinstance(node.value, ast.Name) and node.value.id in params:
                    for target in node.targets:
                        self.bind(target, params[node.value.id], _Scope(self_attrs=self_attrs))
                        if isinstance(target, ast.Attribute):
                            self_attrs[target.attr] = params[node.value.id]
        for method in methods:
            self.check_function(method, self_attrs, f"{name}.{cls.name}.{method.name}")


def reach_through_problems(source: str, name: str = "<source>") -> list[str]:
    return _ChainChecker(stack_classes()).check_module(source, name)


def _stack_sources() -> list[tuple[str, str]]:
    return [(path.stem, path.read_text()) for path in sorted(STACKS_DIR.glob("*.py"))]


def test_every_public_stack_attribute_is_declared_and_set_in_init() -> None:
    names = set(stack_classes())
    assert {"NetworkStack", "DataStack", "ComputeStack", "AsyncStack", "EdgeStack"} <= names
    problems = [problem for _, source in _stack_sources() for problem in stack_attribute_problems(source, names)]
    assert problems == []


def test_no_stack_reaches_through_another_stacks_constructs() -> None:
    problems = [problem for name, source in _stack_sources() for problem in reach_through_problems(source, name)]
    assert problems == []


def test_the_attribute_check_catches_attributes_set_elsewhere() -> None:
    source = textwrap.dedent(
        """
        class Bad(cdk.Stack):
            vpc: ec2.IVpc
            box: Box | None

            def __init__(self) -> None:
                if flag:
                    self.box = None
                self.undeclared = 1
                self._private = 2
                self._helper()

            def _helper(self) -> None:
                self.late = 3

            @property
            def subnets(self) -> int:
                return 4
        """
    )
    assert stack_attribute_problems(source, set()) == [
        "Bad.undeclared is public but not declared on the class",
        "Bad.late is set in _helper, not in __init__ (line 14)",
        "Bad.subnets is a public property, not a value set in __init__",
        "Bad.box is declared but not set unconditionally in __init__",
        "Bad.vpc is declared but not set unconditionally in __init__",
    ]


@pytest.mark.parametrize(
    ("code", "problem"),
    [
        ("network.network.data_subnets", "NetworkStack.network is not a value NetworkStack declares"),
        ("network._secret_thing", "NetworkStack._secret_thing is not a value NetworkStack declares"),
        ("async_layer.events.topic.topic_arn", "reads topic of AsyncStack.events, a construct of the other stack"),
        ("compute.site_load_balancer.listener", "reads listener of ComputeStack.site_load_balancer"),
        ("data.primary.instance.node.id", "goes through DataStack.primary.instance.node, past a construct"),
        ("network.vpc.vpc_default_security_group.x", "goes through NetworkStack.vpc.vpc_default_security_group"),
    ],
)
def test_the_reach_check_catches_chains_through_constructs(code: str, problem: str) -> None:
    source = textwrap.dedent(
        f"""
        def wire(network: NetworkStack, data: DataStack, compute: ComputeStack, async_layer: AsyncStack | None):
            return {code}
        """
    )
    problems = reach_through_problems(source)
    assert len(problems) == 1 and problem in problems[0], problems


def test_the_reach_check_follows_locals_loops_fields_and_private_attributes() -> None:
    source = textwrap.dedent(
        """
        def by_local(compute: ComputeStack) -> None:
            site = compute.site_load_balancer
            site.route(scope, "Route", paths=[])
            return site.listener

        def by_loop(data: DataStack) -> list[str]:
            for index, shard in enumerate(data.shards):
                shard.instance.node.id
            return [shard.instance.instance_identifier for shard in data.shards]

        def by_construction(app) -> None:
            network = NetworkStack(app, "network")
            network.network.vpc
            network.logs = None

        @dataclass
        class Holder:
            cache: CacheStack | None

            def read(self) -> str:
                return self.cache.auth_secret.node.id

        class Keeper:
            def __init__(self, async_layer: AsyncStack) -> None:
                self._async = async_layer

            def send(self, role) -> None:
                self._async.post_queue.grant_send_messages(role)
                self._async.activity.stream.grant(role)
        """
    )
    problems = reach_through_problems(source)
    assert len(problems) == 6, problems
    expected = [
        "by_local, line 5: site.listener reads listener of ComputeStack.site_load_balancer",
        "by_loop, line 9: shard.instance.node.id goes through DataStack.shards[].instance.node",
        "by_construction: sets network.logs on another stack",
        "by_construction, line 14: network.network.vpc NetworkStack.network is not a value",
        "Holder.read, line 22: self.cache.auth_secret.node.id goes through CacheStack.auth_secret.node",
        "Keeper.send, line 30: self._async.activity.stream.grant reads stream of AsyncStack.activity",
    ]
    for fragment in expected:
        assert any(fragment in problem for problem in problems), (fragment, problems)


def test_the_reach_check_allows_one_hop_into_a_construct_and_methods_of_ours() -> None:
    source = textwrap.dedent(
        """
        def fine(network: NetworkStack, data: DataStack, async_layer: AsyncStack, compute: ComputeStack) -> None:
            network.vpc.availability_zones
            async_layer.post_queue.queue_url
            async_layer.events.grant_publish(role)
            data.primary.instance.db_instance_endpoint_address
            data.primary.app_secret.grant_read(role)
            compute.site_load_balancer.hold_for(scope, "Hold", priority=1)
            network.stack_name
        """
    )
    assert reach_through_problems(source) == []
