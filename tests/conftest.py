from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from scaling_stacks.node_runtime import use_project_node

# Before anything imports aws_cdk: jsii starts the first `node` on PATH.
use_project_node()
os.environ.setdefault("CDK_DISABLE_VERSION_CHECK", "1")

from tests import cli_runs  # noqa: E402
from tests.background_lint import BackgroundLinter  # noqa: E402
from tests.stage_cache import StageCache  # noqa: E402

_CLI_RUNS: dict[str, cli_runs.CliRun] = {}
# Verdicts of work done in other processes: asked for last, when that work is done.
_LAST = ("tests/test_cfn_lint.py", "tests/test_cli.py")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Tests that synthesize go first, so the cfn-lint worker lints while the service and
    # handler tests run.
    items.sort(key=lambda item: (item.nodeid.startswith(_LAST), "stages" not in getattr(item, "fixturenames", ())))


def pytest_collection_finish(session: pytest.Session) -> None:
    # The CLI runs are other processes: start them now so they overlap everything else.
    if any(item.nodeid.startswith("tests/test_cli.py") for item in session.items):
        _CLI_RUNS.update(cli_runs.start_all())


@pytest.fixture(scope="session")
def cli() -> dict[str, cli_runs.CliRun]:
    if not _CLI_RUNS:
        _CLI_RUNS.update(cli_runs.start_all())
    return _CLI_RUNS


@pytest.fixture(scope="session")
def linter() -> Iterator[BackgroundLinter]:
    background = BackgroundLinter()
    yield background
    background.close()


@pytest.fixture(scope="session")
def stages(tmp_path_factory: pytest.TempPathFactory, linter: BackgroundLinter) -> StageCache:
    return StageCache(Path(tmp_path_factory.mktemp("assemblies")), on_synth=linter.submit)


@pytest.fixture(scope="session")
def generated_docs(stages: StageCache) -> dict[str, str]:
    """What `make docs` writes as text, from the session's stages: shared by the docs tests."""
    # Imported when used: tools.docs loads aws_cdk, which must not load before this module's setup.
    from tests.stage_cache import ALL_STAGES
    from tools.docs.pages import generate

    return generate([stages[n] for n in ALL_STAGES])
