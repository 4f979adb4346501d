"""Runs of the real `cdk synth` (the pinned CLI on the project's Node), started together when the session begins so they
overlap with the in-process synthesis instead of adding to the suite's time."""

from __future__ import annotations

import os
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from scaling_stacks.assembly import ROOT
from scaling_stacks.node_runtime import node_bin_dir, project_node_path

# The rest of the bad-input matrix runs in-process (tests/test_config.py): each CLI run
# costs a node and a Python start-up.
BAD_INPUTS: dict[str, tuple[str, ...]] = {
    "stage=7": ("-c", "stage=7"),
    "stage=-1": ("-c", "stage=-1"),
    "stage=abc": ("-c", "stage=abc"),
}


@dataclass
class CliRun:
    process: subprocess.Popen[str]
    outdir: Path

    def wait(self) -> tuple[int, str, str]:
        stdout, stderr = self.process.communicate(timeout=300)
        return self.process.returncode, stdout, stderr


# Run with the machine's PATH, as `npx cdk` starts the app: the app must still put jsii on the
# project's Node (the machine's may be past its end of life).
MACHINE_PATH_RUN = "stage=abc"


def machine_path() -> str:
    """This process's PATH without the folders whose `node` is the project's."""
    project = (node_bin_dir() / "node").resolve()
    entries = os.environ.get("PATH", "").split(os.pathsep)
    return os.pathsep.join(e for e in entries if e and (Path(e) / "node").resolve() != project)


def start(args: tuple[str, ...], *, path: str | None = None) -> CliRun:
    outdir = Path(tempfile.mkdtemp(prefix="cdk-cli-"))
    environ = dict(os.environ, PATH=path or project_node_path(), CDK_DISABLE_VERSION_CHECK="1")
    for name in ("CDK_DEFAULT_ACCOUNT", "CDK_DEFAULT_REGION", "AWS_PROFILE"):
        environ.pop(name, None)
    process = subprocess.Popen(
        [str(node_bin_dir() / "node"), "node_modules/aws-cdk/bin/cdk", "synth", "-q", "-o", str(outdir), *args],
        cwd=ROOT,
        env=environ,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    return CliRun(process=process, outdir=outdir)


def start_all() -> dict[str, CliRun]:
    return {
        name: start(args, path=machine_path() if name == MACHINE_PATH_RUN else None)
        for name, args in BAD_INPUTS.items()
    }
