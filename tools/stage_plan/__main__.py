"""`python -m tools.stage_plan --from A --to B`: synthesize both stages offline and print the plan."""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from scaling_stacks.config import MAX_STAGE, MIN_STAGE
from scaling_stacks.node_runtime import use_project_node

ALLOWED = f"a whole number from {MIN_STAGE} to {MAX_STAGE}"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(2, f"error: {message}; see --help\n")


class UsageError(ValueError):
    """Bad command-line input; the message is the one line the user sees."""


def parse_stage(option: str, raw: str) -> int:
    text = raw.strip()
    # ASCII digits in full: str.isdigit() also takes "²", which int() refuses.
    if not re.fullmatch(r"-?[0-9]{1,3}", text) or not MIN_STAGE <= int(text) <= MAX_STAGE:
        raise UsageError(f"{option}: {raw!r} is not allowed; expected {ALLOWED}")
    return int(text)


def parse_context(raw: str) -> tuple[str, str]:
    key, sep, value = raw.partition("=")
    if not sep or not key.strip() or not value.strip():
        raise UsageError(f"--from-context: {raw!r} is not allowed; expected KEY=VALUE, such as mysql_version=8.0")
    return key.strip(), value.strip()


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = _Parser(prog="python -m tools.stage_plan", description=__doc__)
    parser.add_argument("--from", dest="from_stage", required=True, metavar="A", help="the running stage")
    parser.add_argument("--to", dest="to_stage", required=True, metavar="B", help="the stage to deploy over it")
    parser.add_argument("--format", choices=("text", "json", "markdown"), default="text")
    parser.add_argument(
        "--from-context",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="context the running system was deployed with, when it differs from the new deploy's "
        "(e.g. mysql_version=8.0 to plan its upgrade to 8.4); may repeat",
    )
    parser.add_argument(
        "--allow-data-loss",
        action="store_true",
        help="exit 0 even when the deploy would replace or delete stateful data or could deadlock",
    )
    parser.add_argument(
        "--allow-outage",
        action="store_true",
        help="exit 0 even when the deploy leaves a window in which the site stops answering",
    )
    args = parser.parse_args(argv)
    args.from_stage = parse_stage("--from", args.from_stage)
    args.to_stage = parse_stage("--to", args.to_stage)
    args.from_context = dict(parse_context(item) for item in args.from_context)
    if args.from_stage == args.to_stage and not args.from_context:
        raise UsageError(
            f"--to: '{args.to_stage}' is the same as --from; expected {ALLOWED} other than {args.from_stage} "
            "(a plan compares two different stages, or one stage deployed with different --from-context)"
        )
    return args


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = parse_args(argv)
    except UsageError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    use_project_node()
    # Imported after validation: a typo is reported before the CDK (and its node process) loads.
    from scaling_stacks.assembly import synth_stage
    from tools.stage_plan.plan import plan_stages
    from tools.stage_plan.render import RENDERERS

    with tempfile.TemporaryDirectory(prefix="stage-plan-") as workdir:
        # Path metadata names each resource by its construct path, as the CLI's synth does.
        context = {"aws:cdk:enable-path-metadata": True}
        before = synth_stage(args.from_stage, Path(workdir) / "before", {**context, **args.from_context})
        after = synth_stage(args.to_stage, Path(workdir) / "after", context)
        plan = plan_stages(
            before,
            after,
            args.from_stage,
            args.to_stage,
            allow_data_loss=args.allow_data_loss,
            allow_outage=args.allow_outage,
        )
    print(RENDERERS[args.format](plan))
    return plan.exit_code


if __name__ == "__main__":
    sys.exit(main())
