"""The architecture as a Graphviz graph with AWS service icons (from the `diagrams` package), and
its rendering to PNG. Icons are referenced relative to the package's resources folder, so the
graph source is the same on every machine and can be checked without rendering."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import diagrams
from diagrams import Cluster, Diagram, Edge
from diagrams.custom import Custom

from tools.docs.architecture import USERS_ID, Architecture
from tools.docs.architecture import Edge as Flow
from tools.docs.grouping import Group, region_group
from tools.docs.roles import may_send, role_of

ICON_ROOT = Path(diagrams.__file__).resolve().parent.parent / "resources"
USERS_ICON = "aws/general/users.png"
_ROW = 3


@contextmanager
def _drawing(title: str) -> Iterator[Diagram]:
    # Diagram's own `with` renders on exit; the docs need the source first, rendered or not.
    drawing = Diagram(
        title,
        show=False,
        direction="LR",
        graph_attr={"fontsize": "20", "pad": "0.5"},
    )
    diagrams.setdiagram(drawing)
    try:
        yield drawing
    finally:
        diagrams.setdiagram(None)


def graph_source(architecture: Architecture, region: str, title: str) -> str:
    icons = {c.id: (c.label, c.icon) for c in architecture.components}
    icons |= {s.id: (s.label, s.icon) for s in architecture.summaries}
    with _drawing(title) as drawing:
        nodes = {USERS_ID: Custom("Users", USERS_ICON, nodeid=USERS_ID)}

        def draw(group: Group) -> None:
            # Cluster names must be unique in Graphviz; the title is only the visible label.
            with Cluster(group.key, graph_attr={"label": group.title}):
                for member in group.members:
                    label, icon = icons[member]
                    nodes[member] = Custom(label, icon, nodeid=member)
                for child in group.groups:
                    draw(child)

        region_box = region_group(architecture, region)
        draw(region_box)
        edges = drawn_edges(architecture)
        for edge in edges:
            style = Edge(style="dashed", color="#C5221F") if edge.asynchronous else Edge(color="#232F3E")
            nodes[edge.source] >> style >> nodes[edge.target]
        on_edges = {e.source for e in edges} | {e.target for e in edges}
        for group in _all_groups(region_box):
            # Unconnected nodes of a group would stack in one tall column; invisible edges wrap
            # them into rows instead.
            loose = [m for m in group.members if m not in on_edges]
            for index in range(1, len(loose)):
                if index % _ROW != 0:
                    nodes[loose[index - 1]] >> Edge(style="invis") >> nodes[loose[index]]
        return drawing.dot.source


def drawn_edges(architecture: Architecture) -> list[Flow]:
    """The edges in the direction requests and messages go, as the roles say (two resources that share
    a grant are joined both ways in the templates; a topic never writes to a database)."""
    roles = {c.id: role_of(c.resource) for c in architecture.components}
    edges = []
    for edge in architecture.edges:
        if edge.source == USERS_ID or may_send(roles[edge.source], roles[edge.target]):
            edges.append(edge)
        elif may_send(roles[edge.target], roles[edge.source]):
            edges.append(Flow(edge.target, edge.source, edge.asynchronous))
    return sorted(set(edges), key=lambda e: (e.source, e.target))


def _all_groups(group: Group) -> Iterator[Group]:
    yield group
    for child in group.groups:
        yield from _all_groups(child)


def missing_icons(architecture: Architecture) -> list[str]:
    icons = {USERS_ICON, *(c.icon for c in architecture.components), *(s.icon for s in architecture.summaries)}
    return sorted(icon for icon in icons if not (ICON_ROOT / icon).is_file())


def render_png(source: str, target: Path) -> None:
    dot = shutil.which("dot")
    if dot is None:
        raise RuntimeError("Graphviz 'dot' is not installed: `apt-get install graphviz` (make docs does it)")
    subprocess.run([dot, "-Tpng", f"-Gimagepath={ICON_ROOT}", "-o", str(target)], input=source.encode(), check=True)
