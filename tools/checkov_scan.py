"""checkov over every stage's synthesized templates, as the gate `make scan` runs.

Synthesizes each stage into `<out>/stage-N`, runs checkov (from its own virtualenv: it
pins an old boto3) over all of them, and fails on any failed check and on any skip
without a reason. Prints every skip with its reason, grouped by check, so a reviewer sees
what was waived where. Skips live in each resource's metadata (constructs_lib/checkov.py).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from scaling_stacks.config import MAX_STAGE, MIN_STAGE

NO_REASON = {"", "No comment provided"}


def synthesize(stages: Iterable[int], out: Path) -> Path:
    from scaling_stacks.assembly import synth_stage

    shutil.rmtree(out, ignore_errors=True)
    for stage in stages:
        synth_stage(stage, out / f"stage-{stage}", {})
    return out


def run_checkov(checkov: str, root: Path) -> list[dict[str, Any]]:
    """One run over `root`, so every template keeps its stage folder in its path (checkov
    merges files with the same relative path across --directory arguments)."""
    command = [checkov, "--framework", "cloudformation", "--output", "json", "--compact", "--skip-download"]
    command += ["--directory", str(root)]
    completed = subprocess.run(command, capture_output=True, text=True, check=False)
    if completed.returncode not in (0, 1) or not completed.stdout.strip():
        raise SystemExit(f"checkov did not run (exit {completed.returncode}): {completed.stderr.strip()[-2000:]}")
    # One JSON document per directory, one after the other.
    decoder, text, reports, position = json.JSONDecoder(), completed.stdout, [], 0
    while position < len(text.rstrip()):
        document, end = decoder.raw_decode(text, position)
        reports.extend(document if isinstance(document, list) else [document])
        position = end
        while position < len(text) and text[position].isspace():
            position += 1
    return reports


def _where(check: dict[str, Any]) -> str:
    stage = next((part for part in Path(check["file_abs_path"]).parts if part.startswith("stage-")), "?")
    return f"{stage} {Path(check['file_path']).name.removesuffix('.template.json')}/{check['resource']}"


def verdict(reports: list[dict[str, Any]]) -> tuple[list[str], dict[tuple[str, str], set[str]]]:
    """(problems, skips): every failed check and every skip without a reason are problems;
    skips are keyed (check id, reason) with the places they apply."""
    problems: list[str] = []
    skips: dict[tuple[str, str], set[str]] = defaultdict(set)
    for one in reports:
        results = one.get("results", {})
        for check in results.get("failed_checks", []):
            problems.append(f"FAILED {check['check_id']} ({check['check_name']}) on {_where(check)}")
        for check in results.get("skipped_checks", []):
            reason = (check.get("check_result", {}).get("suppress_comment") or "").strip()
            if reason in NO_REASON:
                problems.append(f"SKIPPED WITHOUT A REASON {check['check_id']} on {_where(check)}")
            skips[(check["check_id"], reason)].add(_where(check))
    return sorted(set(problems)), skips


def report(reports: list[dict[str, Any]]) -> int:
    problems, skips = verdict(reports)
    for (check_id, reason), places in sorted(skips.items()):
        resources = sorted({place.split(" ", 1)[1] for place in places})
        stages = sorted({place.split(" ", 1)[0] for place in places})
        print(f"skipped {check_id} on {', '.join(resources)} ({', '.join(stages)}): {reason}")
    for problem in problems:
        print(problem, file=sys.stderr)
    print(f"checkov: {len(problems)} problems, {sum(map(len, skips.values()))} skips")
    return 1 if problems else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkov", default=".venv-checkov/bin/checkov", help="the checkov executable")
    parser.add_argument("--out", type=Path, default=Path("cdk.out/scan"), help="where the stages are synthesized")
    parser.add_argument("--stages", type=int, nargs="*", default=list(range(MIN_STAGE, MAX_STAGE + 1)))
    parser.add_argument("--no-synth", action="store_true", help="scan what is already in --out")
    args = parser.parse_args(argv)
    return report(run_checkov(args.checkov, args.out if args.no_synth else synthesize(args.stages, args.out)))


if __name__ == "__main__":
    raise SystemExit(main())
