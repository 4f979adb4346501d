"""`python -m tools.stage_plan.pr_comment --stages "0 2" --out DIR`: the pull-request comment.

For each stage it plans deploying the head's templates (DIR/head-N) over the base's (DIR/base-N)
and appends the `cdk diff` output the workflow saved (DIR/diff-N.txt, DIR/live-diff-N.txt).
Prints the Markdown body; exits 1 when a plan is blocked, after printing it.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from scaling_stacks.assembly import read_assembly
from scaling_stacks.config import build_config
from tools.docs.upgrade import upgrade_mermaid, upgrade_picture
from tools.stage_plan.model import AppTemplates, Plan, Templates
from tools.stage_plan.plan import build_plan
from tools.stage_plan.render import to_markdown

MARKER = "<!-- stage-plan-comment -->"
# GitHub rejects comments above 65536 characters; the full report is in the workflow's artifact.
LIMIT = 60000


def _assembly(directory: Path, stage: int) -> Templates | None:
    if not (directory / "manifest.json").exists():
        return None
    return read_assembly(directory, build_config(lambda key: {"stage": stage}.get(key), {}))


def _details(title: str, path: Path) -> list[str]:
    if not path.exists():
        return []
    return ["", f"<details><summary>{title}</summary>", "", "```", path.read_text().strip(), "```", "", "</details>"]


def _picture(plan: Plan) -> list[str]:
    """The change by role as a Mermaid picture, which GitHub renders in the comment."""
    if not any(stack.changes for stack in plan.stacks):
        return []
    mermaid = upgrade_mermaid(upgrade_picture(plan, strict=False)).rstrip()
    return [
        "",
        "<details open><summary>The change by role</summary>",
        "",
        "```mermaid",
        mermaid,
        "```",
        "",
        "</details>",
    ]


def stage_section(out: Path, stage: int) -> tuple[list[str], Plan | None]:
    head = _assembly(out / f"head-{stage}", stage)
    if head is None:
        return [f"### Stage {stage}", "", "**The head does not synthesize this stage; see the workflow log.**"], None
    base = _assembly(out / f"base-{stage}", stage)
    lines = [] if base is not None else ["The base does not synthesize this stage: everything below is new.", ""]
    plan = build_plan(
        base or AppTemplates(templates={}, deploy_order=()),
        head,
        before_label=f"base at stage {stage}",
        after_label=f"head at stage {stage}",
        direction="change",
        destroy_context=f"-c stage={stage}",
    )
    lines.append(to_markdown(plan))
    lines += _picture(plan)
    lines += _details(f"cdk diff, stage {stage}, against the base templates", out / f"diff-{stage}.txt")
    lines += _details(f"cdk diff, stage {stage}, against the deployed account", out / f"live-diff-{stage}.txt")
    return lines, plan


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.stage_plan.pr_comment", description=__doc__)
    parser.add_argument("--stages", required=True, help="space-separated stage numbers")
    parser.add_argument("--out", required=True, type=Path, help="directory with base-N/, head-N/ and diff files")
    args = parser.parse_args(argv)
    lines = [MARKER, "## Stage plan and cdk diff", ""]
    blocked = False
    for stage in (int(word) for word in args.stages.split()):
        section, plan = stage_section(args.out, stage)
        blocked |= plan is None or bool(plan.blocking)
        lines += [*section, ""]
    body = "\n".join(lines)
    if len(body) > LIMIT:
        body = body[:LIMIT] + "\n\n... cut to fit a comment; the workflow's `stage-plan` artifact has all of it.\n"
    print(body)
    return 1 if blocked else 0


if __name__ == "__main__":
    sys.exit(main())
