"""The CDK CLI and jsii run on a maintained Node from the project's own setup, unsilenced."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterable
from pathlib import Path

from scaling_stacks.assembly import ROOT
from scaling_stacks.node_runtime import node_bin_dir

# Node releases jsii supports (active or maintenance LTS on 2026-12-01).
SUPPORTED_NODE_MAJORS = (22, 24)
# Spelled in two parts so this file does not match its own check.
SILENCER = "JSII_SILENCE_WARNING_" + "END_OF_LIFE_NODE_VERSION"


def silencers(paths: Iterable[Path]) -> list[str]:
    """Files among `paths` that mention the variable silencing jsii's end-of-life warning."""
    return [str(path) for path in paths if path.is_file() and SILENCER in path.read_text(errors="replace")]


def test_the_project_node_is_a_supported_release() -> None:
    version = subprocess.run(
        [str(node_bin_dir() / "node"), "--version"], capture_output=True, text=True, check=True
    ).stdout
    assert int(version.strip().lstrip("v").split(".")[0]) in SUPPORTED_NODE_MAJORS, version


def test_jsii_in_this_session_starts_the_project_node() -> None:
    assert Path(shutil.which("node") or "").resolve() == (node_bin_dir() / "node").resolve()


def test_nothing_in_the_repository_silences_the_node_end_of_life_warning(tmp_path: Path) -> None:
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert silencers(ROOT / name for name in tracked.splitlines()) == []
    bad = tmp_path / "Makefile"
    bad.write_text(f"export {SILENCER} := 20\n")
    assert silencers([bad]) == [str(bad)]
