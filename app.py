#!/usr/bin/env python3
"""CDK entry point: `cdk synth -c stage=N` builds stage N of the scaling architecture."""

from __future__ import annotations

import os
import sys

from scaling_stacks.node_runtime import use_project_node

# Before aws_cdk loads: jsii starts the first `node` on PATH, and `npx cdk` leaves the
# machine's there, which may be past its end of life.
use_project_node()

from scaling_stacks.cdk_app import new_app  # noqa: E402
from scaling_stacks.config import ConfigError, build_config  # noqa: E402


def main() -> int:
    app = new_app()
    try:
        config = build_config(app.node.try_get_context, os.environ)
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    # Imported only for valid input, so a typo is reported before the stacks load.
    from scaling_stacks.app_builder import build_app

    build_app(app, config)
    app.synth()
    return 0


if __name__ == "__main__":
    sys.exit(main())
