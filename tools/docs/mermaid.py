"""The architecture as a Mermaid flowchart, which GitHub renders inside Markdown."""

from __future__ import annotations

from tools.docs.architecture import USERS_ID, Architecture
from tools.docs.grouping import Group, region_group


def _text(label: str) -> str:
    return label.replace('"', "'").replace("\n", "<br/>")


def mermaid(architecture: Architecture, region: str) -> str:
    labels = {c.id: c.label for c in architecture.components} | {s.id: s.label for s in architecture.summaries}
    lines = ["flowchart LR", f'  {USERS_ID}(["Users"])']

    def emit(group: Group, depth: int) -> None:
        pad = "  " * depth
        lines.append(f'{pad}subgraph {group.key}["{_text(group.title)}"]')
        for member in group.members:
            lines.append(f'{pad}  {member}["{_text(labels[member])}"]')
        for child in group.groups:
            emit(child, depth + 1)
        lines.append(f"{pad}end")

    emit(region_group(architecture, region), 1)
    for edge in architecture.edges:
        arrow = "-. async .->" if edge.asynchronous else "-->"
        lines.append(f"  {edge.source} {arrow} {edge.target}")
    return "\n".join(lines) + "\n"
