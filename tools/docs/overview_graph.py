"""The overview as a Graphviz graph in the primer's style: the request path left to right, the
asynchronous path in its own box below it, the stage's additions in colour, and a legend.

Written out directly (not through the `diagrams` package) for HTML-like node labels: an icon, a
title and one line of detail in a box whose colour says whether the stage added it."""

from __future__ import annotations

from collections.abc import Iterator
from html import escape
from itertools import pairwise

from tools.docs.graph import USERS_ICON
from tools.docs.overview import USERS, Changes, Overview, RoleNode, Status
from tools.docs.roles import Lane

# (border, fill) per status; the legend reuses them.
COLOURS: dict[Status, tuple[str, str]] = {
    Status.NEW: ("#1E8E3E", "#E6F4EA"),
    Status.CHANGED: ("#B06000", "#FEF7E0"),
    Status.SAME: ("#80868B", "#FFFFFF"),
}
# Graphviz stacks what comes first lowest in a left-to-right layout: operations go under the path.
_LANES: tuple[tuple[Lane, str, str], ...] = (
    (Lane.OPERATIONS, "operations (no request passes through)", "#F1F3F4"),
    (Lane.ASYNC, "asynchronous path: messages and workers", "#FCE8E6"),
    (Lane.EDGE, "edge", "#F1F3F4"),
    (Lane.REQUEST, "request path: compute", "#F1F3F4"),
    (Lane.DATA, "data", "#F1F3F4"),
)
_FONT = "Helvetica"


def _cell(icon: str, title: str, detail: str, border: str, fill: str, note: str = "") -> str:
    rows = [
        f'<TR><TD FIXEDSIZE="TRUE" WIDTH="40" HEIGHT="40"><IMG SRC="{icon}" SCALE="TRUE"/></TD></TR>',
        f'<TR><TD><B><FONT POINT-SIZE="12">{escape(title)}</FONT></B></TD></TR>',
    ]
    if detail:
        rows.append(f'<TR><TD><FONT POINT-SIZE="10">{escape(detail)}</FONT></TD></TR>')
    if note:
        rows.append(f'<TR><TD><FONT POINT-SIZE="10" COLOR="{border}"><I>{escape(note)}</I></FONT></TD></TR>')
    return (
        f'<<TABLE BORDER="2" STYLE="ROUNDED" COLOR="{border}" BGCOLOR="{fill}" CELLBORDER="0" CELLPADDING="2" '
        f'CELLSPACING="0">{"".join(rows)}</TABLE>>'
    )


def _node(node: RoleNode, status: Status, stage: int | None) -> str:
    border, fill = COLOURS[status]
    notes = {Status.NEW: f"new at stage {stage}", Status.CHANGED: f"changed at stage {stage}"}
    note = notes.get(status, "") if stage is not None else ""
    return f"    {node.key} [label={_cell(node.icon, node.title, node.detail, border, fill, note)}]"


def _title_and_legend(overview: Overview, changes: Changes, stage: int, below: int | None, title: str) -> str:
    """The graph's label: the title, then the legend saying what the colours mean at this stage."""

    def row(status: Status, text: str) -> str:
        border, fill = COLOURS[status]
        return (
            f'<TR><TD BGCOLOR="{fill}" COLOR="{border}" BORDER="2" WIDTH="24"> </TD>'
            f'<TD ALIGN="LEFT">{escape(text)}</TD></TR>'
        )

    new = ", ".join(changes.titled(overview, Status.NEW)) or "nothing"
    rows = [
        f'<TR><TD COLSPAN="2"><FONT POINT-SIZE="20">{escape(title)}</FONT></TD></TR>',
        row(Status.NEW, f"new at stage {stage}: {new}" if below is not None else "everything is new here"),
    ]
    if changed := changes.titled(overview, Status.CHANGED):
        rows.append(row(Status.CHANGED, f"changed since stage {below}: {', '.join(changed)}"))
    if below is not None:
        rows.append(row(Status.SAME, f"as at stage {below}"))
    if changes.gone:
        gone = escape(", ".join(changes.gone))
        rows.append(f'<TR><TD>✕</TD><TD ALIGN="LEFT">gone since stage {below}: {gone}</TD></TR>')
    rows.append('<TR><TD>→</TD><TD ALIGN="LEFT">request (solid) or message (dashed)</TD></TR>')
    return f'<<TABLE BORDER="0" CELLBORDER="0" CELLPADDING="3">{"".join(rows)}</TABLE>>'


def _lanes(overview: Overview, changes: Changes, stage: int | None) -> Iterator[str]:
    for lane, title, fill in _LANES:
        members = [n for n in overview.nodes if n.lane is lane]
        if not members:
            continue
        yield f"  subgraph cluster_{lane.value} {{"
        yield f'    label="{title}" fontsize=14 style="rounded,filled" fillcolor="{fill}" color="#BDC1C6"'
        yield from (_node(n, changes.status[n.key], stage) for n in members)
        if lane is Lane.DATA:
            # Every store in one column at the right end of the path, as in the primer.
            yield f"    {{rank=same {' '.join(n.key for n in members)}}}"
        keys = {n.key for n in overview.nodes}
        for n in members:
            if (beside := n.roles[0].beside) in keys:
                yield f"    {{rank=same {beside} {n.key}}}"
                yield f"    {beside} -> {n.key} [style=dotted arrowhead=none]"
        if lane is Lane.OPERATIONS:
            # Unconnected, they would stack in one column; invisible arrows lay them in a row.
            yield from (f"    {a.key} -> {b.key} [style=invis]" for a, b in pairwise(members))
        yield "  }"


def overview_source(overview: Overview, changes: Changes, stage: int, below: int | None, title: str) -> str:
    """`below` is the stage `changes` counts from (None: everything is new)."""
    label = _title_and_legend(overview, changes, stage, below, title)
    lines = [
        "digraph overview {",
        f'  graph [rankdir=LR labelloc=t labeljust=l fontsize=13 fontname="{_FONT}" pad=0.4 nodesep=0.3 '
        f"ranksep=0.55 newrank=true concentrate=true label={label}]",
        f'  node [shape=plain fontname="{_FONT}"]',
        f'  edge [color="#3C4043" arrowsize=0.7 fontname="{_FONT}"]',
        f"  {USERS} [label={_cell(USERS_ICON, 'users', '', '#FFFFFF', '#FFFFFF')}]",
        # At the first documented stage everything is new: the legend says so once, not every node.
        *_lanes(overview, changes, stage if below is not None else None),
    ]
    for arrow in overview.arrows:
        style = ' [style=dashed color="#C5221F"]' if arrow.asynchronous else ""
        lines.append(f"  {arrow.source} -> {arrow.target}{style}")
    return "\n".join([*lines, "}"]) + "\n"
