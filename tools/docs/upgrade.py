"""A picture of one upgrade, from the stage plan's data: which roles it adds, changes and removes,
each with the resources the plan lists, as a Mermaid flowchart (GitHub renders it in Markdown:
on the stage pages and in the pull-request comment)."""

from __future__ import annotations

from dataclasses import dataclass, field

from tools.docs.catalog import Kind, UnknownResourceType, type_info
from tools.docs.inventory import Resource
from tools.docs.roles import ROLES, TIMES, Lane, UnnamedRole, role_of
from tools.stage_plan.model import Plan, ResourceChange

# How the plan's actions read on the picture; a replacement is a change a reader must notice.
_ACTIONS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("adds", "added", ("add",)),
    ("changes", "changed", ("modify", "replace")),
    ("removes", "removed", ("remove",)),
)
_STYLES = {
    "added": "fill:#E6F4EA,stroke:#1E8E3E,stroke-width:2px,color:#202124",
    "changed": "fill:#FEF7E0,stroke:#B06000,stroke-width:2px,color:#202124",
    "removed": "fill:#FCE8E6,stroke:#C5221F,stroke-width:2px,stroke-dasharray:5 3,color:#202124",
}


@dataclass(frozen=True)
class Touched:
    """One node of the picture: a role (or a kind of supporting resource) and what the plan does to it."""

    key: str
    title: str
    supporting: bool
    order: float
    changes: list[ResourceChange] = field(default_factory=list)

    @property
    def label(self) -> str:
        replaced = sum(1 for c in self.changes if c.action == "replace")
        suffix = f", {replaced} replaced" if replaced else ""
        return f"{self.title} {TIMES}{len(self.changes)}{suffix}" if len(self.changes) > 1 or replaced else self.title


@dataclass(frozen=True)
class UpgradePicture:
    title: str
    # By section ("adds", "changes", "removes"): the roles first, then supporting resources.
    sections: dict[str, list[Touched]]

    def resources(self, section: str) -> set[tuple[str, str]]:
        return {(c.stack, c.logical_id) for node in self.sections[section] for c in node.changes}


def _role_title(change: ResourceChange, strict: bool) -> tuple[str, str, float]:
    """(key, title, order) of the node a changed resource belongs to; supporting resources are counted
    by service, after the roles."""
    resource = Resource(change.stack, "", change.logical_id, change.type, {})
    try:
        drawn = type_info(change.type).kind is Kind.COMPONENT
        role = role_of(resource) if drawn else None
    except (UnnamedRole, UnknownResourceType):
        if strict:
            raise
        return f"unnamed {change.type}", f"{change.type} {resource.name} (no role in tools/docs/roles.toml)", -1
    if role is None or role.lane is Lane.SUPPORTING:
        return f"support {resource.service}", resource.service, len(ROLES)
    return role.key, role.title, ROLES.index(role)


def upgrade_picture(plan: Plan, *, strict: bool = True) -> UpgradePicture:
    """`strict` fails on a resource no role names (the docs build); the PR comment draws it by type."""
    sections: dict[str, dict[str, Touched]] = {name: {} for name, _, _ in _ACTIONS}
    for stack in plan.stacks:
        for change in stack.changes:
            section = next(name for name, _, actions in _ACTIONS if change.action in actions)
            key, title, order = _role_title(change, strict)
            node = sections[section].setdefault(key, Touched(key, title, order == len(ROLES), order))
            node.changes.append(change)
    ordered = {name: sorted(nodes.values(), key=lambda t: (t.order, t.title)) for name, nodes in sections.items()}
    return UpgradePicture(title=f"{plan.before} -> {plan.after}", sections=ordered)


def _text(label: str) -> str:
    return label.replace('"', "'")


def upgrade_mermaid(picture: UpgradePicture) -> str:
    """Three boxes side by side: what the upgrade adds, changes and removes."""
    lines = ["flowchart LR"]
    previous = None
    for section, css, _ in _ACTIONS:
        nodes = picture.sections[section]
        box = f"{section}_box"
        lines.append(f'  subgraph {box}["{section}"]')
        roles = [n for n in nodes if not n.supporting]
        support = [n for n in nodes if n.supporting]
        for number, node in enumerate(roles):
            lines.append(f'    {section}{number}["{_text(node.label)}"]:::{css}')
        if support:
            listed = "<br/>".join(_text(n.label) for n in support)
            total = sum(len(n.changes) for n in support)
            lines.append(f'    {section}_support["supporting resources {TIMES}{total}<br/>{listed}"]')
        if not nodes:
            lines.append(f'    {section}_none["nothing"]')
        lines.append("  end")
        if previous:
            lines.append(f"  {previous} ~~~ {box}")
        previous = box
    lines += [f"  classDef {name} {style}" for name, style in _STYLES.items()]
    return "\n".join(lines) + "\n"
