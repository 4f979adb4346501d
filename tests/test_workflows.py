"""The GitHub workflows are valid against the published workflow schema and pin every action."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tools.stage_plan.pr_comment import MARKER

ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
_USES = re.compile(r"^\s*(?:-\s+)?uses:\s*(?P<action>\S+)(?P<comment>.*)$")
_PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")
_VERSION_COMMENT = re.compile(r"^\s+# v\d+(\.\d+)*$")


def schema_errors(*paths: Path) -> str:
    """Problems check-jsonschema finds with its vendored GitHub workflow schema ('' when valid)."""
    schema = ["--builtin-schema", "vendor.github-workflows"]
    command = [sys.executable, "-m", "check_jsonschema", *schema, *map(str, paths)]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    return "" if result.returncode == 0 else result.stdout + result.stderr


def unpinned(text: str) -> list[str]:
    """`uses:` lines that do not name a full commit SHA followed by a `# vX.Y.Z` comment."""
    return [
        line.strip()
        for line in text.splitlines()
        if (found := _USES.match(line))
        and not (_PINNED.match(found["action"]) and _VERSION_COMMENT.match(found["comment"]))
    ]


def test_both_workflows_exist() -> None:
    assert {path.name for path in WORKFLOWS} >= {"ci.yml", "pr-plan.yml"}


def test_workflows_match_the_schema() -> None:
    assert schema_errors(*WORKFLOWS) == ""


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda path: path.name)
def test_every_action_is_pinned_to_a_commit(path: Path) -> None:
    assert unpinned(path.read_text()) == []


def test_the_checks_catch_bad_workflows(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text("on: push\njobs:\n  test:\n    steps:\n      - uses: actions/checkout@v4\n")
    assert "runs-on" in schema_errors(bad)
    assert unpinned(bad.read_text()) == ["- uses: actions/checkout@v4"]
    assert unpinned("      - uses: actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683\n") != []


def test_ci_runs_the_readme_test_command_and_the_plan_comment_is_updated_in_place() -> None:
    ci = (ROOT / ".github" / "workflows" / "ci.yml").read_text()
    assert re.search(r"^\s+run: make test$", ci, re.MULTILINE)
    plan = (ROOT / ".github" / "workflows" / "pr-plan.yml").read_text()
    assert MARKER in plan and "updateComment" in plan and "--template" in plan
